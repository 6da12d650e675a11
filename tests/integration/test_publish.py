"""Publishing for real: push to a registry on loopback, with and without a login.

The digest repro records must be the one the registry serves, the artifact must still
verify after it is rewritten, and the pinned reference must give back the packed image.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from repro.cli import cli
from repro.engine import DockerEngine
from tests.conftest import FakeGitHub, require_images
from tests.integration import registry

pytestmark = [pytest.mark.docker]


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def sums(directory: Path) -> str:
    return (directory / "SHA256SUMS").read_text()


def test_pack_push_records_the_digest_the_registry_serves(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("cli-tool")
    short = sha[:7]
    cleanup_images += [f"repro/acme-cli-tool:{short}", f"repro/acme-cli-tool:{short}-py3.11-cpu"]
    with registry.serve(tmp_path / "registry") as reg:
        name = f"{reg.host}/lab/cli-tool"
        cleanup_images.append(f"{name}:{short}")
        code, stdout, stderr = run("pack", url, "--out", str(tmp_path / "out"), "--push", name)
        assert code == 0, stderr
        served = reg.digest("lab/cli-tool", short)

        (dest,) = (tmp_path / "out").iterdir()
        manifest = json.loads((dest / "repro.json").read_text())
        (entry,) = manifest["published"]
        assert entry["repository"] == name and entry["tag"] == short
        assert entry["digest"] == served
        assert entry["pinned"] == f"{name}@{served}"
        assert f"pinned    {name}@{served}" in stdout

        # the snippet: printed, and in PAPER.md, pinned by digest, with the commit
        paper = (dest / "PAPER.md").read_text()
        assert f"docker run --rm -it {name}@{served}" in paper
        assert sha in paper and "repro verify ." in paper and "--gpus" not in paper
        assert paper in stdout

        # the SBOM is in the directory, named by the manifest, and lists the lock
        assert manifest["sbom"]["file"] == "sbom.cdx.json"
        doc = json.loads((dest / "sbom.cdx.json").read_text())
        assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
        purls = {c.get("purl") for c in doc["components"]}
        pip_version = next(x for x in manifest["lock"] if x.startswith("pip=="))[5:]
        assert f"pkg:pypi/pip@{pip_version}" in purls
        assert "pkg:docker/python@3.11-slim" in purls
        assert f"pkg:github/acme/cli-tool@{sha}" in purls
        assert manifest["sbom"]["packages"] == len(manifest["lock"])
        # ... and the image's system packages, read from dpkg inside it
        assert manifest["system"]["os"]["id"] == "debian"
        debs = {c["name"]: c["purl"] for c in doc["components"] if c["bom-ref"].startswith("deb:")}
        assert debs["base-files"].startswith("pkg:deb/debian/base-files@")
        assert len(debs) == manifest["sbom"]["system_packages"] > 20
        # ... with the licences they declare (package metadata, Debian copyright files)
        assert manifest["licenses"]["python"]["pip"] == ["MIT"]
        assert "GPL-3+" in manifest["licenses"]["system"]["bash"]
        named = {c["name"]: c.get("licenses") for c in doc["components"]}
        assert named["pip"] == [{"license": {"id": "MIT"}}]
        assert {"license": {"name": "GPL-3+"}} in named["bash"]
        assert manifest["sbom"]["with_licenses"] > 20

        # the rewritten artifact still verifies: every file, PAPER.md included, is covered
        assert set(manifest["artifacts"]) == {
            "Dockerfile",
            "PAPER.md",
            "image.tar.gz",
            "sbom.cdx.json",
        }
        check = subprocess.run(
            ["sha256sum", "-c", "SHA256SUMS"], cwd=dest, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert "PAPER.md: OK" in check.stdout

        # an image on the engine can be pushed too (nothing to record): same content,
        # same digest
        cleanup_images.append(f"{name}:by-image")
        code, stdout, stderr = run("push", f"repro/acme-cli-tool:{short}", f"{name}:by-image")
        assert code == 0, stderr
        assert f"digest    {served}" in stdout and "recorded" not in stdout
        assert reg.digest("lab/cli-tool", "by-image") == served
        assert f"docker run --rm -it {name}@{served}" in stdout

        # the pinned reference pulls back exactly the packed image
        engine.remove_image(f"{name}:{short}")
        pulled = subprocess.run(
            ["docker", "pull", entry["pinned"]], capture_output=True, text=True, timeout=300
        )
        assert pulled.returncode == 0, pulled.stderr
        cleanup_images.append(entry["pinned"])
        info = engine.image_info(entry["pinned"])
        assert info is not None and info.id == manifest["image"]["id"]

    code, stdout, stderr = run("verify", str(dest))
    assert code == 0, stderr


def test_a_registry_that_needs_a_login(
    engine: DockerEngine,
    github: FakeGitHub,
    tmp_path: Path,
    cleanup_images: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("cli-tool")
    short = sha[:7]
    tags = [f"repro/acme-cli-tool:{short}", f"repro/acme-cli-tool:{short}-py3.11-cpu"]
    cleanup_images += tags
    code, _, stderr = run("pack", url, "--out", str(tmp_path / "out"))
    assert code == 0, stderr
    (dest,) = (tmp_path / "out").iterdir()
    before = sums(dest)
    # push from the tarball alone: the image is loaded for the push, then removed again
    for tag in tags:
        engine.remove_image(tag)

    with registry.serve(tmp_path / "registry", user="alice", password="s3cret pass") as reg:
        name = f"{reg.host}/lab/cli-tool:v1"
        cleanup_images.append(name)

        code, stdout, stderr = run("push", str(dest), name)
        assert code == 1
        assert f"repro: error: cannot push {name}: no basic auth credentials" in stderr
        assert f"repro: hint: log in to {reg.host} first" in stderr
        assert sums(dest) == before  # nothing recorded for a failed push
        assert engine.image_info(tags[0]) is None  # the loaded image was removed again

        code, _, stderr = run(
            "push", str(dest), name, "--username", "alice", "--password-stdin", stdin="wrong\n"
        )
        assert code == 1 and "repro: hint: log in to" in stderr

        code, stdout, stderr = run(
            "push",
            str(dest),
            name,
            "--username",
            "alice",
            "--password-stdin",
            stdin="s3cret pass\n",
        )
        assert code == 0, stderr
        served = reg.digest("lab/cli-tool", "v1")
        assert f"digest    {served}" in stdout
        manifest = json.loads((dest / "repro.json").read_text())
        assert [p["digest"] for p in manifest["published"]] == [served]
        assert f"@{served}" in (dest / "PAPER.md").read_text()
        assert sums(dest) != before
        assert engine.image_info(tags[0]) is None

        # or `docker login` first, as one would by hand: the SDK reads its stored login
        config = tmp_path / "docker-config"
        config.mkdir()
        login = subprocess.run(
            ["docker", "login", reg.host, "--username", "alice", "--password-stdin"],
            input="s3cret pass\n",
            capture_output=True,
            text=True,
            env={**os.environ, "DOCKER_CONFIG": str(config)},
        )
        assert login.returncode == 0, login.stderr
        monkeypatch.setenv("DOCKER_CONFIG", str(config))
        cleanup_images.append(f"{reg.host}/lab/cli-tool:v2")
        code, stdout, stderr = run("push", str(dest), f"{reg.host}/lab/cli-tool:v2")
        assert code == 0, stderr
        manifest = json.loads((dest / "repro.json").read_text())
        assert [p["tag"] for p in manifest["published"]] == ["v1", "v2"]

    code, _, stderr = run("verify", str(dest))
    assert code == 0, stderr
