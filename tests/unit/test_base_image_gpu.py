"""GPU base selection on real cases: framework release -> CUDA build -> tag (or fallback).

Each row is a repository a user could bring; the expected image is what the compatibility
data and the tie-break rules give (newest patch of the minor, then newest Ubuntu that can
install the Python). See docs/gpu.md for the rules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from repro import base_image
from repro.errors import InferenceError, UsageError
from repro.models import BaseSettings, Environment, Evidence, HostGpu
from tests.unit.gpu_helpers import compiles_cuda, env


@dataclass(frozen=True)
class Case:
    environment: Environment
    image: str
    lines: dict[str, str] = field(default_factory=dict)
    options: BaseSettings = field(default_factory=BaseSettings)
    evidence: Evidence | None = None
    host: HostGpu | None = None
    python_source: str = "apt"
    cuda: str | None = None
    cudnn: str | None = None
    index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()  # substrings that must appear among the reasons


TORCH_STABLE = "https://download.pytorch.org/whl/torch_stable.html"
JAX_LINKS = "https://storage.googleapis.com/jax-releases/jax_cuda_releases.html"

CASES = {
    # torch 1.4.0's PyPI wheel is its CUDA 10.1 build; every 10.x nvidia/cuda tag was deleted
    # in June 2023, so PyTorch's own 1.4 image (Python 3.7, torch preinstalled) stands in.
    "torch 1.4.0 py3.7 -> cu101 -> pytorch/pytorch fallback": Case(
        env("3.7", "torch==1.4.0"),
        "pytorch/pytorch:1.4-cuda10.1-cudnn7-runtime",
        {"torch": "torch==1.4.0"},
        python_source="image",
        cuda="10.1",
        reasons=("CUDA 10.1 were deleted (2023-06)", "CUDA builds 9.2, 10.0, 10.1, PyPI's is 10.1"),
    ),
    # No fallback has Python 3.8: the cu101 wheel carries its CUDA, so the oldest CUDA 11
    # image that has Python 3.8 serves as a driver-only base.
    "torch 1.4.0 py3.8 -> cu101 -> oldest CUDA 11 image": Case(
        env("3.8", "torch==1.4.0", "torchvision"),
        "nvidia/cuda:11.0.3-runtime-ubuntu20.04",
        {"torch": "torch==1.4.0", "torchvision": "torchvision==0.5.0"},
        cuda="11.0",
        reasons=("carry their own CUDA 10.1 and need only a driver",),
    ),
    "tensorflow-gpu 1.15 py3.6 -> CUDA 10.0/cuDNN 7 -> deleted -> tensorflow image": Case(
        env("3.6", "tensorflow-gpu==1.15.0"),
        "tensorflow/tensorflow:1.15.0-gpu-py3",
        {"tensorflow-gpu": "tensorflow-gpu==1.15.0"},
        python_source="image",
        cuda="10.0",
        cudnn="7",
        reasons=("loads CUDA 10.0 and cuDNN 7.4 from the image", "CUDA 10.0 were deleted"),
    ),
    "tensorflow-gpu 1.15 py2.7 -> the Python 2 tensorflow image": Case(
        env("2.7", "tensorflow-gpu==1.15.0"),
        "tensorflow/tensorflow:1.15.0-gpu",
        python_source="image",
        cuda="10.0",
        cudnn="7",
    ),
    "tensorflow 1.14 on a GPU installs tensorflow-gpu": Case(
        env("3.6", "tensorflow==1.14.0"),
        "tensorflow/tensorflow:1.14.0-gpu-py3",
        {"tensorflow": "tensorflow-gpu==1.14.0"},
        python_source="image",
        cuda="10.0",
        cudnn="7",
        reasons=("installed as tensorflow-gpu for the GPU",),
    ),
    "jax 0.4.25 with --cuda 11.8 -> jax[cuda11_pip] on CUDA 11.8": Case(
        env("3.10", "jax==0.4.25"),
        "nvidia/cuda:11.8.0-runtime-ubuntu22.04",
        {"jax": "jax[cuda11_pip]==0.4.25"},
        options=BaseSettings(cuda="11.8"),
        cuda="11.8",
        find_links=(JAX_LINKS,),
        reasons=("CUDA 11.8: asked for with --cuda",),
    ),
    "jax[cuda11_pip]==0.4.25 asks for CUDA 11 itself": Case(
        env("3.11", "jax[cuda11_pip]==0.4.25"),
        "nvidia/cuda:11.8.0-runtime-ubuntu22.04",
        {"jax": "jax[cuda11_pip]==0.4.25"},
        cuda="11.8",
        find_links=(JAX_LINKS,),
        python_source="deadsnakes",
    ),
    "jax 0.4.25 without a CUDA wish -> its preferred CUDA 12 build": Case(
        env("3.11", "jax==0.4.25"),
        "nvidia/cuda:12.3.2-runtime-ubuntu22.04",
        {"jax": "jax[cuda12_pip]==0.4.25"},
        cuda="12.3",
        find_links=(JAX_LINKS,),
        python_source="deadsnakes",
    ),
    "a jaxlib CUDA 11 label picks jax's CUDA 11 build": Case(
        env("3.10", "jax==0.4.25", "jaxlib==0.4.25+cuda11.cudnn86"),
        "nvidia/cuda:11.8.0-runtime-ubuntu22.04",
        {"jax": "jax[cuda11_pip]==0.4.25", "jaxlib": "jaxlib==0.4.25+cuda11.cudnn86"},
        cuda="11.8",
        find_links=(JAX_LINKS,),
    ),
    "unpinned tensorflow in mid-2021 code -> 2.5.0, CUDA 11.2 + cuDNN 8 image": Case(
        env("3.8", "tensorflow", as_of=dt.date(2021, 6, 1)),
        "nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04",
        {"tensorflow": "tensorflow==2.5.0"},
        cuda="11.2",
        cudnn="8",
        reasons=("the newest release by 2021-06-01 (the code's date)",),
    ),
    "torch 2.5.1 + CUDA extension -> devel of its CUDA": Case(
        env("3.11", "torch==2.5.1"),
        "nvidia/cuda:12.4.1-devel-ubuntu22.04",
        {"torch": "torch==2.5.1"},
        evidence=compiles_cuda(),
        cuda="12.4",
        reasons=("devel flavour (nvcc, headers): setup.py: CUDAExtension (setup.py:12",),
        python_source="deadsnakes",
    ),
    "torch 2.13.0 -> its PyPI CUDA 13.0 build, newest Ubuntu via deadsnakes": Case(
        env("3.11", "torch==2.13.0", "torchvision"),
        "nvidia/cuda:13.0.3-runtime-ubuntu24.04",
        {"torch": "torch==2.13.0", "torchvision": "torchvision==0.28.0"},
        python_source="deadsnakes",
        cuda="13.0",
    ),
    "an R560 host driver steps torch 2.13.0 down to its cu126 build": Case(
        env("3.11", "torch==2.13.0", "torchvision"),
        "nvidia/cuda:12.6.3-runtime-ubuntu24.04",
        {"torch": "torch==2.13.0+cu126", "torchvision": "torchvision==0.28.0+cu126"},
        host=HostGpu(driver="560.35.03"),
        python_source="deadsnakes",
        cuda="12.6",
        index_urls=("https://download.pytorch.org/whl/cu126",),
        reasons=(
            "host driver 560.35.03 (nvidia-smi) suffices for CUDA 12.6",
            "torch 2.13.0+cu130 set aside: the host driver 560.35.03 is older than CUDA 13.0 "
            "needs (>= 580.65.06)",
        ),
    ),
    "tensorflow 2.12 needs CUDA 11.8 and cuDNN 8 in the image": Case(
        env("3.10", "tensorflow==2.12.0"),
        "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04",
        {"tensorflow": "tensorflow==2.12.0"},
        cuda="11.8",
        cudnn="8",
        reasons=("must hold cuDNN 8.6 (this one has 8.9.6.50)",),
    ),
    "tensorflow 2.4 -> 11.0.3 with cuDNN 8 on focal": Case(
        env("3.8", "tensorflow==2.4.1"),
        "nvidia/cuda:11.0.3-cudnn8-runtime-ubuntu20.04",
        cuda="11.0",
        cudnn="8",
    ),
    # No 12.3 + cuDNN 8 tag exists (12.3.2 ships cuDNN 9): tensorflow[and-cuda] avoids it.
    "tensorflow 2.16 -> tensorflow[and-cuda], no cuDNN tag needed": Case(
        env("3.11", "tensorflow==2.16.1"),
        "nvidia/cuda:12.3.2-runtime-ubuntu22.04",
        {"tensorflow": "tensorflow[and-cuda]==2.16.1"},
        cuda="12.3",
        reasons=("no cuDNN in the image",),
        python_source="deadsnakes",
    ),
    "torch 1.10.0 on Python 3.6 -> bionic, the last Ubuntu with 3.6": Case(
        env("3.6", "torch==1.10.0"),
        "nvidia/cuda:11.3.1-runtime-ubuntu18.04",
        {"torch": "torch==1.10.0+cu113"},
        cuda="11.3",
        find_links=(TORCH_STABLE,),
        reasons=("Ubuntu 20.04 cannot install Python 3.6",),
    ),
    "torch 1.8.1: PyPI's cu102 has no tag, its cu111 build has": Case(
        env("3.8", "torch==1.8.1"),
        "nvidia/cuda:11.1.1-runtime-ubuntu20.04",
        {"torch": "torch==1.8.1+cu111"},
        cuda="11.1",
        find_links=(TORCH_STABLE,),
        reasons=("torch 1.8.1+cu102 set aside: the nvidia/cuda tags of CUDA 10.2 were deleted",),
    ),
    "torch 2.5.1 family with --cuda 11.8 agree on cu118": Case(
        env("3.11", "torch==2.5.1", "torchvision", "torchaudio"),
        "nvidia/cuda:11.8.0-runtime-ubuntu22.04",
        {
            "torch": "torch==2.5.1+cu118",
            "torchvision": "torchvision==0.20.1+cu118",
            "torchaudio": "torchaudio==2.5.1",
        },
        options=BaseSettings(cuda="11.8"),
        cuda="11.8",
        index_urls=("https://download.pytorch.org/whl/cu118",),
        python_source="deadsnakes",
    ),
    "torch 2.1 + tensorflow 2.15: one CUDA 12.2 base for both": Case(
        env("3.10", "torch==2.1.0", "tensorflow==2.15.0"),
        "nvidia/cuda:12.2.2-runtime-ubuntu22.04",
        {"torch": "torch==2.1.0", "tensorflow": "tensorflow[and-cuda]==2.15.0"},
        cuda="12.2",
    ),
    "unpinned torch in 2021 code -> torch 1.7.1 of that date, cu110": Case(
        env("3.8", "torch", as_of=dt.date(2021, 1, 15)),
        "nvidia/cuda:11.0.3-runtime-ubuntu20.04",
        {"torch": "torch==1.7.1+cu110"},
        cuda="11.0",
        find_links=(TORCH_STABLE,),
        reasons=("the newest release by 2021-01-15",),
    ),
    "a wheelhouse torch+cu130 keeps its line and needs no index": Case(
        env("3.11", "torch", versions={"torch": "2.13.0+cu130"}),
        "nvidia/cuda:13.0.3-runtime-ubuntu24.04",
        {"torch": "torch==2.13.0+cu130"},
        python_source="deadsnakes",
        cuda="13.0",
    ),
    "cupy-cuda11x loads CUDA from the image: a CUDA 11 runtime tag": Case(
        env("3.10", "cupy-cuda11x"),
        "nvidia/cuda:11.7.1-runtime-ubuntu22.04",
        cuda="11.7",
    ),
    "--cuda without a GPU framework still gives a CUDA image": Case(
        env("3.11", "numpy"),
        "nvidia/cuda:12.4.1-runtime-ubuntu22.04",
        options=BaseSettings(cuda="12.4"),
        cuda="12.4",
        python_source="deadsnakes",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gpu_case(name: str) -> None:
    case = CASES[name]
    base = base_image.select(case.environment, case.options, evidence=case.evidence, host=case.host)
    assert base.name == case.image
    assert base.gpu and base.cuda is not None
    assert base.python_source == case.python_source
    assert base.venv == (case.python_source != "image")
    lines = dict(base.cuda.requirements)
    for pkg, line in case.lines.items():
        assert lines[pkg] == line
    assert base.cuda.cuda == case.cuda
    assert base.cuda.cudnn == case.cudnn
    assert base.cuda.index_urls == case.index_urls
    assert base.cuda.find_links == case.find_links
    assert base.cuda.flavour == ("devel" if case.evidence else "runtime")
    text = "\n".join(base.reasons)
    for wanted in case.reasons:
        assert wanted in text
    assert base.reasons[0].startswith(f"Python {case.environment.python.version}")


def test_driver_too_old_for_every_build_says_so_and_keeps_the_image() -> None:
    base = base_image.select(
        env("3.11", "torch==2.13.0"), BaseSettings(), host=HostGpu(driver="470.82.01")
    )
    assert base.name == "nvidia/cuda:13.0.3-runtime-ubuntu24.04"
    assert base.cuda is not None and base.cuda.driver_ok is False
    assert base.cuda.host_driver == "470.82.01"
    assert any("470.82.01 is older than CUDA 13.0 needs (>= 580.65.06)" in w for w in base.warnings)


def test_no_host_gpu_checks_nothing() -> None:
    base = base_image.select(env("3.11", "torch==2.13.0"), BaseSettings())
    assert base.cuda is not None and base.cuda.driver_ok is None and base.warnings == ()


@pytest.mark.parametrize(
    ("environment", "options", "message"),
    [
        (
            env("3.7", "tensorflow-gpu==1.15.0"),
            BaseSettings(),
            "tensorflow-gpu 1.15.0 (CUDA 10.0, cuDNN 7.4) + Python 3.7: the nvidia/cuda tags of "
            "CUDA 10.0 were deleted (2023-06); the fallback images for CUDA 10.0 have "
            "Python 2.7, 3.5, 3.6",
        ),
        (
            env("3.9", "torch==1.4.0"),
            BaseSettings(),
            "torch 1.4.0 has wheels for Python 2.7, 3.5-3.8, not 3.9",
        ),
        (
            env("3.10", "tensorflow-gpu==2.12.0"),
            BaseSettings(),
            "tensorflow-gpu 2.12.0 does not exist as a working package",
        ),
        (
            env("3.8", "torch==1.4.0", "torchvision==0.6.0"),
            BaseSettings(),
            "torchvision 0.6.0 does not go with torch 1.4.0 (torchvision 0.5.0 does)",
        ),
        (
            env("3.11", "torch==2.99.0"),
            BaseSettings(),
            "torch 2.99.0 is not in repro's compatibility data",
        ),
        (
            env("3.11", "torch==2.5.1"),
            BaseSettings(cuda="13.0"),
            "torch 2.5.1 (CUDA 11.8, 12.1, 12.4) + Python 3.11 + --cuda 13.0",
        ),
        (
            env("3.12", "tensorflow==2.12.0"),
            BaseSettings(),
            "tensorflow 2.12.0 has wheels for Python 3.8-3.11, not 3.12",
        ),
    ],
)
def test_dead_ends_name_the_clash(
    environment: Environment, options: BaseSettings, message: str
) -> None:
    with pytest.raises(InferenceError) as info:
        base_image.select(environment, options)
    assert message in info.value.message
    assert "\n" not in info.value.message
    assert info.value.hint


@pytest.mark.parametrize("bad", ["12", "12.7", "twelve", "12.6.3"])
def test_cuda_option_is_checked(bad: str) -> None:
    with pytest.raises(UsageError, match=f"--cuda {bad}"):
        base_image.select(env("3.11", "torch==2.5.1"), BaseSettings(cuda=bad))


def test_cpu_option_keeps_the_slim_image() -> None:
    base = base_image.select(env("3.11", "torch==2.5.1"), BaseSettings(cpu=True))
    assert base.name == "python:3.11-slim" and not base.gpu and base.cuda is None
    assert "--cpu: CPU-only builds of torch" in base.reasons


def test_a_cpu_build_from_the_wheelhouse_needs_no_cuda() -> None:
    base = base_image.select(env("3.11", "torch", versions={"torch": "2.13.0+cpu"}), BaseSettings())
    assert base.name == "python:3.11-slim" and not base.gpu
    assert any("is a CPU build" in r for r in base.reasons)


def test_cuda_code_without_a_gpu_framework_suggests_cuda() -> None:
    base = base_image.select(env("3.11", "numpy"), BaseSettings(), evidence=compiles_cuda())
    assert not base.gpu
    assert any("--cuda X.Y" in r for r in base.reasons)


def test_base_image_option_wins() -> None:
    base = base_image.select(env("3.11", "torch==2.5.1"), BaseSettings(base_image="my/img:1"))
    assert base.name == "my/img:1" and base.reasons == ("--base-image my/img:1",)


def test_python_packages_follow_the_ubuntu_release() -> None:
    bionic = base_image.select(env("3.6", "torch==1.10.0"), BaseSettings())
    assert bionic.cuda is not None and bionic.cuda.ubuntu == "18.04"
    # on bionic a venv's pip 9.0.1 imports distutils, which Ubuntu splits out
    assert bionic.cuda.python_packages == ("python3.6", "python3.6-venv", "python3-distutils")
    devel = base_image.select(env("3.11", "torch==2.5.1"), BaseSettings(), evidence=compiles_cuda())
    assert devel.cuda is not None and devel.python_source == "deadsnakes"
    assert devel.cuda.python_packages == ("python3.11", "python3.11-venv", "python3.11-dev")


def test_a_companion_chosen_by_date_yields_to_torchs_pairing() -> None:
    # torchvision's version was chosen by date, not declared: it follows torch's release
    environment = env("3.8", "torch==1.8.1", "torchvision", versions={"torchvision": "0.23.0"})
    base = base_image.select(environment, BaseSettings())
    assert base.cuda is not None
    assert dict(base.cuda.requirements)["torchvision"] == "torchvision==0.9.1+cu111"
    assert any("torchvision 0.9.1 goes with torch 1.8.1 (not 0.23.0" in r for r in base.reasons)


def test_a_declared_companion_decides_torch_over_a_date_choice() -> None:
    environment = env("3.7", "torch", "torchvision==0.5.0", versions={"torch": "1.13.1"})
    base = base_image.select(environment, BaseSettings())
    assert base.cuda is not None
    assert dict(base.cuda.requirements)["torch"] == "torch==1.4.0"
