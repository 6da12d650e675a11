"""The code layer repro lays (repro/codelayer.py) on the real engine: the image is what a
build of the whole Dockerfile gives, and a re-pack after a change of code exports without
a ``docker save``, into a tarball ``docker load`` takes back as the very image."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from repro.cli import cli
from repro.engine import DockerEngine, RunLimits
from tests.conftest import FakeGitHub, require_images

pytestmark = [pytest.mark.docker, pytest.mark.network]

LISTING = "cd /app && find . -printf '%p %U:%G %m %y %s %l\\n' | sort"
SETTINGS = ("User", "WorkingDir", "Env", "Cmd", "Entrypoint")


def pack(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["pack", *args])
    return result.exit_code, result.stderr


def settings(engine: DockerEngine, ref: str) -> dict[str, Any]:
    config = engine.image_document(ref)[0]["Config"]
    return {key: config.get(key) for key in SETTINGS}


def listing(engine: DockerEngine, ref: str) -> str:
    ran = engine.run(ref, ["sh", "-c", LISTING], RunLimits(network="none", timeout=60))
    assert ran.exit_code == 0, ran.output
    return ran.output


def test_the_laid_image_is_what_the_builder_builds_from_the_dockerfile(
    engine: DockerEngine,
    github: FakeGitHub,
    tmp_path: Path,
    cleanup_images: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("paper-cpu", name="paper-cpu-laid")
    tag = f"repro/acme-paper-cpu-laid:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]

    code, stderr = pack(url, "--out", str(tmp_path / "laid"), "--no-smoke")
    assert code == 0, stderr
    assert "code layer laid by repro: " in stderr
    laid = engine.image_info(tag)
    assert laid is not None
    laid_settings, laid_files = settings(engine, tag), listing(engine, tag)
    manifest = json.loads(next((tmp_path / "laid").glob("*/repro.json")).read_text())
    assert manifest["build"]["code_layer"]["files"] == len(laid_files.splitlines()) - 3

    # the same pack with the whole Dockerfile left to the builder
    monkeypatch.setattr(DockerEngine, "lays_code", property(lambda self: False))
    code, stderr = pack(url, "--out", str(tmp_path / "built"), "--no-smoke")
    assert code == 0, stderr
    assert "code layer laid by repro" not in stderr
    built = engine.image_info(tag)
    assert built is not None and built.id != laid.id
    assert settings(engine, tag) == laid_settings
    # the same files, owners, modes, kinds, sizes and link targets
    assert listing(engine, tag) == laid_files
    assert "./train.py 1000:1000 644 f" in laid_files and ". 1000:1000 755 d" in laid_files


def test_a_repack_after_a_change_of_code_exports_without_a_docker_save(
    engine: DockerEngine,
    github: FakeGitHub,
    tmp_path: Path,
    cleanup_images: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_images(engine, "python:3.11-slim")
    saves: list[Sequence[str]] = []
    real_save = DockerEngine.save

    def counted(self: DockerEngine, refs: Sequence[str], out: Any) -> None:
        saves.append(list(refs))
        real_save(self, refs, out)

    monkeypatch.setattr(DockerEngine, "save", counted)
    url, sha = github.publish("paper-cpu", name="paper-cpu-repack")
    cleanup_images += [f"repro/acme-paper-cpu-repack:{sha[:7]}"]
    cleanup_images += [f"repro/acme-paper-cpu-repack:{sha[:7]}-py3.11-cpu"]
    code, stderr = pack(url, "--out", str(tmp_path / "one"))
    assert code == 0, stderr
    assert saves  # the first export reads the environment's layers from the engine

    line = f"print('changed {uuid.uuid4().hex}')"
    new_sha = github.commit_change("paper-cpu-repack", "train.py", f"\n{line}\n")
    tag = f"repro/acme-paper-cpu-repack:{new_sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    saves.clear()
    code, stderr = pack(url, "--out", str(tmp_path / "two"))
    assert code == 0, stderr
    assert saves == []
    assert "layers: 1 laid by repro, 0 compressed, " in stderr and "(no docker save)" in stderr

    # the tarball is the image that was tested, and it runs the changed code
    info = engine.image_info(tag)
    assert info is not None
    artifact = next((tmp_path / "two").glob("*/image.tar.gz"))
    engine.remove_image(tag)
    engine.remove_image(f"{tag}-py3.11-cpu")
    assert tag in engine.load(artifact)
    again = engine.image_info(tag)
    assert again is not None and again.id == info.id
    ran = engine.run(tag, ["python", "train.py"], RunLimits(network="none", timeout=120))
    assert ran.exit_code == 0 and ran.output.strip().endswith(line[7:-2]), ran.output
