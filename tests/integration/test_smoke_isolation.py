"""Smoke runs are isolated and cleaned up on the real engine; notebooks run when asked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from repro.cli import cli
from repro.engine import LABEL_MANAGED, DockerEngine
from tests.conftest import ROOT, FakeGitHub, require_images

pytestmark = [pytest.mark.docker]

PROBE = """
import os, socket
def first(*paths):
    for p in paths:
        try:
            return open(p).read().strip()
        except OSError:
            pass
    return "?"
try:
    socket.create_connection(("pypi.org", 443), timeout=3)
    net = "up"
except OSError:
    net = "none"
print("uid", os.getuid())
print("network", net)
print("memory", first("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"))
print("pids", first("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"))
print("app-writable", os.access("/app", os.W_OK))
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_smoke_test_runs_unprivileged_offline_and_limited(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("cli-tool")
    cleanup_images += [
        f"repro/acme-cli-tool:{sha[:7]}",
        f"repro/acme-cli-tool:{sha[:7]}-py3.11-cpu",
    ]
    smoke = "python - <<'EOF'\n" + PROBE + "EOF"
    code, _, stderr = run("pack", url, "--smoke", smoke, "--out", str(tmp_path / "out"))
    assert code == 0, stderr
    manifest = json.loads(next((tmp_path / "out").glob("*/repro.json")).read_text())
    log = manifest["smoke"]["log_tail"].splitlines()
    assert "uid 1000" in log
    assert "network none" in log
    assert "memory 4294967296" in log
    assert "pids 1024" in log
    assert manifest["smoke"]["kind"] == "user"
    assert manifest["smoke"]["reason"] == "given by the user (--smoke)"
    limits = manifest["smoke"]["limits"]
    assert limits["network"] == "none" and limits["user"] == "1000:1000" and limits["mounts"] == []
    assert manifest["smoke"]["gpu"] is False and manifest["smoke"]["gpu_fallback"] is False


def _containers(image: str) -> list[str]:
    out = subprocess.run(
        [
            "docker",
            "ps",
            "-aq",
            "--filter",
            f"label={LABEL_MANAGED}",
            "--filter",
            f"ancestor={image}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.split()


def test_ctrl_c_during_the_smoke_test_removes_its_container(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("cli-tool")
    tag = f"repro/acme-cli-tool:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "repro", "pack", url, "--smoke", "sleep 300", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 300
        while not (engine.image_info(tag) and _containers(tag)):
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the smoke container never started"
            time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "repro: interrupted" in stderr
    assert _containers(tag) == []
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.network
@pytest.mark.slow
def test_notebooks_run_with_nbclient_when_asked(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("notebook-demo")
    tag = f"repro/acme-notebook-demo:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    code, _, stderr = run(
        "pack", url, "--notebooks", "--cell-timeout", "60", "--out", str(tmp_path)
    )
    assert code == 0, stderr
    manifest = json.loads(next(tmp_path.glob("*/repro.json")).read_text())
    notebooks = manifest["smoke"]["notebooks"]
    assert notebooks["status"] == "passed" and notebooks["passed"]
    assert notebooks["command"][:2] == ["env", "REPRO_CELL_TIMEOUT=60"]
    assert [t["target"] for t in notebooks["targets"]] == ["notebook:analysis.ipynb"]
    (left_out,) = notebooks["excluded"]
    assert left_out["target"] == "notebook:needs-data.ipynb"
    assert "needs data" in left_out["reason"] and "data/raw.csv" in left_out["reason"]
    smoke_layer = {r["name"] for r in manifest["requirements"] if r["layer"] == "smoke"}
    assert {"nbclient", "nbformat", "ipykernel"} <= smoke_layer
