"""A failed build is repaired on the real engine: a compiler and headers from the contents
data, a release with a wheel, two pins no resolver can satisfy together
(fixtures/build-failures/, docs/build-repair.md)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from repro.cli import cli
from repro.engine import DockerEngine
from tests.conftest import ROOT, FakeGitHub, require_images

pytestmark = [pytest.mark.docker, pytest.mark.network]
CASES = ROOT / "fixtures" / "build-failures"


@pytest.fixture
def fresh_build_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Layers and package caches of this run only: a wheel uv built for an earlier run
    (another fixture pins the same release) would make the first build pass."""
    monkeypatch.setenv("REPRO_BUILD_CACHE_NS", f"test-build-repair-{uuid.uuid4().hex[:12]}")


def pack(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["pack", *args])
    return result.exit_code, result.stdout, result.stderr


def publish(github: FakeGitHub, case: str) -> tuple[str, str]:
    date = json.loads((CASES / case / "expected.json").read_text())["date"]
    return github.publish(CASES / case, date=f"{date}T12:00:00+00:00")


def manifest_of(out: Path) -> dict[str, Any]:
    (path,) = out.glob("*/repro.json")
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def changes(manifest: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (r["failure"]["kind"], c["action"], c["target"] + c["specifier"])
        for r in manifest["repairs"]
        for c in r["changes"]
    ]


@pytest.mark.usefixtures("fresh_build_cache")
def test_an_old_c_extension_gets_its_compiler_and_headers(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    """netifaces 0.11.0 has wheels up to Python 3.9; on the declared 3.11 it builds from
    source, and the slim stand-in has no compiler and no Python.h."""
    require_images(engine, "python:3.11-slim")
    url, sha = publish(github, "compiler-missing")
    cleanup_images += [
        f"repro/acme-compiler-missing:{sha[:7]}",
        f"repro/acme-compiler-missing:{sha[:7]}-py3.11-cpu",
    ]
    out = tmp_path / "out"
    code, stdout, stderr = pack(url, "--out", str(out))
    assert code == 0, stderr
    assert "==> repair 1/8: netifaces==0.11.0: error: command 'x86_64-linux-gnu-gcc'" in stderr
    manifest = manifest_of(out)
    # the compiler, then the header of the image's own Python, both from the package
    # contents of the base image's release
    assert changes(manifest) == [
        ("missing-compiler", "add-build-package", "gcc"),
        ("missing-compiler", "add-build-package", "libc6-dev"),  # stdio.h: gcc recommends it
        ("missing-header", "add-build-package", "libpython3.11-dev"),
    ]
    rounds = manifest["repairs"]
    assert all(r["stage"] == "build" and Path(r["log"]).is_file() for r in rounds)
    assert rounds[1]["failure"]["subject"] == "Python.h"
    assert rounds[1]["changes"][0]["basis"] == "data/contents.json (bookworm package contents)"
    assert any(line.lower().startswith("netifaces==0.11.0") for line in manifest["lock"])
    assert manifest["smoke"]["passed"]
    # the packages are in the system layer, before the virtual environment and pip
    dockerfile = next(out.glob("*/Dockerfile")).read_text()
    apt = dockerfile.index("--no-install-recommends gcc libc6-dev libpython3.11-dev")
    assert apt < dockerfile.index("uv venv") < dockerfile.index("requirements.txt")
    assert "repair 1  " in stdout and "add-build-package gcc" in stdout


@pytest.mark.usefixtures("fresh_build_cache")
def test_a_release_without_a_wheel_moves_to_one_that_has_it(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    """scrypt as of June 2022 is 0.8.20, with wheels up to Python 3.10; the repository
    declares 3.11. repro moves to the first release with a 3.11 wheel, past the cutoff,
    rather than compiling."""
    require_images(engine, "python:3.11-slim")
    url, sha = publish(github, "newer-wheel")
    cleanup_images += [
        f"repro/acme-newer-wheel:{sha[:7]}",
        f"repro/acme-newer-wheel:{sha[:7]}-py3.11-cpu",
    ]
    out = tmp_path / "out"
    code, _, stderr = pack(url, "--out", str(out))
    assert code == 0, stderr
    manifest = manifest_of(out)
    (round1,) = manifest["repairs"]
    assert round1["failure"]["package"] == "scrypt" and round1["failure"]["version"] == "0.8.20"
    actions = [(c["action"], c["target"], c["specifier"]) for c in round1["changes"]]
    assert actions[0] == ("bound-requirement", "scrypt", "==0.8.23")  # cp311's first
    assert actions[1][:2] == ("exempt-cutoff", "scrypt")
    assert "scrypt==0.8.23" in manifest["lock"]
    assert "apt-get install" not in next(out.glob("*/Dockerfile")).read_text()  # no compiler


def test_two_declared_pins_at_odds_relax_the_dependency(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    """requirements.txt pins requests 2.31.0 and urllib3 1.20; requests needs urllib3>=1.21.1."""
    require_images(engine, "python:3.11-slim")
    url, sha = publish(github, "pin-conflict")
    cleanup_images += [
        f"repro/acme-pin-conflict:{sha[:7]}",
        f"repro/acme-pin-conflict:{sha[:7]}-py3.11-cpu",
    ]

    # without repairs: the error names the conflict, the command and the log, no RUN line
    code, _, stderr = pack(url, "--out", str(tmp_path / "none"), "--max-repairs", "0")
    assert code == 1
    assert "requests>=2.31.0 depends on urllib3>=1.21.1,<3" in stderr
    assert "next would be: require urllib3>=1.21.1,<3" in stderr
    assert "while installing the requirements: uv pip install -r" in stderr
    assert "full log: " in stderr and "--mount=" not in stderr

    out = tmp_path / "out"
    code, _, stderr = pack(url, "--out", str(out))
    assert code == 0, stderr
    manifest = manifest_of(out)
    assert changes(manifest) == [("resolver-conflict", "bound-requirement", "urllib3>=1.21.1,<3")]
    reason = manifest["repairs"][0]["changes"][0]["reason"]
    assert "requirements.txt:2" in reason and "requirements.txt:1" in reason
    urllib3 = next(r for r in manifest["requirements"] if r["name"] == "urllib3")
    assert urllib3["specifier"] == ">=1.21.1,<3"
    assert urllib3["origins"][-1]["kind"] == "repair"
    assert manifest["smoke"]["passed"]
