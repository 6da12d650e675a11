"""Reading the host's NVIDIA driver through nvidia-smi (the command is faked)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from repro import hostgpu
from repro.models import HostGpu


def test_probe_reads_driver_and_gpus() -> None:
    seen: list[Sequence[str]] = []

    def fake(argv: Sequence[str]) -> str:
        seen.append(argv)
        return "560.35.03, NVIDIA A100-SXM4-40GB, 8.0\n560.35.03, NVIDIA A100-SXM4-40GB, 8.0\n"

    host = hostgpu.probe(fake)
    assert host == HostGpu(
        driver="560.35.03",
        gpus=("NVIDIA A100-SXM4-40GB (8.0)", "NVIDIA A100-SXM4-40GB (8.0)"),
        capabilities=("8.0", "8.0"),
    )
    assert seen == [hostgpu.QUERY]


def test_no_driver_means_no_gpu() -> None:
    assert hostgpu.probe(lambda argv: None) is None
    assert hostgpu.probe(lambda argv: "") is None
    # nvidia-smi present but failing prints an error, not a version
    assert (
        hostgpu.probe(lambda argv: "NVIDIA-SMI has failed because it couldn't communicate") is None
    )


def test_mixed_drivers_take_the_oldest() -> None:
    host = hostgpu.parse("535.104.05, Tesla T4, 7.5\n470.82.01, Tesla K80, [N/A]\n")
    assert host is not None and host.driver == "470.82.01"
    assert host.gpus == ("Tesla T4 (7.5)", "Tesla K80")
    assert host.capabilities == ("7.5",)  # the K80 reports none: nothing is made up


@pytest.mark.parametrize(
    ("line", "capabilities"),
    [
        ("570.124.06, NVIDIA GeForce RTX 5090, 12.0", ("12.0",)),  # two-digit major
        ("535.104.05, NVIDIA H100 80GB HBM3, 9.0", ("9.0",)),
        ("470.82.01, Tesla K80, [N/A]", ()),
        ("470.82.01, Tesla K80", ()),  # a driver too old for the compute_cap field
        ("535.104.05, Odd GPU, 8", ()),  # not major.minor
    ],
)
def test_compute_capabilities_are_kept_as_data(line: str, capabilities: tuple[str, ...]) -> None:
    host = hostgpu.parse(line + "\n")
    assert host is not None and host.capabilities == capabilities


def test_missing_nvidia_smi_answers_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostgpu.shutil, "which", lambda name: None)
    assert hostgpu.probe() is None
