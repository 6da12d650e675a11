"""Signals, locks, engine loss and artifact integrity, without a Docker engine.

The integration tests (tests/integration/test_security_faults.py) send real signals to
real packs; these pin down the pieces they rely on, and run concurrent ``repro inspect``
processes against one clone cache.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from repro import artifact, locks, signals
from repro.build import _pip_conf
from repro.engine import DockerEngine, RunLimits
from repro.errors import EngineError, UsageError
from repro.models import BuildSettings
from tests.conftest import FakeGitHub, git
from tests.docker_archive import image_archive, tar_of

# --------------------------------------------------------------------------- signals


@pytest.fixture
def handlers() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in signals.HANDLED}
    signals.install()
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_sigterm_becomes_an_interruption(handlers: None) -> None:
    with pytest.raises(signals.Interrupted) as info:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)
    assert isinstance(info.value, KeyboardInterrupt)  # every Ctrl-C cleanup path runs
    assert info.value.exit_status == 143 and info.value.name == "SIGTERM"


def test_a_signal_inside_deferred_waits_for_the_block(handlers: None) -> None:
    finished = False
    with pytest.raises(signals.Interrupted) as info, signals.deferred():
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)
        finished = True
    assert finished
    assert info.value.name == "SIGINT"  # the first one that came


def test_cli_exit_statuses_for_signals(tmp_path: Path) -> None:
    """A real repro process killed while it waits: 143 for SIGTERM, one line, no trace."""
    script = tmp_path / "slow.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, time
            from repro import cli, pipeline
            def slow_prepare(*args, **kwargs):
                print("waiting", flush=True)
                time.sleep(60)
            pipeline.prepare = slow_prepare
            sys.argv = ["repro", "inspect", "."]
            sys.exit(cli.main())
            """
        )
    )
    for sig, status, said in (
        (signal.SIGTERM, 143, "repro: interrupted by SIGTERM"),
        (signal.SIGINT, 130, "repro: interrupted"),
        (signal.SIGHUP, 129, "repro: interrupted by SIGHUP"),
    ):
        proc = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline() == "waiting\n"
        proc.send_signal(sig)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            status_lines = _signal_status(proc.pid)
            proc.kill()
            proc.communicate()
            raise AssertionError(f"no exit 30 s after {sig.name}: {status_lines}") from None
        assert proc.returncode == status, err
        assert err.strip().splitlines()[-1] == said and "Traceback" not in err


def _signal_status(pid: int) -> str:
    """The signal lines and the state of /proc/PID/status, for a run that does not exit."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError as exc:
        return str(exc)
    return "; ".join(ln for ln in lines if ln.startswith(("State", "Sig", "Threads")))


def test_a_run_started_with_the_signals_blocked_still_hears_them(tmp_path: Path) -> None:
    """A parent may start repro with SIGTERM blocked (the mask survives exec): the run
    unblocks the signals it handles, so it still stops cleanly."""
    script = tmp_path / "blocked.py"
    script.write_text(
        textwrap.dedent(
            """
            import signal, sys, time
            from repro import cli, pipeline
            def slow_prepare(*args, **kwargs):
                print("waiting", flush=True)
                time.sleep(60)
            pipeline.prepare = slow_prepare
            sys.argv = ["repro", "inspect", "."]
            sys.exit(cli.main())
            """
        )
    )
    blocked = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, blocked) and None,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "waiting\n"
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("the run never heard its SIGTERM") from None
    assert proc.returncode == 143
    assert err.strip().splitlines()[-1] == "repro: interrupted by SIGTERM"


# --------------------------------------------------------------------------- locks


def test_a_lock_waits_for_its_holder_and_dies_with_it(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from repro import locks
            with locks.file_lock(Path({str(path)!r})):
                print("held", flush=True)
                time.sleep(60)
            """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    told: list[str] = []

    def kill_holder(message: str) -> None:
        told.append(message)
        holder.kill()  # a holder that dies (even by SIGKILL) leaves no stale lock

    with locks.file_lock(path, on_wait=kill_holder):
        pass
    holder.wait()
    assert told == ["waiting for another repro run (x.lock)"]


def test_atomic_writes_from_many_processes(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "numpy.json"
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from repro import locks
        for i in range(200):
            locks.atomic_write_text(Path({str(target)!r}), sys.argv[1] * 50_000)
        """)
    writers = [subprocess.Popen([sys.executable, "-c", code, c]) for c in "abcd"]
    seen = set()
    while any(w.poll() is None for w in writers):
        if target.exists():
            text = target.read_text()
            assert len(text) == 50_000 and len(set(text)) == 1  # never half of one
            seen.add(text[0])
    assert all(w.returncode == 0 for w in writers)
    assert [p.name for p in target.parent.iterdir()] == ["numpy.json"]  # no temporary left


def test_concurrent_inspects_share_one_clone_cache(github: FakeGitHub, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "main.py").write_text("import numpy\n")
    url, first = github.publish(src, name="shared")

    def four_at_once() -> list[str]:
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "repro", "inspect", url],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        outs = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            outs.append(out)
        return outs

    assert all(f"Commit     {first}" in out for out in four_at_once())  # racing clones
    work = github.work / "acme" / "shared"
    (work / "more.py").write_text("import scipy\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "more", cwd=work)
    second = git("rev-parse", "HEAD", cwd=work)
    git("push", "-q", str(github.root / "acme" / "shared"), "main", cwd=work)
    assert all(f"Commit     {second}" in out for out in four_at_once())  # racing fetches
    mirrors = Path(os.environ["REPRO_CACHE_DIR"]) / "git"
    assert sorted(p.suffix for p in mirrors.iterdir()) == [".git", ".lock"]


# --------------------------------------------------------------------------- engine loss


class _Gone:
    """A docker client whose engine vanished after the container was created."""

    def __init__(self, on_create: Any = None) -> None:
        self.removed: list[str] = []
        self.on_create = on_create
        client = self

        class Container:
            id = "c0ffee"

            def start(self) -> None:
                pass

            def wait(self, timeout: float) -> dict[str, int]:
                raise requests.exceptions.ConnectionError("Connection aborted.")

            def remove(self, force: bool) -> None:
                client.removed.append(self.id)

        class Containers:
            def create(self, image: str, **kwargs: Any) -> Container:
                if client.on_create:
                    client.on_create()
                return Container()

        class Api:
            def close(self) -> None:
                pass

            def _url(self, path: str) -> str:
                return path

            def _get(self, url: str, **kwargs: Any) -> None:
                raise requests.exceptions.ConnectionError("refused")

        self.containers = Containers()
        self.api = Api()


def _engine(client: _Gone) -> DockerEngine:
    engine = DockerEngine.__new__(DockerEngine)
    engine._sdk = client  # type: ignore[assignment]
    engine._connecting = None
    engine._cli = None
    return engine


def test_engine_lost_while_a_container_runs_is_an_engine_error() -> None:
    client = _Gone()
    with pytest.raises(EngineError, match="lost the Docker engine while the container ran"):
        _engine(client).run("img", ["true"], RunLimits(timeout=5))
    assert client.removed == ["c0ffee"]  # removal is still attempted


def test_ctrl_c_while_a_container_is_created_still_removes_it(handlers: None) -> None:
    client = _Gone(on_create=lambda: os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(signals.Interrupted):
        _engine(client).run("img", ["true"], RunLimits(timeout=5))
    assert client.removed == ["c0ffee"]


# --------------------------------------------------------------------------- build secrets


def test_pip_conf_and_index_options_merge_without_duplicate_keys(tmp_path: Path) -> None:
    import configparser

    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nextra-index-url = https://a:T1@one/simple\ncert = /c\n[install]\nx = 1\n"
    )
    text = _pip_conf(
        BuildSettings(
            pip_conf=conf,
            index_url="https://z/simple",
            extra_index_urls=("https://u:T2@two/simple",),
        )
    )
    parser = configparser.RawConfigParser(strict=True)  # pip's own reading refuses duplicates
    parser.read_string(text)
    assert parser.get("global", "extra-index-url").split() == [
        "https://a:T1@one/simple",
        "https://u:T2@two/simple",
    ]
    assert parser.get("global", "index-url") == "https://z/simple"
    assert parser.get("global", "cert") == "/c" and parser.get("install", "x") == "1"
    bad = tmp_path / "bad.conf"
    bad.write_text("extra-index-url = no section\n")
    with pytest.raises(UsageError, match="not a pip configuration"):
        _pip_conf(BuildSettings(pip_conf=bad))


# --------------------------------------------------------------------------- integrity


class _Saver:
    def save(self, refs: list[str], out: Any) -> None:
        out.write(image_archive(refs, [tar_of({"data.bin": os.urandom(4096)})]))

    def image_info(self, ref: str) -> None:
        return None


def _artifact(tmp_path: Path) -> Path:
    return artifact.write(
        tmp_path / "out" / "acme-x-1234567",
        engine=_Saver(),  # type: ignore[arg-type]
        refs=["repro/acme-x:1234567"],
        dockerfile="FROM python:3.11-slim\n",
        manifest_for=lambda a: {"artifacts": dict(a)},
    )


def test_sha256sums_covers_every_file_and_catches_tampering(tmp_path: Path) -> None:
    dest = _artifact(tmp_path)
    sums = artifact.read_checksums(dest)
    assert set(sums) == {p.name for p in dest.iterdir()} - {artifact.CHECKSUMS}
    check = ["sha256sum", "--quiet", "-c", artifact.CHECKSUMS]
    assert subprocess.run(check, cwd=dest, capture_output=True).returncode == 0
    with open(dest / artifact.IMAGE_TARBALL, "r+b") as fh:  # one byte changed
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 1]))
    assert artifact.sha256_file(dest / artifact.IMAGE_TARBALL) != sums[artifact.IMAGE_TARBALL]
    result = subprocess.run(check, cwd=dest, capture_output=True, text=True)
    assert result.returncode != 0 and "image.tar.gz: FAILED" in result.stdout


def test_repro_verify_refuses_a_tampered_tarball(tmp_path: Path) -> None:
    """``repro verify`` checks the files before it loads anything into an engine."""
    from repro import verify

    dest = _artifact(tmp_path)
    with open(dest / artifact.IMAGE_TARBALL, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(verify.VerifyError, match="does not match SHA256SUMS"):
        verify.check_files(dest)
    (dest / "extra.sh").write_text("echo hi\n")
    with pytest.raises(verify.VerifyError, match="not listed in SHA256SUMS"):
        verify.check_files(dest)
