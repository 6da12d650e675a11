"""The smoke test repairs real failures on the real engine, one fixture per class."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from repro.cli import cli
from repro.engine import DockerEngine
from tests.conftest import FakeGitHub, require_images
from tests.integration.wheels import oldapi_wheelhouse

pytestmark = [pytest.mark.docker, pytest.mark.network]


def pack(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["pack", *args])
    return result.exit_code, result.stdout, result.stderr


def manifest_of(out: Path) -> dict[str, Any]:
    (path,) = out.glob("*/repro.json")
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def requirement(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in manifest["requirements"] if r["name"].lower() == name.lower())


def test_a_dependency_only_visible_at_run_time_is_added(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("runtime-import")
    tag = f"repro/acme-runtime-import:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]

    # without repairs, repro says what it would do and stops
    code, _, stderr = pack(url, "--out", str(tmp_path / "none"), "--max-repairs", "0")
    assert code == 1
    assert "No module named 'yaml'" in stderr
    assert "next would be: add PyYAML" in stderr and "--max-repairs" in stderr
    kept = engine.image_info(tag)
    assert kept is not None  # kept for a look; the next pack moves the tags off it
    cleanup_images.append(kept.id)

    out = tmp_path / "out"
    code, stdout, stderr = pack(url, "--out", str(out))
    assert code == 0, stderr
    assert "==> repair 1/8: ModuleNotFoundError: No module named 'yaml'" in stderr
    assert "add PyYAML: 'yaml' is provided by PyYAML" in stderr
    assert (
        "repair 1  ModuleNotFoundError: No module named 'yaml' → add-requirement PyYAML" in stdout
    )

    manifest = manifest_of(out)
    (round1,) = manifest["repairs"]
    assert round1["failure"]["kind"] == "missing-module"
    assert round1["failure"]["subject"] == "yaml"
    assert round1["smoke"]["kind"] == "pytest" and round1["smoke"]["exit_code"] != 0
    assert [(c["action"], c["target"]) for c in round1["changes"]] == [
        ("add-requirement", "PyYAML")
    ]
    pyyaml = requirement(manifest, "PyYAML")
    assert pyyaml["origins"][-1]["kind"] == "repair" and not pyyaml["optional"]
    assert any(line.lower().startswith("pyyaml==") for line in manifest["lock"])
    smoke = manifest["smoke"]
    assert smoke["passed"] and smoke["kind"] == "pytest"
    assert smoke["targets"] == [
        {"target": "tests/test_cfgload.py::test_load_mapping", "status": "ok", "reason": ""}
    ]
    assert smoke["collected"] == 1
    # the image of the failed round is not left behind
    assert engine.image_info(round1["image"]) is None


def test_a_removed_function_lowers_the_version_below_the_removal(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    wheels = oldapi_wheelhouse(tmp_path / "wheels")
    url, sha = github.publish("api-removed")
    tag = f"repro/acme-api-removed:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    out = tmp_path / "out"
    code, _, stderr = pack(url, "--find-links", str(wheels), "--out", str(out))
    assert code == 0, stderr
    assert "cannot import name 'legacy_mean'" in stderr
    assert "require repro-fixture-oldapi<2.0" in stderr

    manifest = manifest_of(out)
    (round1,) = manifest["repairs"]
    assert round1["failure"]["kind"] == "missing-name"
    assert round1["failure"]["subject"] == "repro_fixture_oldapi.legacy_mean"
    assert round1["smoke"]["kind"] == "entry-point"
    (change,) = round1["changes"]
    assert (change["action"], change["specifier"]) == ("bound-requirement", "<2.0")
    assert "repro-fixture-oldapi 1.0 before 2.0" in change["reason"]
    assert "repro-fixture-oldapi==1.0" in manifest["lock"]
    oldapi = requirement(manifest, "repro-fixture-oldapi")
    assert oldapi["specifier"] == "<2.0" and oldapi["version"] == "1.0"
    smoke = manifest["smoke"]
    assert smoke["kind"] == "entry-point" and smoke["passed"]
    assert smoke["command"] == ["python", "/opt/repro/help_check.py", "script:summarize.py"]
    assert [(row["kind"], row["status"]) for row in smoke["discovery"]] == [
        ("user", "not found"),
        ("pytest", "not found"),
        ("entry-point", "passed"),
        ("import", "not tried"),
    ]


def test_a_missing_shared_library_installs_the_debian_package(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("shared-lib")
    tag = f"repro/acme-shared-lib:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    out = tmp_path / "out"
    code, _, stderr = pack(url, "--out", str(out))
    assert code == 0, stderr
    assert "libgomp.so.1: cannot open shared object file" in stderr
    assert "install the Debian package libgomp1" in stderr

    manifest = manifest_of(out)
    (round1,) = manifest["repairs"]
    assert round1["failure"]["kind"] == "shared-library"
    assert round1["changes"][0]["action"] == "add-system-package"
    assert round1["changes"][0]["target"] == "libgomp1"
    assert "--no-install-recommends libgomp1" in (next(out.glob("*/Dockerfile"))).read_text()
    smoke = manifest["smoke"]
    assert smoke["kind"] == "import" and smoke["passed"]
    assert {t["target"] for t in smoke["targets"]} == {"module:fastmath", "module:fastmath.ops"}


def test_an_unrepairable_failure_ends_with_a_diagnosis_and_keeps_the_image(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("unrepairable")
    tag = f"repro/acme-unrepairable:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    out = tmp_path / "out"
    code, _, stderr = pack(url, "--out", str(out))
    assert code == 1
    errors = [line for line in stderr.splitlines() if line.startswith("repro: error:")]
    assert errors == [
        "repro: error: smoke test failed (exit 1): ModuleNotFoundError: No module named "
        "'labtools_internal' (script:analysis.py): no known distribution provides "
        "'labtools_internal'"
    ]
    hint = next(line for line in stderr.splitlines() if line.startswith("repro: hint:"))
    assert "repro does not guess package names" in hint
    assert f"repro shell {tag}" in hint
    assert stderr.rstrip().splitlines()[-1] == hint  # it ends with the diagnosis and hint
    assert "Traceback (most recent call last)" not in stderr
    assert not out.exists() or list(out.iterdir()) == []
    assert engine.image_info(tag) is not None

    # the kept image opens in `repro shell`, unprivileged and without network
    probe = (
        "import os, socket\n"
        "try:\n"
        "    socket.create_connection(('pypi.org', 443), timeout=3); net = 'up'\n"
        "except OSError:\n"
        "    net = 'none'\n"
        "print(os.getuid(), net, os.getcwd())\n"
    )
    shell = subprocess.run(
        [sys.executable, "-m", "repro", "shell", tag, "--", "python", "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.split() == ["1000", "none", "/app"]
