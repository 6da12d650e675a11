"""repro pack on a GPU plan with a fake engine: the smoke run asks for GPUs only when the
engine has them and the host driver can start the image; the manifest says which."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repro.models import HostGpu, Options
from tests.fakes import FakeEngine, LinesReporter, pack_local


@pytest.fixture
def gpu_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "gpu-paper"
    repo.mkdir()
    (repo / "requirements.txt").write_text("torch==2.5.1\n")
    (repo / "train.py").write_text("import torch\nprint(torch.cuda.is_available())\n")
    return repo


RTX5090 = HostGpu(
    driver="570.124.06", gpus=("NVIDIA GeForce RTX 5090 (12.0)",), capabilities=("12.0",)
)
A100 = HostGpu(driver="560.35.03", gpus=("NVIDIA A100-SXM4-40GB (8.0)",), capabilities=("8.0",))


@pytest.mark.parametrize(
    ("engine_gpus", "host", "asked", "driver_ok", "arch_ok"),
    [
        (True, HostGpu(driver="560.35.03"), True, True, None),
        (True, A100, True, True, True),
        (False, None, False, None, None),  # no GPU: runs on the CPU
        (True, HostGpu(driver="470.82.01"), False, False, None),  # the image would not start
        (True, RTX5090, False, True, False),  # torch 2.5.1 has no Blackwell kernels
    ],
)
def test_smoke_requests_gpus_only_when_they_can_be_used(
    gpu_repo: Path,
    tmp_path: Path,
    engine_gpus: bool,
    host: HostGpu | None,
    asked: bool,
    driver_ok: bool | None,
    arch_ok: bool | None,
) -> None:
    engine = FakeEngine(gpus=engine_gpus, script=lambda argv: (0, "torch==2.5.1\n"))
    options = Options(smoke="python train.py", out=tmp_path / "out", python="3.11")
    reporter = LinesReporter()
    result = pack_local(gpu_repo, options, engine, reporter, host)
    _, smoke_argv, limits = engine.runs[-1]
    assert list(smoke_argv)[-1] == "python train.py"
    assert limits.gpus is asked
    manifest = json.loads((result.artifact_dir / "repro.json").read_text())
    assert manifest["smoke"]["gpu"] is asked
    assert manifest["base_image"]["gpu"] is True
    assert manifest["cuda"]["driver_ok"] is driver_ok
    assert manifest["cuda"]["arch_ok"] is arch_ok
    assert manifest["cuda"]["requirements"]["torch"].startswith("torch==2.5.1")
    assert "FROM nvidia/cuda:" in engine.dockerfiles[-1]
    if driver_ok is False:
        assert any("470.82.01 is older than CUDA" in w for w in manifest["warnings"])
    if arch_ok is False:
        assert (
            "the torch build has no kernels for the host's GPU (see the reasons): "
            "the smoke test runs on the CPU"
        ) in reporter.lines
        assert any("no kernels for the host's NVIDIA GeForce RTX 5090" in w
                   for w in manifest["warnings"])  # fmt: skip


def test_tensorflow_gpu_declared_and_tensorflow_imported_install_once(tmp_path: Path) -> None:
    repo = tmp_path / "tf-paper"
    repo.mkdir()
    (repo / "requirements.txt").write_text("tensorflow-gpu==1.15.0\n")
    (repo / "model.py").write_text("import tensorflow as tf\n")
    engine = FakeEngine(script=lambda argv: (0, "torch==2.5.1\n"))
    options = Options(smoke="python model.py", out=tmp_path / "out", python="3.6")
    result = pack_local(repo, options, engine)
    assert result.plan.base.name == "tensorflow/tensorflow:1.15.0-gpu-py3"
    assert (
        engine.contexts[-1][".repro/requirements-framework.txt"] == "tensorflow-gpu==1.15.0\n"
    )  # not tensorflow as well
    # the import corroborates the declared tensorflow-gpu (repro/merge.py): one requirement
    reqs = {r.name: r for r in result.plan.environment.requirements}
    assert "tensorflow" not in reqs
    assert any(o.path == "model.py" for o in reqs["tensorflow-gpu"].origins)
