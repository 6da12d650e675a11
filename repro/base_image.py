"""Environment × compatibility data → BaseImage (pure).

CPU images start from ``python:X.Y-slim``. When a GPU framework is required (and
``--cpu`` was not given), the base is an ``nvidia/cuda`` image from
``repro/data/compat.json`` and Python is installed on top of it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from packaging.utils import canonicalize_name

from repro import mapping
from repro.errors import UsageError
from repro.models import BaseImage, CudaChoice, Environment, Options


@cache
def compat() -> dict[str, Any]:
    data: dict[str, Any] = mapping.load_json("compat.json")
    return data


def gpu_frameworks(environment: Environment) -> list[str]:
    wanted = {canonicalize_name(n) for n in compat()["gpu_frameworks"]}
    return sorted(
        r.name
        for r in environment.requirements
        if not r.optional and canonicalize_name(r.name) in wanted
    )


def select(
    environment: Environment, options: Options, *, wheelhouse_names: frozenset[str] = frozenset()
) -> BaseImage:
    python = environment.python.version
    frameworks = gpu_frameworks(environment)
    if options.base_image:
        return BaseImage(
            name=options.base_image,
            python=python,
            python_source="image",
            gpu=bool(frameworks) and not options.cpu,
            cuda=None,
            reasons=(f"--base-image {options.base_image}",),
            variant=f"py{python}-custom",
        )
    if not frameworks or options.cpu:
        return _cpu(environment, options, frameworks, wheelhouse_names)
    return _gpu(environment, options, frameworks)


def _cpu(
    environment: Environment, options: Options, frameworks: list[str], wheelhouse: frozenset[str]
) -> BaseImage:
    python = environment.python.version
    reasons = [f"Python {python}: " + "; ".join(environment.python.reasons)]
    if options.cpu and frameworks:
        reasons.append(f"--cpu: CPU-only builds of {', '.join(frameworks)}")
    elif not frameworks:
        reasons.append("no GPU framework among the requirements: a CPU image")
    return BaseImage(
        name=compat()["python_image"].format(python=python),
        python=python,
        python_source="image",
        gpu=False,
        cuda=None,
        reasons=tuple(reasons),
        variant=f"py{python}-cpu",
    )


def cpu_index_urls(environment: Environment, wheelhouse: frozenset[str]) -> tuple[str, ...]:
    """Indexes that serve CPU-only builds of the frameworks not found in the wheelhouse."""
    indexes = compat()["cpu_indexes"]
    urls = []
    for req in environment.requirements:
        key = canonicalize_name(req.name)
        if key in indexes and key not in wheelhouse and not req.optional:
            urls.append(indexes[key])
    return tuple(dict.fromkeys(urls))


def _gpu(environment: Environment, options: Options, frameworks: list[str]) -> BaseImage:
    data = compat()
    python = environment.python.version
    cuda = options.cuda or data["default_cuda"]
    images = [i for i in data["cuda_images"] if i["cuda"] == cuda and i["flavour"] == "runtime"]
    if not images:
        known = sorted({i["cuda"] for i in data["cuda_images"]})
        raise UsageError(
            f"no nvidia/cuda base image known for CUDA {cuda} (known: {', '.join(known)})"
        )
    image = images[0]
    choice = CudaChoice(
        cuda=cuda,
        cudnn=image["cudnn"],
        flavour="runtime",
        min_driver=data["cuda_min_driver"].get(cuda),
        torch_index_url=data["torch_cuda_index"].format(cuda_nodot=cuda.replace(".", "")),
        reasons=(
            f"{', '.join(frameworks)} bring their CUDA libraries in their wheels: "
            f"the base needs only a CUDA {cuda} driver environment",
        ),
    )
    return BaseImage(
        name=image["name"],
        python=python,
        python_source="apt",
        gpu=True,
        cuda=choice,
        reasons=(f"Python {python}: " + "; ".join(environment.python.reasons), *choice.reasons),
        variant=f"py{python}-cu{cuda.replace('.', '')}",
    )
