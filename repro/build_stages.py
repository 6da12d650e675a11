"""Which images the build uses: one stage, or a devel stage copied into a runtime one (pure).

A CUDA ``devel`` image carries nvcc, the CUDA headers and a C/C++ toolchain: gigabytes that
only the build needs when the code compiles against CUDA *at build time* (a ``setup.py``
``CUDAExtension``, a package built from source). Then the environment is built on the
devel image and copied into the matching ``runtime`` image. Code that compiles *at run
time* (``torch.utils.cpp_extension.load``, pycuda's ``SourceModule``) needs the toolkit in
the image, so it keeps the devel image as its only stage.

The evidence is ``BaseImage.cuda.flavour == "devel"`` (chosen by ``base_image``) and the
``Hint(topic="cuda-compile")`` entries of the scan: their origin says where the compiling
happens (``setup.py``: at build time; ``import``: code that compiles when it runs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from repro.models import BaseImage, Evidence, Hint

# nvidia/cuda tags name the flavour as one dash-separated word
# (12.6.3-devel-ubuntu22.04, 12.6.3-cudnn-devel-ubuntu22.04), and so do the framework
# images that stand in for them (pytorch/pytorch:2.1.0-cuda12.1-cudnn8-devel).
_DEVEL = re.compile(r"(?<=[-:])devel(?=$|-)")


@dataclass(frozen=True, kw_only=True)
class Stages:
    runtime_base: str = ""  # "" = one stage: the image is the base itself
    build_extensions: bool = False  # the repository's own setup.py extensions
    reason: str = ""  # why (for the Dockerfile's comment and the plan)


def runtime_image(name: str) -> str | None:
    """The runtime flavour of a devel image name, or None when the name has no flavour."""
    repo, sep, tag = name.rpartition(":")
    if not sep or "/" in tag or not _DEVEL.search(":" + tag):
        return None
    return f"{repo}:{_DEVEL.sub('runtime', ':' + tag)[1:]}"


def plan_stages(base: BaseImage, evidence: Evidence) -> Stages:
    """One stage, or devel → runtime; with the reason in words."""
    if base.cuda is None or base.cuda.flavour != "devel":
        return Stages()
    compile_hints = [h for h in evidence.hints if h.topic == "cuda-compile"]
    at_run_time = [h for h in compile_hints if h.origin.kind == "import"]
    if at_run_time:
        return Stages(
            reason=f"{_where(at_run_time[0])} compiles CUDA code when it runs: "
            "the image keeps the devel toolchain"
        )
    if base.python.startswith("2.") or not base.venv:
        return Stages(
            reason="no virtual environment to copy (Python 2, or the base's own Python"
            " holds the framework): one devel stage"
        )
    runtime = runtime_image(base.name)
    if runtime is None:
        return Stages(reason=f"{base.name} names no runtime flavour: one devel stage")
    extensions = any(h.origin.kind == "setup.py" for h in compile_hints)
    what = _where(compile_hints[0]) if compile_hints else "a package built from source"
    return Stages(
        runtime_base=runtime,
        build_extensions=extensions,
        reason=f"{what} compiles against CUDA at build time",
    )


def _where(hint: Hint) -> str:
    origin = hint.origin
    line = f":{origin.line}" if origin.line is not None else ""
    return f"{origin.path}{line}" if origin.path else hint.value
