"""repro pack on a GPU plan with a fake engine: the smoke run asks for GPUs only when the
engine has them and the host driver can start the image; the manifest says which."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from repro import pipeline
from repro.engine import ImageInfo, RunLimits, RunResult
from repro.fetch import parse_source
from repro.models import HostGpu, Options
from repro.report import QuietReporter
from tests.docker_archive import image_archive, image_id


class FakeEngine:
    buildkit = True

    def __init__(self, gpus: bool) -> None:
        self.gpus = gpus
        self.runs: list[tuple[Sequence[str], RunLimits]] = []

    def ping(self) -> None: ...

    def image_info(self, ref: str) -> ImageInfo:
        return ImageInfo(id=image_id(), repo_digests=(), size=1, labels={}, created="")

    def build(
        self,
        context: Path,
        *,
        tags: Sequence[str],
        labels: Mapping[str, str],
        secrets: Mapping[str, Path],
        on_line: object,
    ) -> tuple[str, float, str]:
        self.dockerfile = (context / "Dockerfile").read_text()
        self.framework_file = (context / ".repro" / "requirements-framework.txt").read_text()
        return image_id(), 0.5, ""

    def run(self, image: str, argv: Sequence[str], limits: RunLimits) -> RunResult:
        self.runs.append((argv, limits))
        return RunResult(exit_code=0, output="torch==2.5.1\n", seconds=0.1)

    def tag(self, image: str, ref: str) -> None: ...
    def save(self, refs: Sequence[str], out: object) -> None:
        out.write(image_archive(list(refs)))  # type: ignore[attr-defined]

    def load(self, path: Path) -> list[str]:
        return []

    def remove_image(self, ref: str) -> None: ...
    def gpu_available(self) -> bool:
        return self.gpus


@pytest.fixture
def gpu_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "gpu-paper"
    repo.mkdir()
    (repo / "requirements.txt").write_text("torch==2.5.1\n")
    (repo / "train.py").write_text("import torch\nprint(torch.cuda.is_available())\n")
    return repo


class Infos(QuietReporter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)


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
    engine = FakeEngine(engine_gpus)
    options = Options(smoke="python train.py", out=tmp_path / "out", python="3.11")
    reporter = Infos()
    result = pipeline.pack(
        parse_source(str(gpu_repo)),
        options,
        reporter,
        engine_factory=lambda: engine,  # type: ignore[arg-type,return-value]
        probe_gpu=lambda: host,
    )
    smoke_argv, limits = engine.runs[-1]
    assert list(smoke_argv)[-1] == "python train.py"
    assert limits.gpus is asked
    manifest = json.loads((result.artifact_dir / "repro.json").read_text())
    assert manifest["smoke"]["gpu"] is asked
    assert manifest["base_image"]["gpu"] is True
    assert manifest["cuda"]["driver_ok"] is driver_ok
    assert manifest["cuda"]["arch_ok"] is arch_ok
    assert manifest["cuda"]["requirements"]["torch"].startswith("torch==2.5.1")
    assert "FROM nvidia/cuda:" in engine.dockerfile
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
    engine = FakeEngine(False)
    options = Options(smoke="python model.py", out=tmp_path / "out", python="3.6")
    result = pipeline.pack(
        parse_source(str(repo)),
        options,
        QuietReporter(),
        engine_factory=lambda: engine,  # type: ignore[arg-type,return-value]
        probe_gpu=lambda: None,
    )
    assert result.plan.base.name == "tensorflow/tensorflow:1.15.0-gpu-py3"
    assert engine.framework_file == "tensorflow-gpu==1.15.0\n"  # not tensorflow as well
    # the import corroborates the declared tensorflow-gpu (repro/merge.py): one requirement
    reqs = {r.name: r for r in result.plan.environment.requirements}
    assert "tensorflow" not in reqs
    assert any(o.path == "model.py" for o in reqs["tensorflow-gpu"].origins)
