"""What a killed run leaves, named so that the next run can tell whose it is.

SIGKILL (the OOM killer, ``kill -9``, a CI job cancelled hard) runs no clean-up code: a
half-written artifact folder or a temporary workspace stays where it was. repro names
each such thing after its owner, ``<what>-<host>-<pid>-<random>``, so a later run can
remove exactly those of processes that are gone, on this host, and never one that a
live run (here or on another machine sharing the folder) is still writing.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from repro import signals


@cache
def host() -> str:
    """This machine's name, as it goes into temporary names (no ``/`` or spaces)."""
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:64] or "localhost"


def owned_name(prefix: str) -> str:
    """``<prefix>-<host>-<pid>-<random>``: a fresh name this process owns."""
    return f"{prefix}-{host()}-{os.getpid()}-{secrets.token_hex(4)}"


@dataclass(frozen=True, kw_only=True)
class Owner:
    prefix: str
    host: str
    pid: int


_OWNED = re.compile(r"^(?P<prefix>.+)-(?P<host>[A-Za-z0-9._]+)-(?P<pid>\d+)-[0-9a-f]{8}$")


def owner(name: str) -> Owner | None:
    """Who made ``name`` (one :func:`owned_name` gave), or None for any other name."""
    m = _OWNED.match(name)
    if m is None:
        return None
    return Owner(prefix=m.group("prefix"), host=m.group("host"), pid=int(m.group("pid")))


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists here (one of another user counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def abandoned(name: str, prefix: str | None = None) -> bool:
    """Whether ``name`` was made by a process of this host that is gone (and, with
    ``prefix``, for that prefix). A name of another host is never abandoned: its owner
    may be running there."""
    found = owner(name)
    if found is None or (prefix is not None and found.prefix != prefix):
        return False
    return found.host == host() and found.pid != os.getpid() and not pid_alive(found.pid)


@contextmanager
def private_dir(prefix: str, parent: Path | str | None = None) -> Iterator[Path]:
    """A new folder only this user may read (``$TMPDIR`` by default), removed at the end.

    Unlike ``tempfile.mkdtemp`` before a ``try``, the removal is armed before the folder
    exists: its name is chosen first and it is made inside the ``try``, so no signal can
    fall between making it and guarding it. Named by :func:`owned_name`.
    """
    path = Path(parent if parent is not None else tempfile.gettempdir()) / owned_name(prefix)
    try:
        path.mkdir(mode=0o700)
        yield path
    finally:
        with signals.deferred():  # a second Ctrl-C does not leave half a folder
            shutil.rmtree(path, ignore_errors=True)
