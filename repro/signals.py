"""Ctrl-C, SIGTERM and SIGHUP become one exception, so every ``finally`` runs.

Python turns SIGINT into ``KeyboardInterrupt`` but dies on SIGTERM without unwinding:
containers, temporary clones and half-written artifacts would stay behind. ``install()``
(called by the CLI) makes all three signals raise :class:`Interrupted`, a
``KeyboardInterrupt``, so the cleanup code that already handles Ctrl-C handles them all.

``deferred()`` protects the few steps that must not be cut in half: creating a container
(between the engine creating it and repro holding its id, an interruption would lose it)
and removing one. A signal that arrives inside the block is raised when the block ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; ``exit_status`` follows the shell's 128 + N."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


_depth = 0
_pending: int | None = None


def _handler(signum: int, frame: FrameType | None) -> None:
    global _pending
    if _depth > 0:
        if _pending is None:
            _pending = signum
        return
    raise Interrupted(signum)


def install() -> None:
    """Route SIGINT, SIGTERM and SIGHUP to :class:`Interrupted` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in HANDLED:
        signal.signal(sig, _handler)
    # a parent that started repro with these blocked (a mask is inherited across exec)
    # would leave the handlers unreachable: repro would never hear its SIGTERM
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)


# what threads repro starts never take: the handled signals and the fault points' SIGUSR1
QUIET = (*HANDLED, signal.SIGUSR1)


@contextmanager
def quiet_threads() -> Iterator[None]:
    """Threads started inside the block are born with :data:`QUIET` blocked, so a signal
    sent to the process goes to the main thread. Python runs handlers there anyway, but a
    worker could otherwise take SIGUSR1 (whose default ends the process) or a signal the
    main thread waits for at a fault point (``sigwaitinfo`` sees only what no other thread
    took): a test's SIGUSR1 killed a run whose export thread was compressing layers."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, QUIET)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold signals until the block ends, then raise the first one that came."""
    global _depth, _pending
    main = threading.current_thread() is threading.main_thread()
    if main:
        _depth += 1
    try:
        yield
    finally:
        if main:
            _depth -= 1
            if _depth == 0 and _pending is not None:
                signum, _pending = _pending, None
                raise Interrupted(signum)
