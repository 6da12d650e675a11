"""Environment × BaseSettings → the base image, its Python and what was given up (pure).

Inference runs once and proposes a Python and framework versions. The planner searches
the candidates (Python, framework builds, base image) in the order of a ladder and
returns the first that works, with every rung it tried and every *soft* constraint it
broke (each with its reason). Hard constraints are never broken: the code's syntax and
its Python major, a ``--python`` or ``--cuda`` given by the user, a wheel that does not
exist. Soft ones are: a declared Python pin, the Python and versions chosen for the
code's date, every framework on the GPU, a GPU image at all. See docs/gpu.md, "The
ladder":

1. ``nvidia-cuda``   an nvidia/cuda tag of the CUDA the framework builds need;
2. ``vendor-image``  the frameworks' own GPU images (tensorflow/tensorflow, pytorch/pytorch)
                     with the Python each really has;
3. ``newer-cuda``    builds that carry their CUDA on the oldest nvidia/cuda image of a
                     later major;
4. ``python``        steps 1-3 with another Python the frameworks support, instead of a
                     declared pin they cannot have (a warning names the pin);
5. ``older-pair``    an older torch of the same major, beside another framework, whose
                     CUDA build shares a base with it (torch's version was chosen by the
                     code's date, not pinned), so both keep the GPU;
6. ``primary-gpu``   the primary framework (the one the code imports most) on the GPU,
                     the others as CPU builds;
7. ``cpu``           a CPU image, with the reasons no GPU plan exists (``--require-gpu``
                     makes this an error).

``inspect`` and ``pack`` therefore never fail because a GPU plan is impossible.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from repro import base_image, gpu_needs, mapping
from repro import compat as cdata
from repro.errors import InferenceError, UsageError
from repro.infer import python_releases
from repro.models import (
    JSON,
    STRONG_KINDS,
    BaseImage,
    BaseSettings,
    Environment,
    Evidence,
    GivenImage,
    HostGpu,
    PythonChoice,
)
from repro.versions import python_allows

Step = Literal[
    "nvidia-cuda",
    "vendor-image",
    "newer-cuda",
    "python",
    "older-pair",
    "primary-gpu",
    "cpu",
    "base-image",
]
Outcome = Literal["chosen", "no fit", "not needed"]
GaveUpKind = Literal["python", "version", "framework-gpu", "gpu"]

_TIERS: dict[str, tuple[base_image.Tier, ...]] = {
    "nvidia-cuda": ("nvidia",),
    "vendor-image": ("fallback",),
    "newer-cuda": ("next-major",),
}
GPU_STEPS: tuple[Step, ...] = ("nvidia-cuda", "vendor-image", "newer-cuda")


@dataclass(frozen=True, kw_only=True)
class Rung:
    """One step of the ladder: what was tried and what came of it."""

    step: Step
    outcome: Outcome
    detail: str

    def to_json(self) -> JSON:
        return {"step": self.step, "outcome": self.outcome, "detail": self.detail}

    def line(self) -> str:
        return f"{self.step}: {self.outcome}: {self.detail}"


@dataclass(frozen=True, kw_only=True)
class GaveUp:
    """A soft constraint the plan broke, and why."""

    kind: GaveUpKind
    constraint: str  # "Python ==3.7 (setup.py:5)", "tensorflow on the GPU", "a GPU image"
    reason: str

    def to_json(self) -> JSON:
        return {"kind": self.kind, "constraint": self.constraint, "reason": self.reason}


@dataclass(frozen=True, kw_only=True)
class Planned:
    """The planner's answer: the environment as planned (its Python may have moved), the
    base image, the ladder as climbed, and the soft constraints given up."""

    environment: Environment
    base: BaseImage
    step: Step
    ladder: tuple[Rung, ...]
    gave_up: tuple[GaveUp, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_json(self) -> JSON:
        return {
            "step": self.step,
            "ladder": [r.to_json() for r in self.ladder],
            "gave_up": [g.to_json() for g in self.gave_up],
        }


# environment, Python, why -> the environment for that Python
Retarget = Callable[[Environment, str, str], Environment]


def retarget_python(environment: Environment, python: str, why: str) -> Environment:
    """The environment for another Python, without asking the release index: framework
    versions chosen by date for the old Python are chosen again (by the compatibility
    data, for the new one); pinned ones stay. The pipeline passes a retarget that also
    redoes the date rule's constraints with the release index."""
    requirements = []
    for req in environment.requirements:
        if req.layer == "framework" and req.version and not _pinned(req.specifier, req.version):
            req = dataclasses.replace(
                req,
                version=None,
                reasons=(*req.reasons, f"version chosen again for Python {python}"),
            )
        requirements.append(req)
    return dataclasses.replace(
        environment,
        python=PythonChoice(version=python, reasons=(why,)),
        requirements=tuple(requirements),
    )


def _pinned(specifier: str, version: str) -> bool:
    """Whether a version was fixed by the repository or the user (a pin, a local label)."""
    return cdata.exact_version(specifier) is not None or "+" in version


# --------------------------------------------------------------------------- the search


@dataclass(frozen=True)
class _Ask:
    """Everything base_image.select needs besides the environment and the tiers."""

    settings: BaseSettings
    evidence: Evidence | None
    host: HostGpu | None
    wheelhouse: frozenset[str]

    def select(
        self,
        environment: Environment,
        tiers: Sequence[base_image.Tier] = base_image.TIERS,
        on_gpu: frozenset[str] | None = None,
        settings: BaseSettings | None = None,
    ) -> BaseImage:
        return base_image.select(
            environment,
            settings or self.settings,
            wheelhouse_names=self.wheelhouse,
            evidence=self.evidence,
            host=self.host,
            tiers=tiers,
            on_gpu=on_gpu,
        )

    def clash(self, environment: Environment) -> str | None:
        """Why no build of some framework exists for this environment's Python, or None."""
        try:
            gpu_needs.needs(environment, self.settings, self.wheelhouse)
        except InferenceError as exc:
            # "... not 3.5 (Python 3.5: <why that Python>)": the why is the planner's own
            return exc.message.removeprefix("no GPU base image fits: ").split(" (Python ")[0]
        return None


def plan(
    environment: Environment,
    settings: BaseSettings,
    *,
    evidence: Evidence | None = None,
    host: HostGpu | None = None,
    wheelhouse_names: frozenset[str] = frozenset(),
    retarget: Retarget = retarget_python,
    image: GivenImage | None = None,
) -> Planned:
    """The best candidate and what it gave up. Raises only for ``--require-gpu`` without a
    GPU plan, for a ``--base-image`` that cannot serve (``image``: what the probe found in
    it), and for what no plan can fix (a bad ``--cuda``)."""
    ask = _Ask(settings, evidence, host, wheelhouse_names)
    frameworks = base_image.gpu_frameworks(environment)
    if settings.base_image and image is not None:
        return _on_given(ask, environment, image, retarget)
    if settings.base_image or settings.cpu or (not frameworks and not settings.cuda):
        base = ask.select(environment)
        return _no_ladder(environment, base, settings, frameworks)
    ladder: list[Rung] = []
    found = _climb(ask, environment, ladder)
    if found is not None:
        return found
    alternatives = python_alternatives(environment, evidence, settings)
    moved = _other_python(ask, environment, alternatives, ladder, retarget, evidence)
    if moved is not None:
        return moved
    paired = _older_pair(ask, environment, ladder, evidence)
    if paired is not None:
        return paired
    split = _primary_on_gpu(ask, environment, alternatives, ladder, retarget, evidence)
    if split is not None:
        return split
    return _cpu(ask, environment, ladder, settings)


def _no_ladder(
    environment: Environment, base: BaseImage, settings: BaseSettings, frameworks: list[str]
) -> Planned:
    if settings.base_image:
        detail = f"--base-image {settings.base_image}"
    elif settings.cpu:
        detail = "--cpu"
    else:
        detail = "no GPU framework among the requirements"
    if settings.require_gpu and not base.gpu:
        raise InferenceError(
            f"--require-gpu: no GPU image ({detail})",
            hint="--cuda X.Y asks for a CUDA image even without a GPU framework",
        )
    step: Step = "nvidia-cuda" if base.gpu else "cpu"
    return Planned(
        environment=environment,
        base=base,
        step=step,
        ladder=(Rung(step=step, outcome="chosen", detail=f"{base.name} ({detail})"),),
    )


def _climb(ask: _Ask, environment: Environment, ladder: list[Rung]) -> Planned | None:
    """Steps 1-3 with the environment's own Python."""
    python = environment.python.version
    clash = ask.clash(environment)
    if clash is not None:
        ladder.append(Rung(step="nvidia-cuda", outcome="no fit", detail=clash))
        return None
    for step in GPU_STEPS:
        try:
            base = ask.select(environment, _TIERS[step])
        except InferenceError as exc:
            ladder.append(Rung(step=step, outcome="no fit", detail=_why(exc, python)))
            continue
        if not base.gpu:  # the GPU frameworks present need no CUDA (+cpu builds)
            ladder.append(
                Rung(step="cpu", outcome="chosen", detail=f"{base.name}: {base.reasons[-1]}")
            )
            return Planned(environment=environment, base=base, step="cpu", ladder=tuple(ladder))
        ladder.append(Rung(step=step, outcome="chosen", detail=f"{base.name} (Python {python})"))
        return Planned(environment=environment, base=base, step=step, ladder=tuple(ladder))
    return None


def _why(exc: InferenceError, python: str) -> str:
    """A dead end's reasons on one line."""
    lines = [ln.removeprefix("- ").strip() for ln in exc.detail.splitlines() if ln.strip()]
    head = exc.message.removeprefix("no GPU base image fits ")
    return f"{head}" if not lines else f"{head.split(':')[0]}: {'; '.join(lines[:3])}"


def _other_python(
    ask: _Ask,
    environment: Environment,
    alternatives: Sequence[str],
    ladder: list[Rung],
    retarget: Retarget,
    evidence: Evidence | None,
) -> Planned | None:
    """Step 4: the first other Python for which steps 1-3 find a base."""
    current = environment.python.version
    if not alternatives:
        why = "--python fixes it" if ask.settings.python else "no other Python the code allows"
        ladder.append(Rung(step="python", outcome="no fit", detail=why))
        return None
    tried: list[str] = []
    for python in alternatives:
        moved = retarget(environment, python, f"tried instead of {current}")
        clash = ask.clash(moved)
        if clash is not None:
            tried.append(f"{python} ({clash})")
            continue
        try:
            base = ask.select(moved)
        except InferenceError as exc:
            tried.append(f"{python} ({_why(exc, python)})")
            continue
        broken, why = _python_given_up(environment, evidence, python, base)
        moved = dataclasses.replace(
            moved, python=PythonChoice(version=python, reasons=(why, *moved.python.reasons[1:]))
        )
        base = _said(base, python, why)
        ladder.append(Rung(step="python", outcome="chosen", detail=f"{base.name} ({why})"))
        return Planned(
            environment=moved,
            base=base,
            step="python",
            ladder=tuple(ladder),
            gave_up=(broken,),
            warnings=(f"{broken.constraint} given up: {why}",),
        )
    ladder.append(Rung(step="python", outcome="no fit", detail="; ".join(tried)))
    return None


def _said(base: BaseImage, python: str, why: str) -> BaseImage:
    """The base's first reason (its Python's) with the planner's final why."""
    head = f"Python {python}: "
    if base.reasons and base.reasons[0].startswith(head):
        return dataclasses.replace(base, reasons=(head + why, *base.reasons[1:]))
    return base


def _python_given_up(
    environment: Environment, evidence: Evidence | None, python: str, base: BaseImage
) -> tuple[GaveUp, str]:
    current = environment.python.version
    hints = [
        h
        for h in (evidence.python_hints if evidence else ())
        if h.strength != "syntax"
        and python_allows(current, h.specifier)
        and not python_allows(python, h.specifier)
    ]
    if hints:
        constraint = "declared " + ", ".join(f"Python {h.specifier} ({h.origin})" for h in hints)
    else:
        constraint = f"Python {current} (chosen for the code's date)"
    frameworks = ", ".join(base_image.gpu_frameworks(environment))
    why = (
        f"no GPU base serves {frameworks} on Python {current}; Python {python}, which they "
        f"support, has one ({base.name})"
    )
    return GaveUp(kind="python", constraint=constraint, reason=why), why


def python_alternatives(
    environment: Environment, evidence: Evidence | None, settings: BaseSettings
) -> list[str]:
    """The other Pythons the code allows (same major, the syntax it uses), nearest first
    and, at the same distance, the older: old frameworks have images for old Pythons."""
    if settings.python:
        return []  # the user's choice is a hard constraint
    current = environment.python.version
    major, minor = (int(p) for p in current.split("."))
    hard = [h for h in (evidence.python_hints if evidence else ()) if h.strength == "syntax"]
    out = []
    for version in python_releases():
        v_major, v_minor = (int(p) for p in version.split("."))
        if version == current or v_major != major:
            continue
        if all(python_allows(version, h.specifier) for h in hard):
            out.append((abs(v_minor - minor), v_minor > minor, v_minor, version))
    return [v for *_, v in sorted(out)]


# --------------------------------------------------------------------------- --base-image


def _on_given(
    ask: _Ask, environment: Environment, image: GivenImage, retarget: Retarget
) -> Planned:
    """Plan for what a given image has; a clear error when it cannot serve."""
    settings, evidence = ask.settings, ask.evidence
    name, current = image.name, environment.python.version
    where = "the probe found" if image.probed else "its config names"
    if image.python is None:
        raise UsageError(
            f"--base-image {name} has no Python ({where} no python3, python or python2): "
            "repro installs the requirements into the image's own Python",
            hint=f"use an image with Python {current} (python:{current}-slim, or the image "
            "repro picks without --base-image)",
        )
    have = image.python
    if have.split(".")[0] != current.split(".")[0]:
        raise UsageError(
            f"--base-image {name} has Python {have}; the code is Python "
            f"{current.split('.')[0]} ({'; '.join(environment.python.reasons[:2])})",
            hint=f"use an image with Python {current} (python:{current}-slim)",
        )
    syntax = [
        h
        for h in (evidence.python_hints if evidence else ())
        if h.strength == "syntax" and not python_allows(have, h.specifier)
    ]
    if syntax:
        needed = "; ".join(f"Python {h.specifier} ({h.origin})" for h in syntax[:2])
        raise UsageError(
            f"--base-image {name} has Python {have}; the code's syntax needs {needed}",
            hint="use an image with a Python the code can run on",
        )
    if not image.pip and not image.venv:
        raise UsageError(
            f"--base-image {name}: its Python {have} ({image.interpreter}) has neither pip "
            "nor ensurepip, which repro installs with",
            hint="install python3-pip in the image, or use an image whose Python has pip",
        )
    gave_up: list[GaveUp] = []
    warnings: list[str] = []
    moved = environment
    if have != current:
        why = f"the Python of --base-image {name}"
        moved = retarget(environment, have, f"Python {have}: {why}")
        hints = [
            h
            for h in (evidence.python_hints if evidence else ())
            if h.strength != "syntax"
            and python_allows(current, h.specifier)
            and not python_allows(have, h.specifier)
        ]
        constraint = (
            "declared " + ", ".join(f"Python {h.specifier} ({h.origin})" for h in hints)
            if hints
            else f"Python {current} (chosen for the code's date)"
        )
        gave_up.append(GaveUp(kind="python", constraint=constraint, reason=f"{why} is {have}"))
        warnings.append(f"{constraint} given up: {why} is {have}")
    if base_image.gpu_frameworks(moved) and not settings.cpu:
        clash = ask.clash(moved)
        if clash is not None:
            raise UsageError(
                f"--base-image {name} has Python {have}: {clash}",
                hint="use an image with a Python the frameworks have wheels for, or --pin "
                "another release",
            )
    base = base_image.on_given(moved, settings, image, wheelhouse_names=ask.wheelhouse)
    if settings.require_gpu and not base.gpu:
        raise InferenceError(
            f"--require-gpu: --base-image {name} gives no GPU plan",
            detail="\n".join(f"- {w}" for w in base.warnings),
        )
    detail = f"{name}: Python {have} ({image.interpreter})" + (
        f", CUDA {image.cuda}" if image.cuda else ", no CUDA"
    )
    return Planned(
        environment=moved,
        base=base,
        step="base-image",
        ladder=(Rung(step="base-image", outcome="chosen", detail=detail),),
        gave_up=tuple(gave_up),
        warnings=(*warnings, *base.warnings),
    )


# --------------------------------------------------------------------------- step 5


def _older_pair(
    ask: _Ask, environment: Environment, ladder: list[Rung], evidence: Evidence | None
) -> Planned | None:
    """Step 5: torch, when it is not the only GPU framework and its version was chosen by
    the code's date, steps back release by release within its major (and its bounds) to
    the newest whose CUDA build shares a base with the others: both keep the GPU."""
    order = framework_order(environment, evidence)
    if len(order) < 2:
        ladder.append(Rung(step="older-pair", outcome="not needed", detail="one GPU framework"))
        return None
    torch = next(
        (
            r
            for r in environment.requirements
            if canonicalize_name(r.name) == "torch" and not r.optional
        ),
        None,
    )
    if torch is None or not torch.version or _pinned(torch.specifier, torch.version):
        why = "torch is pinned" if torch is not None else "no torch to step back"
        ladder.append(Rung(step="older-pair", outcome="no fit", detail=why))
        return None
    python, current = environment.python.version, torch.version
    try:
        now = Version(current)
        bounds = SpecifierSet(torch.specifier)
    except (InvalidVersion, InvalidSpecifier):
        ladder.append(Rung(step="older-pair", outcome="no fit", detail=f"torch {current}"))
        return None
    older = [
        r.torch
        for r in reversed(cdata.load().torch)
        if python in r.python
        and Version(r.torch) < now
        and Version(r.torch).major == now.major
        and Version(r.torch) in bounds
    ]
    others = ", ".join(f for f, _ in order if f != "torch")
    for version in older:
        note = (
            f"torch {version}, not {current} (chosen for the code's date): its CUDA build "
            f"shares a GPU base with {others}"
        )
        candidate = _torch_at(environment, version, note)
        try:
            base = ask.select(candidate)
        except InferenceError:
            continue
        if not base.gpu:
            continue
        within = f" within {torch.specifier}" if torch.specifier else ""
        reason = (
            f"no base serves torch {current} and {others} on the GPU together; torch "
            f"{version}, the newest {now.major}.x release{within} with a build for Python "
            f"{python} that shares one ({base.name}), keeps both on it"
        )
        said = f"torch {version}: the version chosen for the code's date"
        base = dataclasses.replace(
            base,
            reasons=tuple(r.replace(said, note) for r in base.reasons),
        )
        detail = f"{base.name}: torch {version} (not {current}) beside {others}, all on the GPU"
        ladder.append(Rung(step="older-pair", outcome="chosen", detail=detail))
        return Planned(
            environment=candidate,
            base=base,
            step="older-pair",
            ladder=tuple(ladder),
            gave_up=(
                GaveUp(
                    kind="version",
                    constraint=f"torch {current} (chosen for the code's date)",
                    reason=reason,
                ),
            ),
            warnings=(f"torch {current} (chosen for the code's date) given up: {reason}",),
        )
    within = f" within {torch.specifier}" if torch.specifier else ""
    detail = f"no torch {now.major}.x{within} before {current} shares a GPU base with {others}"
    ladder.append(Rung(step="older-pair", outcome="no fit", detail=detail))
    return None


def _torch_at(environment: Environment, version: str, note: str) -> Environment:
    """The environment with torch at ``version`` and its companions (torchvision,
    torchaudio) at the releases that go with it, unless the repository pinned them."""
    release = cdata.load().torch_release(version)
    paired = {
        "torch": version,
        "torchvision": release.torchvision if release else None,
        "torchaudio": release.torchaudio if release else None,
    }
    moved: dict[str, str] = {}
    requirements = []
    for req in environment.requirements:
        key = str(canonicalize_name(req.name))
        to = paired.get(key)
        if to and req.version and req.version != to and not _pinned(req.specifier, req.version):
            why = note if key == "torch" else f"{req.name} {to} goes with torch {version}"
            req = dataclasses.replace(req, version=to, reasons=(*req.reasons, why))
            moved[key] = why
        requirements.append(req)
    choices = tuple(
        dataclasses.replace(c, version=paired[key], chain=(*c.chain, moved[key]))
        if (key := str(canonicalize_name(c.name))) in moved
        else c
        for c in environment.choices
    )
    return dataclasses.replace(environment, requirements=tuple(requirements), choices=choices)


# --------------------------------------------------------------------------- step 6


def framework_order(environment: Environment, evidence: Evidence | None) -> list[tuple[str, int]]:
    """The GPU frameworks (families) of the environment, the one the code imports most
    first (then the declared ones, then by name), each with its number of import sites."""
    data = cdata.load()
    families: dict[str, bool] = {}
    for req in environment.requirements:
        if not req.optional and data.is_gpu_package(req.name):
            family = data.family_of(req.name)
            declared = any(o.kind in STRONG_KINDS for o in req.origins)
            families[family] = families.get(family, False) or declared
    counts: Counter[str] = Counter()
    dist_of: dict[str, str | None] = {}
    python = environment.python.version
    for site in evidence.imports if evidence else ():
        if site.optional:
            continue
        top = site.module.split(".")[0]
        if top not in dist_of:
            found = mapping.lookup(top, python=python)
            dist_of[top] = str(canonicalize_name(found.dist)) if found.kind == "dist" else None
        dist = dist_of[top]
        if dist is not None and data.is_gpu_package(dist):
            counts[data.family_of(dist)] += 1
    order = sorted(families, key=lambda f: (-counts[f], not families[f], f))
    return [(f, counts[f]) for f in order]


def _primary_on_gpu(
    ask: _Ask,
    environment: Environment,
    alternatives: Sequence[str],
    ladder: list[Rung],
    retarget: Retarget,
    evidence: Evidence | None,
) -> Planned | None:
    """Step 6: the primary framework on the GPU, the others as CPU builds."""
    order = framework_order(environment, evidence)
    if len(order) < 2:
        ladder.append(Rung(step="primary-gpu", outcome="not needed", detail="one GPU framework"))
        return None
    (primary, count), others = order[0], order[1:]
    current = environment.python.version
    tried = []
    for python in (current, *alternatives):
        candidate = environment
        if python != current:
            candidate = retarget(environment, python, f"tried instead of {current}")
        try:
            base = ask.select(candidate, on_gpu=frozenset({primary}))
        except InferenceError as exc:
            tried.append(f"Python {python}: {_why(exc, python)}")
            continue
        rest = ", ".join(f"{f} ({n} import site(s))" for f, n in others)
        reason = (
            f"no base serves {primary} and {', '.join(f for f, _ in others)} on the GPU "
            f"together; {primary} is the primary framework ({count} import site(s), "
            f"against {rest}): it keeps the GPU, the others run on the CPU"
        )
        gave_up = [
            GaveUp(kind="framework-gpu", constraint=f"{family} on the GPU", reason=reason)
            for family, _ in others
        ]
        warnings = [f"{', '.join(f for f, _ in others)} as CPU build(s): {reason}"]
        if python != current:
            broken, why = _python_given_up(environment, evidence, python, base)
            gave_up.append(broken)
            warnings.append(f"{broken.constraint} given up: {why}")
            candidate = dataclasses.replace(
                candidate, python=PythonChoice(version=python, reasons=(why,))
            )
            base = _said(base, python, why)
        detail = f"{base.name}: {primary} on the GPU, {', '.join(f for f, _ in others)} on the CPU"
        ladder.append(Rung(step="primary-gpu", outcome="chosen", detail=detail))
        return Planned(
            environment=candidate,
            base=base,
            step="primary-gpu",
            ladder=tuple(ladder),
            gave_up=tuple(gave_up),
            warnings=tuple(warnings),
        )
    ladder.append(Rung(step="primary-gpu", outcome="no fit", detail="; ".join(tried)))
    return None


# --------------------------------------------------------------------------- step 7


def _cpu(
    ask: _Ask, environment: Environment, ladder: list[Rung], settings: BaseSettings
) -> Planned:
    frameworks = ", ".join(base_image.gpu_frameworks(environment))
    summary = "; ".join(r.line() for r in ladder if r.outcome == "no fit")
    if settings.require_gpu:
        raise InferenceError(
            f"--require-gpu: no GPU base image fits {frameworks} (Python "
            f"{environment.python.version})",
            detail="\n".join(f"- {r.line()}" for r in ladder),
            hint="without --require-gpu repro plans a CPU image; --python X.Y, --cuda X.Y, "
            "--pin or --base-image IMAGE change the constraints",
        )
    base = ask.select(environment, settings=dataclasses.replace(settings, cpu=True))
    reason = f"no GPU plan for {frameworks}: {summary}"
    kept = tuple(r for r in base.reasons if not r.startswith("--cpu"))
    reasons = (*kept, f"{reason}: a CPU image, CPU-only builds of {frameworks}")
    base = dataclasses.replace(base, reasons=reasons)
    ladder.append(Rung(step="cpu", outcome="chosen", detail=f"{base.name}: no GPU plan exists"))
    return Planned(
        environment=environment,
        base=base,
        step="cpu",
        ladder=tuple(ladder),
        gave_up=(GaveUp(kind="gpu", constraint="a GPU image", reason=reason),),
        warnings=(
            f"no GPU base image fits {frameworks}: a CPU image instead (--require-gpu makes "
            "this an error); see the plan's ladder for why",
        ),
    )


__all__ = [
    "GaveUp",
    "Planned",
    "Rung",
    "framework_order",
    "plan",
    "python_alternatives",
    "retarget_python",
]
