"""`repro verify` on real artifacts: a fresh one passes, a changed one is refused or drifts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from repro import artifact
from repro.cli import cli
from repro.engine import DockerEngine
from tests.conftest import FakeGitHub, require_images

pytestmark = [pytest.mark.docker]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def packed(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> tuple[Path, list[str]]:
    """Pack cli-tool (no dependencies: a quick build); return the artifact and its tags."""
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("cli-tool")
    tag = f"repro/acme-cli-tool:{sha[:7]}"
    tags = [tag, f"{tag}-py3.11-cpu"]
    cleanup_images += tags
    code, _, stderr = run("pack", url, "--out", str(tmp_path / "out"))
    assert code == 0, stderr
    (dest,) = (tmp_path / "out").iterdir()
    return dest, tags


def forget(engine: DockerEngine, tags: list[str]) -> None:
    """Remove the image, so that verify must load it from the tarball."""
    for tag in tags:
        engine.remove_image(tag)
    assert engine.image_info(tags[0]) is None


def _machine_interfaces() -> list[str]:
    """The host's network interfaces but containers' veths, which any engine on the machine
    makes and removes at any moment; the clean engine, in a namespace of its own with no
    bridge, makes none, and what it must not do is remove one (docker0) or leave one."""
    return sorted(n for n in os.listdir("/sys/class/net") if not n.startswith("veth"))


def test_a_clean_engine_of_its_own_loads_and_reruns_the_artifact_then_goes(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    if os.geteuid() != 0:
        pytest.skip("--clean-engine starts a dockerd, which needs root")
    dest, tags = packed(engine, github, tmp_path, cleanup_images)
    manifest = json.loads((dest / "repro.json").read_text())
    forget(engine, tags)
    before = {p.name for p in Path(tempfile.gettempdir()).glob("repro-engine-*")}
    interfaces = _machine_interfaces()  # docker0 of the usual engine among them

    done = subprocess.run(
        [sys.executable, "-m", "repro", "verify", "--clean-engine", str(dest)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "starting a clean engine (dockerd with empty storage in" in done.stderr
    assert "engine    clean: a dockerd of its own with empty storage, removed after" in done.stdout
    assert f"image     ok  {manifest['image']['id'][:19]} as recorded" in done.stdout
    assert "smoke     ok  passed again" in done.stdout
    # it ran in the other engine: the usual one never got the image; nothing is left over
    assert engine.image_info(tags[0]) is None
    assert {p.name for p in Path(tempfile.gettempdir()).glob("repro-engine-*")} == before
    assert _machine_interfaces() == interfaces  # the machine's network as it was
    leftover = subprocess.run(["pgrep", "-f", "dockerd --config-file .*repro-engine-"],
                              capture_output=True, text=True, check=False)  # fmt: skip
    assert leftover.stdout.strip() == ""


def test_a_fresh_artifact_verifies_and_the_engine_is_left_as_it_was(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    dest, tags = packed(engine, github, tmp_path, cleanup_images)
    manifest = json.loads((dest / "repro.json").read_text())
    assert manifest["smoke"]["kind"] == "entry-point"
    assert [t["target"] for t in manifest["smoke"]["targets"]] == [
        "console:greet=greeter.cli:main",
        "module:greeter",
    ]
    forget(engine, tags)

    code, stdout, stderr = run("verify", str(dest))
    assert code == 0, stderr
    assert "checksums ok  5 files match SHA256SUMS" in stdout
    assert f"image     ok  {manifest['image']['id'][:19]} as recorded" in stdout
    assert "smoke     ok  passed again (exit 0, 2 targets), as recorded" in stdout
    assert f"verified  {dest}" in stdout
    assert engine.image_info(tags[0]) is None  # loaded for the check, then removed

    # `repro shell` on the artifact loads the image (after the checksum check) and runs in it
    shell = subprocess.run(
        [sys.executable, "-m", "repro", "shell", str(dest), "--", "id", "-u"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.strip() == "1000"
    assert "loading" in shell.stderr
    forget(engine, tags)

    # the tarball's path works too, and --keep leaves the image loaded
    code, _, stderr = run("verify", str(dest / "image.tar.gz"), "--keep")
    assert code == 0, stderr
    info = engine.image_info(tags[0])
    assert info is not None and info.id == manifest["image"]["id"]


def test_a_tampered_tarball_is_refused_before_it_is_loaded(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    dest, tags = packed(engine, github, tmp_path, cleanup_images)
    forget(engine, tags)
    tarball = dest / "image.tar.gz"
    data = bytearray(tarball.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tarball.write_bytes(bytes(data))

    code, stdout, stderr = run("verify", str(dest))
    assert code == 1
    assert (
        "repro: error: image.tar.gz does not match SHA256SUMS: the artifact was changed or is "
        "corrupt; refusing to load it"
    ) in stderr
    assert "verified" not in stdout
    assert engine.image_info(tags[0]) is None  # never loaded

    # a file slipped into the directory is refused too
    (dest / "image.tar.gz").unlink()
    (dest / "extra.sh").write_text("echo hi\n")
    code, _, stderr = run("verify", str(dest))
    assert code == 2 and "not a repro artifact (no image.tar.gz)" in stderr


def test_a_result_that_no_longer_matches_the_record_is_drift(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    dest, _ = packed(engine, github, tmp_path, cleanup_images)
    # Rewrite the record (and its checksums, as a careless edit or a forger would): the
    # image is the same, so rerunning the smoke test shows the difference.
    path = dest / "repro.json"
    manifest = json.loads(path.read_text())
    manifest["smoke"]["exit_code"] = 3
    manifest["smoke"]["targets"][1]["status"] = "failed"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    sums = artifact.read_checksums(dest)
    sums["repro.json"] = artifact.sha256_file(path)
    (dest / "SHA256SUMS").write_text("".join(f"{d}  {n}\n" for n, d in sorted(sums.items())))

    code, stdout, stderr = run("verify", str(dest))
    assert code == 1
    assert "smoke     DRIFT  exit 0, recorded 3" in stdout
    assert "module:greeter: ok, recorded failed" in stdout
    assert f"repro: error: {dest} drifted: smoke: exit 0, recorded 3" in stderr
