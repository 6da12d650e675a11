"""git+ requirements without a commit are pinned to the commit of the code's date
(repro/vcs.py), through the same mirror code as a packed repository (fetch.branch_as_of)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from repro import fetch, vcs
from repro.errors import SourceError
from repro.models import Environment, PythonChoice, Requirement
from tests.conftest import FakeGitHub, commit_all, git, write_files


def _library(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A library repository with three commits on main (2020-01, 2020-06, 2022-01), a
    `dev` branch (2021) and a tag v1.0 (on the 2020-01 commit); its bare URL and shas."""
    work = tmp_path / "lib"
    write_files(work, {"lib.py": "A = 1\n"})
    first = commit_all(work, date="2020-01-10T12:00:00+00:00")
    git("tag", "v1.0", cwd=work)
    write_files(work, {"lib.py": "A = 2\n"})
    middle = commit_all(work, date="2020-06-10T12:00:00+00:00")
    git("checkout", "-q", "-b", "dev", cwd=work)
    write_files(work, {"lib.py": "A = 'dev'\n"})
    dev = commit_all(work, date="2021-03-01T12:00:00+00:00")
    git("checkout", "-q", "main", cwd=work)
    write_files(work, {"lib.py": "A = 3\n"})
    last = commit_all(work, date="2022-01-10T12:00:00+00:00")
    bare = tmp_path / "lib.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    return f"file://{bare}", {"first": first, "middle": middle, "dev": dev, "last": last}


def _env(*urls: str) -> Environment:
    return Environment(
        python=PythonChoice(version="3.9", reasons=()),
        requirements=tuple(Requirement(name=f"lib{i}", url=u) for i, u in enumerate(urls)),
    )


def test_urls_are_taken_apart_and_put_back_with_a_commit() -> None:
    url = vcs.parse("git+https://github.com/o/lib.git@main#egg=lib")
    assert url == vcs.VcsUrl("https://github.com/o/lib.git", "main", "egg=lib")
    assert url.with_ref("a" * 40) == f"git+https://github.com/o/lib.git@{'a' * 40}#egg=lib"
    ssh = vcs.parse("git+ssh://git@github.com/o/lib.git")
    assert ssh == vcs.VcsUrl("ssh://git@github.com/o/lib.git", None, "")
    assert vcs.parse("https://host/lib-1.0.tar.gz") is None


@pytest.mark.parametrize(
    ("ref", "fixed"),
    [(None, False), ("main", False), ("dev", False), ("v1.2.0", True), ("1.0", True),
     ("a" * 40, True), ("3f2c9ab", True)],
)  # fmt: skip
def test_a_sha_or_a_release_tag_names_one_state_and_a_branch_does_not(
    ref: str | None, fixed: bool
) -> None:
    assert vcs.names_one_state(ref) is fixed


def test_the_default_branch_is_pinned_to_its_commit_of_the_codes_date(tmp_path: Path) -> None:
    url, shas = _library(tmp_path)
    environment = vcs.pin(_env(f"git+{url}#egg=lib"), dt.date(2021, 1, 1), fetch.branch_as_of)
    (req,) = environment.requirements
    assert req.url == f"git+{url}@{shas['middle']}#egg=lib"
    (record,) = environment.vcs_pins
    assert (record.commit, record.commit_date, record.ref) == (shas["middle"], "2020-06-10", "main")
    assert (
        f"pinned to {shas['middle'][:12]} (2020-06-10), its commit on 2021-01-01" in req.reasons[-1]
    )


def test_a_named_branch_is_read_and_a_tag_or_sha_is_kept(tmp_path: Path) -> None:
    url, shas = _library(tmp_path)
    environment = vcs.pin(
        _env(f"git+{url}@dev", f"git+{url}@v1.0", f"git+{url}@{shas['first']}"),
        dt.date(2021, 6, 1),
        fetch.branch_as_of,
    )
    dev, tag, sha = environment.requirements
    assert dev.url == f"git+{url}@{shas['dev']}"
    assert tag.url == f"git+{url}@v1.0" and sha.url == f"git+{url}@{shas['first']}"
    assert [p.name for p in environment.vcs_pins] == ["lib0"]


def test_code_older_than_the_branch_takes_its_first_commit_and_says_so(tmp_path: Path) -> None:
    url, shas = _library(tmp_path)
    environment = vcs.pin(_env(f"git+{url}"), dt.date(2019, 1, 1), fetch.branch_as_of)
    assert environment.requirements[0].url == f"git+{url}@{shas['first']}"
    assert "the branch's first commit: none was older" in environment.vcs_pins[0].reason


def test_offline_the_requirement_stays_unpinned_with_a_warning() -> None:
    def unreachable(url: str, ref: str | None, as_of: dt.date) -> tuple[str, dt.datetime, str]:
        raise SourceError("cannot read https://github.com/o/lib.git: could not resolve host")

    environment = vcs.pin(
        _env("git+https://github.com/o/lib.git"), dt.date(2021, 1, 1), unreachable
    )
    assert environment.requirements[0].url == "git+https://github.com/o/lib.git"
    (warning,) = environment.warnings
    assert warning.startswith(
        "git+https://github.com/o/lib.git: not pinned, its default branch could not be read"
    )
    assert environment.vcs_pins[0].pinned is None


def test_a_branch_that_does_not_exist_is_a_source_error(tmp_path: Path) -> None:
    url, _ = _library(tmp_path)
    with pytest.raises(SourceError, match="has no branch 'nope'"):
        fetch.branch_as_of(url, "nope", dt.date(2021, 1, 1))


def test_inspect_pins_a_vcs_requirement_and_records_it(tmp_path: Path, github: FakeGitHub) -> None:
    from repro import pipeline
    from repro.manifest import build_manifest
    from repro.models import Options
    from repro.report import QuietReporter

    local, shas = _library(tmp_path)
    bare = github.root / "lab" / "lib"
    bare.parent.mkdir(parents=True)
    git("clone", "-q", "--bare", local.removeprefix("file://"), str(bare), cwd=tmp_path)
    url = "https://github.com/lab/lib"
    repo = tmp_path / "paper"
    write_files(repo, {"requirements.txt": f"git+{url}#egg=lib\n", "main.py": "import lib\n"})
    commit_all(repo, date="2021-01-01T12:00:00+00:00")
    work = tmp_path / "work"
    work.mkdir()
    source = fetch.parse_source(str(repo))
    prepared = pipeline.prepare(source, Options(), work, QuietReporter(), probe_gpu=lambda: None)
    lib = next(r for r in prepared.plan.environment.requirements if r.url)
    assert lib.url == f"git+{url}@{shas['middle']}#egg=lib"
    (pin,) = build_manifest(prepared.plan)["vcs"]
    assert pin["commit"] == shas["middle"] and pin["pinned"] == lib.url and pin["ref"] == "main"
    installed = "".join(prepared.files.values())
    assert f"git+{url}@{shas['middle']}" in installed  # the requirements file the build uses
