"""``repro verify --clean-engine``: the temporary dockerd's set-up and tear-down, with a
stand-in dockerd (a shell script) so that no daemon starts here."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from repro import clean_engine
from repro.cli import cli
from repro.errors import EngineError, UsageError


def test_only_the_usual_engines_runtimes_are_carried_over() -> None:
    usual = {
        "runtimes": {"nvidia": {"path": "nvidia-container-runtime", "runtimeArgs": []}},
        "data-root": "/srv/docker",
        "hosts": ["tcp://0.0.0.0:2375"],
        "registry-mirrors": ["https://mirror.example"],
    }
    assert clean_engine.daemon_config(json.dumps(usual)) == {"runtimes": usual["runtimes"]}
    assert clean_engine.daemon_config(None) == {}
    assert clean_engine.daemon_config("{not json") == {}
    assert clean_engine.daemon_config('["a list"]') == {}


def test_the_engine_keeps_everything_under_its_own_folder(tmp_path: Path) -> None:
    argv = clean_engine.dockerd_argv("/usr/bin/unshare", "/usr/bin/dockerd", tmp_path)
    # a network namespace of its own: without a bridge, dockerd deletes "docker0" where it
    # runs, which in the machine's namespace is the usual engine's bridge
    assert argv[:4] == ["/usr/bin/unshare", "--net", "--", "/usr/bin/dockerd"]
    argv = argv[3:]
    pairs = dict(zip(argv[1::2], argv[2::2], strict=False))
    for option in ("--config-file", "--data-root", "--exec-root", "--pidfile"):
        assert pairs[option].startswith(f"{tmp_path}/"), option
    assert pairs["--host"] == f"unix://{tmp_path}/docker.sock"
    assert pairs["--bridge"] == "none"
    assert "--iptables=false" in argv and "--ip-masq=false" in argv


def _fake_dockerd(bin_dir: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir.mkdir()
    script = bin_dir / "dockerd"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(clean_engine, "HOST_CONFIG", bin_dir / "no-daemon.json")


def _engine_folders(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("repro-engine-*"))


@pytest.fixture
def engine_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder, where the engine's own folder goes too; root only."""
    if os.geteuid() != 0:
        pytest.skip("the clean engine refuses to start without root")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where mkdtemp makes folders
    return tmp_path


def test_a_dockerd_that_stops_at_start_is_one_error_and_leaves_nothing(
    engine_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = engine_tmp / "seen"
    failing = f'dirname "$8" > {seen}; echo "failed to start daemon: no space left" >&2; exit 1'
    _fake_dockerd(engine_tmp / "bin", failing, monkeypatch)
    with (
        pytest.raises(EngineError, match="stopped at start, exit 1") as raised,
        clean_engine.temporary_engine(),
    ):
        pass
    assert "no space left" in (raised.value.detail or "")
    assert Path(seen.read_text().strip()).parent == engine_tmp  # it had a folder there...
    assert _engine_folders(engine_tmp) == []  # ... which is gone


def test_the_engine_is_stopped_and_its_folder_removed_after_use(
    engine_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = engine_tmp / "pids"
    monkeypatch.setattr(clean_engine, "START_TIMEOUT", 10.0)
    # a dockerd that makes its socket ($8 is its pid file, in the engine's folder) and waits
    _fake_dockerd(
        engine_tmp / "bin",
        f'echo $$ >> {pids}\nroot=$(dirname "$8")\ntouch "$root/docker.sock"\nexec sleep 300',
        monkeypatch,
    )
    with clean_engine.temporary_engine(ready=lambda _host: True) as host:
        (folder,) = _engine_folders(engine_tmp)
        assert host == f"unix://{folder}/docker.sock"
        assert json.loads((folder / "daemon.json").read_text()) == {}
    pid = int(pids.read_text().split()[0])
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    assert _engine_folders(engine_tmp) == []


def test_without_root_or_without_dockerd_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clean_engine.shutil, "which", lambda _name: None)
    with pytest.raises(UsageError, match="none is installed here"), clean_engine.temporary_engine():
        pass
    monkeypatch.setattr(clean_engine.shutil, "which", lambda _name: "/usr/bin/dockerd")
    monkeypatch.setattr(clean_engine.os, "geteuid", lambda: 1000)
    with pytest.raises(UsageError, match="needs root"), clean_engine.temporary_engine():
        pass


def test_keep_and_clean_engine_are_refused_together(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["verify", "--clean-engine", "--keep", str(tmp_path)])
    assert result.exit_code == 2
    assert "--keep and --clean-engine do not go together" in result.stderr
