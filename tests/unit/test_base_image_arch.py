"""The host GPU's compute capability against the kernels of the chosen torch build.

Real cases: old research code pinned to a torch whose wheels predate the GPU it now runs on
("no kernel image is available for execution on the device"). The facts are the data's
``torch_arch`` rows (see docs/gpu.md); the rule is CUDA's: SASS for sm_XY runs on devices
of major X and minor >= Y, PTX is JIT-compiled for any newer device.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from repro import base_image, compat
from repro.compat import TorchArch
from repro.models import BaseSettings, Environment, HostGpu
from tests.unit.gpu_helpers import env


def gpu(driver: str, *cards: tuple[str, str]) -> HostGpu:
    """``gpu("560.35.03", ("NVIDIA A100-SXM4-40GB", "8.0"))``, as hostgpu.parse makes it."""
    return HostGpu(
        driver=driver,
        gpus=tuple(f"{name} ({cap})" for name, cap in cards),
        capabilities=tuple(cap for _, cap in cards),
    )


A100 = gpu("560.35.03", ("NVIDIA A100-SXM4-40GB", "8.0"))
H100 = gpu("560.35.03", ("NVIDIA H100 80GB HBM3", "9.0"))
RTX4090 = gpu("560.35.03", ("NVIDIA GeForce RTX 4090", "8.9"))
RTX5090 = gpu("570.124.06", ("NVIDIA GeForce RTX 5090", "12.0"))
GTX980 = gpu("580.95.05", ("NVIDIA GeForce GTX 980", "5.2"))
V100_AND_5090 = gpu(
    "570.124.06", ("Tesla V100-SXM2-16GB", "7.0"), ("NVIDIA GeForce RTX 5090", "12.0")
)


@dataclass(frozen=True)
class Case:
    environment: Environment
    host: HostGpu
    torch: str  # the torch line installed
    arch_ok: bool | None
    reasons: tuple[str, ...] = ()  # substrings that must appear among the reasons
    warning: str | None = None  # a substring of the one warning expected
    options: BaseSettings = field(default_factory=BaseSettings)


CASES = {
    # torch 1.4 builds stop at sm_75 (cu92: sm_70): an A100 runs none of them. The image is
    # still built (for older GPUs); the reasons name the first build that would run.
    "A100 + torch 1.4.0: no build has sm_80": Case(
        env("3.8", "torch==1.4.0"),
        A100,
        "torch==1.4.0",
        False,
        reasons=("no kernels for the host's NVIDIA A100-SXM4-40GB (sm_80)", "sm_35,", "sm_75"),
        warning="the first torch with them is 1.7.0+cu110",
    ),
    # PyPI's torch 1.7.1 is the cu102 build (up to sm_75); its cu110 build has sm_80.
    "A100 + torch 1.7.1: cu110 over PyPI's cu102": Case(
        env("3.8", "torch==1.7.1"),
        A100,
        "torch==1.7.1+cu110",
        True,
        reasons=(
            "torch 1.7.1+cu102 set aside: no kernels for the host's NVIDIA A100-SXM4-40GB "
            "(sm_80); torch 1.7.1+cu110 has them",
            "CUDA 11.0: the CUDA torch 1.7.1+cu110 was built with",
        ),
    ),
    "H100 + torch 1.13.1: sm_86 is the newest, no PTX": Case(
        env("3.10", "torch==1.13.1"),
        H100,
        "torch==1.13.1",
        False,
        reasons=("(sm_90): it has sm_37", "sm_86 (no PTX)"),
        warning="the first torch with them is 2.0.0+cu118",
    ),
    # PyPI's torch 2.0.1 is the cu117 build; its cu118 build has sm_90.
    "H100 + torch 2.0.1: cu118 over PyPI's cu117": Case(
        env("3.10", "torch==2.0.1"),
        H100,
        "torch==2.0.1+cu118",
        True,
        reasons=("torch 2.0.1+cu117 set aside", "torch 2.0.1+cu118 has kernels for the host's"),
    ),
    "H100 + torch 2.1.0+cu118: ok": Case(
        env("3.10", "torch==2.1.0+cu118"),
        H100,
        "torch==2.1.0+cu118",
        True,
        reasons=("torch 2.1.0+cu118 has kernels for the host's NVIDIA H100 80GB HBM3 (sm_90)",),
    ),
    # Ada (8.9) is in no cubin list of these builds: the sm_86 (or sm_80) SASS runs on it.
    "RTX 4090 + torch 1.13.1: sm_86 SASS runs on sm_89": Case(
        env("3.10", "torch==1.13.1"), RTX4090, "torch==1.13.1", True
    ),
    "RTX 4090 + torch 1.7.1: sm_80 SASS runs on sm_89": Case(
        env("3.8", "torch==1.7.1"), RTX4090, "torch==1.7.1+cu110", True
    ),
    # No PTX in the sm_90 builds: Blackwell (major 12) runs none of torch 2.6's.
    "RTX 5090 + torch 2.6.0: no sm_120 and no PTX": Case(
        env("3.11", "torch==2.6.0"),
        RTX5090,
        "torch==2.6.0",
        False,
        warning="the first torch with them is 2.7.0+cu128",
    ),
    "RTX 5090 + torch 2.7.0: cu128 over PyPI's cu126": Case(
        env("3.11", "torch==2.7.0"),
        RTX5090,
        "torch==2.7.0+cu128",
        True,
        reasons=("torch 2.7.0+cu126 set aside",),
    ),
    # cu128 and later builds start at sm_75: a Maxwell card needs the cu126 build.
    "GTX 980 + torch 2.8.0: cu126 over PyPI's cu128": Case(
        env("3.11", "torch==2.8.0"),
        GTX980,
        "torch==2.8.0+cu126",
        True,
        reasons=(
            "torch 2.8.0+cu128 set aside: no kernels for the host's NVIDIA GeForce GTX 980 "
            "(sm_52); torch 2.8.0+cu126 has them",
        ),
    ),
    "GTX 980 + torch 2.11.0: cu126 over PyPI's cu130": Case(
        env("3.12", "torch==2.11.0"), GTX980, "torch==2.11.0+cu126", True
    ),
    "GTX 980 + torch 2.8.0+cu128 pinned: not covered": Case(
        env("3.11", "torch==2.8.0+cu128"),
        GTX980,
        "torch==2.8.0",  # PyPI's own build is the cu128 one
        False,
        warning="GTX 980 (sm_52)",
    ),
    # Every GPU must run the image: cu126 lacks Blackwell, cu128 lacks Volta.
    "V100 + RTX 5090 + torch 2.7.0: no build runs on both": Case(
        env("3.11", "torch==2.7.0"),
        V100_AND_5090,
        "torch==2.7.0",
        False,
        reasons=("torch 2.7.0+cu126 has no kernels for the host's NVIDIA GeForce RTX 5090",),
    ),
    # The driver decides first: torch 2.7.0's cu128 build needs >= 570.26.
    "RTX 5090 on driver 560 + torch 2.7.0: cu128 ruled out by the driver": Case(
        env("3.11", "torch==2.7.0"),
        gpu("560.35.03", ("NVIDIA GeForce RTX 5090", "12.0")),
        "torch==2.7.0",
        False,
        warning="torch 2.7.0+cu128 has them, but the host driver 560.35.03 is older than CUDA 12.8",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_arch_case(name: str) -> None:
    case = CASES[name]
    base = base_image.select(case.environment, case.options, host=case.host)
    assert base.cuda is not None
    assert dict(base.cuda.requirements)["torch"] == case.torch
    assert base.cuda.arch_ok is case.arch_ok
    text = "\n".join(base.reasons)
    for wanted in case.reasons:
        assert wanted in text
    arch_warnings = [w for w in base.warnings if "has no kernels" in w]
    if case.arch_ok is False:
        assert arch_warnings and "the smoke test runs on the CPU" in arch_warnings[0]
        if case.warning:
            assert any(case.warning in w for w in arch_warnings)
    else:
        assert not arch_warnings
    assert base_image.select(case.environment, case.options, host=case.host) == base  # stable


@pytest.mark.parametrize(
    ("host", "environment"),
    [
        (HostGpu(driver="560.35.03", gpus=("Tesla K80",)), env("3.10", "torch==1.13.1")),
        (None, env("3.10", "torch==1.13.1")),
        (A100, env("3.9", "tensorflow==2.11.0")),  # TensorFlow's kernels are not checked
    ],
)
def test_nothing_to_check_gives_none(host: HostGpu | None, environment: Environment) -> None:
    base = base_image.select(environment, BaseSettings(), host=host)
    assert base.cuda is not None and base.cuda.arch_ok is None
    assert not any("kernels" in r for r in base.reasons)


def arch(sm: str, ptx: bool | None) -> TorchArch:
    return TorchArch(
        torch=">=0", cuda="12.8", tag="cu128", sm=tuple(f"sm_{s}" for s in sm.split(",")),
        ptx=ptx, measured=None, sources=(), verified=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("sm", "ptx", "capability", "runs"),
    [
        ("80,86", False, "8.9", True),  # SASS: same major, minor >= the build's
        ("86", False, "8.0", False),  # ... not an older minor
        ("80,86", False, "9.0", False),  # ... not another major
        ("80,86", True, "9.0", True),  # PTX compute_86 JIT-compiles for sm_90
        ("80,86", None, "9.0", False),  # unknown PTX counts as absent
        ("75,80,86,90,100,120", True, "12.1", True),
        ("75,80,86,90,100,120", True, "5.2", False),  # PTX runs only on newer GPUs
        ("50,60,70,75,80,86,90", False, "6.1", True),
        ("35,37,50,60,61,70,75", False, "3.0", False),
    ],
)
def test_sass_and_ptx_rule(sm: str, ptx: bool | None, capability: str, runs: bool) -> None:
    assert arch(sm, ptx).covers(capability) is runs


def test_first_covering_build_per_generation() -> None:
    data = compat.load()
    assert data.first_covering("8.0") == ("1.7.0", "cu110")
    assert data.first_covering("8.6") == ("1.7.0", "cu110")  # sm_80 SASS runs on sm_86
    assert data.first_covering("9.0") == ("2.0.0", "cu118")  # S23, verified: false
    assert data.first_covering("12.0") == ("2.7.0", "cu128")
    assert data.first_covering("10.0") == ("2.7.0", "cu128")
