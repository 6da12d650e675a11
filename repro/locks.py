"""Files that several repro runs share: advisory locks and atomic writes.

Two ``repro pack`` runs may start at once on the same repository: they share the clone
mirror, the PyPI cache, the image tags and the artifact directory. Each shared thing is
either guarded by a lock (``flock``: released by the kernel when the process dies, so a
killed run never leaves a stale lock) or written atomically (a unique temporary file
renamed over the target, so a reader sees the old content or the new, never half).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from repro import cache, diskspace, faults, stale


@contextlib.contextmanager
def file_lock(path: Path, *, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block.

    When another process holds it, ``on_wait`` is told once and the call blocks until the
    lock is free; a signal (Ctrl-C) still interrupts the wait.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait(f"waiting for another repro run ({path.name})")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def run_lock(
    key: str, *, on_wait: Callable[[str], None] | None = None
) -> contextlib.AbstractContextManager[None]:
    """A lock named by ``key`` (e.g. a repository URL) under ``<cache>/locks``."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return file_lock(cache.subdir("locks") / f"{digest}.lock", on_wait=on_wait)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that no reader, and no concurrent writer, sees half.

    The temporary file is named after its owner (:mod:`repro.stale`): the first write into
    a folder in a process removes those that killed runs left there.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_once(path.parent)
    tmp = path.with_name(stale.owned_name(f".{path.name}.tmp"))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        faults.checkpoint("cache.written")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_swept: set[Path] = set()


def _sweep_once(folder: Path) -> None:
    if folder not in _swept:
        _swept.add(folder)
        stale.remove_abandoned(folder, lambda prefix: prefix.endswith(".tmp"))


_unwritable: dict[Path, str] = {}


def write_cache_entry(path: Path, text: str) -> bool:
    """:func:`atomic_write_text` for a cache: a folder that cannot be written (a full disk,
    no permission) costs only the next look-up, so the run goes on; the first failure per
    folder is kept for :func:`cache_problems`. Whether the entry was written."""
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        if path.parent not in _unwritable:
            why = exc.strerror or str(exc)
            if diskspace.is_full(exc):
                why = f"{why}, {diskspace.where(path.parent)}"
            _unwritable[path.parent] = f"cannot write the cache in {path.parent} ({why})"
        return False
    return True


def cache_problems() -> list[str]:
    """One line per cache folder repro could not write to in this process."""
    return [f"{line}: repro went on without caching there" for line in _unwritable.values()]
