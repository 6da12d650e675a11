"""An HTTP server on loopback that fails on cue: the package index or the git host a test
points repro at (docs/security.md, "The network fails").

Each request takes the next action of a script (the last one repeats): ``"ok"`` serves
it, ``"503"`` (any status) answers that status, ``"reset"`` closes the connection without
a word, ``"delay:2"`` waits two seconds and then serves. What "serve" means is the test's:
a JSON document, or ``git http-backend`` over a folder of bare repositories.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests import fault_report

Serve = Callable[[BaseHTTPRequestHandler], None]


class FaultyServer:
    def __init__(self, script: Iterable[str], serve: Serve) -> None:
        self.script = list(script) or ["ok"]
        self.serve = serve
        self.requests: list[tuple[str, str, str]] = []  # (method, path, the action taken)
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.handle(self)

            def do_POST(self) -> None:
                server.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            action = self.script[min(len(self.requests), len(self.script) - 1)]
            self.requests.append((handler.command, handler.path, action))
        if action not in ("ok", "404"):  # a 404 is an answer, not a fault
            fault_report.fault(f"network {action.partition(':')[0]}")
        if action == "reset":  # RST, not FIN: as a proxy or a load balancer cuts one
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.connection.close()
            handler.close_connection = True
            return
        if action.isdigit():
            handler.send_response(int(action))
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if action.startswith("delay:"):
            time.sleep(float(action.partition(":")[2]))
        self.serve(handler)

    def actions(self) -> list[str]:
        with self.lock:
            return [a for _, _, a in self.requests]

    def __enter__(self) -> FaultyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def json_document(doc: object) -> Serve:
    body = json.dumps(doc).encode()

    def serve(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return serve


def git_backend(root: Path) -> Serve:
    """git's smart HTTP over the bare repositories under ``root`` (``git http-backend``)."""

    def serve(handler: BaseHTTPRequestHandler) -> None:
        path, _, query = handler.path.partition("?")
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": handler.command,
            "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
        }
        for name in ("Git-Protocol", "Content-Encoding"):
            if handler.headers.get(name):
                env["HTTP_" + name.upper().replace("-", "_")] = handler.headers[name]
        out = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        ).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.split(b"\r\n"):
            name, _, value = line.decode().partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        with contextlib.suppress(OSError):
            handler.wfile.write(payload)

    return serve
