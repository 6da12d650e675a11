"""Versions as of the commit, on the real engine: Python 2.7 for real, and a lock that is
a function of the commit date (two packs → the same lock)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from repro.cli import cli
from repro.engine import DockerEngine
from tests.conftest import FIXTURES, FakeGitHub, require_images

pytestmark = [pytest.mark.docker, pytest.mark.network]


def pack(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["pack", *args])
    return result.exit_code, result.stdout, result.stderr


def test_python2_code_is_packed_on_python27(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:2.7-slim")
    expected = json.loads((FIXTURES / "py2-numpy" / "expected.json").read_text())
    url, sha = github.publish("py2-numpy", date="2018-06-01T10:00:00+00:00")
    tag = f"repro/acme-py2-numpy:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py2.7-cpu"]
    code, _, stderr = pack(url, "--out", str(tmp_path))
    assert code == 0, stderr
    manifest = json.loads(next(tmp_path.glob("*/repro.json")).read_text())
    assert manifest["python"]["version"] == expected["python"]
    assert manifest["base_image"]["name"] == expected["base_image"]
    needed = [r["name"] for r in manifest["requirements"] if not r["optional"]]
    assert needed == expected["requirements"]  # urllib2, cPickle, StringIO: the 2.7 stdlib
    assert expected["lock_has"] in manifest["lock"]
    assert manifest["smoke"]["passed"] is True
    assert manifest["lock_cutoff"] == "2018-06-01"


def _unrelated_wheel(folder: Path) -> Path:
    """A wheelhouse that changes the install commands (so the build cache cannot answer)
    without offering any package the repository needs."""
    folder.mkdir()
    path = folder / "repro_unrelated-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr("repro_unrelated/__init__.py", "")
        whl.writestr(
            "repro_unrelated-0.0.1.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: repro-unrelated\nVersion: 0.0.1\n",
        )
    return folder


def test_two_packs_of_one_commit_give_the_same_dated_lock(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("paper-cpu")  # committed 2024-03-01
    tag = f"repro/acme-paper-cpu:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    first, second = tmp_path / "first", tmp_path / "second"
    code, _, stderr = pack(url, "--out", str(first), "--no-smoke")
    assert code == 0, stderr
    # a second pack later, resolving afresh (different install commands: no cached layer)
    wheels = _unrelated_wheel(tmp_path / "wheels")
    code, _, stderr = pack(url, "--out", str(second), "--no-smoke", "--find-links", str(wheels))
    assert code == 0, stderr
    one = json.loads(next(first.glob("*/repro.json")).read_text())
    two = json.loads(next(second.glob("*/repro.json")).read_text())
    assert one["lock"] == two["lock"] and one["lock"]
    assert one["lock_cutoff"] == two["lock_cutoff"] == "2024-03-01"
    # the newest releases before the commit date, not today's
    assert "numpy==1.26.4" in one["lock"] and "scipy==1.12.0" in one["lock"]
    labels = one["labels"]
    assert labels["io.github.repro.lock-cutoff"] == "2024-03-01"
