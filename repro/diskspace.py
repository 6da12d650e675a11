"""A full disk, said in words: which folder, how much it needed, how much is free.

A write that fails with ``ENOSPC`` (no space left) or ``EDQUOT`` (over quota) deep in a
save or a clone would otherwise reach the user as ``[Errno 28] No space left on device``
with no path, or as a traceback. The writers that can fill a disk (the artifact, the
clone cache, the engine's storage during a build) turn it into one line that names the
folder, the space it needed when that is known, and what is free there.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

FULL = (errno.ENOSPC, errno.EDQUOT)
FULL_TEXT = ("No space left on device", "Disk quota exceeded")


def is_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or one it was raised from) is a full disk or quota."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in FULL:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def says_full(text: str) -> bool:
    """Whether a tool's message (git's, the engine's) says a disk is full."""
    low = text.lower()
    return any(t.lower() in low for t in FULL_TEXT)


def human(size: float) -> str:
    """``12.3 MB``: sizes as people read them (decimal units, as ``df -H``)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def free(path: Path) -> int | None:
    """Bytes free (to this user) on the file system of ``path`` or its nearest parent."""
    for candidate in (path, *path.parents):
        try:
            usage = shutil.disk_usage(candidate)
        except OSError:
            continue
        return int(usage.free)
    return None


def mount_point(path: Path) -> Path:
    """The mount point of the file system ``path`` (or its nearest existing parent) is on."""
    here = next((p for p in (path, *path.parents) if p.exists()), Path("/")).resolve()
    try:
        device = os.stat(here).st_dev
        while here != here.parent and os.stat(here.parent).st_dev == device:
            here = here.parent
    except OSError:
        pass
    return here


def where(path: Path) -> str:
    """``12.0 kB free on /out``: what is left on the file system ``path`` is on."""
    left = free(path)
    room = f"{human(left)} free" if left is not None else "free space unknown"
    return f"{room} on {mount_point(path)}"
