"""The host's NVIDIA driver, read through ``nvidia-smi`` (edge: runs one command).

``probe()`` answers ``None`` when the host has no NVIDIA driver (no ``nvidia-smi``, or it
fails): repro then checks nothing and the smoke test runs on the CPU. The command runner is
injectable so that tests fake it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Sequence

from repro.models import HostGpu

QUERY = (
    "nvidia-smi",
    "--query-gpu=driver_version,name,compute_cap",
    "--format=csv,noheader",
)
_DRIVER = re.compile(r"^\d+\.\d+(\.\d+)?$")
_CAPABILITY = re.compile(r"^\d+\.\d+$")

Runner = Callable[[Sequence[str]], str | None]


def _run(argv: Sequence[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def probe(run: Runner = _run) -> HostGpu | None:
    """The driver version and GPUs ``nvidia-smi`` reports, or None."""
    out = run(QUERY)
    if not out:
        return None
    return parse(out)


def parse(text: str) -> HostGpu | None:
    """``560.35.03, NVIDIA A100-SXM4-40GB, 8.0`` per GPU -> HostGpu (the lowest driver, and
    each GPU's compute capability where it reports one)."""
    drivers: list[str] = []
    gpus: list[str] = []
    capabilities: list[str] = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split(",")]
        if not cells or not _DRIVER.match(cells[0]):
            continue
        drivers.append(cells[0])
        name = cells[1] if len(cells) > 1 else "GPU"
        cap = f" ({cells[2]})" if len(cells) > 2 and cells[2] not in ("", "[N/A]") else ""
        gpus.append(f"{name}{cap}")
        if len(cells) > 2 and _CAPABILITY.match(cells[2]):
            capabilities.append(cells[2])
    if not drivers:
        return None
    lowest = min(drivers, key=lambda d: tuple(int(p) for p in d.split(".")))
    return HostGpu(driver=lowest, gpus=tuple(gpus), capabilities=tuple(capabilities))
