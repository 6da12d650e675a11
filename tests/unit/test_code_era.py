"""A date for code without a usable history (repro/era.py): a folder outside git, or a
history that is one upload, is dated by what its code uses; a real history keeps its date."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from repro import fetch
from repro.cli import cli
from repro.infer import infer
from repro.models import Environment, InferSettings
from repro.releases import ShippedIndex
from repro.scan import scan
from tests.conftest import commit_all, write_files

ERAS = Path(__file__).resolve().parents[2] / "fixtures" / "eras"
DOWNLOADED = dt.datetime(2026, 11, 20, 9, tzinfo=dt.timezone.utc)  # when it was copied


def run(
    root: Path, history: str, *, when: dt.datetime = DOWNLOADED, **options: object
) -> Environment:
    return infer(
        scan(root),
        InferSettings(**options),  # type: ignore[arg-type]
        commit_date=when,
        releases=ShippedIndex(),
        history=history,  # type: ignore[arg-type]
    )


def version(env: Environment, name: str) -> str | None:
    return next(c.version for c in env.choices if c.name == name)


def test_a_folder_is_dated_by_the_first_release_that_removed_an_api_it_uses() -> None:
    env = run(ERAS / "sklearn-externals-2018", "none")
    # scikit-learn 0.20.0 (2018-09-26) left sklearn.cross_validation out
    assert env.as_of == dt.date(2018, 9, 26) and env.as_of_basis == "code"
    assert env.as_of_reason.startswith("no history (a folder outside git): as of 2018-09-26")
    assert "sklearn.cross_validation (fit.py:2)" in env.as_of_reason
    assert "https://scikit-learn.org/stable/whats_new/v0.20.html" in env.as_of_reason
    assert version(env, "scikit-learn") == "0.19.2"
    assert env.python.version == "3.6" and env.lock_cutoff == dt.date(2018, 9, 26)
    (sk,) = [c for c in env.choices if c.name == "scikit-learn"]
    assert any(
        step.startswith("the code's era 2018-09-26 → newest scikit-learn") for step in sk.chain
    )


def test_a_folder_with_nothing_old_keeps_its_files_date(tmp_path: Path) -> None:
    write_files(tmp_path, {"run.py": "import numpy as np\nprint(np.zeros(3))\n"})
    env = run(tmp_path, "none")
    assert env.as_of == DOWNLOADED.date() and env.as_of_basis == "files"
    assert env.as_of_reason == (
        "newest file time 2026-11-20 (no history); nothing in the code dates it earlier"
    )


def test_the_standard_library_dates_code_too(tmp_path: Path) -> None:
    write_files(tmp_path, {"bench.py": "import time\nimport numpy\nstart = time.clock()\n"})
    env = run(tmp_path, "none")
    assert env.as_of == dt.date(2019, 10, 14)  # Python 3.8, which removed time.clock
    assert "Python <3.8 (bench.py:3" in env.as_of_reason
    assert env.python.version == "3.7"


def test_a_newer_api_wins_over_an_older_one_and_both_bounds_hold(tmp_path: Path) -> None:
    source = "import numpy as np\nimport torch\nx = np.float(1)\nf = torch.compile(len)\n"
    write_files(tmp_path, {"mixed.py": source})
    env = run(tmp_path, "none")
    # numpy 1.24 (2022-12-18) removed np.float; torch.compile needs torch 2.0 (2023-03-15)
    assert env.as_of == dt.date(2023, 3, 16)
    assert "it needs that although" in env.as_of_reason
    assert version(env, "torch") == "2.0.0"
    assert version(env, "numpy") is not None and version(env, "numpy").startswith("1.23")  # type: ignore[union-attr]


def test_a_real_history_keeps_its_commit_date() -> None:
    commit = dt.datetime(2020, 9, 30, 12, tzinfo=dt.timezone.utc)
    env = run(ERAS / "tf1-late-commit", "full", when=commit)
    assert env.as_of == dt.date(2020, 9, 30) and env.as_of_basis == "commit"
    assert version(env, "tensorflow") == "1.15.4"
    thin = run(ERAS / "tf1-late-commit", "thin", when=commit)
    assert thin.as_of == dt.date(2019, 9, 30)  # one upload, a year after TF 2.0
    assert thin.as_of_reason.startswith("the history is one upload (last commit 2020-09-30)")
    # an upload within a year of what the code says: its own date stands
    recent = run(
        ERAS / "tf1-late-commit", "thin", when=dt.datetime(2020, 3, 1, tzinfo=dt.timezone.utc)
    )
    assert recent.as_of == dt.date(2020, 3, 1)


def test_as_of_overrides_the_code_era() -> None:
    env = run(ERAS / "sklearn-externals-2018", "none", as_of=dt.date(2017, 3, 1))
    assert env.as_of == dt.date(2017, 3, 1) and env.as_of_basis == "option"
    assert version(env, "scikit-learn") == "0.18.1"


def test_fetch_tells_a_folder_an_upload_and_a_history_apart(tmp_path: Path) -> None:
    folder = write_files(tmp_path / "folder", {"a.py": "import numpy\n"})
    upload = write_files(tmp_path / "upload", {"a.py": "import numpy\n"})
    commit_all(upload, date="2024-05-01T10:00:00Z")
    write_files(upload, {"b.py": "import scipy\n"})
    commit_all(upload, date="2024-05-02T10:00:00Z")
    real = write_files(tmp_path / "real", {"a.py": "import numpy\n"})
    commit_all(real, date="2019-01-01T10:00:00Z")
    write_files(real, {"b.py": "import scipy\n"})
    commit_all(real, date="2020-06-01T10:00:00Z")
    write_files(real, {"README.md": "later\n"})  # not code: does not count
    commit_all(real, date="2024-06-01T10:00:00Z")
    found = {}
    for name, path in (("folder", folder), ("upload", upload), ("real", real)):
        work = tmp_path / f"work-{name}"
        work.mkdir()
        found[name] = fetch.fetch(fetch.parse_source(str(path), None), work).history
    assert found == {"folder": "none", "upload": "thin", "real": "full"}


def test_the_manifest_says_where_the_date_comes_from(tmp_path: Path) -> None:
    repo = tmp_path / "script"
    shutil.copytree(ERAS / "sklearn-externals-2018", repo)
    (repo / "expected.json").unlink()
    result = CliRunner().invoke(cli, ["inspect", str(repo), "--json"])
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["source"]["history"] == "none"
    assert plan["as_of"] == "2018-09-26" and plan["as_of_basis"] == "code"
    assert "sklearn.cross_validation (fit.py:2)" in plan["as_of_reason"]
    text = CliRunner().invoke(cli, ["inspect", str(repo)])
    assert "As of      2018-09-26 (no history (a folder outside git): as of 2018-09-26" in (
        text.stdout
    )
