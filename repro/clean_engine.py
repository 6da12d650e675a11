"""A Docker engine of its own, for one command: ``repro verify --clean-engine`` (edge).

``temporary_engine()`` starts ``dockerd`` with empty storage in a new temporary folder (its
own data root, state folder, socket and containerd) and a configuration of its own, so that
nothing of the machine's usual engine is visible: no image, no layer, no build cache. It
runs in a network namespace of its own (``unshare --net``), with no bridge and no firewall
rules: a dockerd without a bridge deletes the interface named ``docker0`` where it runs,
which in the machine's namespace is the usual engine's. It yields the engine's
``DOCKER_HOST`` (a unix socket: a path, reachable from any network namespace); on the way
out (also on Ctrl-C or an error) it stops the engine and deletes the folder.

What a clean engine proves: the artifact's tarball alone holds everything the image needs,
since the engine had nothing before ``docker load``. It needs root (dockerd does) and a
``dockerd`` on PATH. The machine engine's container runtimes (``runtimes`` in
``/etc/docker/daemon.json``, e.g. NVIDIA's) are carried over, nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from repro.errors import EngineError, UsageError

HOST_CONFIG = Path("/etc/docker/daemon.json")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
_HINT = "run repro verify without --clean-engine to use your usual engine"


def daemon_config(host_config: str | None) -> dict[str, Any]:
    """The temporary engine's configuration: the usual engine's container runtimes (so
    GPUs work as they do there), nothing else of it."""
    try:
        usual = json.loads(host_config) if host_config else {}
    except ValueError:
        usual = {}
    runtimes = usual.get("runtimes") if isinstance(usual, dict) else None
    return {"runtimes": runtimes} if isinstance(runtimes, dict) and runtimes else {}


def dockerd_argv(unshare: str, dockerd: str, root: Path) -> list[str]:
    """dockerd in a network namespace of its own, everything of its own under ``root``."""
    return [
        unshare, "--net", "--",
        dockerd,
        "--config-file", str(root / "daemon.json"),
        "--data-root", str(root / "data"),
        "--exec-root", str(root / "exec"),
        "--pidfile", str(root / "dockerd.pid"),
        "--host", f"unix://{root / 'docker.sock'}",
        "--bridge", "none",
        "--iptables=false",
        "--ip-masq=false",
    ]  # fmt: skip


@contextlib.contextmanager
def temporary_engine(
    say: Callable[[str], None] = lambda _m: None,
    *,
    ready: Callable[[str], bool] | None = None,
) -> Iterator[str]:
    """Start a dockerd with empty storage; yield its ``DOCKER_HOST``; stop and delete it."""
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise UsageError("--clean-engine starts a dockerd of its own, and none is installed here",
                         hint=f"install docker.io (or Docker Engine); or {_HINT}")  # fmt: skip
    unshare = shutil.which("unshare")
    if unshare is None:
        raise UsageError("--clean-engine runs its dockerd in a network namespace of its own, "
                         "and unshare is not installed here",
                         hint=f"install util-linux; or {_HINT}")  # fmt: skip
    if os.geteuid() != 0:
        raise UsageError("--clean-engine starts a dockerd of its own, which needs root",
                         hint=f"run it as root; or {_HINT}")  # fmt: skip
    root = Path(tempfile.mkdtemp(prefix="repro-engine-"))
    host = f"unix://{root / 'docker.sock'}"
    try:
        usual = HOST_CONFIG.read_text() if HOST_CONFIG.is_file() else None
    except OSError:
        usual = None
    (root / "daemon.json").write_text(json.dumps(daemon_config(usual)) + "\n")
    log = (root / "dockerd.log").open("wb")
    proc: subprocess.Popen[bytes] | None = None
    try:
        say(f"starting a clean engine (dockerd with empty storage in {root})")
        proc = subprocess.Popen(
            dockerd_argv(unshare, dockerd, root),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches repro, which stops it in order
        )
        _wait_until_ready(proc, host, root, ready or _answers)
        yield host
    finally:
        if proc is not None:
            _stop(proc)
        log.close()
        _remove(root)


def _answers(host: str) -> bool:
    from repro.engine import DockerEngine

    try:
        DockerEngine(host=host, use_buildkit=False)
    except EngineError:
        return False
    return True


def _wait_until_ready(
    proc: subprocess.Popen[bytes], host: str, root: Path, ready: Callable[[str], bool]
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EngineError(
                f"the clean engine (dockerd) stopped at start, exit {proc.returncode}",
                detail=_tail(root / "dockerd.log"),
                hint=_HINT,
            )
        if (root / "docker.sock").exists() and ready(host):
            return
        time.sleep(0.2)
    raise EngineError(
        f"the clean engine (dockerd) did not answer within {START_TIMEOUT:.0f} s",
        detail=_tail(root / "dockerd.log"),
        hint=_HINT,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (dockerd stops its containers and containerd), then SIGKILL if it hangs."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _remove(root: Path) -> None:
    """Delete the engine's folder, first undoing any mount dockerd left inside it."""
    with contextlib.suppress(OSError):
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        inside = [m.split()[1] for m in mounts if len(m.split()) > 1]
        for point in sorted((p for p in inside if p.startswith(f"{root}/")), reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    shutil.rmtree(root, ignore_errors=True)


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
