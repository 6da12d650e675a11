"""The error tree: user-facing failures carry one clear line and an exit status.

Anything that is not a ``ReproError`` is a bug in repro; the CLI shows its traceback only
with ``-v`` and otherwise asks for a report.
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    OK = 0
    FAILURE = 1  # the input was fine but the job failed (build, smoke, engine)
    USAGE = 2  # the input is wrong: bad source, unknown ref, bad option
    INTERRUPTED = 130


class ReproError(Exception):
    """A failure explained to the user in one line (plus optional detail lines)."""

    exit_status = ExitStatus.FAILURE

    def __init__(self, message: str, *, detail: str = "", hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.hint = hint


class UsageError(ReproError):
    """The user asked for something that cannot be done as asked."""

    exit_status = ExitStatus.USAGE


class SourceError(UsageError):
    """The source (URL, path, ref) does not exist or cannot be read."""


class NothingToPackError(UsageError):
    """The repository holds no Python code or requirement files."""


class InferenceError(ReproError):
    """Constraints clash: no Python, version or base image satisfies them all."""


class EngineError(ReproError):
    """The Docker engine is unreachable or refused an operation."""


class NetworkError(ReproError):
    """A host repro asks on its own (the VCS host, the package index) did not answer, after
    the retries of repro/retry.py."""


class DiskFullError(ReproError):
    """A disk (or quota) filled up while repro wrote to it; the message names the folder,
    the space needed when known, and what is free (repro/diskspace.py)."""


class BuildError(ReproError):
    """The image build failed; ``detail`` carries the failing step and its log tail."""

    def __init__(self, message: str, *, step: str = "", log_tail: str = "", hint: str = "") -> None:
        super().__init__(message, detail=log_tail, hint=hint)
        self.step = step
        self.log_tail = log_tail


class SmokeFailure(ReproError):
    """The smoke test failed inside the built image."""


class VerifyError(ReproError):
    """An artifact does not match what its manifest recorded."""
