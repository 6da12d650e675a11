"""Run a command with its stderr on a pseudo-terminal (what a user at a terminal sees)."""

from __future__ import annotations

import os
import pty
import subprocess
from collections.abc import Mapping, Sequence


def stderr_on_a_terminal(
    argv: Sequence[str], env: Mapping[str, str], *, timeout: float
) -> tuple[int, str, str]:
    """Exit status, stdout and what reached the terminal (read as it comes, so a long
    run never blocks on a full terminal buffer)."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=follower, env=dict(env))
    finally:
        os.close(follower)  # only the child holds it now: EOF (EIO) once it ends
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            chunks.append(chunk)
        stdout, _ = proc.communicate(timeout=timeout)
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, stdout.decode(), b"".join(chunks).decode().replace("\r\n", "\n")
