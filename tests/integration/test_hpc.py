"""The paths to Apptainer/Singularity (docs/hpc.md): the exported tarball is a valid
docker-archive and `--oci` adds a valid OCI layout of the same image, both read by
Debian's skopeo (the containers/image library Apptainer builds from)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repro.engine import DockerEngine
from tests.conftest import FakeGitHub, require_images

pytestmark = [pytest.mark.docker, pytest.mark.network]


def skopeo(*args: str) -> dict[str, object]:
    found = shutil.which("skopeo")
    if found is None:
        msg = "skopeo is not installed (scripts/setup-engine.sh installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    done = subprocess.run([found, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert isinstance(doc, dict)
    return doc


def test_the_docker_archive_and_the_oci_layout_hold_the_packed_image(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("cli-tool")
    out = tmp_path / "out"
    packed = subprocess.run(
        [sys.executable, "-m", "repro", "pack", url, "--out", str(out), "--oci"],
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    tag = f"repro/acme-cli-tool:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    assert packed.returncode == 0, packed.stderr
    artifact = out / f"acme-cli-tool-{sha[:7]}"
    manifest = json.loads((artifact / "repro.json").read_text())
    assert "image.oci.tar" in manifest["artifacts"]  # checksummed with the rest

    # docker-archive: what `apptainer build x.sif docker-archive:image.tar` reads
    plain = tmp_path / "image.tar"
    with gzip.open(artifact / "image.tar.gz") as gz, open(plain, "wb") as fh:
        shutil.copyfileobj(gz, fh)
    docker = skopeo("inspect", f"docker-archive:{plain}")
    labels = docker["Labels"]
    assert isinstance(labels, dict)
    assert labels["org.opencontainers.image.revision"] == sha

    # the OCI layout of the same image: `apptainer build x.sif oci-archive:image.oci.tar`
    layout = artifact / "image.oci.tar"
    found = skopeo("inspect", f"oci-archive:{layout}")
    assert found["Labels"] == labels
    assert found["Layers"] and len(found["Layers"]) == len(docker["Layers"])  # type: ignore[arg-type]
    raw = skopeo("inspect", "--raw", f"oci-archive:{layout}:{sha[:7]}")
    config = raw["config"]
    assert isinstance(config, dict)
    assert config["digest"] == manifest["image"]["id"]  # docker's image id is the config's digest
    # skopeo checks every blob's digest as it copies
    copied = tmp_path / "copied"
    subprocess.run(
        ["skopeo", "copy", "-q", f"oci-archive:{layout}", f"dir:{copied}"], check=True, timeout=300
    )
    assert (copied / "manifest.json").is_file()

    verified = subprocess.run(
        [sys.executable, "-m", "repro", "verify", str(artifact)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert verified.returncode == 0, verified.stderr
