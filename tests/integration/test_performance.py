"""Fast rebuilds and lean images on the real engine (docs/performance.md).

Timings are not asserted here (they live in benchmarks/); what a user would notice is:
a source-only change rebuilds no install step, no package cache or resolver is left in any
layer, large data files stay out of the image and are named, and a devel → runtime build
yields a working image.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from repro import build
from repro import dockerfile as df
from repro.cli import cli
from repro.engine import DockerEngine, RunLimits
from repro.models import BaseImage, BuildSettings, CudaChoice
from tests.conftest import FakeGitHub, require_images

pytestmark = [pytest.mark.docker, pytest.mark.network]


def pack(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["pack", *args])
    return result.exit_code, result.stdout, result.stderr


def _steps(log: str) -> dict[str, str]:
    """BuildKit's plain log → {step text: "CACHED" | "DONE" | "ERROR"} (last state wins)."""
    names: dict[str, str] = {}
    state: dict[str, str] = {}
    for raw in log.splitlines():
        line = raw.removeprefix("    | ")
        m = re.match(r"^#(\d+) \[[^\]]+\] (.*)$", line)
        if m:
            names[m.group(1)] = m.group(2)
            continue
        m = re.match(r"^#(\d+) (CACHED|DONE|ERROR)", line)
        if m and m.group(1) in names:
            state[names[m.group(1)]] = m.group(2)
    return state


def test_a_source_change_rebuilds_no_install_step_and_leaves_no_cache_in_a_layer(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish("paper-cpu", name="paper-cpu-rebuild")
    code, _, stderr = pack(url, "--out", str(tmp_path / "one"), "--no-smoke")
    cleanup_images += [
        f"repro/acme-paper-cpu-rebuild:{sha[:7]}",
        f"repro/acme-paper-cpu-rebuild:{sha[:7]}-py3.11-cpu",
    ]
    assert code == 0, stderr

    # A unique line: the source layer cannot come from an earlier run of this test.
    new_sha = github.commit_change("paper-cpu-rebuild", "train.py", f"# tuned {uuid.uuid4().hex}\n")
    tag = f"repro/acme-paper-cpu-rebuild:{new_sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    code, _, stderr = pack(url, "--out", str(tmp_path / "two"), "--no-smoke", "-v")
    assert code == 0, stderr
    steps = _steps(stderr)
    runs = {text: st for text, st in steps.items() if text.startswith("RUN ")}
    installs = [text for text in runs if "pip install" in text]
    assert len(installs) >= 2  # the resolver and the requirements
    assert all(st == "CACHED" for st in runs.values()), runs
    # the code is not the builder's to copy: repro lays it on the environment's image
    assert not [text for text in steps if text.startswith("COPY --chown=1000:1000 src/")]
    assert "code layer laid by repro: " in stderr

    # No layer holds a package cache, the resolver, or apt lists.
    saved = tmp_path / "image.tar"
    with open(saved, "wb") as fh:
        engine.save([tag], fh)
    offending: list[str] = []
    with tarfile.open(saved) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        base_layers = _layer_count(engine, "python:3.11-slim")
        for layer in manifest[0]["Layers"][base_layers:]:
            data = outer.extractfile(layer)
            assert data is not None
            with tarfile.open(fileobj=io.BytesIO(data.read())) as inner:
                for member in inner.getmembers():
                    name = member.name
                    if member.isdir():
                        continue
                    if name.startswith(("root/.cache/", "opt/repro/uv/", "var/lib/apt/lists/")):
                        offending.append(name)
    assert offending == []


def _layer_count(engine: DockerEngine, image: str) -> int:
    with io.BytesIO() as buf:
        engine.save([image], buf)
        buf.seek(0)
        with tarfile.open(fileobj=buf) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    return len(manifest[0]["Layers"])


def test_large_files_are_left_out_and_named_unless_kept(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    repo = tmp_path / "ckpt-repo"
    repo.mkdir()
    (repo / "main.py").write_text("import json\n\nprint(json.dumps({'ok': True}))\n")
    (repo / "weights").mkdir()
    (repo / "weights" / "model.pt").write_bytes(b"\x01" * 3_000_000)
    (repo / "tests").mkdir()
    (repo / "tests" / "tiny.npy").write_bytes(b"\x00" * 2_000)
    url, sha = github.publish(repo)
    tag = f"repro/acme-ckpt-repo:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]

    code, _, stderr = pack(url, "--out", str(tmp_path / "out"), "--smoke", "python main.py")
    assert code == 0, stderr
    assert "left out of the image" in stderr and "weights/model.pt (3.0 MB)" in stderr
    manifest = json.loads(next((tmp_path / "out").glob("*/repro.json")).read_text())
    assert manifest["context"]["large_files"] == [
        {"path": "weights/model.pt", "bytes": 3_000_000, "reason": "checkpoint or data file (.pt)"}
    ]
    assert manifest["context"]["large_files_kept"] is False
    limits = RunLimits(timeout=60)
    assert engine.run(tag, ["test", "-e", "/app/weights/model.pt"], limits).exit_code == 1
    assert engine.run(tag, ["test", "-e", "/app/tests/tiny.npy"], limits).exit_code == 0

    code, _, stderr = pack(
        url, "--out", str(tmp_path / "kept"), "--smoke", "python main.py", "--keep-large-files"
    )
    assert code == 0, stderr
    assert "kept in the image" in stderr
    assert engine.run(tag, ["test", "-e", "/app/weights/model.pt"], limits).exit_code == 0


DEVEL = BaseImage(
    name="nvidia/cuda:12.6.3-devel-ubuntu22.04",
    python="3.11",
    python_source="apt",
    gpu=True,
    cuda=CudaChoice(cuda="12.6", cudnn=None, flavour="devel", min_driver=None),
    reasons=(),
    variant="py3.11-cu126",
)


def test_a_devel_stage_copied_into_a_runtime_stage_gives_a_working_image(
    engine: DockerEngine, tmp_path: Path, cleanup_images: list[str]
) -> None:
    """On the stand-ins (no CUDA at all: docs/standins.md) this proves the two-stage
    Dockerfile runs: Python on both stages, the environment and the built tree copied over."""
    require_images(engine, DEVEL.name, "nvidia/cuda:12.6.3-runtime-ubuntu22.04")
    recipe = df.Recipe(
        base=DEVEL,
        source_url="https://github.com/acme/kernels",
        commit="0" * 40,
        requirements=("six==1.16.0",),
        installer="uv",
        exclude_newer="2024-03-01T00:00:00Z",
        runtime_base="nvidia/cuda:12.6.3-runtime-ubuntu22.04",
        runtime_reason="setup.py:3 compiles against CUDA at build time",
        build_extensions=True,
        buildkit=engine.buildkit,
    )
    rendered = df.render(recipe)
    workdir = tmp_path / "ctx"
    (workdir / "src").mkdir(parents=True)
    (workdir / "src" / "kernels.py").write_text("import six\n\nVERSION = six.__version__\n")
    (workdir / "src" / "setup.py").write_text(
        "from setuptools import setup\n\n"
        "open('BUILT', 'w').write('in the devel stage')  # stands in for a compiled extension\n"
        "setup(name='kernels', py_modules=['kernels'])\n"
    )
    context = build.prepare_context(workdir, rendered.dockerfile, rendered.files, [])
    tag = f"repro-test/two-stages:{uuid.uuid4().hex[:8]}"
    cleanup_images.append(tag)
    build.build(
        engine, context, tags=[tag], labels={}, settings=BuildSettings(), on_line=lambda _: None
    )
    limits = RunLimits(timeout=60)
    out = engine.run(tag, ["python", "-c", "import kernels; print(kernels.VERSION)"], limits)
    assert out.exit_code == 0 and "1.16.0" in out.output, out.output
    lock = engine.run(tag, ["cat", "/opt/repro/lock.txt"], limits)
    assert "six==1.16.0" in lock.output
    assert engine.run(tag, ["test", "-e", "/opt/repro/uv"], limits).exit_code == 1
    assert engine.run(tag, ["test", "-f", "/app/BUILT"], limits).exit_code == 0  # from devel
