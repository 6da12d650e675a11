"""Release histories, date resolution, Python from wheels, and the lock's cutoff."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from repro import datafiles, pypi, versions
from repro.infer import infer
from repro.models import ApiUse, Evidence, ImportSite, InferSettings, Origin, PythonHint
from repro.pypi import PyPIIndex
from repro.releases import PackageReleases, Release, ShippedIndex
from repro.scan import pyhints
from repro.scan.files import walk

D = dt.date


def rel(version: str, date: str, wheels: str = "", sdist: bool = True, rp: str = "") -> Release:
    return Release(
        version=version,
        date=D.fromisoformat(date),
        wheels=frozenset(wheels.split()),
        sdist=sdist,
        requires_python=rp,
    )


def test_shipped_data_is_versioned_and_covers_the_frameworks() -> None:
    data = datafiles.load("releases.json")
    assert data["schema_version"] == 1 and data["generated_by"] == "scripts/gen_releases.py"
    assert "pypi.org/pypi" in data["source"]
    index = ShippedIndex()
    for name in ("torch", "tensorflow", "jax", "jaxlib", "numpy", "scipy", "scikit-learn"):
        history = index.get(name)
        assert history is not None and len(history.releases) > 10, name
    tf115 = index.get("tensorflow").get("1.15.5")  # type: ignore[union-attr]
    assert tf115 is not None and tf115.date == D(2021, 1, 6)
    assert tf115.supports("3.7") and not tf115.supports("3.8")


def test_wheel_tags_decide_python_support() -> None:
    assert rel("1", "2020-01-01", "cp36 cp37").supports("3.7")
    assert not rel("1", "2020-01-01", "cp36 cp37").supports("3.8")
    assert rel("1", "2020-01-01", "py3").supports("3.12")
    assert not rel("1", "2020-01-01", "py3", rp=">=3.9").supports("3.8")
    assert rel("1", "2020-01-01", "cp37-abi3").supports("3.11")
    assert not rel("1", "2020-01-01", "cp39-abi3").supports("3.8")
    assert rel("1", "2010-01-01", "", sdist=True).supports("2.7")  # pure, source only
    assert rel("1", "2010-01-01", "py2.py3".replace(".", " ")).supports("2.7")


def test_condense_keeps_dates_tags_and_drops_prereleases() -> None:
    doc = {
        "releases": {
            "1.0": [
                {
                    "filename": "x-1.0-cp37-cp37m-manylinux1_x86_64.whl",
                    "packagetype": "bdist_wheel",
                    "upload_time_iso_8601": "2019-05-02T10:00:00Z",
                    "requires_python": ">=3.6",
                },
                {
                    "filename": "x-1.0-cp38-cp38-win_amd64.whl",
                    "packagetype": "bdist_wheel",
                    "upload_time_iso_8601": "2019-05-01T10:00:00Z",
                },
                {"filename": "x-1.0.tar.gz", "packagetype": "sdist", "upload_time": "2019-05-03"},
            ],
            "2.0rc1": [{"filename": "x-2.0rc1.tar.gz", "upload_time": "2020-01-01"}],
        }
    }
    entry = pypi.condense(doc, serial=7, fetched="2026-01-01T00:00:00Z")
    assert entry["releases"] == {
        "1.0": {"date": "2019-05-01", "requires_python": ">=3.6", "wheels": "cp37", "sdist": True}
    }
    assert entry["serial"] == 7


def history(*releases: Release) -> PackageReleases:
    return PackageReleases(
        name="pkg", fetched=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), releases=releases
    )


def test_newest_release_before_the_date_within_bounds_for_the_python() -> None:
    h = history(
        rel("1.0", "2018-01-01", "cp27 cp36"),
        rel("1.5", "2019-01-01", "cp36 cp37"),
        rel("2.0", "2019-10-01", "cp37 cp38"),
        rel("2.1", "2021-01-01", "cp38 cp39"),
    )
    newest = versions.newest
    assert newest(h, "", before=D(2020, 1, 1), python="3.7").version == "2.0"  # type: ignore[union-attr]
    assert newest(h, "<2", before=D(2020, 1, 1), python="3.7").version == "1.5"  # type: ignore[union-attr]
    assert newest(h, "", before=D(2020, 1, 1), python="2.7").version == "1.0"  # type: ignore[union-attr]
    assert newest(h, "", before=D(2017, 1, 1), python="3.7") is None


def test_a_bound_no_release_satisfies_gives_way_and_is_reported() -> None:
    h = history(rel("1.0", "2018-12-07", "cp36"), rel("1.4", "2020-01-15", "cp36"))
    wanted = versions.Wanted(
        name="torch",
        bounds=(
            versions.Bound(
                specifier="<0.4", why="code uses volatile=", kind="api", strength="soft"
            ),
            versions.Bound(specifier=">=1.0", why="requirements.txt:1", kind="declared"),
        ),
    )
    merged = versions.intersect(wanted, h)
    assert merged.specifier == ">=1.0"
    assert (
        len(merged.conflicts) == 1
        and "ignored <0.4 from code uses volatile=" in merged.conflicts[0]
    )


def test_a_yanked_release_counts_only_when_pinned_exactly() -> None:
    """As pip and uv install it (PEP 592): PyPI yanked every torchvision before 0.3, and
    ``torchvision==0.2.0`` still installs while ``torchvision<0.2.1`` finds nothing."""
    import dataclasses

    h = history(
        dataclasses.replace(rel("0.2.0", "2017-12-05", "py2 py3"), yanked=True),
        dataclasses.replace(rel("0.2.1", "2018-04-24", "py2 py3"), yanked=True),
        rel("0.3.0", "2019-05-20", "cp36 cp37"),
    )
    for spec, chosen in (("==0.2.0", "0.2.0"), ("===0.2.0", "0.2.0"), ("<0.2.1", None),
                         ("==0.2.*", None), ("", "0.3.0")):  # fmt: skip
        found = versions.newest(h, spec, before=None, python="3.6")
        assert (found.version if found else None) == chosen, spec
    pinned = versions.Wanted(
        name="torchvision",
        bounds=(versions.Bound(specifier="==0.2.0", why="requirements.txt:2", kind="declared"),),
    )
    assert versions.intersect(pinned, h).specifier == "==0.2.0"
    below = versions.Wanted(
        name="torchvision",
        bounds=(versions.Bound(specifier="<0.2.1", why="README.md:3", kind="declared"),),
    )
    merged = versions.intersect(below, h)
    assert merged.specifier == "" and "ignored <0.2.1" in merged.conflicts[0]


def test_a_bound_from_the_code_that_only_later_releases_meet_gives_way_to_the_date() -> None:
    """densenet.pytorch (2017) imports torch.utils.serialization, which torch dropped in 1.0
    and brought back in 2.7: a floor of 2.7 for 2017 code is the name's reuse, not the
    code's need, and is ignored, said, instead of moving torch eight years on."""
    h = history(
        rel("1.0.0", "2018-12-07", "cp35 cp36 cp37"),
        rel("2.6.0", "2025-01-29", "cp39 cp310"),
        rel("2.7.1", "2025-06-04", "cp39 cp310"),
    )
    path = versions.Bound(
        specifier=">=2.7", why="code imports torch.utils.serialization", kind="api"
    )
    wanted = versions.Wanted(name="torch", bounds=(path,), framework=True)
    merged = versions.intersect(wanted, h)
    assert merged.specifier == ">=2.7"
    dated = versions.within_date(merged, D(2017, 2, 11))
    assert dated.specifier == "" and dated.kept == ()
    assert dated.conflicts[0].startswith("torch: ignored >=2.7 from code imports torch.utils")
    assert "was out by 2017-02-11, the code's date" in dated.conflicts[0]
    # the same bound on code of 2025-07 holds; a declared pin is never the date's to drop
    assert versions.within_date(merged, D(2025, 7, 1)) is merged
    pin = versions.Bound(specifier="==2.7.1", why="requirements.txt:1", kind="declared")
    pinned = versions.intersect(versions.Wanted(name="torch", bounds=(pin,), framework=True), h)
    assert versions.within_date(pinned, D(2017, 2, 11)) is pinned


def _evidence(
    *uses: ApiUse, imports: tuple[str, ...] = (), hints: tuple[PythonHint, ...] = ()
) -> Evidence:
    return Evidence(
        imports=tuple(
            ImportSite(module=m, origin=Origin(kind="import", path="a.py", line=1)) for m in imports
        ),
        api_uses=uses,
        python_hints=hints,
    )


def test_python_is_the_newest_with_wheels_of_the_chosen_framework() -> None:
    use = ApiUse(
        rule="tf-contrib", package="tensorflow", bound="<2", symbol="tensorflow.contrib",
        origin=Origin(kind="api", path="model.py", line=12),
    )  # fmt: skip
    env = infer(
        _evidence(use, imports=("tensorflow",)),
        InferSettings(),
        commit_date=dt.datetime(2021, 6, 1, tzinfo=dt.timezone.utc),
    )
    assert env.python.version == "3.7"
    (tf,) = env.requirements
    assert tf.pip_line() == "tensorflow==1.15.5" and tf.layer == "framework"
    assert any("not 3.8" in r and "tensorflow" in r for r in env.python.reasons)
    assert "tensorflow 1.15.5 has wheels for Python 3.6–3.7" in env.python.reasons


def test_conflicting_python_evidence_is_reported() -> None:
    env = infer(
        _evidence(
            imports=("numpy",),
            hints=(
                PythonHint(
                    specifier=">=3.8", origin=Origin(kind="pyproject", path="pyproject.toml")
                ),
                PythonHint(
                    specifier="<3", origin=Origin(kind="syntax", path="old.py"), strength="syntax"
                ),
            ),
        ),
        InferSettings(),
        commit_date=dt.datetime(2022, 1, 1, tzinfo=dt.timezone.utc),
    )
    assert env.python.version.startswith("3.")
    assert any("ignored Python <3 from old.py" in c for c in env.conflicts)


def test_lock_is_a_function_of_the_commit_date_not_of_today() -> None:
    ev = _evidence(imports=("numpy", "scipy"))
    when = dt.datetime(2020, 3, 1, 9, tzinfo=dt.timezone.utc)
    first = infer(ev, InferSettings(), commit_date=when)
    second = infer(ev, InferSettings(), commit_date=when)
    assert first.lock_cutoff == second.lock_cutoff == D(2020, 3, 1)
    later = infer(ev, InferSettings(), commit_date=dt.datetime(2023, 3, 1, tzinfo=dt.timezone.utc))
    assert later.lock_cutoff == D(2023, 3, 1)


def test_python2_gets_date_constraints_for_pip() -> None:
    ev = _evidence(
        imports=("numpy",),
        hints=(
            PythonHint(
                specifier="<3", origin=Origin(kind="syntax", path="a.py"), strength="syntax"
            ),
        ),
    )
    env = infer(ev, InferSettings(), commit_date=dt.datetime(2018, 6, 1, tzinfo=dt.timezone.utc))
    assert env.python.version == "2.7"
    constraints = dict(line.split("==") for line in env.date_constraints)
    assert constraints["numpy"] == "1.14.3"  # the newest before 2018-06-01 with cp27 wheels
    assert "pip" not in constraints and "setuptools" not in constraints
    modern = infer(
        _evidence(imports=("numpy",)),
        InferSettings(),
        commit_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    )
    assert modern.date_constraints == ()  # uv resolves with --exclude-newer instead


def _fake_fetch(calls: list[str]) -> Any:
    def fetch(url: str, timeout: float = 0) -> tuple[dict[str, Any], int]:
        calls.append(url)
        return {
            "releases": {
                "0.1": [
                    {
                        "filename": "newpkg-0.1.tar.gz",
                        "packagetype": "sdist",
                        "upload_time": "2020-02-02T00:00:00",
                    }
                ]
            }
        }, 1

    return fetch


def test_pypi_index_fetches_once_then_uses_its_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPRO_OFFLINE")
    calls: list[str] = []
    monkeypatch.setattr(pypi, "fetch_json", _fake_fetch(calls))
    got = PyPIIndex(as_of=D(2021, 1, 1)).get("NewPkg")
    assert got is not None and got.releases[0].version == "0.1" and got.source == "pypi"
    again = PyPIIndex(as_of=D(2021, 1, 1)).get("newpkg")
    assert again is not None and again.source == "cache"
    assert len(calls) == 1
    # shipped data fetched after the cutoff is complete for it: no request
    assert PyPIIndex(as_of=D(2020, 1, 1)).get("numpy") is not None and len(calls) == 1


def test_pypi_index_offline_fallback_is_one_clear_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPRO_OFFLINE")

    def down(url: str, timeout: float = 0) -> None:
        raise pypi.PyPIUnavailable("connection refused")

    monkeypatch.setattr(pypi, "fetch_json", down)
    index = PyPIIndex(as_of=D(2021, 1, 1))
    assert index.get("somepkg") is None
    assert index.get("otherpkg") is None
    assert len(index.warnings) == 1
    assert (
        "the package index pypi.org did not answer: connection refused (proxy: "
        in (index.warnings[0])
    )
    assert index.offline


def test_python_hints_from_classifiers_tox_and_ci(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text(
        "from setuptools import setup\nsetup(name='x', classifiers=[\n"
        "  'Programming Language :: Python :: 2.7',\n"
        "  'Programming Language :: Python :: 3.6',\n])\n"
    )
    (tmp_path / "tox.ini").write_text("[tox]\nenvlist = py27, py35, py36\n")
    wf = tmp_path / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "ci.yml").write_text(
        "jobs:\n  test:\n    strategy:\n      matrix:\n        python-version: ['3.7', '3.8']\n"
    )
    hints = {
        h.origin.path: (h.specifier, h.strength) for h in pyhints.read(tmp_path, walk(tmp_path))
    }
    assert hints["setup.py"] == (">=2.7,<3.7", "hint")
    assert hints["tox.ini"] == (">=2.7,<3.7", "hint")
    assert hints[".github/workflows/ci.yml"] == (">=3.7,<3.9", "hint")


def test_release_data_script_records_what_it_read() -> None:
    text = (Path(__file__).resolve().parents[2] / "scripts" / "gen_releases.py").read_text()
    assert "PACKAGE_URL" in text and "serial" in text
    data = json.loads(
        (Path(__file__).resolve().parents[2] / "repro" / "data" / "releases.json").read_text()
    )
    assert all("fetched" in p and "serial" in p for p in data["packages"].values())
