"""Temporary folders a run works in, removed at the end whatever happens (edge: fs)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from repro import signals, stale


def workspace() -> AbstractContextManager[Path]:
    """The run's scratch folder in ``$TMPDIR``, removed at the end (even on a signal);
    first, what killed runs left there and in the memory file system is removed."""
    stale.remove_abandoned(Path(tempfile.gettempdir()), stale.TEMP_PREFIXES)
    if (memory := _memory_fs()) is not None:
        stale.remove_abandoned(Path(memory), stale.TEMP_PREFIXES)
    return stale.private_dir("repro")


@contextmanager
def memory_scratch() -> Iterator[Path | None]:
    """A private folder on a memory file system (``/dev/shm``, tmpfs), removed at the end;
    None where there is none. ``repro inspect`` extracts a small checkout there: its files
    are only read, and on disk writing and removing thousands of them cost more than the
    reading (docs/performance.md, "Inspect")."""
    base = _memory_fs()
    # named first and made inside the ``try``: no signal falls between making and guarding
    path = None if base is None else Path(base) / stale.owned_name("repro")
    try:
        if path is not None:
            try:
                path.mkdir(mode=0o700)
            except OSError:
                path = None
        yield path
    finally:
        if path is not None:
            with signals.deferred():
                shutil.rmtree(path, ignore_errors=True)


def _memory_fs(mounts: Path = Path("/proc/self/mounts")) -> str | None:
    """``/dev/shm`` when it is a tmpfs this process may write to, else None."""
    try:
        lines = mounts.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "/dev/shm" and fields[2] == "tmpfs":
            return "/dev/shm" if os.access("/dev/shm", os.W_OK | os.X_OK) else None
    return None
