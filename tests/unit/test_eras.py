"""Fixture repositories from each era (fixtures/eras/<case>/expected.json): the version
repro chooses lies in the range the code really works with, for the right reasons.

benchmarks/version_accuracy.py runs the same corpus against the "latest version" baseline.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from repro import versions
from repro.infer import infer
from repro.models import Environment, InferSettings
from repro.releases import ShippedIndex
from repro.scan import scan

ERAS = Path(__file__).resolve().parents[2] / "fixtures" / "eras"
CASES = sorted(p.name for p in ERAS.iterdir() if (p / "expected.json").is_file())


def _infer(case: str, **options: object) -> tuple[dict[str, object], Environment]:
    expected = json.loads((ERAS / case / "expected.json").read_text())
    when = dt.datetime.fromisoformat(expected["commit_date"] + "T12:00:00+00:00")
    env = infer(
        scan(ERAS / case),
        InferSettings(**options),  # type: ignore[arg-type]
        commit_date=when,
        releases=ShippedIndex(),
        history=expected.get("history", "full"),
    )
    return expected, env


def _chosen(env: Environment, package: str) -> tuple[str | None, tuple[str, ...]]:
    """The version chosen (or, for a package nothing bounds, the one the lock resolves),
    and the explanation to look for the evidence in."""
    key = canonicalize_name(package)
    around = (env.as_of_reason, *env.python.reasons)
    return versions.resolved(env, key, ShippedIndex()), (*_chain(env, key), *around)


def _chain(env: Environment, key: str) -> tuple[str, ...]:
    for choice in env.choices:
        if canonicalize_name(choice.name) == key:
            return choice.chain
    for req in env.requirements:
        if canonicalize_name(req.name) == key:
            return req.reasons
    return ()


FRAMEWORKS = {"tensorflow", "torch", "jax", "flax", "keras", "theano", "mxnet", "transformers"}


def test_the_corpus_covers_every_era() -> None:
    assert len(CASES) >= 80
    expected = [json.loads((ERAS / c / "expected.json").read_text()) for c in CASES]
    packages = {e["package"] for e in expected}
    assert {"tensorflow", "torch", "jax"} <= packages
    # most of it is driven by the APIs of ordinary libraries, and a part has no history
    assert sum(e["package"] not in FRAMEWORKS for e in expected) >= 30
    assert sum(e.get("history") == "none" for e in expected) >= 15
    # every case says where its truth comes from: release notes, changelogs, PEPs
    assert all("https://" in e["why"] for e in expected)


@pytest.mark.parametrize("case", CASES)
def test_chosen_version_and_python_fit_the_truth(case: str) -> None:
    expected, env = _infer(case)
    if expected.get("known_miss"):
        pytest.xfail(str(expected["known_miss"]))
    version, chain = _chosen(env, str(expected["package"]))
    assert version is not None, f"no version chosen for {expected['package']}"
    assert SpecifierSet(str(expected["range"])).contains(version), (version, chain)
    assert SpecifierSet(str(expected["python"])).contains(env.python.version + ".0"), env.python
    text = "\n".join(chain)
    for needle in expected["evidence"]:  # type: ignore[attr-defined]
        assert needle in text, text


def test_known_misses_still_miss() -> None:
    """A documented limit that starts passing must have its expected.json updated."""
    for case in CASES:
        expected, env = _infer(case)
        if not expected.get("known_miss"):
            continue
        version, _ = _chosen(env, str(expected["package"]))
        assert version is None or not SpecifierSet(str(expected["range"])).contains(version)


def test_tf1_chain_reads_like_an_explanation() -> None:
    _, env = _infer("tf1-late-commit")
    (tf,) = [c for c in env.choices if c.name == "tensorflow"]
    assert tf.version == "1.15.4"
    assert tf.chain[0].startswith("code uses tf.contrib (model.py:2")
    assert "removed in TensorFlow 2.0" in tf.chain[0]
    assert tf.chain[-1].startswith("last commit 2020-09-30 → newest tensorflow <2")
    assert env.python.version == "3.7"
    assert "tensorflow 1.15.4 has wheels for Python 3.5–3.7" in env.python.reasons


def test_as_of_overrides_the_commit_date() -> None:
    _, env = _infer("tf1-late-commit", as_of=dt.date(2018, 6, 1))
    (tf,) = [c for c in env.choices if c.name == "tensorflow"]
    assert tf.version == "1.8.0"
    assert any("as of 2018-06-01 (--as-of" in step for step in tf.chain)
    assert env.lock_cutoff == dt.date(2018, 6, 1)


def test_pin_and_python_overrides_flow_through() -> None:
    _, env = _infer("torch-rfft-2019", pins=("torch==1.4.0",), python="3.8")
    (torch,) = [c for c in env.choices if c.name == "torch"]
    assert torch.version == "1.4.0" and torch.chain[0] == "--pin torch==1.4.0"
    assert env.python.version == "3.8" and env.python.reasons == ("--python 3.8",)
    # 1.4.0 came out after the commit: the lock's cutoff moves so its dependencies exist
    assert env.lock_cutoff is not None and env.lock_cutoff > dt.date(2019, 10, 21)
    assert any("torch 1.4.0 was uploaded" in r for r in env.lock_reasons)


def test_tool_repro_overrides_reach_the_plan(tmp_path: Path) -> None:
    """pins / python / as-of in [tool.repro] flow through `repro inspect --json`."""
    import shutil

    from click.testing import CliRunner

    from repro.cli import cli

    repo = tmp_path / "repo"
    shutil.copytree(ERAS / "torch-rfft-2019", repo)
    (repo / "expected.json").unlink()
    (repo / "pyproject.toml").write_text(
        '[tool.repro]\npins = ["torch==1.4.0"]\npython = "3.7"\nas-of = 2019-11-01\n'
    )
    result = CliRunner().invoke(cli, ["inspect", str(repo), "--json"])
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["python"] == {"version": "3.7", "reasons": ["--python 3.7"]}
    assert plan["as_of"] == "2019-11-01"
    (torch,) = [v for v in plan["versions"] if v["name"] == "torch"]
    assert torch["version"] == "1.4.0" and torch["chain"][0] == "--pin torch==1.4.0"
    assert torch["latest"] and torch["latest"] != "1.4.0"
    assert plan["lock_cutoff"] == "2020-01-16"  # the day after torch 1.4.0's upload
    assert any(u["rule"] == "torch-fft-functions" for u in plan["evidence"]["api_uses"])


def test_python2_fixture_plan_without_a_daemon() -> None:
    fixture = ERAS.parent / "repos" / "py2-numpy"
    expected = json.loads((fixture / "expected.json").read_text())
    env = infer(
        scan(fixture),
        InferSettings(),
        commit_date=dt.datetime(2018, 6, 1, 10, tzinfo=dt.timezone.utc),
        releases=ShippedIndex(),
    )
    assert env.python.version == expected["python"]
    assert [r.name for r in env.requirements if not r.optional] == expected["requirements"]
    assert expected["lock_has"] in env.date_constraints
