"""Named points where a test can stop a run, to inject a fault at an exact place.

``checkpoint("export.staged")`` does nothing unless ``$REPRO_FAULT_POINT`` names that point
(a comma-separated list may name several). When it does, the run writes one line to stderr::

    repro: fault point export.staged reached (pid 1234)

and waits there for a signal. The test that set the variable waits for that line, does
what it came to do (kills the engine, fills the disk, ...) and then sends the run

* SIGINT, SIGTERM or SIGHUP: handled as anywhere else (:mod:`repro.signals`), so the
  interruption lands exactly at the point rather than at whatever moment a timer fired;
* SIGUSR1: the run goes on from the point;
* SIGKILL: the run dies there, no clean-up code runs (what the next run must cope with).

The wait takes the signals with ``sigwaitinfo`` while they are blocked, so a signal sent
the moment the line appears is not lost between the line and the wait. In a thread other
than the main one (``repro pack-many``'s workers) a point stops that thread until the
process is killed: signals are the main thread's. Unset, a checkpoint costs one lookup
in ``os.environ``. The points and the tests that use them: docs/security.md, "Faults".
"""

from __future__ import annotations

import os
import signal
import sys
import threading

ENV = "REPRO_FAULT_POINT"
CONTINUE = signal.SIGUSR1

# Every point a run passes, in order (tests/unit/test_faults.py checks the code names no
# other): what has happened by then, so a test knows what a signal there must undo.
POINTS = {
    "fetch.cloning": "git clone/fetch of the mirror is running (a child process)",
    "build.started": "the image build is running (the BuildKit CLI)",
    "build.ended": "the BuildKit CLI exited with an error; repro has not yet said why",
    "container.running": "a container repro made runs (the image facts, each smoke command)",
    "export.start": "the export stage began; nothing of the artifact exists yet",
    "export.staged": "the partial artifact folder exists, still empty",
    "export.saving": "docker save streams into the export store (one chunk is in)",
    "export.written": "every file of the artifact is written; the rename is next",
    "cache.written": "a cache entry's temporary file is written; the rename is next",
}


def wanted(name: str) -> bool:
    """Whether ``$REPRO_FAULT_POINT`` names ``name``."""
    value = os.environ.get(ENV, "")
    return name in value.split(",") if value else False


def checkpoint(name: str) -> None:
    """Stop here for a signal when ``$REPRO_FAULT_POINT`` names ``name``; else nothing."""
    if ENV in os.environ and wanted(name):
        _stop(name)


def _stop(name: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        _say(name)
        threading.Event().wait()  # only SIGKILL ends a worker stopped here
        return
    waited = {CONTINUE, signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    try:
        _say(name)
        signum = signal.sigwaitinfo(waited).si_signo
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
    if signum != CONTINUE:
        # as if the signal had come in here: the installed handler raises (or, inside
        # ``signals.deferred``, holds it for the end of the block)
        handler = signal.getsignal(signum)
        if callable(handler):
            handler(signum, None)
        elif handler == signal.SIG_DFL:
            signal.raise_signal(signum)


def _say(name: str) -> None:
    sys.stderr.write(f"repro: fault point {name} reached (pid {os.getpid()})\n")
    sys.stderr.flush()
