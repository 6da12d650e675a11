"""`repro lab` for real: the printed URL answers Jupyter's API with the token, the kernel is
the image's environment, Ctrl-C leaves no container (docs/user-guide.md, `repro lab`)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from repro.engine import DockerEngine, RunLimits
from repro.lab import lab_tag
from repro.models import LABEL_MANAGED
from tests.conftest import require_images

pytestmark = [pytest.mark.docker, pytest.mark.network]

# A stand-in for a packed image, shaped like repro's (a venv at /opt/venv, the user repro,
# the repository at /app), with a module only the packed environment has.
PACKED = """\
FROM python:3.11-slim
RUN python -m venv /opt/venv && useradd --create-home --uid 1000 repro \\
 && echo 'WHERE = "packed"' > /opt/venv/lib/python3.11/site-packages/packed_marker.py
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
COPY --chown=1000:1000 analysis.ipynb /app/
WORKDIR /app
USER repro
"""
NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": "import sys, packed_marker\nprint(packed_marker.WHERE, sys.executable)",
        }
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _readline(proc: subprocess.Popen[str], seconds: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    return proc.stdout.readline().strip() if ready else ""


def _lab_containers(engine: DockerEngine) -> set[str]:
    return {cid for cid, _ in engine.labelled("containers", f"{LABEL_MANAGED}=lab")}


def test_lab_prints_a_url_that_answers_and_ctrl_c_leaves_no_container(
    engine: DockerEngine, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    context = tmp_path / "packed"
    context.mkdir()
    (context / "Dockerfile").write_text(PACKED)
    (context / "analysis.ipynb").write_text(json.dumps(NOTEBOOK))
    tag = "repro-test/lab-packed:1"
    image_id, _, _ = engine.build(
        context, tags=[tag], labels={}, secrets={}, on_line=lambda _: None
    )
    cleanup_images += [lab_tag(image_id), f"{lab_tag(image_id)}-base", tag]
    before = _lab_containers(engine)

    proc = subprocess.Popen(
        [sys.executable, "-m", "repro", "lab", tag],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = _readline(proc, 600)
        assert url.startswith("http://127.0.0.1:") and "/lab?token=" in url, (
            url,
            proc.stderr.read() if proc.poll() is not None and proc.stderr else "",
        )
        base, token = url.split("/lab?token=")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(
            f"{base}/api/contents", headers={"Authorization": f"token {token}"}
        )
        with opener.open(request, timeout=10) as reply:
            assert reply.status == 200
            listing = json.load(reply)
        assert [c["name"] for c in listing["content"]] == ["analysis.ipynb"]  # /app
        # without the token: refused
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(f"{base}/api/contents", timeout=10)
        assert refused.value.code == 403
        assert len(_lab_containers(engine) - before) == 1

        # the notebooks' kernel is the image's environment, not the lab layer's
        executed = engine.run(
            lab_tag(image_id),
            [
                "/opt/repro/lab/bin/jupyter",
                "nbconvert",
                "--to",
                "notebook",
                "--execute",
                "--stdout",
                "/app/analysis.ipynb",
            ],
            RunLimits(network="none", timeout=300),
        )
        assert executed.exit_code == 0, executed.output
        assert "packed /opt/venv/bin/python" in executed.output

        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C at the terminal
        assert proc.wait(timeout=60) == 0
        assert _lab_containers(engine) - before == set()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for cid in _lab_containers(engine) - before:
            engine.remove_container(cid)
