"""Small builders for GPU selection tests: an Environment from requirement strings."""

from __future__ import annotations

import datetime as dt

from packaging.requirements import Requirement as PReq

from repro.models import Environment, Evidence, Hint, Origin, PythonChoice, Requirement

FRAMEWORK_NAMES = {"torch", "torchvision", "torchaudio", "tensorflow", "tensorflow-gpu", "jax"}


def env(
    python: str,
    *requirements: str,
    as_of: dt.date | None = None,
    versions: dict[str, str] | None = None,
) -> Environment:
    """``env("3.8", "torch==1.4.0")``; ``versions`` sets a chosen version (e.g. a wheelhouse's)."""
    reqs = []
    for text in requirements:
        parsed = PReq(text)
        reqs.append(
            Requirement(
                name=parsed.name,
                specifier=str(parsed.specifier),
                extras=tuple(sorted(parsed.extras)),
                version=(versions or {}).get(parsed.name),
                origins=(Origin(kind="requirements", path="requirements.txt", line=1),),
                layer="framework" if parsed.name in FRAMEWORK_NAMES else "main",
            )
        )
    return Environment(
        python=PythonChoice(version=python, reasons=("the test says so",)),
        requirements=tuple(reqs),
        as_of=as_of,
    )


def compiles_cuda() -> Evidence:
    return Evidence(
        hints=(
            Hint(
                topic="cuda-compile",
                value="setup.py: CUDAExtension",
                origin=Origin(kind="setup.py", path="setup.py", line=12, detail="CUDAExtension"),
            ),
        )
    )
