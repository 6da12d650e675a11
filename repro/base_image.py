"""Environment × compatibility data → BaseImage (pure, deterministic, explained).

CPU images start from ``python:X.Y-slim``. When a GPU framework is required (and ``--cpu``
was not given) the base is chosen from ``repro/data/compat.json`` (see docs/gpu.md):

1. Each GPU framework the code needs becomes a *need*: its release (pinned, or the newest
   in the data that fits the specifier, the chosen Python and the code's date) and the
   ways to install it, in order of preference -- one per CUDA build. A build either brings
   its CUDA libraries as wheels (torch, jax, ``tensorflow[and-cuda]``: the base then only
   needs a driver for a CUDA at least as new, of the same major) or needs CUDA (and cuDNN)
   inside the image (TensorFlow before 2.14, CuPy, ...: that exact CUDA minor).
2. One build per need is combined with the others; the base CUDA minor must suit all of
   them, ``--cuda`` and the host's driver. Preferred: the CUDA a build was made with, then
   the data's default, then the closest. Flavour ``runtime``, ``devel`` when something
   compiles CUDA code; a cuDNN tag only when a build needs cuDNN from the image.
3. Tags: newest patch of that minor, then newest Ubuntu that carries it and can install the
   chosen Python (from its archive or deadsnakes). Where NVIDIA deleted the tags, a
   fallback image (``pytorch/pytorch``, ``tensorflow/tensorflow``) of that CUDA and Python;
   for wheel-bundled CUDA, last, the oldest image of the next CUDA major.

Every result carries its chain of reasons; a dead end raises one line naming the clash.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from packaging.utils import canonicalize_name

from repro import compat as cdata
from repro import gpu_needs
from repro.compat import Compat, CudaTag, Fallback, major_of, minor_key, minor_of
from repro.errors import InferenceError, UsageError
from repro.gpu_needs import Build, Need
from repro.models import (
    BaseImage,
    BaseSettings,
    CudaChoice,
    Environment,
    Evidence,
    GivenImage,
    HostGpu,
    Requirement,
)


def compat() -> Compat:
    return cdata.load()


def gpu_frameworks(environment: Environment) -> list[str]:
    data = compat()
    return sorted(
        r.name for r in environment.requirements if not r.optional and data.is_gpu_package(r.name)
    )


# --------------------------------------------------------------------------- entry point


Tier = Literal["nvidia", "fallback", "next-major"]
TIERS: tuple[Tier, ...] = ("nvidia", "fallback", "next-major")


def select(
    environment: Environment,
    settings: BaseSettings,
    *,
    wheelhouse_names: frozenset[str] = frozenset(),
    evidence: Evidence | None = None,
    host: HostGpu | None = None,
    tiers: Sequence[Tier] = TIERS,
    on_gpu: frozenset[str] | None = None,
) -> BaseImage:
    """The base image for ``environment``; raises ``InferenceError`` on a dead end.

    ``tiers``: where a GPU base may come from (nvidia/cuda tags of the builds' CUDA, the
    frameworks' own images, a newer CUDA major for wheels that carry their CUDA), in order.
    ``on_gpu``: the frameworks (``family_of`` names) to place on the GPU; the other GPU
    frameworks install as CPU builds (``None``: all on the GPU).
    """
    if on_gpu is not None:
        return _split(environment, settings, wheelhouse_names, evidence, host, tiers, on_gpu)
    python = environment.python.version
    frameworks = gpu_frameworks(environment)
    if settings.base_image:
        return BaseImage(
            name=settings.base_image,
            python=python,
            python_source="image",
            gpu=bool(frameworks) and not settings.cpu,
            cuda=None,
            reasons=(f"--base-image {settings.base_image}",),
            variant=f"py{python}-custom",
        )
    compile_hints = [h for h in (evidence.hints if evidence else ()) if h.topic == "cuda-compile"]
    if settings.cpu or (not frameworks and not settings.cuda):
        return _cpu(environment, settings, frameworks, compile_hints)
    if settings.cuda:
        _check_cuda_option(settings.cuda)
    needs, notes = gpu_needs.needs(environment, settings, wheelhouse_names)
    if not needs and not settings.cuda:
        return _cpu(environment, settings, frameworks, compile_hints, notes=notes)
    return _gpu(environment, settings, needs, notes, compile_hints, wheelhouse_names, host, tiers)


def _split(
    environment: Environment,
    settings: BaseSettings,
    wheelhouse: frozenset[str],
    evidence: Evidence | None,
    host: HostGpu | None,
    tiers: Sequence[Tier],
    on_gpu: frozenset[str],
) -> BaseImage:
    """The frameworks of ``on_gpu`` on the GPU, the other GPU frameworks as CPU builds."""
    data = compat()
    cpu_side = [
        r
        for r in environment.requirements
        if not r.optional and data.is_gpu_package(r.name) and data.family_of(r.name) not in on_gpu
    ]
    lines: list[tuple[str, str]] = []
    indexes: list[str] = []
    links: list[str] = []
    reasons: list[str] = []
    for req in cpu_side:
        build = cpu_build(req)
        if build.line is None:
            raise InferenceError(f"{req.name} has no CPU build: {build.why}")
        lines.append((str(canonicalize_name(req.name)), build.line))
        indexes += [build.index_url] if build.index_url else []
        links += [build.find_links] if build.find_links else []
        reasons.append(build.why)
    kept = tuple(r for r in environment.requirements if r not in cpu_side)
    base = select(
        dataclasses.replace(environment, requirements=kept),
        settings,
        wheelhouse_names=wheelhouse,
        evidence=evidence,
        host=host,
        tiers=tiers,
    )
    if base.cuda is None:
        return base
    cuda = dataclasses.replace(
        base.cuda,
        requirements=(*base.cuda.requirements, *lines),
        index_urls=tuple(dict.fromkeys((*base.cuda.index_urls, *indexes))),
        find_links=tuple(dict.fromkeys((*base.cuda.find_links, *links))),
        reasons=(*base.cuda.reasons, *reasons),
    )
    return dataclasses.replace(base, cuda=cuda, reasons=(*base.reasons, *reasons))


@dataclass(frozen=True)
class CpuBuild:
    """How a GPU framework installs without CUDA, beside another on the GPU."""

    line: str | None  # None: the framework has no CPU build
    why: str
    index_url: str | None = None
    find_links: str | None = None


def cpu_build(req: Requirement) -> CpuBuild:
    """A GPU framework's CPU-only build; ``line`` is None when the framework has none (CuPy,
    MXNet's CUDA projects, paddlepaddle-gpu)."""
    data = compat()
    key = canonicalize_name(req.name)
    family = data.family_of(key)
    kept = tuple(e for e in req.extras if e not in _gpu_extras(req.name, req.extras))
    plain = dataclasses.replace(req, extras=kept)
    if family == "torch":
        index = data.cpu_indexes.get(key)
        return CpuBuild(plain.pip_line(), f"{req.name} as a CPU build (from {index})", index)
    if family == "tensorflow":
        version = req.version or cdata.exact_version(req.specifier)
        release = data.tf_release(version) if version else None
        if release is None or version is None:
            return CpuBuild(plain.pip_line(), f"{req.name} as installed on a CPU image")
        marker = f"; {req.marker}" if req.marker else ""
        line = f"{release.cpu_package}=={version}{marker}"
        return CpuBuild(line, f"{req.name} {version} as a CPU build ({release.cpu_package})")
    if family == "jax" and key == "jax":
        # jax's `cpu` extra pins the jaxlib of its release; PyPI keeps no jaxlib before
        # 0.4.13, JAX's own page the older ones (not confirmed here)
        cpu = dataclasses.replace(plain, extras=tuple(sorted({*kept, "cpu"})))
        links = data.jaxlib[0].builds[0].find_links if data.jaxlib else None
        page = next((b.find_links for r in data.jaxlib for b in r.builds if b.find_links), links)
        return CpuBuild(cpu.pip_line(), f"jax as a CPU build (jax[cpu], {page})", None, page)
    if family == "jax":
        return CpuBuild("", "jaxlib comes with jax[cpu]")
    return CpuBuild(None, f"{req.name} is built for CUDA only")


def on_given(
    environment: Environment,
    settings: BaseSettings,
    image: GivenImage,
    *,
    wheelhouse_names: frozenset[str] = frozenset(),
) -> BaseImage:
    """The plan on a base image the user gave (``--base-image``), probed: its Python, and
    for each GPU framework the build the image can serve. Builds that carry their CUDA
    need only the driver; builds that load CUDA (and cuDNN) from the image need the
    image's. Raises ``UsageError`` naming what the image lacks when a framework has no
    build for it; an image with no CUDA at all gets CPU builds of those (a warning)."""
    python = environment.python.version
    frameworks = gpu_frameworks(environment)
    found = "; ".join(image.evidence) or "nothing read"
    reasons = [f"--base-image {image.name} ({found}): Python {python} from the image"]
    common = {
        "name": image.name,
        "python": python,
        "python_source": "image",
        "variant": f"py{python}-custom",
        "interpreter": image.interpreter or "python",
        "venv": image.venv or not python.startswith(("2.", "3.5", "3.6", "3.7")),
    }
    needs, notes = (
        ([], [])
        if settings.cpu or not frameworks
        else gpu_needs.needs(environment, settings, wheelhouse_names)
    )
    if not needs:
        why = "--cpu" if settings.cpu else "no GPU framework needs CUDA"
        return BaseImage(**common, gpu=False, cuda=None, reasons=(*reasons, *notes, why))  # type: ignore[arg-type]
    combo, cpu_side = _fit_builds(image, needs)
    warnings: list[str] = []
    if cpu_side:
        names = ", ".join(n.summary for n in cpu_side)
        warnings.append(
            f"--base-image {image.name} has no CUDA inside: {names} load CUDA from the image, "
            "so they install as CPU builds (without --base-image repro picks a CUDA image)"
        )
    lines = [line for build in combo for line in build.lines]
    by_name = {str(canonicalize_name(r.name)): r for r in environment.requirements if r.name}
    for need in cpu_side:
        for line in need.builds[0].lines:
            req = by_name.get(line.name)
            built = cpu_build(req) if req is not None else None
            if built is None or built.line is None:
                raise UsageError(
                    f"--base-image {image.name} has no CUDA inside and {line.name} has no "
                    "CPU build",
                    hint="use an image with CUDA (without --base-image repro picks one)",
                )
            lines.append(gpu_needs.Line(line.name, built.line, built.index_url, built.find_links))
    for build in combo:
        reasons.append(f"chosen: {build.label} ({build.note})")
    cuda = image.cuda or max((b.cuda for b in combo if b.cuda), key=minor_key, default=None)
    if cuda is None or not combo:
        return BaseImage(
            **common,  # type: ignore[arg-type]
            gpu=False,
            cuda=None,
            reasons=tuple(reasons),
            warnings=tuple(warnings),
        )
    choice = CudaChoice(
        cuda=cuda,
        cudnn=major_of(image.cudnn) if image.cudnn else None,
        flavour="devel" if image.nvcc else "runtime",
        min_driver=compat().min_driver(cuda),
        torch_index_url=next(
            (
                ln.index_url or ln.find_links
                for ln in lines
                if ln.name == "torch" and (ln.index_url or ln.find_links)
            ),
            None,
        ),
        reasons=tuple(reasons[1:]),
        requirements=tuple((ln.name, ln.text) for ln in lines),
        index_urls=tuple(dict.fromkeys(ln.index_url for ln in lines if ln.index_url)),
        find_links=tuple(dict.fromkeys(ln.find_links for ln in lines if ln.find_links)),
    )
    return BaseImage(
        **common,  # type: ignore[arg-type]
        gpu=True,
        cuda=choice,
        reasons=tuple(reasons),
        warnings=tuple(warnings),
    )


def _fit_builds(image: GivenImage, needs: Sequence[Need]) -> tuple[list[Build], list[Need]]:
    """For each need, the first build the image serves on the GPU; the needs an image
    without CUDA cannot serve (installed as CPU builds). A need an image with CUDA cannot
    serve is a ``UsageError`` naming what it has."""
    combo: list[Build] = []
    cpu_side: list[Need] = []
    for need in needs:
        fits = [b for b in need.builds if _serves(image, b)]
        if fits:
            combo.append(fits[0])
            continue
        wanted = need.builds[0]
        if image.cuda is None:
            cpu_side.append(need)
            continue
        have = f"CUDA {image.cuda}" + (f" and cuDNN {image.cudnn}" if image.cudnn else "")
        raise UsageError(
            f"--base-image {image.name} cannot serve {need.summary} on the GPU: the image has "
            f"{have}, and {wanted.note}",
            hint="without --base-image repro picks an image that serves it; --cpu installs "
            "CPU builds on this one",
        )
    return combo, cpu_side


def _serves(image: GivenImage, build: Build) -> bool:
    """Whether a given image can run ``build`` on the GPU."""
    if not build.image_libs:
        return True  # the wheels carry their CUDA: the driver comes with `docker run --gpus`
    if build.devel and not image.nvcc:
        return False
    if image.cuda is None or (build.accepts is not None and image.cuda not in build.accepts):
        return False
    if build.cudnn is None:
        return True
    if image.cudnn is None or major_of(image.cudnn) != major_of(build.cudnn):
        return False
    return "." not in image.cudnn or minor_key(image.cudnn)[:2] >= minor_key(build.cudnn)[:2]


def _cpu(
    environment: Environment,
    settings: BaseSettings,
    frameworks: list[str],
    compile_hints: Sequence[object] = (),
    *,
    notes: Sequence[str] = (),
) -> BaseImage:
    python = environment.python.version
    reasons = [f"Python {python}: " + "; ".join(environment.python.reasons)]
    if settings.cpu and frameworks:
        reasons.append(f"--cpu: CPU-only builds of {', '.join(frameworks)}")
    elif frameworks:
        reasons += notes
        reasons.append("no GPU framework needs CUDA: a CPU image")
    else:
        reasons.append("no GPU framework among the requirements: a CPU image")
        if compile_hints:
            reasons.append(
                "CUDA code was found but no GPU framework: use --cuda X.Y for a CUDA devel image"
            )
    for req, dropped in _gpu_only_extras(environment):
        reasons.append(
            f"{req.name} without its GPU extras ({', '.join(dropped)}): a CPU image "
            "installs no CUDA wheels"
        )
    return BaseImage(
        name=python_image(python),
        python=python,
        python_source="image",
        gpu=False,
        cuda=None,
        reasons=tuple(reasons),
        variant=f"py{python}-cpu",
    )


def python_image(python: str) -> str:
    """The CPU base image of a Python (``python:3.11-slim``), from compat's template."""
    return compat().python_image.format(python=python)


def _gpu_extras(name: str, extras: Sequence[str]) -> list[str]:
    """The extras of a framework requirement that only bring CUDA (or TPU) support:
    ``jax[cuda12]``, ``jax[tpu]``, ``tensorflow[and-cuda]`` (as in gpu_needs)."""
    key = canonicalize_name(name)
    if key in ("jax", "jaxlib"):
        return [e for e in extras if e.startswith(("cuda", "tpu"))]
    if key.startswith("tensorflow"):
        gpu = {e for r in compat().tensorflow for e in r.extras}
        return [e for e in extras if e in gpu]
    return []


def _gpu_only_extras(environment: Environment) -> list[tuple[Requirement, list[str]]]:
    """Each installed requirement that asks for GPU-only extras, with those extras."""
    found = [(r, _gpu_extras(r.name, r.extras)) for r in environment.requirements if not r.optional]
    return [(req, dropped) for req, dropped in found if dropped]


def cpu_lines(environment: Environment) -> dict[str, str]:
    """Canonical name -> pip line on a CPU image where it differs from the requirement's own:
    GPU-only extras are dropped (a CPU image installs no CUDA wheels), and a pinned
    ``tensorflow-gpu`` installs as TensorFlow's CPU package (it cannot load without CUDA)."""
    out: dict[str, str] = {}
    for req, dropped in _gpu_only_extras(environment):
        kept = tuple(e for e in req.extras if e not in dropped)
        out[canonicalize_name(req.name)] = dataclasses.replace(req, extras=kept).pip_line()
    for req in environment.requirements:
        if canonicalize_name(req.name) == "tensorflow-gpu" and not req.optional:
            built = cpu_build(req)
            if built.line and built.line != req.pip_line():
                out["tensorflow-gpu"] = built.line
    return out


def cpu_index_urls(environment: Environment, wheelhouse: frozenset[str]) -> tuple[str, ...]:
    """Indexes that serve CPU-only builds of the frameworks not found in the wheelhouse."""
    indexes = compat().cpu_indexes
    urls = []
    for req in environment.requirements:
        key = canonicalize_name(req.name)
        if key in indexes and key not in wheelhouse and not req.optional:
            urls.append(indexes[key])
    return tuple(dict.fromkeys(urls))


def _check_cuda_option(cuda: str) -> None:
    data = compat()
    parts = cuda.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise UsageError(f"--cuda {cuda}: expected a CUDA version such as 12.6")
    if cuda not in data.known_minors():
        known = ", ".join(data.tag_minors())
        raise UsageError(
            f"--cuda {cuda}: not a CUDA version repro knows (images exist for {known})"
        )


# --------------------------------------------------------------------------- choosing


@dataclass(frozen=True)
class _Pick:
    name: str
    minor: str
    python_source: Literal["image", "apt", "deadsnakes"]
    ubuntu: str | None
    cudnn: str | None
    combo: tuple[Build, ...]
    reasons: tuple[str, ...]
    fallback: bool = False


@dataclass
class _Tried:
    """What was ruled out, for the dead-end message."""

    lines: list[str] = field(default_factory=list)
    fallback_pythons: dict[str, set[str]] = field(default_factory=dict)  # CUDA -> Pythons

    def add(self, text: str) -> None:
        if text not in self.lines:
            self.lines.append(text)

    def summary(self) -> list[str]:
        out = list(self.lines)
        for cuda, pythons in sorted(self.fallback_pythons.items()):
            have = ", ".join(sorted(pythons, key=minor_key))
            out.append(f"the fallback images for CUDA {cuda} have Python {have}")
        return out


def _gpu(
    environment: Environment,
    settings: BaseSettings,
    needs: list[Need],
    notes: list[str],
    compile_hints: Sequence[object],
    wheelhouse: frozenset[str],
    host: HostGpu | None,
    tiers: Sequence[Tier] = TIERS,
) -> BaseImage:
    data = compat()
    python = environment.python.version
    devel_why = [f"{h.value} ({h.origin})" for h in compile_hints]  # type: ignore[attr-defined]
    source_built = [b.label for n in needs for b in n.builds if b.devel]
    devel = bool(devel_why or source_built)
    allowed = set(data.known_minors())
    if settings.cuda:
        allowed &= {settings.cuda}
    driver_allowed = allowed
    if host is not None:
        driver_allowed = {m for m in allowed if _driver_ok(data.min_driver(m), host.driver)}
    tried = _Tried()
    pick = None
    arch_needs = _arch_needs(needs, host)
    if arch_needs is not None:  # first the builds with kernels for the host's GPUs
        arch_tried = _Tried()
        pick = _resolve(arch_needs, python, devel, driver_allowed, arch_tried, settings.cuda, tiers)
        if pick is not None:
            tried = arch_tried
    if pick is None:
        pick = _resolve(needs, python, devel, driver_allowed, tried, settings.cuda, tiers)
    driver_ok: bool | None = None if host is None else True
    warnings: list[str] = []
    if pick is None and host is not None and driver_allowed != allowed:
        pick = _resolve(needs, python, devel, allowed, _Tried(), settings.cuda, tiers)
        if pick is not None:
            driver_ok = False
            need = data.min_driver(pick.minor)
            warnings.append(
                f"the host's NVIDIA driver {host.driver} is older than CUDA {pick.minor} needs "
                f"(>= {need}) and no compatible build is older: the image will not start on "
                "this GPU (the smoke test runs on the CPU); update the driver to run it here"
            )
    if pick is None:
        raise _dead_end(needs, python, settings, host, devel, tried)
    passed_over = _passed_over(needs, pick, tried, host, driver_allowed)
    arch = _arch_verdict(needs, pick, host, driver_allowed)
    return _base(environment, settings, needs, notes + passed_over, pick, devel, devel_why,
                 source_built, host, driver_ok, [*warnings, *arch.warnings], wheelhouse,
                 arch)  # fmt: skip


def _passed_over(
    needs: list[Need], pick: _Pick, tried: _Tried, host: HostGpu | None, allowed: set[str]
) -> list[str]:
    """Why the preferred builds (PyPI's, the first of each need) were not taken."""
    first = tuple(n.builds[0] for n in needs)
    if pick.combo == first:
        return []
    why = []
    if host is not None:
        data = compat()
        for build in first:
            if build.cuda and build.cuda not in allowed:
                why.append(
                    f"the host driver {host.driver} is older than CUDA {build.cuda} needs "
                    f"(>= {data.min_driver(build.cuda)})"
                )
    why += tried.summary()
    labels = ", ".join(b.label for b in first if b not in pick.combo)
    return [f"{labels} set aside: {'; '.join(why)}"] if why else []


# --------------------------------------------------------------------------- GPU kernels


@dataclass(frozen=True)
class _Arch:
    """Whether the chosen torch build has kernels for the host's GPUs, and why."""

    ok: bool | None  # None: not checked
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _sm(capability: str) -> str:
    """``"8.6"`` -> ``"sm_86"``."""
    return "sm_" + capability.replace(".", "")


def _gpu_names(host: HostGpu, capability: str) -> str:
    names = [g.removesuffix(f" ({capability})") for g in host.gpus if g.endswith(f"({capability})")]
    return f"{' and '.join(dict.fromkeys(names)) or 'GPU'} ({_sm(capability)})"


def _torch_arch(build: Build) -> cdata.TorchArch | None:
    """The kernel list of a torch CUDA build, None for other frameworks or without data."""
    if build.fallback_key is None or build.fallback_key[0] != "torch" or build.cuda is None:
        return None
    return compat().torch_arch_for(build.fallback_key[1], build.cuda)


def _misses(build: Build, host: HostGpu) -> list[str] | None:
    """The host's compute capabilities a torch build has no kernels for; None: unknown."""
    arch = _torch_arch(build)
    if arch is None:
        return None
    return [c for c in dict.fromkeys(host.capabilities) if not arch.covers(c)]


def _arch_needs(needs: list[Need], host: HostGpu | None) -> list[Need] | None:
    """The needs without the torch builds that lack kernels for a host GPU (those known to
    have them first), or None when that changes nothing or would leave no build."""
    if host is None or not host.capabilities:
        return None
    out = []
    for need in needs:
        verdicts = [(b, _misses(b, host)) for b in need.builds]
        kept = [b for b, miss in verdicts if miss == []] + [b for b, m in verdicts if m is None]
        if not kept:
            return None
        out.append(dataclasses.replace(need, builds=tuple(kept)))
    return None if out == needs else out


def _arch_verdict(
    needs: list[Need], pick: _Pick, host: HostGpu | None, driver_allowed: set[str]
) -> _Arch:
    """Check every host GPU against the kernels of the chosen torch build (torch only)."""
    torch_builds = [b for b in pick.combo if b.fallback_key and b.fallback_key[0] == "torch"]
    if host is None or not host.capabilities or not torch_builds:
        return _Arch(ok=None)
    data = compat()
    ok: bool | None = True
    reasons: list[str] = []
    warnings: list[str] = []
    for build in torch_builds:
        arch = _torch_arch(build)
        if arch is None:
            if ok:
                ok = None
            reasons.append(
                f"{build.label}: no kernel list in the data, so the host GPU's architecture "
                "is not checked"
            )
            continue
        unverified = "" if arch.verified else " (kernel list not confirmed by a primary source)"
        ptx = "" if arch.ptx else " (no PTX)"
        missing = [c for c in dict.fromkeys(host.capabilities) if not arch.covers(c)]
        if not missing:
            # PyPI's build (the need's first) lacking the kernels is why this one was taken
            first = next((n.builds[0] for n in needs if build in n.builds), build)
            first_misses = _misses(first, host) if first != build else None
            if first_misses:
                names = ", ".join(_gpu_names(host, c) for c in first_misses)
                reasons.append(
                    f"{first.label} set aside: no kernels for the host's {names}; "
                    f"{build.label} has them"
                )
            gpus = ", ".join(_gpu_names(host, c) for c in dict.fromkeys(host.capabilities))
            reasons.append(f"{build.label} has kernels for the host's {gpus}{unverified}")
            continue
        ok = False
        siblings = next((n.builds for n in needs if build in n.builds), ())
        for capability in missing:
            covering = data.first_covering(capability)
            hint = (
                f"the first torch with them is {covering[0]}+{covering[1]}"
                if covering
                else "no torch build in the data has them"
            )
            other = next((b for b in siblings if _misses(b, host) == []), None)
            if other is not None:  # a build of this torch has them but could not be used
                why = (
                    f"the host driver {host.driver} is older than CUDA {other.cuda} needs"
                    if other.cuda not in driver_allowed
                    else "no base image fits it"
                )
                hint = f"{other.label} has them, but {why}"
            reasons.append(
                f"{build.label} has no kernels for the host's {_gpu_names(host, capability)}: "
                f"it has {arch.label}{ptx}{unverified}; {hint}"
            )
            warnings.append(
                f"{build.label} has no kernels for the host's {_gpu_names(host, capability)}: "
                "CUDA code in the image will fail on this GPU ('no kernel image is available') "
                f"and the smoke test runs on the CPU; {hint}"
            )
    return _Arch(ok=ok, reasons=tuple(reasons), warnings=tuple(warnings))


def _driver_ok(needed: str | None, have: str) -> bool:
    return needed is None or cdata.driver_key(have) >= cdata.driver_key(needed)


def _resolve(
    needs: list[Need],
    python: str,
    devel: bool,
    allowed: set[str],
    tried: _Tried,
    cuda_option: str | None,
    tiers: Sequence[Tier] = TIERS,
) -> _Pick | None:
    """The first base that suits one build of every need: nvidia/cuda, fallback, next major."""
    combos = list(itertools.product(*(n.builds for n in needs)))
    for tier in (_TIER_RULES[t] for t in tiers):
        for combo in combos:
            pick = tier(combo, python, devel, allowed, tried, cuda_option)
            if pick is not None:
                return pick
    return None


def _cudnn_need(combo: Sequence[Build], tried: _Tried) -> tuple[bool, str | None]:
    """(possible, the cuDNN the image must have): majors must agree; the newest minor wins."""
    wanted = [b.cudnn for b in combo if b.image_libs and b.cudnn]
    majors = {major_of(c) for c in wanted}
    if len(majors) > 1:
        tried.add(" and ".join(f"{b.label} needs cuDNN {b.cudnn}" for b in combo if b.cudnn))
        return False, None
    return True, (max(wanted, key=minor_key) if wanted else None)


def _minor_order(
    combo: Sequence[Build], acceptable: set[str], cuda_option: str | None
) -> list[str]:
    data = compat()
    preferred = sorted({b.cuda for b in combo if b.cuda} & acceptable, key=minor_key, reverse=True)
    order = ([cuda_option] if cuda_option in acceptable else []) + preferred
    if data.default_cuda in acceptable:
        order.append(data.default_cuda)
    order += sorted(acceptable, key=minor_key)
    return list(dict.fromkeys(order))


def _acceptable(combo: Sequence[Build], allowed: set[str]) -> set[str]:
    acceptable = set(allowed)
    for b in combo:
        if b.accepts is not None:
            acceptable &= b.accepts
    return acceptable


def _cudnn_fits(tag_cudnn: str | None, need: str | None) -> bool:
    if need is None:
        return tag_cudnn is None  # a cuDNN flavour only when needed
    if tag_cudnn is None or major_of(tag_cudnn) != major_of(need):
        return False
    return minor_key(tag_cudnn)[:2] >= minor_key(need)[:2]


def _tier_nvidia(
    combo: Sequence[Build],
    python: str,
    devel: bool,
    allowed: set[str],
    tried: _Tried,
    cuda_option: str | None,
) -> _Pick | None:
    data = compat()
    ok, cudnn = _cudnn_need(combo, tried)
    if not ok:
        return None
    flavour = "devel" if devel else "runtime"
    for minor in _minor_order(combo, _acceptable(combo, allowed), cuda_option):
        tags = [t for t in data.tags_for(minor) if t.flavour == flavour]
        if not tags:
            if minor in data.deleted:
                tried.add(
                    f"the nvidia/cuda tags of CUDA {minor} were deleted ({data.deleted_date})"
                )
            continue
        fitting = [t for t in tags if _cudnn_fits(t.cudnn, cudnn)]
        if not fitting:
            tried.add(f"no nvidia/cuda {minor} tag has cuDNN {cudnn}")
            continue
        for tag in fitting:
            source = data.ubuntu[tag.ubuntu].source(python) if tag.ubuntu in data.ubuntu else None
            if source is not None:
                return _Pick(
                    name=tag.name,
                    minor=minor,
                    python_source=source,
                    ubuntu=tag.ubuntu,
                    cudnn=cudnn,
                    combo=tuple(combo),
                    reasons=_tag_reasons(tag, combo, python, source, fitting, cudnn, cuda_option),
                )
        ubuntus = sorted({t.ubuntu for t in fitting}, key=minor_key)
        tried.add(
            f"no Ubuntu of the CUDA {minor} tags ({', '.join(ubuntus)}) can install Python {python}"
        )
    return None


def _tag_reasons(
    tag: CudaTag,
    combo: Sequence[Build],
    python: str,
    source: str,
    fitting: Sequence[CudaTag],
    cudnn: str | None,
    cuda_option: str | None,
) -> tuple[str, ...]:
    data = compat()
    built = sorted({b.cuda for b in combo if b.cuda}, key=minor_key)
    makers = [b.label for b in combo if b.cuda == tag.minor]
    if cuda_option == tag.minor:
        why_minor = f"CUDA {tag.minor}: asked for with --cuda"
    elif makers:
        verb = "were" if len(makers) > 1 else "was"
        why_minor = f"CUDA {tag.minor}: the CUDA {' and '.join(makers)} {verb} built with"
    elif tag.minor == data.default_cuda:
        why_minor = (
            f"CUDA {tag.minor}: repro's default CUDA (data policy), which every build accepts"
        )
    else:
        made = f" (built with {', '.join(built)})" if built else ""
        why_minor = (
            f"CUDA {tag.minor}: the closest CUDA every build accepts{made} "
            f"that has an image for Python {python}"
        )
    ubuntu = data.ubuntu[tag.ubuntu]
    where = (
        f"Ubuntu's own python{python}"
        if source == "apt"
        else f"python{python} from the deadsnakes archive (Ubuntu {tag.ubuntu} lacks it)"
    )
    newer = [
        t.ubuntu
        for t in fitting
        if t.cuda == tag.cuda and minor_key(t.ubuntu) > minor_key(tag.ubuntu)
    ]
    skipped = f"; Ubuntu {', '.join(newer)} cannot install Python {python}" if newer else ""
    cudnn_text = (
        f"a cuDNN image: the image must hold cuDNN {cudnn} (this one has {tag.cudnn})"
        if cudnn
        else "no cuDNN in the image: nothing loads it from there"
    )
    return (
        why_minor,
        f"{tag.cuda}: the newest patch of CUDA {tag.minor}, Ubuntu {tag.ubuntu} "
        f"({ubuntu.codename}): the newest Ubuntu carrying it that has {where}{skipped}",
        cudnn_text,
    )


def _tier_fallback(
    combo: Sequence[Build],
    python: str,
    devel: bool,
    allowed: set[str],
    tried: _Tried,
    cuda_option: str | None,
) -> _Pick | None:
    data = compat()
    ok, cudnn = _cudnn_need(combo, tried)
    if not ok:
        return None
    acceptable = _acceptable(combo, allowed)
    keys = {b.fallback_key for b in combo if b.fallback_key}
    loads_cuda = any(b.image_libs for b in combo)

    tagged = set(data.tag_minors())

    def rank(fb: Fallback) -> tuple[int, float, bool]:
        exact = any(fb.framework == k[0] and fb.version == k[1] for k in keys)
        same_minor = any(
            fb.framework == k[0] and minor_of(fb.version) == minor_of(k[1]) for k in keys
        )
        mine = [k[1] for k in keys if k[0] == fb.framework]
        first = 0 if exact else 1 if same_minor else 2 if mine else 3
        # the framework's image of the nearest release, then one seen in use
        distance = min((_release_distance(fb.version, v) for v in mine), default=0.0)
        return (first, distance, not fb.verified)

    usable = [fb for fb in data.fallbacks if fb.cuda in acceptable and fb.cuda not in tagged]
    for fb in sorted(usable, key=rank):  # a stable sort: the data's order breaks ties
        if cudnn is not None and major_of(cudnn) != major_of(fb.cudnn):
            continue
        if loads_cuda and not fb.system_cuda and not any(k[0] == fb.framework for k in keys):
            continue  # CUDA in conda's environment only: no use to another framework
        name = fb.devel if devel else fb.image
        if name is None:
            tried.add(f"{fb.image} has no devel image to compile CUDA code with")
            continue
        if fb.python != python:
            tried.fallback_pythons.setdefault(fb.cuda, set()).add(fb.python)
            continue
        unverified = "" if fb.verified_python else "; its Python not confirmed by a source"
        unverified += "" if fb.verified else "; the tag follows its neighbours' naming, not seen"
        reasons = (
            f"the nvidia/cuda tags of CUDA {fb.cuda} were deleted ({data.deleted_date}): "
            f"{name}, the framework's own image, stands in (CUDA {fb.cuda}, cuDNN {fb.cudnn}, "
            f"Python {fb.python}{unverified})",
            f"packages go into the image's own Python, which holds {fb.framework} {fb.version}",
        )
        return _Pick(
            name=name,
            minor=fb.cuda,
            python_source="image",
            ubuntu=None,
            cudnn=cudnn,
            combo=tuple(combo),
            reasons=reasons,
            fallback=True,
        )
    return None


def _release_distance(a: str, b: str) -> float:
    """How far apart two releases are, by major and minor (1.13 -> 1.14: 1; -> 2.0: 100)."""
    ka, kb = minor_key(minor_of(a)), minor_key(minor_of(b))
    return abs((ka[0] - kb[0]) * 100 + (ka[1] - kb[1]))


def _tier_next_major(
    combo: Sequence[Build],
    python: str,
    devel: bool,
    allowed: set[str],
    tried: _Tried,
    cuda_option: str | None,
) -> _Pick | None:
    """Wheels that carry CUDA X need only a driver: the oldest CUDA X+1 image serves them."""
    if devel or any(b.image_libs for b in combo) or not combo or cuda_option:
        return None
    data = compat()
    top = max((b.cuda for b in combo if b.cuda), key=minor_key, default=None)
    if top is None:
        return None
    later = [m for m in data.tag_minors() if int(major_of(m)) > int(major_of(top)) and m in allowed]
    for minor in later:
        for tag in (t for t in data.tags_for(minor) if t.flavour == "runtime" and t.cudnn is None):
            source = data.ubuntu[tag.ubuntu].source(python) if tag.ubuntu in data.ubuntu else None
            if source is None:
                continue
            reasons = (
                f"no image of CUDA {major_of(top)}.x fits (deleted {data.deleted_date}, or none "
                f"with Python {python}); the wheels carry their own CUDA {top} and need only a "
                f"driver, so the oldest CUDA {major_of(minor)} image with Python {python} serves: "
                f"{tag.name} (its driver requirement is the stricter one)",
            )
            return _Pick(
                name=tag.name,
                minor=minor,
                python_source=source,
                ubuntu=tag.ubuntu,
                cudnn=None,
                combo=tuple(combo),
                reasons=reasons,
            )
    return None


_TIER_RULES = {"nvidia": _tier_nvidia, "fallback": _tier_fallback, "next-major": _tier_next_major}


# --------------------------------------------------------------------------- result


def _base(
    environment: Environment,
    settings: BaseSettings,
    needs: list[Need],
    notes: list[str],
    pick: _Pick,
    devel: bool,
    devel_why: list[str],
    source_built: list[str],
    host: HostGpu | None,
    driver_ok: bool | None,
    warnings: list[str],
    wheelhouse: frozenset[str],
    arch: _Arch,
) -> BaseImage:
    data = compat()
    python = environment.python.version
    reasons = [f"Python {python}: " + "; ".join(environment.python.reasons)]
    if settings.cuda:
        reasons.append(f"--cuda {settings.cuda}")
    if not needs:
        reasons.append(f"--cuda {settings.cuda} asks for a GPU image; no GPU framework is required")
    for need in needs:
        reasons += need.reasons
    reasons += notes
    for build in pick.combo:
        reasons.append(f"chosen: {build.label} ({build.note})")
        if build.cuda and pick.minor != build.cuda and not build.image_libs:
            reasons.append(
                f"{build.label} was built for CUDA {build.cuda} and carries it: it runs on "
                f"the CUDA {pick.minor} base, whose driver requirement is the stricter"
            )
    reasons += pick.reasons
    if devel:
        what = devel_why + [f"{s} builds from source" for s in source_built]
        reasons.append(f"devel flavour (nvcc, headers): {'; '.join(what)}")
    else:
        reasons.append("runtime flavour: nothing compiles CUDA code")
    min_driver = data.min_driver(pick.minor)
    if host is not None:
        verdict = "suffices" if driver_ok else "is too old"
        reasons.append(f"host driver {host.driver} (nvidia-smi) {verdict} for CUDA {pick.minor}")
    reasons += arch.reasons
    lines = [line for build in pick.combo for line in build.lines]
    index_urls = tuple(dict.fromkeys(ln.index_url for ln in lines if ln.index_url))
    find_links = tuple(dict.fromkeys(ln.find_links for ln in lines if ln.find_links))
    torch_index = next(
        (
            ln.index_url or ln.find_links
            for ln in lines
            if ln.name == "torch" and (ln.index_url or ln.find_links)
        ),
        None,
    )
    choice = CudaChoice(
        cuda=pick.minor,
        cudnn=major_of(pick.cudnn) if pick.cudnn else None,
        flavour="devel" if devel else "runtime",
        min_driver=min_driver,
        torch_index_url=torch_index,
        reasons=tuple(reasons[1:]),
        ubuntu=pick.ubuntu,
        python_packages=(
            data.ubuntu[pick.ubuntu].apt_packages(python, devel=devel) if pick.ubuntu else ()
        ),
        pip=data.ubuntu[pick.ubuntu].pip if pick.ubuntu else "pip",
        requirements=tuple((ln.name, ln.text) for ln in lines),
        index_urls=index_urls,
        find_links=find_links,
        fallback=pick.fallback,
        host_driver=host.driver if host else None,
        driver_ok=driver_ok,
        arch_ok=arch.ok,
    )
    suffix = "-devel" if devel else ""
    return BaseImage(
        name=pick.name,
        python=python,
        python_source=pick.python_source,
        gpu=True,
        cuda=choice,
        reasons=tuple(reasons),
        variant=f"py{python}-cu{pick.minor.replace('.', '')}{suffix}",
        venv=not pick.fallback,
        warnings=tuple(warnings),
    )


def _dead_end(
    needs: list[Need],
    python: str,
    settings: BaseSettings,
    host: HostGpu | None,
    devel: bool,
    tried: _Tried,
) -> InferenceError:
    parts = [n.summary for n in needs]
    parts.append(f"Python {python}")
    if settings.cuda:
        parts.append(f"--cuda {settings.cuda}")
    if host is not None:
        parts.append(f"host driver {host.driver}")
    if devel:
        parts.append("CUDA code to compile (devel)")
    why = tried.summary()
    return InferenceError(
        f"no GPU base image fits {' + '.join(parts)}" + (f": {'; '.join(why[:2])}" if why else ""),
        detail="\n".join(f"- {line}" for line in why),
        hint="--cpu builds a CPU image; --python X.Y, --cuda X.Y, --pin or --base-image IMAGE "
        "change the constraints",
    )


def framework_lines(base: BaseImage) -> dict[str, str]:
    """Canonical name -> the pip line to install, where the GPU base chose the build."""
    if base.cuda is None:
        return {}
    return dict(base.cuda.requirements)
