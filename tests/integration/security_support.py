"""Test doubles for the security tests: a private index, a socket proxy, a repro process.

- :class:`PrivateIndex` serves one wheel over HTTP on the Docker bridge's gateway (where
  build containers reach the host), only to a client that sends the right token, and can
  serve the wheel slowly so a test can interrupt a build in the middle of an install.
- :class:`EngineProxy` forwards a Unix socket to the real Docker socket; killing it makes
  the engine "go away" for a repro run that was pointed at it with ``DOCKER_HOST``.
- :class:`ReproProcess` runs ``repro`` as a user would (its own process group, like a
  terminal job) and follows its stage lines, so a signal can be sent at a given stage.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests import fault_report

GATEWAY = os.environ.get("REPRO_TEST_BRIDGE_GATEWAY", "172.17.0.1")
PACKAGE = "repro-fixture-private"
MODULE = "repro_fixture_private"


def make_wheel(version: str = "1.0") -> tuple[str, bytes]:
    """A pure-Python wheel of ``repro-fixture-private``: (file name, bytes)."""
    dist = f"{MODULE}-{version}.dist-info"
    files = {
        f"{MODULE}/__init__.py": f"VERSION = {version!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: repro-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            data = text.encode()
            zf.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{name},sha256={digest.decode()},{len(data)}")
        record.append(f"{dist}/RECORD,,")
        zf.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
    return f"{MODULE}-{version}-py3-none-any.whl", buf.getvalue()


class PrivateIndex:
    """A PEP 503/691 index with basic auth, on the bridge gateway, in a thread."""

    def __init__(self, user: str, *tokens: str, slow: bool = False, version: str = "1.0") -> None:
        self.user, self.tokens, self.slow, self.version = user, tokens, slow, version
        self.token = tokens[0]
        self.wheel_name, self.wheel = make_wheel(version)
        self.requests: list[tuple[str, str]] = []  # (path, the token it sent, or "")
        self.download_started = threading.Event()
        self.stop = threading.Event()
        self.release = threading.Event()  # a slow index serves the rest at once
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                sent = self.headers.get("Authorization", "")
                token = next((t for t in index.tokens if sent == index.auth_header(t)), "")
                index.requests.append((self.path, token))
                if not token:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="private"')
                    self.end_headers()
                    return
                index.serve(self)

            def do_HEAD(self) -> None:  # uv asks first whether ranges are served: no
                self.send_response(405)
                self.end_headers()

        self.server = ThreadingHTTPServer((GATEWAY, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, token: str | None = None) -> str:
        return f"http://{self.user}:{token or self.token}@{GATEWAY}:{self.port}/simple"

    def auth_header(self, token: str) -> str:
        raw = f"{self.user}:{token}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0]
        if path.rstrip("/") == f"/simple/{PACKAGE}":
            self._project(handler)
        elif path == f"/files/{self.wheel_name}":
            self._file(handler)
        else:
            handler.send_response(404)
            handler.end_headers()

    def _project(self, handler: BaseHTTPRequestHandler) -> None:
        digest = hashlib.sha256(self.wheel).hexdigest()
        href = f"/files/{self.wheel_name}"
        if "application/vnd.pypi.simple.v1+json" in handler.headers.get("Accept", ""):
            body = json.dumps(
                {
                    "meta": {"api-version": "1.1"},
                    "name": PACKAGE,
                    "versions": [self.version],
                    "files": [
                        {
                            "filename": self.wheel_name,
                            "url": href,
                            "hashes": {"sha256": digest},
                            "upload-time": "2020-01-01T00:00:00.000000Z",
                            "size": len(self.wheel),
                        }
                    ],
                }
            ).encode()
            kind = "application/vnd.pypi.simple.v1+json"
        else:
            body = f'<a href="{href}#sha256={digest}">{self.wheel_name}</a>\n'.encode()
            kind = "text/html"
        handler.send_response(200)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _file(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(self.wheel)))
        handler.end_headers()
        self.download_started.set()
        sent = 0
        try:
            # slow: a byte a second until the test stops or releases it, or the client leaves
            while self.slow and sent < len(self.wheel) - 1 and not self.release.is_set():
                if self.stop.wait(1.0):
                    return
                handler.wfile.write(self.wheel[sent : sent + 1])
                handler.wfile.flush()
                sent += 1
            handler.wfile.write(self.wheel[sent:])
        except (BrokenPipeError, ConnectionResetError):
            pass

    def __enter__(self) -> PrivateIndex:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def engine_socket() -> str:
    """The socket of the engine the tests use: $DOCKER_HOST's, else Docker's default."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        pytest.skip(f"the engine proxy forwards to a unix socket; DOCKER_HOST is {host}")
    return host[len("unix://") :]


class EngineProxy:
    """A Unix socket that forwards every connection to the Docker socket, until killed."""

    def __init__(self, path: Path, target: str | None = None) -> None:
        self.path, self.target = path, target or engine_socket()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(64)
        self.conns: list[socket.socket] = []
        self.alive = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def docker_host(self) -> str:
        return f"unix://{self.path}"

    def _accept(self) -> None:
        while self.alive:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.alive:  # accepted while being killed
                client.close()
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def kill(self) -> None:
        """The engine goes away: the socket closes and every open connection drops."""
        fault_report.fault("engine gone")
        self.alive = False
        with contextlib.suppress(OSError):
            self.listener.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


class ReproProcess:
    """``repro ARGS`` in its own process group, its stderr followed line by line."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        fault_report.run()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "repro", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a job of its own, as a shell would start it
        )
        self.lines: list[str] = []
        self.out = ""
        assert self.proc.stderr is not None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, check: Callable[[], bool], what: str, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if self.proc.poll() is not None:
                self.reader.join(5)
                raise AssertionError(f"repro ended before {what}:\n{self.stderr}")
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}:\n{self.stderr}")

    def wait_stage(self, name: str, timeout: float = 600) -> None:
        self.wait_for(
            lambda: any(ln.startswith(f"==> {name}") for ln in self.lines), f"stage {name}", timeout
        )

    def stops(self, name: str) -> int:
        """How many times the run has stopped at fault point ``name`` so far."""
        marker = f"repro: fault point {name} reached (pid {self.proc.pid})"
        return self.lines.count(marker)

    def wait_point(self, name: str, timeout: float = 600, *, nth: int = 1) -> None:
        """Wait until the run stops at fault point ``name`` (``$REPRO_FAULT_POINT``,
        repro/faults.py) for the ``nth`` time: a signal sent now lands exactly there."""
        self.wait_for(lambda: self.stops(name) >= nth, f"fault point {name} ({nth})", timeout)

    def resume(self) -> None:
        """Let a run stopped at a fault point go on."""
        os.kill(self.proc.pid, signal.SIGUSR1)

    def interrupt(self, how: str) -> None:
        """``ctrl-c``: SIGINT to the whole job, as a terminal does; ``term``: SIGTERM to
        repro alone, as ``kill PID`` or a CI runner's cancel does; ``kill``: SIGKILL to
        the whole job (the OOM killer, ``kill -9``): no clean-up code runs."""
        fault_report.fault({"ctrl-c": "SIGINT", "kill": "SIGKILL"}.get(how, "SIGTERM"))
        if how == "ctrl-c":
            os.killpg(self.proc.pid, signal.SIGINT)
        elif how == "kill":
            os.killpg(self.proc.pid, signal.SIGKILL)
        else:
            os.kill(self.proc.pid, signal.SIGTERM)

    def finish(self, timeout: float = 120) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise
        assert self.proc.stdout is not None
        self.out = self.proc.stdout.read()
        self.reader.join(10)
        return code


def containers(label_filter: str, ancestor: str | None = None) -> list[str]:
    """Ids of containers (running or stopped) with repro's label (and from ``ancestor``)."""
    argv = ["docker", "ps", "-a", "-q", "--filter", f"label={label_filter}"]
    if ancestor:
        argv += ["--filter", f"ancestor={ancestor}"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return out.split()


def runs_command(text: str, docker_host: str | None = None) -> bool:
    """Whether a running container's command holds ``text`` (asked of the engine, which
    knows the command once the container exists, before its process has started it)."""
    env = {**os.environ, **({"DOCKER_HOST": docker_host} if docker_host else {})}
    argv = ["docker", "ps", "--no-trunc", "--format", "{{.Command}}"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout
    return text in out


def stop_at_container(proc: ReproProcess, command: str, docker_host: str | None = None) -> None:
    """Let ``proc`` (run with ``$REPRO_FAULT_POINT=container.running``) go on from container
    to container until it stops at the one whose command holds ``command``."""
    proc.wait_point("container.running")
    while not runs_command(command, docker_host):  # the image's facts come first
        proc.resume()
        proc.wait_point("container.running", nth=proc.stops("container.running") + 1)


def host_processes(needle: str) -> list[int]:
    """Host pids whose command line contains ``needle`` (container processes included)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if needle in cmdline:
                pids.append(int(entry.name))
    return pids


def env_processes(needle: str) -> list[int]:
    """Host pids whose environment holds ``needle``: a build step's processes carry the
    index settings repro's RUN exported, so a token names the processes of one build."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if needle.encode() in (entry / "environ").read_bytes():
                    pids.append(int(entry.name))
    return pids


def appears(check: Callable[[], object], timeout: float = 120) -> bool:
    """Whether ``check`` turns true within ``timeout`` (for what must happen, in its time)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def gone(check: Callable[[], list[int]], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def search_image_tar(stream: io.BufferedIOBase, needles: list[str]) -> list[str]:
    """Every place in a ``docker save`` tar where a needle occurs: member names, link
    targets and contents of the outer tar, of each layer tar, and of the config."""
    import tarfile

    raw = [n.encode() for n in needles]
    hits: list[str] = []

    def scan(tar: tarfile.TarFile, where: str, depth: int) -> None:
        for member in tar:
            label = f"{where}{member.name}"
            header = f"{member.name}\0{member.linkname}\0{json.dumps(member.pax_headers)}"
            hits.extend(f"{label} (name)" for n in needles if n in header)
            if not member.isfile():
                continue
            fh = tar.extractfile(member)
            if fh is None:
                continue
            data = fh.read()
            if depth == 0 and (member.name.endswith(".tar") or member.name.endswith("layer")):
                with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as inner:
                    scan(inner, f"{label}!", depth + 1)
            hits.extend(f"{label} (content)" for n in raw if n in data)

    with tarfile.open(fileobj=stream, mode="r:*") as outer:
        scan(outer, "", 0)
    return hits
