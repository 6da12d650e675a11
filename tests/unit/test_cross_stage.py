"""Decisions that cross stages: infer ↔ base image ↔ Dockerfile must tell one story."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from repro import base_image, dockerfile, pipeline, versions
from repro.errors import BuildError, EngineError, InferenceError
from repro.fetch import parse_source
from repro.infer import infer
from repro.models import (
    DeclaredRequirement,
    Evidence,
    ImportSite,
    InferSettings,
    Options,
    Origin,
    Prepared,
    PythonHint,
)
from repro.report import QuietReporter
from tests.conftest import commit_all
from tests.fakes import FakeEngine, pack_local

LATE = dt.datetime(2025, 9, 1, tzinfo=dt.timezone.utc)  # torchvision 0.23.0 is the newest then


def _decl(text: str, name: str, line: int) -> DeclaredRequirement:
    return DeclaredRequirement(
        requirement=text,
        name=name,
        origin=Origin(kind="requirements", path="requirements.txt", line=line),
    )


def _torch_family(torch: str = "torch", vision: str = "torchvision") -> Evidence:
    names = ("torch", "torchvision", "torchaudio")
    texts = (torch, vision, "torchaudio")
    return Evidence(
        declared=tuple(
            _decl(t, n, i + 1) for i, (t, n) in enumerate(zip(texts, names, strict=True))
        ),
        imports=tuple(
            ImportSite(module=n, origin=Origin(kind="import", path="train.py", line=i + 1))
            for i, n in enumerate(names)
        ),
    )


def _versions(evidence: Evidence, options: Options) -> dict[str, str | None]:
    env = infer(evidence, InferSettings.of(options), commit_date=LATE)
    return {r.name: r.version for r in env.requirements}


# ----------------------------------------------------------------- torch companions


def test_companions_follow_a_pinned_torch_not_the_commit_date() -> None:
    got = _versions(_torch_family("torch==1.8.1"), Options())
    # pytorch/vision's table (repro/data/compat.json): 1.8.1 ↔ 0.9.1, torchaudio 0.8.1
    assert got == {"torch": "1.8.1", "torchvision": "0.9.1", "torchaudio": "0.8.1"}


def test_companions_follow_a_pin_on_the_command_line() -> None:
    got = _versions(_torch_family(), Options(pins=("torch==1.8.1",)))
    assert got["torchvision"] == "0.9.1" and got["torchaudio"] == "0.8.1"


def test_companions_follow_a_torch_chosen_by_date() -> None:
    # before 2.6.0 (2025-01-29): torch 2.5.1, and torchvision must be its 0.20.1
    env = infer(
        _torch_family(),
        InferSettings(),
        commit_date=dt.datetime(2025, 1, 20, tzinfo=dt.timezone.utc),
    )
    got = {r.name: r for r in env.requirements}
    assert got["torch"].version == "2.5.1"
    assert got["torchvision"].version == "0.20.1" and got["torchaudio"].version == "2.5.1"
    assert any("goes with torch 2.5.1" in r for r in got["torchvision"].reasons)


def test_torch_follows_a_pinned_companion() -> None:
    got = _versions(_torch_family(vision="torchvision==0.5.0"), Options())
    assert got["torch"] == "1.4.0"  # torchvision 0.5.0 was made for torch 1.4.0


def test_a_declared_companion_range_that_excludes_the_pair_is_reported() -> None:
    env = infer(
        _torch_family("torch==1.8.1", "torchvision>=0.10"), InferSettings(), commit_date=LATE
    )
    vision = next(r for r in env.requirements if r.name == "torchvision")
    assert vision.version != "0.9.1"
    assert any("torchvision" in c and "0.9.1" in c for c in env.conflicts)


def test_python_reasons_do_not_cite_a_companion_version_that_is_not_installed() -> None:
    env = infer(_torch_family("torch==1.8.1"), InferSettings(), commit_date=LATE)
    assert not any("torchvision 0.23" in r for r in env.python.reasons)


def test_a_companion_that_stopped_caps_torch() -> None:
    # mlfoundations/open_clip: torch>=2.6 and torchaudio; no torchaudio exists after 2.11.0
    later = dt.datetime(2026, 6, 27, tzinfo=dt.timezone.utc)
    env = infer(_torch_family("torch>=2.6"), InferSettings(), commit_date=later)
    got = {r.name: r.version for r in env.requirements}
    assert got == {"torch": "2.11.0", "torchvision": "0.26.0", "torchaudio": "2.11.0"}
    torch = next(c for c in env.choices if c.name == "torch")
    assert any("no torchaudio goes with a newer torch" in c for c in torch.chain)


def test_a_pinned_torch_no_companion_goes_with_is_reported() -> None:
    env = infer(_torch_family("torch==2.12.1"), InferSettings(), commit_date=LATE)
    assert any(c.startswith("torchaudio: no release goes with torch 2.12.1") for c in env.conflicts)


def _git_repo(root: Path, files: dict[str, str], date: str) -> Path:
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    commit_all(root, date=date)
    return root


def _plan(root: Path, options: Options, tmp_path: Path) -> Prepared:
    work = tmp_path / "work"
    work.mkdir(parents=True, exist_ok=True)
    return pipeline.prepare(
        parse_source(str(root)), options, work, QuietReporter(), probe_gpu=lambda: None
    )


@pytest.mark.parametrize("cpu", [True, False], ids=["cpu", "gpu"])
def test_cpu_and_gpu_images_install_the_same_companions(tmp_path: Path, cpu: bool) -> None:
    root = _git_repo(
        tmp_path / "repo",
        {
            "requirements.txt": "torch==1.8.1\ntorchvision\n",
            "train.py": "import torch\nimport torchvision\n",
        },
        "2025-09-01T12:00:00+00:00",
    )
    prepared = _plan(root, Options(cpu=cpu), tmp_path)
    plan = prepared.plan
    installed = prepared.files[".repro/requirements-framework.txt"]
    assert "torchvision==0.9.1" in installed  # +cuXYZ on the GPU image
    assert "0.23.0" not in installed
    assert not any("chosen by date" in r for r in plan.base.reasons)
    assert base_image.gpu_frameworks(plan.environment) == ["torch", "torchvision"]


# ----------------------------------------------------------------- Python ↔ base image

MONOREPO = Path(__file__).parents[2] / "fixtures" / "corpus" / "monorepo-experiments"


def test_python_moves_when_only_the_python_keeps_a_gpu_base_out(tmp_path: Path) -> None:
    # torch 1.4.0 + tensorflow 2.3.0 need CUDA 10.1, whose nvidia/cuda tags were deleted;
    # the stand-in images have Python 3.6/3.7, and both frameworks have wheels for 3.7.
    plan = _plan(MONOREPO, Options(), tmp_path).plan
    assert plan.environment.python.version == "3.7"
    assert plan.base.name.startswith("pytorch/pytorch:1.4-cuda10.1")
    assert plan.decision is not None and plan.decision["step"] == "python"
    (gave_up,) = plan.decision["gave_up"]
    assert gave_up["constraint"] == "Python 3.8 (chosen for the code's date)"
    assert plan.environment.python.reasons[0].startswith("no GPU base serves")
    assert "CUDA 10.1" in plan.decision["ladder"][0]["detail"]
    # the versions are said for the Python installed, not only the one passed over
    for choice in plan.environment.choices:
        if any("Python 3.8" in step for step in choice.chain):
            assert choice.chain[-1].endswith("for Python 3.7"), choice.chain


def test_a_python_the_user_chose_is_not_moved(tmp_path: Path) -> None:
    # With Python 3.8 no base serves torch 1.4 and TF 2.3 together; torch, the framework
    # the code imports most, keeps the GPU (its cu101 wheel on the oldest CUDA 11 image)
    # and TensorFlow installs as a CPU build.
    plan = _plan(MONOREPO, Options(python="3.8"), tmp_path).plan
    assert plan.environment.python.version == "3.8"
    assert plan.decision is not None and plan.decision["step"] == "primary-gpu"
    assert plan.base.cuda is not None
    assert dict(plan.base.cuda.requirements)["tensorflow"] == "tensorflow-cpu==2.3.0"
    assert [g["constraint"] for g in plan.decision["gave_up"]] == ["tensorflow on the GPU"]


def test_no_gpu_plan_names_the_first_choice_python_when_a_gpu_is_required(tmp_path: Path) -> None:
    # CUDA 12.6 fits no torch 1.4.0 build, whatever the Python: the plan is a CPU image,
    # and with --require-gpu the error names the Python infer chose, not the last one tried
    plan = _plan(MONOREPO, Options(cuda="12.6"), tmp_path / "a").plan
    assert not plan.base.gpu and plan.environment.python.version == "3.8"
    assert plan.decision is not None and plan.decision["step"] == "cpu"
    assert any(w.startswith("no GPU base image fits") for w in plan.warnings)
    with pytest.raises(InferenceError, match=r"\(Python 3\.8\)"):
        _plan(MONOREPO, Options(cuda="12.6", require_gpu=True), tmp_path / "b")


def test_avoided_pythons_are_passed_over_only_while_another_remains() -> None:
    releases = {"3.6": dt.date(2016, 12, 23), "3.7": dt.date(2018, 6, 27)}
    releases |= {"3.8": dt.date(2019, 10, 14)}
    hint = PythonHint(specifier=">=3.7", origin=Origin(kind="setup.py", path="setup.py"))
    choice, _ = versions.python_among(
        [hint], releases=releases, as_of=dt.date(2022, 1, 1), avoid={"3.8": "no image"}
    )
    assert choice.version == "3.7" and "not 3.8: no image" in choice.reasons
    every, _ = versions.python_among(
        [hint], releases=releases, as_of=dt.date(2022, 1, 1), avoid={"3.8": "x", "3.7": "y"}
    )
    assert every.version == "3.8"  # nothing else the evidence allows: not moved


# ----------------------------------------------------------------- a base image the engine lacks


def test_a_base_image_that_cannot_be_pulled_is_one_line_before_the_build(tmp_path: Path) -> None:
    root = _git_repo(tmp_path / "repo", {"main.py": "import json\n"}, "2024-06-01T12:00:00+00:00")
    engine = FakeEngine(
        images=["python:3.11-slim"],
        pull_error=EngineError(
            "cannot pull python:3.13-slim: no registry is reachable from the engine "
            "(lookup: no such host)"
        ),
    )
    out = tmp_path / "out"
    with pytest.raises(BuildError) as caught:
        pack_local(root, Options(python="3.13", out=out), engine)
    error = caught.value
    assert error.message == (
        "base image python:3.13-slim is not on this engine and cannot be pulled: "
        "no registry is reachable from the engine (lookup: no such host)"
    )
    assert "\n" not in error.message and "unknown step" not in error.message
    assert "--python 3.11 uses a base image this engine has (python:3.11-slim)" in error.hint
    assert "scripts/standin-images.sh" in error.hint and "--base-image" in error.hint
    assert engine.pulled == ["python:3.13-slim"] and not engine.contexts
    assert not out.exists()


def test_the_images_a_dockerfile_starts_from_are_not_its_stages() -> None:
    text = (
        "FROM nvidia/cuda:12.6.3-devel-ubuntu22.04 AS env\nRUN x\nFROM env AS uv\n"
        "FROM env AS deps\nFROM nvidia/cuda:12.6.3-runtime-ubuntu22.04\nCOPY --from=deps / /\n"
    )
    assert dockerfile.external_images(text) == (
        "nvidia/cuda:12.6.3-devel-ubuntu22.04",
        "nvidia/cuda:12.6.3-runtime-ubuntu22.04",
    )
