"""repro pack end to end on the real engine: build, smoke, export, load elsewhere."""

from __future__ import annotations

import gzip
import json
import os
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from repro import artifact
from repro.cli import cli
from repro.engine import DockerEngine, RunLimits
from tests.conftest import FakeGitHub, require_images

pytestmark = [pytest.mark.docker, pytest.mark.network]


def pack(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["pack", *args])
    return result.exit_code, result.stdout, result.stderr


def test_pack_github_url_then_load_and_rerun_smoke(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("paper-cpu")
    out = tmp_path / "out"
    code, stdout, stderr = pack(url, "--out", str(out))
    tag = f"repro/acme-paper-cpu:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    assert code == 0, stderr
    assert f"image     {tag}" in stdout

    dest = out / f"acme-paper-cpu-{sha[:7]}"
    assert sorted(p.name for p in dest.iterdir()) == [
        "Dockerfile",
        "PAPER.md",
        "SHA256SUMS",
        "image.tar.gz",
        "repro.json",
        "sbom.cdx.json",
    ]
    assert f"paper     {dest / 'PAPER.md'}" in stdout
    for name, digest in artifact.read_checksums(dest).items():
        assert artifact.sha256_file(dest / name) == digest

    manifest = json.loads((dest / "repro.json").read_text())
    assert manifest["schema_version"] == 1
    assert manifest["source"]["url"] == url and manifest["source"]["commit"] == sha
    assert manifest["python"]["version"] == "3.11"
    assert manifest["base_image"]["name"] == "python:3.11-slim"
    assert manifest["base_image"]["id"].startswith("sha256:")
    assert manifest["smoke"]["passed"] is True and manifest["smoke"]["kind"] == "pytest"
    assert manifest["smoke"]["network"] == "none"
    assert any(line.startswith("numpy==") for line in manifest["lock"])
    assert any(line.startswith("scipy==") for line in manifest["lock"])
    assert manifest["build"]["seconds"] > 0
    numpy = next(r for r in manifest["requirements"] if r["name"] == "numpy")
    assert {"path": "requirements.txt", "line": 1}.items() <= numpy["origins"][0].items()

    info = engine.image_info(tag)
    assert info is not None
    assert info.labels["org.opencontainers.image.source"] == url
    assert info.labels["org.opencontainers.image.revision"] == sha
    assert "org.opencontainers.image.created" in info.labels

    # the tarball restores the image on an engine that never saw it
    with gzip.open(dest / "image.tar.gz") as gz, tarfile.open(fileobj=gz) as tar:
        index = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert sorted(index[0]["RepoTags"]) == sorted([tag, f"{tag}-py3.11-cpu"])
    engine.remove_image(f"{tag}-py3.11-cpu")
    engine.remove_image(tag)
    assert engine.image_info(tag) is None
    with gzip.open(dest / "image.tar.gz") as gz:
        plain = tmp_path / "image.tar"
        plain.write_bytes(gz.read())
    loaded = engine.load(plain)
    assert tag in loaded
    rerun = engine.run(
        tag, manifest["smoke"]["command"], RunLimits(network="none", user="1000:1000", timeout=120)
    )
    assert rerun.exit_code == 0, rerun.output
    # the packages come with their bytecode, compiled at build: a container (which writes
    # none, PYTHONDONTWRITEBYTECODE) imports them without compiling them again
    cached = engine.run(
        tag,
        [
            "python",
            "-c",
            "import os, numpy, scipy.linalg\n"
            "for m in (numpy, scipy.linalg): print(m.__name__, os.path.isfile(m.__cached__))",
        ],
        RunLimits(network="none", user="1000:1000", timeout=120),
    )
    assert cached.output.split() == ["numpy", "True", "scipy.linalg", "True"], cached.output


def test_build_failure_names_the_step_and_leaves_no_artifact(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, _ = github.publish("build-fails")
    out = tmp_path / "out"
    code, _, stderr = pack(url, "--out", str(out))
    assert code == 1
    # the package and the command a user can read, the full log's path; never the RUN line
    assert "the package index has no package 'repro-fixture-package-that-does-not-exist'" in (
        stderr
    )
    assert "while installing the requirements: uv pip install -r" in stderr
    assert "full log: " in stderr
    assert "--mount=" not in stderr
    assert "Traceback" not in stderr
    assert not out.exists() or list(out.iterdir()) == []


def test_failing_smoke_test_keeps_the_image_but_writes_no_artifact(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("smoke-fails")
    tag = f"repro/acme-smoke-fails:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    out = tmp_path / "out"
    code, _, stderr = pack(url, "--out", str(out))
    assert code == 1
    assert "smoke test failed (exit 1)" in stderr
    assert f"repro shell {tag}" in stderr
    assert engine.image_info(tag) is not None
    assert not out.exists() or list(out.iterdir()) == []


TORCH_WHEELS = Path(os.environ.get("REPRO_TORCH_WHEELHOUSE", "/opt/wheels"))


@pytest.mark.slow
@pytest.mark.skipif(
    not list(TORCH_WHEELS.glob("torch-*cp311*.whl")),
    reason="no CPU torch wheel for Python 3.11 here",
)
def test_torch_from_a_wheelhouse(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("torch-mnist")
    tag = f"repro/acme-torch-mnist:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    code, _, stderr = pack(
        url,
        "--cpu",
        "--find-links",
        str(TORCH_WHEELS),
        "--out",
        str(tmp_path),
        "--smoke",
        "python train.py --steps 2",
    )
    assert code == 0, stderr
    manifest = json.loads(next(tmp_path.glob("*/repro.json")).read_text())
    torch = next(r for r in manifest["requirements"] if r["name"] == "torch")
    assert torch["version"].endswith("+cpu") and torch["layer"] == "framework"
    assert any(line.startswith("torch==") and "+cpu" in line for line in manifest["lock"])
    assert "loss" in manifest["smoke"]["log_tail"]
