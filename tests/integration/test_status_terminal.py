"""``repro pack`` at a terminal (docs/user-guide.md, "While it runs"): the real build's
progress shows as one status line redrawn in place, erased before the summary."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from repro.engine import DockerEngine
from tests.conftest import make_repo, require_images, write_files
from tests.terminal import stderr_on_a_terminal

pytestmark = [pytest.mark.docker]


def test_pack_on_a_terminal_shows_the_build_step_live_and_ends_clean(
    engine: DockerEngine, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    sha = make_repo(write_files(tmp_path / "src", {"tiny.py": "import json\n"}), tmp_path / "tiny")
    tag = f"repro/local-tiny:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    argv = [sys.executable, "-m", "repro", "pack", str(tmp_path / "tiny"), "--python", "3.11",
            "--no-smoke", "--out", str(tmp_path / "out")]  # fmt: skip
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "200", "REPRO_CACHE_DIR": str(tmp_path)}

    code, stdout, screen = stderr_on_a_terminal(argv, env, timeout=600)

    assert code == 0, screen
    assert f"artifact  {tmp_path / 'out'}" in stdout
    assert "\x1b[1m==> build: " in screen  # the finished lines stay
    steps = [part for part in screen.split("\r\x1b[2K") if part.startswith("\x1b[2mbuild  step ")]
    assert steps, screen  # the status line, redrawn from BuildKit's own progress
    assert any("/" in part.split()[2] for part in steps)
    assert "#" not in "".join(steps)  # no raw build log on the terminal without -v
    assert screen.endswith("\r\x1b[2K")  # erased: nothing left beside the summary
