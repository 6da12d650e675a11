"""What a pack says while the user waits (docs/user-guide.md, "While it runs").

Three ways to say it, picked by :func:`open_reporter`:

- on a terminal, finished lines (stages, notes, warnings) stay on screen and one live
  status line below them is redrawn in place: the stage, BuildKit's step n of m, the
  package being downloaded or built when the build log names one (with its size when the
  log gives it) and the time spent in the stage, as BuildKit and uv show their own;
- elsewhere (CI logs, a pipe), the plain lines repro always printed, nothing redrawn;
- with ``--quiet``, neither: only errors and the final summary.

Reading the build log (:class:`BuildProgress`) is pure and tested without a terminal.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

import click

from repro import signals
from repro.report import QuietReporter, Reporter

CLEAR = "\r\x1b[2K"  # back to the line's start, erase it (what BuildKit's tty view does)

# ``#7 [2/5] RUN ...`` or, in a multi-stage build, ``#7 [builder 2/5] RUN ...``
_STEP = re.compile(r"^#(\d+) \[(?:[^\]\s]+ )?(\d+)/(\d+)\] (.*)$")
_VERTEX = re.compile(r"^#(\d+) (?:\d+\.\d+ )?(.*)$")
# a layer of the base image coming down: ``#3 sha256:ab12... 10.49MB / 30.20MB 2.1s``
_LAYER = re.compile(r"^sha256:[0-9a-f]{6,} (\S+ / \S+)")
_PACKAGE = (
    # pip and uv: ``Collecting numpy==1.21``, ``Downloading numpy-1.21.whl (15.7 MB)``
    (re.compile(r"^\s*Collecting (\S+)"), "collecting"),
    (re.compile(r"^\s*Downloading (\S+)(?: \(([^)]+)\))?"), "downloading"),
    (re.compile(r"^\s*Building wheels? for (\S+)"), "building"),
    (re.compile(r"^\s*Running setup\.py install for (\S+)"), "building"),
    (re.compile(r"^\s*Installing collected packages: (.+)"), "installing"),
    (re.compile(r"^\s*Installed (\d+ packages?)"), "installed"),
    # apt: ``Get:12 http://deb.debian.org/debian bookworm/main amd64 gcc amd64 12.2 [1 kB]``
    (re.compile(r"^Get:\d+ \S+ \S+ \S+ (\S+) \S+ \S+ \[([^\]]+)\]"), "downloading"),
    (re.compile(r"^Unpacking (\S+)"), "unpacking"),
    (re.compile(r"^Setting up (\S+)"), "setting up"),
)


class BuildProgress:
    """What BuildKit's plain progress (``--progress=plain``) says the build is doing:
    fed one line at a time; :meth:`describe` is the status line's build part."""

    def __init__(self) -> None:
        self.step = 0
        self.steps = 0
        self.instruction = ""
        self.doing = ""
        self._vertex = ""

    def feed(self, line: str) -> None:
        step = _STEP.match(line)
        if step:
            self._vertex = step.group(1)
            self.step, self.steps = int(step.group(2)), int(step.group(3))
            # ``RUN --mount=... --mount=... pip install``: the flags say nothing to a user
            words = step.group(4).split()
            self.instruction = " ".join(w for w in words if not w.startswith("--"))
            self.doing = ""
            return
        vertex = _VERTEX.match(line)
        if not vertex:
            return
        text = vertex.group(2)
        if text == "exporting to image":
            self.doing = "writing the image"
            return
        layer = _LAYER.match(text)
        if layer:
            self.doing = f"pulling a base layer ({layer.group(1)})"
            return
        if vertex.group(1) != self._vertex:
            return
        if text.startswith("DONE ") or text == "CACHED":
            self.doing = ""
            return
        for pattern, verb in _PACKAGE:
            found = pattern.match(text)
            if found:
                what = found.group(1).rstrip(",")
                if verb == "installing" and len(what) > 40:
                    what = what[:39] + "…"
                size = found.group(2) if pattern.groups > 1 else None
                self.doing = f"{verb} {what}" + (f" ({size})" if size else "")
                return

    def describe(self) -> str:
        if not self.steps:
            return ""
        parts = [f"step {self.step}/{self.steps}"]
        if self.instruction:
            parts.append(_shorten(self.instruction, 48))
        if self.doing:
            parts.append(self.doing)
        return " · ".join(parts)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def elapsed(seconds: float) -> str:
    """``7s``, ``1m05s``, ``1h02m``: the status line's clock."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def status_text(stage: str, progress: BuildProgress, seconds: float, width: int) -> str:
    """The live line: stage, what the build does, time in the stage; cut to ``width``."""
    parts = [stage or "starting"]
    if described := progress.describe():
        parts.append(described)
    parts.append(elapsed(seconds))
    return _shorten("  ".join(parts), max(width - 1, 10))


class PlainReporter:
    """Stages and notes as plain lines on stderr; build log lines only with -v."""

    def __init__(self, verbose: int, color: bool | None = None) -> None:
        self.verbose = verbose
        self.color = sys.stderr.isatty() if color is None else color

    def stage(self, name: str, detail: str = "") -> None:
        click.secho(
            f"==> {name}" + (f": {detail}" if detail else ""), err=True, bold=True, color=self.color
        )

    def info(self, message: str) -> None:
        click.echo(f"    {message}", err=True)

    def warn(self, message: str) -> None:
        click.secho(f"    warning: {message}", err=True, fg="yellow", color=self.color)

    def log(self, line: str) -> None:
        if self.verbose:
            click.echo(f"    | {line}", err=True)


class LiveReporter:
    """The plain lines, kept above one status line redrawn in place (a terminal only).
    A ticker redraws it every second, so the clock moves while the build is silent."""

    def __init__(
        self,
        stream: TextIO,
        verbose: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        width: Callable[[], int] | None = None,
    ) -> None:
        self.stream = stream
        self.verbose = verbose
        self.clock = clock
        self.width = width or (lambda: shutil.get_terminal_size().columns)
        self.progress = BuildProgress()
        self._stage = ""
        self._since = clock()
        self._shown = False
        self._lock = threading.RLock()
        self._stopped = threading.Event()

    def _above(self, text: str) -> None:
        """A finished line: erase the status line, write it, draw the status again."""
        with self._lock:
            self.stream.write(CLEAR + text + "\n")
            self._draw()

    def _draw(self) -> None:
        text = status_text(self._stage, self.progress, self.clock() - self._since, self.width())
        self.stream.write(CLEAR + click.style(text, dim=True))
        self.stream.flush()
        self._shown = True

    def redraw(self) -> None:
        with self._lock:
            if not self._stopped.is_set():
                self._draw()

    def stage(self, name: str, detail: str = "") -> None:
        with self._lock:
            self._stage = name
            self._since = self.clock()
            self.progress = BuildProgress()
            line = click.style(f"==> {name}" + (f": {detail}" if detail else ""), bold=True)
            self._above(line)

    def info(self, message: str) -> None:
        self._above(f"    {message}")

    def warn(self, message: str) -> None:
        self._above(click.style(f"    warning: {message}", fg="yellow"))

    def log(self, line: str) -> None:
        with self._lock:
            self.progress.feed(line)
            if self.verbose:
                self._above(f"    | {line}")
            else:
                self._draw()

    def close(self) -> None:
        """Erase the status line (before the summary, an error or an interruption)."""
        with self._lock:
            self._stopped.set()
            if self._shown:
                self.stream.write(CLEAR)
                self.stream.flush()
                self._shown = False

    def tick(self, every: float = 1.0) -> None:
        while not self._stopped.wait(every):
            self.redraw()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except ValueError:  # a closed stream
        return False


@contextlib.contextmanager
def open_reporter(verbose: int, *, quiet: bool = False) -> Iterator[Reporter]:
    """The reporter for a long command: quiet, live (stderr is a terminal) or plain.
    The live status line is erased when the block ends, however it ends."""
    if quiet:
        yield QuietReporter()
        return
    if not _is_terminal(sys.stderr):
        yield PlainReporter(verbose)
        return
    live = LiveReporter(sys.stderr, verbose)
    ticker = threading.Thread(target=live.tick, name="repro-status", daemon=True)
    with signals.quiet_threads():
        ticker.start()
    try:
        yield live
    finally:
        live.close()
