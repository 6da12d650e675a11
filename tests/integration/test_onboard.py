"""Onboarding for real: `repro run` / `repro shell` on a SOURCE, with and without --mount."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repro.engine import DockerEngine
from tests.conftest import FIXTURES, FakeGitHub, make_repo, require_images

pytestmark = [pytest.mark.docker]


def repro(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real command line (run/shell hand the terminal to `docker run`)."""
    return subprocess.run(
        [sys.executable, "-m", "repro", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def test_run_packs_a_source_first_then_reuses_its_artifact(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("cli-tool")
    tag = f"repro/acme-cli-tool:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    out = tmp_path / "out"

    first = repro("run", url, "--out", str(out), "--", "python", "-m", "greeter", "reader")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "hello, reader"
    assert "==> build" in first.stderr  # packed first, with pack's options (--out)
    assert (out / f"acme-cli-tool-{sha[:7]}" / "repro.json").is_file()

    # the second time, the artifact of that commit is reused: no build
    again = repro("run", url, "--out", str(out), "--", "sh", "-c", "pwd; id -u; exit 3")
    assert again.returncode == 3  # the command's own exit status
    assert again.stdout.split() == ["/app", "1000"]
    assert "was packed before" in again.stderr and "==> build" not in again.stderr

    # the same through `repro shell` (COMMAND instead of an interactive bash), by image
    shell = repro("shell", tag, "--", "python", "-c", "import greeter, sys; print(sys.prefix)")
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.strip() == "/opt/venv"


def test_mount_puts_the_local_checkout_at_app_for_live_edits(
    engine: DockerEngine, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    checkout = tmp_path / "cli-tool"
    sha = make_repo(FIXTURES / "cli-tool", checkout)
    tag = f"repro/local-cli-tool:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    out = tmp_path / "out"

    # an uncommitted edit: not in the image, but seen through --mount
    cli = checkout / "greeter" / "cli.py"
    cli.write_text(cli.read_text().replace('"hello, %s"', '"hi there, %s"'))
    argv = ["--out", str(out), "--", "python", "-m", "greeter", "you"]

    packed = repro("run", str(checkout), *argv)
    assert packed.returncode == 0, packed.stderr
    assert packed.stdout.strip() == "hello, you"  # the committed code, in the image

    live = repro("run", str(checkout), "--mount", *argv)
    assert live.returncode == 0, live.stderr
    assert live.stdout.strip() == "hi there, you"
    assert f"mounting {checkout.resolve()} at /app" in live.stderr

    # files written in /app land in the checkout, owned by the host user
    wrote = repro("run", str(checkout), "--mount", "--out", str(out), "--", "touch", "made-inside")
    assert wrote.returncode == 0, wrote.stderr
    made = checkout / "made-inside"
    assert made.exists() and made.stat().st_uid == os.getuid()

    # an image or a URL mounts the current directory
    from_cwd = repro("shell", tag, "--mount", "--", "ls", "/app", cwd=checkout)
    assert from_cwd.returncode == 0, from_cwd.stderr
    assert "made-inside" in from_cwd.stdout.split()


def test_an_unknown_target_is_one_clear_line(engine: DockerEngine, tmp_path: Path) -> None:
    result = repro("run", str(tmp_path / "nope.txt"), "--", "true", cwd=tmp_path)
    # not a path, not an image: a source that cannot be parsed
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("repro: error: ")
    assert "Traceback" not in result.stderr


def test_ctrl_c_goes_to_the_command_and_leaves_no_container(engine: DockerEngine) -> None:
    require_images(engine, "python:3.11-slim")
    script = 'trap "echo got-int; exit 7" INT; sleep 60 & wait'
    proc = subprocess.Popen(
        [sys.executable, "-m", "repro", "run", "python:3.11-slim", "--", "sh", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    label = "label=io.github.repro.managed=shell"

    def running() -> list[str]:
        out = subprocess.run(
            ["docker", "ps", "-q", "--filter", label], capture_output=True, text=True
        )
        return out.stdout.split()

    before = set(running())
    deadline = time.monotonic() + 60
    while not set(running()) - before and time.monotonic() < deadline:
        time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 7, stderr  # the command's own answer to SIGINT
    assert stdout.strip() == "got-int"
    assert set(running()) <= before
