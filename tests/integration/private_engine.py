"""A Docker engine a test starts, kills and restarts itself (never the shared one).

The dockerd runs with a data root of its own under the test's folder, like
``repro.clean_engine`` runs one, but in the network namespace of a container of the usual
engine (``nsenter --net``): there it has a bridge, and NAT, of its own, and reaches the
package index and the test's servers through that container's network, while the
machine's interfaces stay as they were. Stopping it (SIGTERM) and starting it again on the
same data root is what ``systemctl restart docker`` does: its images and build cache stay.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests import fault_report

CLI = "/usr/bin/docker"  # the client with BuildKit (docs: build-notes.md)


def _docker(*args: str, host: str | None = None, check: bool = True) -> str:
    env = {**os.environ, **({"DOCKER_HOST": host} if host else {})}
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


class PrivateEngine:
    """``start()``, ``stop()``, ``restart()``, ``close()``."""

    def __init__(self, root: Path, images: list[str], *, storage: str = "") -> None:
        """``storage``: a size (``2g``) makes the engine's data root a tmpfs of that size,
        a disk the test can fill (:meth:`fill`)."""
        if os.geteuid() != 0 or shutil.which("dockerd") is None or shutil.which("nsenter") is None:
            message = "a private dockerd needs root, dockerd and nsenter"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message)
            pytest.skip(message)
        self.root = root
        self.root.mkdir(parents=True)
        (root / "daemon.json").write_text(json.dumps({}) + "\n")
        self.data = root / "data"
        self.data.mkdir()
        if storage:
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={storage}", "repro-test",
                            str(self.data)], check=True, capture_output=True)  # fmt: skip
        self.sock = root / "docker.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        # the container whose network namespace the engine lives in
        self.holder = _docker("run", "-d", "--rm", "--label", "repro-test=private-engine",
                              images[0], "sleep", "infinity")  # fmt: skip
        self.start()
        for image in images:  # the base images, from the usual engine
            saved = subprocess.Popen([CLI, "save", image], stdout=subprocess.PIPE)
            into = {**os.environ, "DOCKER_HOST": self.host}
            subprocess.run([CLI, "load", "-q"], stdin=saved.stdout, env=into,
                           check=True, capture_output=True)  # fmt: skip
            assert saved.wait() == 0

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    def start(self) -> None:
        pid = _docker("inspect", "-f", "{{.State.Pid}}", self.holder)
        log = (self.root / "dockerd.log").open("ab")
        self.proc = subprocess.Popen(
            ["nsenter", f"--net=/proc/{pid}/ns/net", "--", "dockerd",
             "--config-file", str(self.root / "daemon.json"),
             "--data-root", str(self.data),
             "--exec-root", str(self.root / "exec"),
             "--pidfile", str(self.root / "dockerd.pid"),
             "--host", self.host],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 120
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = (self.root / "dockerd.log").read_text(errors="replace")[-2000:]
                raise AssertionError(f"the private dockerd did not start:\n{tail}")
            time.sleep(0.2)

    def answers(self) -> bool:
        version = ["version", "--format", "{{.Server.Version}}"]
        return _docker(*version, host=self.host, check=False) != ""

    def stop(self) -> None:
        """Stop dockerd as ``systemctl stop docker`` does (SIGTERM): it drops every
        connection, stops its containers and its containerd, then exits."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(120)
        deadline = time.monotonic() + 60  # its containerd and shims end with it
        while self._processes() and time.monotonic() < deadline:
            time.sleep(0.2)

    def restart(self) -> None:
        """``systemctl restart docker``: stopped, then started on the same data root."""
        fault_report.fault("engine restart")
        self.stop()
        self.start()

    def fill(self, leave: int) -> Path:
        """Fill the engine's disk but ``leave`` bytes; the filler, to remove afterwards."""
        fault_report.fault("engine disk full")
        filler = self.data / "filler"
        room = shutil.disk_usage(self.data).free
        with open(filler, "wb") as fh:
            fh.truncate(0)
            os.posix_fallocate(fh.fileno(), 0, max(room - leave, 0))
        return filler

    def _processes(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    if str(self.root) in cmd:
                        found.append(int(entry.name))
        return found

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # stops its containers, then itself
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self._processes():  # shims of a crash that no restart reaped
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            mounts = Path("/proc/self/mounts").read_text().splitlines()
            inside = [m.split()[1] for m in mounts if m.split()[1].startswith(f"{self.root}/")]
            for point in sorted(inside, reverse=True):
                subprocess.run(["umount", "-l", point], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        _docker("rm", "-f", self.holder, check=False)
