"""Temporary folders a run works in, removed at the end whatever happens (edge: fs)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from repro import cache, signals, stale


def workspace() -> AbstractContextManager[Path]:
    """The run's scratch folder in ``$TMPDIR``, removed at the end (even on a signal);
    first, what killed runs left there and in the memory file system is removed."""
    sweep_abandoned()
    return stale.private_dir("repro")


def sweep_abandoned() -> None:
    """Remove what killed runs left in ``$TMPDIR`` and in the memory file system."""
    stale.remove_abandoned(Path(tempfile.gettempdir()), stale.TEMP_PREFIXES)
    if (memory := _memory_fs()) is not None:
        stale.remove_abandoned(Path(memory), stale.TEMP_PREFIXES)


@contextmanager
def source_workspace(url: str) -> Iterator[Path]:
    """The workspace of a pack of the repository ``url``: the same folder for every pack of
    it (``<cache>/contexts/<hash>``; the caller holds the repository's run lock), emptied
    first and removed at the end, even on a signal. BuildKit keeps what it received of a
    build context by the context's path: at the same path it is sent only the files that
    changed since the last pack, not again a wheelhouse of hundreds of MB (measured in
    benchmarks/pack_speed_large.py). A run killed meanwhile leaves it until the next pack
    of the repository."""
    sweep_abandoned()
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    path = cache.subdir("contexts") / key
    try:
        with signals.deferred():
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(mode=0o700)
        yield path
    finally:
        with signals.deferred():  # a second Ctrl-C does not leave half a folder
            shutil.rmtree(path, ignore_errors=True)


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
