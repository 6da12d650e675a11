"""The live status of a long pack: the build log read into step n/m and the package at
work; the status line redrawn in place on a terminal (a real pseudo-terminal), plain
lines elsewhere, nothing with --quiet."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

from click.testing import CliRunner

from repro.cli import cli
from repro.status import CLEAR, BuildProgress, LiveReporter, elapsed, status_text
from tests.terminal import stderr_on_a_terminal

# as BuildKit 20.10 prints them with --progress=plain (trimmed)
BUILD_LOG = """\
#1 [internal] load build definition from Dockerfile
#1 sha256:9e75576d2cd25a8fae1e2e62006a421d530780d229ebe9d88b7550626ae5aef6
#1 DONE 0.0s
#4 [1/5] FROM docker.io/library/python:3.11-slim
#4 sha256:1f3c5a 12.58MB / 29.13MB 1.2s
#5 [2/5] RUN apt-get update && apt-get install -y --no-install-recommends gcc
#5 3.120 Get:12 http://deb.debian.org/debian bookworm/main amd64 gcc-12 amd64 12.2.0-14 [19.3 MB]
#5 9.410 Setting up gcc-12 (12.2.0-14) ...
#5 DONE 12.0s
#6 [builder 3/5] RUN /venv/bin/python -m pip install -r requirements.txt
#6 1.004 Collecting numpy==1.26.4
#6 1.230   Downloading numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl (18.3 MB)
"""


def feed(text: str) -> BuildProgress:
    progress = BuildProgress()
    for line in text.splitlines():
        progress.feed(line)
    return progress


def test_build_log_gives_step_of_steps_and_the_package_downloaded_with_its_size() -> None:
    progress = feed(BUILD_LOG)
    assert (progress.step, progress.steps) == (3, 5)
    assert progress.describe() == (
        "step 3/5 · RUN /venv/bin/python -m pip install -r requirem… · "
        "downloading numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl (18.3 MB)"
    )


def test_each_stage_of_the_log_names_what_it_does() -> None:
    lines = BUILD_LOG.splitlines()
    assert feed("\n".join(lines[:5])).doing == "pulling a base layer (12.58MB / 29.13MB)"
    assert feed("\n".join(lines[:7])).doing == "downloading gcc-12 (19.3 MB)"
    assert feed("\n".join(lines[:8])).doing == "setting up gcc-12"
    assert feed("\n".join(lines[:9])).describe().startswith("step 2/5 · RUN apt-get")
    assert feed("\n".join(lines[:9])).doing == ""  # the step is done
    assert feed("\n".join(lines[:11])).doing == "collecting numpy==1.26.4"
    built = feed("#7 [4/5] RUN pip install .\n#7 8.1 Building wheel for paper (setup.py): started")
    assert built.doing == "building paper"
    assert feed("#9 exporting to image").doing == "writing the image"


def test_the_flags_of_an_instruction_are_left_out() -> None:
    progress = feed("#8 [3/7] RUN --mount=type=secret,id=repro-ca --mount=type=cache pip install x")
    assert progress.describe() == "step 3/7 · RUN pip install x"


def test_output_of_another_step_does_not_count_as_this_ones() -> None:
    progress = feed("#5 [2/3] RUN a\n#6 [3/3] RUN b\n#5 1.0 Collecting numpy")
    assert progress.describe() == "step 3/3 · RUN b"


def test_no_build_no_step_and_the_clock_reads_as_people_do() -> None:
    assert BuildProgress().describe() == ""
    assert [elapsed(s) for s in (7.9, 65, 3720)] == ["7s", "1m05s", "1h02m"]
    assert status_text("smoke", BuildProgress(), 3, 80) == "smoke  3s"
    long = status_text("build", feed(BUILD_LOG), 61, 40)
    assert len(long) == 39 and long.startswith("build  step 3/5") and long.endswith("…")


def test_live_reporter_keeps_finished_lines_above_one_line_redrawn_in_place() -> None:
    out = io.StringIO()
    now = [100.0]
    live = LiveReporter(out, 0, clock=lambda: now[0], width=lambda: 200)
    live.stage("build", "repro/paper:abc")
    now[0] += 75
    live.log("#6 [3/5] RUN pip install -r requirements.txt")
    live.log("#6 1.0 Collecting torch")
    live.info("built sha256:abc in 75.0 s")
    live.close()
    text = out.getvalue()
    screen = text.split(CLEAR)
    assert screen[-1] == ""  # the status line is erased at the end
    finished = [part for part in screen if part.endswith("\n")]
    assert [part.strip() for part in finished][-1] == "built sha256:abc in 75.0 s"
    assert "build  step 3/5 · RUN pip install -r requirements.txt · collecting torch  1m15s" in text
    assert "| #6" not in text  # the build log itself only with -v


def test_live_reporter_with_verbose_keeps_the_build_log_above_too() -> None:
    out = io.StringIO()
    live = LiveReporter(out, 1, clock=lambda: 0.0, width=lambda: 80)
    live.log("#6 1.0 Collecting torch")
    assert CLEAR + "    | #6 1.0 Collecting torch\n" in out.getvalue()


DRIVE = textwrap.dedent(
    """
    import sys
    from repro.status import open_reporter
    with open_reporter(0, quiet="quiet" in sys.argv) as r:
        r.stage("build", "repro/paper:abc")
        r.log("#5 [2/3] RUN pip install numpy")
        r.log("#5 1.2 Downloading numpy-1.26.4.whl (18.3 MB)")
        r.info("built in 3.0 s")
        r.warn("no GPU here")
    print("image     repro/paper:abc", file=sys.stderr)
    """
)


ENV = {**os.environ, "TERM": "xterm", "COLUMNS": "200"}


def _through_a_terminal(*args: str) -> str:
    """What the script writes to stderr when stderr is a pseudo-terminal."""
    code, stdout, stderr = stderr_on_a_terminal(
        [sys.executable, "-c", DRIVE, *args], ENV, timeout=60
    )
    assert code == 0 and stdout == "", stderr
    return stderr


def _through_a_pipe(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", DRIVE, *args], capture_output=True, env=ENV, timeout=60, check=True
    )
    return done.stderr.decode()


def test_on_a_terminal_the_status_line_is_redrawn_and_erased_before_the_summary() -> None:
    text = _through_a_terminal()
    assert text.count("\r\x1b[2K") >= 5
    assert "step 2/3 · RUN pip install numpy · downloading numpy-1.26.4.whl (18.3 MB)" in text
    # erased before the summary, so it never stays on screen above or beside it
    assert text.endswith("\r\x1b[2Kimage     repro/paper:abc\n")
    assert "    built in 3.0 s\n" in text


def test_not_on_a_terminal_the_plain_lines_of_old_and_no_control_characters() -> None:
    assert _through_a_pipe() == (
        "==> build: repro/paper:abc\n"
        "    built in 3.0 s\n"
        "    warning: no GPU here\n"
        "image     repro/paper:abc\n"
    )


def test_quiet_says_nothing_but_the_summary() -> None:
    assert _through_a_terminal("quiet") == "image     repro/paper:abc\n"
    assert _through_a_pipe("quiet") == "image     repro/paper:abc\n"


def test_pack_quiet_still_says_the_error() -> None:
    result = CliRunner().invoke(cli, ["pack", "--quiet", "not a source at all!"])
    assert result.exit_code != 0
    assert "repro: error:" in result.output
    assert "==>" not in result.output
