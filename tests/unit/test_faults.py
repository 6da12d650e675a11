"""Fault points (repro/faults.py) and the artifact folder a signal at each one leaves.

A child Python process writes an artifact through ``artifact.staging`` and stops at a
named point; the test signals it there, so the signal lands at that exact place, not at
whatever moment a timer fired.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from repro import artifact, faults, stale
from tests import fault_report

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from repro import artifact, signals
    signals.install()
    try:
        with artifact.staging(Path(sys.argv[1])) as tmp:
            (tmp / "file").write_text("whole\\n")
    except KeyboardInterrupt as exc:
        sys.exit(exc.exit_status)
    """
)


class Child:
    """A Python child that runs ``code`` with ``$REPRO_FAULT_POINT`` set to ``point``."""

    def __init__(self, code: str, args: list[str], point: str, tmp_path: Path) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            faults.ENV: point,
            "REPRO_CACHE_DIR": str(tmp_path / "cache"),
        }
        fault_report.run()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_point(self, name: str) -> None:
        """Read stderr up to the line saying the child stopped at ``name``."""
        assert self.proc.stderr is not None
        seen = []
        for line in self.proc.stderr:  # blocks until the line comes, or the child ends
            seen.append(line)
            if line.startswith(f"repro: fault point {name} reached (pid {self.proc.pid})"):
                return
        raise AssertionError(f"the child ended before {name}: {''.join(seen)}")

    def finish(self) -> int:
        return self.proc.wait(timeout=60)


def test_an_unnamed_point_does_nothing(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(faults.ENV, raising=False)
    faults.checkpoint("export.staged")
    monkeypatch.setenv(faults.ENV, "build.started")
    faults.checkpoint("export.staged")
    assert capfd.readouterr().err == ""
    assert faults.wanted("build.started") and not faults.wanted("build")


def test_every_point_in_the_code_is_documented() -> None:
    used = set()
    for path in (ROOT / "repro").rglob("*.py"):
        used |= set(re.findall(r"""(?:checkpoint|wanted)\(\s*["']([\w.]+)["']""", path.read_text()))
    assert used == set(faults.POINTS)
    docs = (ROOT / "docs" / "security.md").read_text()
    assert [p for p in faults.POINTS if f"`{p}`" not in docs] == []


@pytest.mark.parametrize("point", ["export.staged", "export.written"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_at_each_point_of_staging_leaves_no_folder(
    tmp_path: Path, point: str, sig: signal.Signals
) -> None:
    out = tmp_path / "out"
    child = Child(WRITER, [str(out / "art")], point, tmp_path)
    child.wait_point(point)
    [made] = [p.name for p in out.iterdir()]
    assert made.startswith(".art.partial-")  # it exists now
    fault_report.fault(sig.name)
    child.proc.send_signal(sig)
    assert child.finish() == 128 + sig
    assert list(out.iterdir()) == []


def test_going_on_from_a_point_gives_the_whole_artifact(tmp_path: Path) -> None:
    out = tmp_path / "out"
    child = Child(WRITER, [str(out / "art")], "export.staged,export.written", tmp_path)
    child.wait_point("export.staged")
    child.proc.send_signal(faults.CONTINUE)
    child.wait_point("export.written")
    child.proc.send_signal(faults.CONTINUE)
    assert child.finish() == 0
    assert [p.name for p in out.iterdir()] == ["art"]
    assert (out / "art" / "file").read_text() == "whole\n"


def test_sigkill_leaves_a_folder_named_after_its_dead_owner(tmp_path: Path) -> None:
    out = tmp_path / "out"
    child = Child(WRITER, [str(out / "art")], "export.staged", tmp_path)
    child.wait_point("export.staged")
    [left] = list(out.iterdir())
    assert not stale.abandoned(left.name)  # its owner runs
    fault_report.fault("SIGKILL")
    child.proc.kill()
    assert child.finish() == -signal.SIGKILL
    found = stale.owner(left.name)
    assert found is not None and (found.host, found.pid) == (stale.host(), child.proc.pid)
    assert stale.abandoned(left.name, ".art.partial")
    with artifact.staging(out / "next") as tmp:  # the next writer there removes it
        (tmp / "file").write_text("whole\n")
    assert [p.name for p in out.iterdir()] == ["next"]


def test_names_of_other_hosts_or_shapes_are_never_abandoned() -> None:
    assert not stale.abandoned(".a.partial-otherhost-999999-0123abcd")
    assert not stale.abandoned(".a.partial-3qqz00y8")  # mkdtemp's: no owner to ask
    assert stale.abandoned(f".a.partial-{stale.host()}-999999999-0123abcd")
    assert not stale.abandoned(stale.owned_name(".a.partial"))  # this process's own


BUSY_WORKER = textwrap.dedent(
    """
    import sys, threading, time
    from repro import faults, signals
    signals.install()
    stop = threading.Event()
    with signals.quiet_threads():
        worker = threading.Thread(target=lambda: stop.wait(30), daemon=True)
        worker.start()
    faults.checkpoint("export.saving")
    stop.set()
    print("went on", flush=True)
    """
)


def test_a_thread_of_repros_never_takes_the_signal_a_point_waits_for(tmp_path: Path) -> None:
    """A worker thread (the export's layer compression) runs while the main thread stops
    at a point. Between the point's line and its sigwaitinfo the main thread blocks
    SIGUSR1 without waiting for it, and the kernel hands a process's signal to a thread
    that does not block it: in the worker its default action ends the run (exit -10, a CI
    run under load). Born with the signals blocked, the worker never takes it."""
    for _ in range(20):  # the kernel picks any thread that does not block it
        child = Child(BUSY_WORKER, [], "export.saving", tmp_path)
        child.wait_point("export.saving")
        os.kill(child.proc.pid, signal.SIGUSR1)
        assert child.finish() == 0
