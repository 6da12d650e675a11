"""What a killed run leaves, named so that the next run can tell whose it is.

SIGKILL (the OOM killer, ``kill -9``, a CI job cancelled hard) runs no clean-up code: a
half-written artifact folder or a temporary workspace stays where it was. repro names
each such thing after its owner, ``<what>-<host>-<pid>-<random>``, so a later run can
remove exactly those of processes that are gone, on this host, and never one that a
live run (here or on another machine sharing the folder) is still writing. Containers
carry the same owner as their ``io.github.repro.run`` label (:func:`run_id`).

The child processes that would outlive a killed run are bound to it: the BuildKit client
(a session of its own, so that Ctrl-C reaches repro first) and git are started through
``setpriv --pdeathsig TERM`` where util-linux has it, so the kernel stops them when repro
dies, and an unattended build does not go on to the end (:func:`dies_with_parent`).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
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


@cache
def run_id() -> str:
    """This run's id, ``run-<host>-<pid>-<random>``: the label of the containers it makes."""
    return owned_name("run")


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


# the temporary folders repro makes (private_dir's prefixes), for remove_abandoned
TEMP_PREFIXES = frozenset({"repro", "repro-build", "repro-secrets", "repro-ignore"})


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


def remove_abandoned(folder: Path, prefixes: Collection[str] | Callable[[str], bool]) -> list[Path]:
    """Remove the entries of ``folder`` that a gone process of this host made under one of
    ``prefixes`` (or a prefix the function accepts), and this user owns; return them.
    Missing folder: nothing to do."""
    accept = prefixes if callable(prefixes) else prefixes.__contains__
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    uid = os.getuid()
    for entry in entries:
        found = owner(entry.name)
        if found is None or not accept(found.prefix) or not abandoned(entry.name):
            continue
        with suppress(OSError):
            if entry.stat(follow_symlinks=False).st_uid != uid:
                continue
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


@cache
def _setpriv() -> str | None:
    """``setpriv`` when it can set the parent-death signal (util-linux 2.33 and later)."""
    found = shutil.which("setpriv")
    if found is None:
        return None
    try:
        probe = subprocess.run(
            [found, "--pdeathsig", "TERM", "--", "true"], capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found if probe.returncode == 0 else None


def dies_with_parent(argv: list[str]) -> list[str]:
    """``argv`` run so that the kernel sends it SIGTERM when the thread that started it
    dies (``setpriv --pdeathsig``); ``argv`` itself where there is no setpriv."""
    setpriv = _setpriv()
    return [setpriv, "--pdeathsig", "TERM", "--", *argv] if setpriv else argv
