"""What SIGKILL leaves is recognised by its owner's name and removed by the next run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from repro import artifact, locks, scratch, stale
from tests import fault_report

DEAD = 999_999_999  # above any pid_max: no process has it


def dead_name(prefix: str, host: str | None = None) -> str:
    return f"{prefix}-{host or stale.host()}-{DEAD}-0123abcd"


def test_a_dead_runs_partial_artifact_goes_and_a_live_or_foreign_one_stays(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    dead = out / dead_name(".acme-x-1234567.partial")
    live = out / stale.owned_name(".acme-x-1234567.partial")  # this process's own
    foreign = out / dead_name(".acme-x-1234567.partial", host="elsewhere")
    unowned = out / ".acme-x-1234567.partial-3qqz00y8"  # no owner to ask
    for folder in (dead, live, foreign, unowned):
        folder.mkdir(parents=True)
        (folder / "image.tar.gz").write_bytes(b"half")
    artifact.sweep(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in (live, foreign, unowned))


def test_an_artifact_a_killed_swap_moved_aside_comes_back(tmp_path: Path) -> None:
    out = tmp_path / "out"
    aside = out / dead_name(".acme-x-1234567.old")
    aside.mkdir(parents=True)
    (aside / "repro.json").write_text("{}\n")
    half = out / dead_name(".acme-x-1234567.partial")
    half.mkdir()
    artifact.sweep(out)
    assert [p.name for p in out.iterdir()] == ["acme-x-1234567"]
    assert (out / "acme-x-1234567" / "repro.json").read_text() == "{}\n"

    # with a newer artifact in place, the one moved aside is only removed
    aside.mkdir()
    artifact.sweep(out)
    assert [p.name for p in out.iterdir()] == ["acme-x-1234567"]


def test_a_new_artifact_sweeps_first(tmp_path: Path) -> None:
    out = tmp_path / "out"
    left = out / dead_name(".other-1.partial")
    left.mkdir(parents=True)
    with artifact.staging(out / "mine") as tmp:
        (tmp / "f").write_text("x")
    assert [p.name for p in out.iterdir()] == ["mine"]


def test_a_run_removes_the_workspaces_of_dead_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    left = [tmp_path / dead_name(p) for p in ("repro", "repro-build", "repro-secrets")]
    for folder in left:
        (folder / "src").mkdir(parents=True)
    others = [tmp_path / dead_name("pip"), tmp_path / "repro-abc123", tmp_path / "keep.txt"]
    others[0].mkdir()
    others[1].mkdir()
    others[2].write_text("x")
    with scratch.workspace() as work:
        assert work.parent == tmp_path
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [work.name, *(p.name for p in others)]
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in others)


def test_a_cache_write_removes_temporary_files_of_dead_writers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locks, "_swept", set())
    folder = tmp_path / "pypi"
    folder.mkdir()
    dead = folder / dead_name(".numpy.json.tmp")
    dead.write_text('{"half":')
    live = folder / stale.owned_name(".numpy.json.tmp")
    live.write_text("{}")
    locks.atomic_write_text(folder / "scipy.json", "{}\n")
    assert sorted(p.name for p in folder.iterdir()) == sorted([live.name, "scipy.json"])


def test_a_child_bound_to_its_parent_dies_with_it(tmp_path: Path) -> None:
    if stale.dies_with_parent(["true"]) == ["true"]:
        pytest.skip("no setpriv with --pdeathsig here")
    pidfile = tmp_path / "child.pid"
    parent = textwrap.dedent(
        f"""
        import subprocess, time
        from pathlib import Path
        from repro import stale
        child = subprocess.Popen(stale.dies_with_parent(["sleep", "3000"]),
                                 start_new_session=True)
        Path({str(pidfile)!r}).write_text(str(child.pid))
        time.sleep(3000)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", parent], env=os.environ)
    try:
        deadline = time.monotonic() + 60
        while not pidfile.exists() or not pidfile.read_text():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        child = int(pidfile.read_text())
        assert stale.pid_alive(child)
    finally:
        fault_report.fault("SIGKILL")
        proc.kill()  # SIGKILL: no clean-up code of the parent runs
        proc.wait()
    deadline = time.monotonic() + 60  # the kernel signals at once; reaping takes a moment
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(child)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan is reaped by init, or by a subreaper, later)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_run_ids_and_owned_names_parse_back(monkeypatch: pytest.MonkeyPatch) -> None:
    found = stale.owner(stale.run_id())
    assert found is not None and (found.prefix, found.pid) == ("run", os.getpid())
    monkeypatch.setattr("socket.gethostname", lambda: "lab-node-7.example.org")
    stale.host.cache_clear()
    try:
        name = stale.owned_name(".acme-x-1.partial")
        found = stale.owner(name)
        assert found is not None
        assert (found.prefix, found.host) == (".acme-x-1.partial", "lab_node_7.example.org")
    finally:
        stale.host.cache_clear()
