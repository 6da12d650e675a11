"""What each GPU framework asks of the base image: its release and its CUDA builds (pure).

``needs()`` turns the environment's GPU requirements into one ``Need`` per framework. A need
lists the ways to install that framework (``Build``), best first: the CUDA it was built
with, the CUDA minors it can run under, whether it loads CUDA/cuDNN from the image, and the
exact pip lines (local version label, index or find-links page) that install that build.
An unpinned framework is pinned to the newest release in the data that fits its specifier,
the chosen Python and the code's date, so that the wheel, its index and the base agree.
All facts come from ``repro/data/compat.json``; ``base_image`` combines the needs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from repro import compat as cdata
from repro.compat import Compat, major_of, minor_key, minor_of
from repro.errors import InferenceError
from repro.models import STRONG_KINDS, BaseSettings, Environment, Requirement


@dataclass(frozen=True)
class Line:
    """A requirement line as the framework layer installs it, and where pip finds it."""

    name: str  # canonical
    text: str
    index_url: str | None = None
    find_links: str | None = None


@dataclass(frozen=True)
class Build:
    """One way to install a framework: a CUDA build and what it asks of the base image."""

    label: str  # "torch 1.4.0+cu101"
    cuda: str | None  # the CUDA it was built with: the preferred base CUDA
    accepts: frozenset[str] | None  # base CUDA minors it works with; None = any
    image_libs: bool  # needs CUDA (and cuDNN) inside the image
    cudnn: str | None  # the cuDNN it needs in the image (image_libs only)
    lines: tuple[Line, ...]
    note: str
    fallback_key: tuple[str, str] | None = None  # (framework, version) for fallback images
    devel: bool = False  # built from source: needs the CUDA toolkit


@dataclass(frozen=True)
class Need:
    summary: str  # "torch 1.4.0 (CUDA builds 9.2, 10.0, 10.1)"
    builds: tuple[Build, ...]
    reasons: tuple[str, ...] = ()


class _Clash(Exception):
    """A constraint that cannot be met; the message names it."""


def needs(
    environment: Environment, settings: BaseSettings, wheelhouse: frozenset[str]
) -> tuple[list[Need], list[str]]:
    """Every GPU framework's need, and notes on those that need no CUDA (CPU builds)."""
    data = cdata.load()
    reqs: dict[str, Requirement] = {
        str(canonicalize_name(r.name)): r
        for r in environment.requirements
        if not r.optional and r.name and data.is_gpu_package(r.name)
    }
    needs: list[Need] = []
    notes: list[str] = []
    python = environment.python.version
    ctx = _Ctx(
        data=data,
        python=python,
        python_why="; ".join(environment.python.reasons),
        as_of=environment.as_of.isoformat() if environment.as_of else None,
        cuda_option=settings.cuda,
        wheelhouse=wheelhouse,
    )
    builders = (_torch_need, _tf_need, _jax_need, _paddle_need)
    try:
        for builder in builders:
            need = builder(reqs, ctx)
            if isinstance(need, str):
                notes.append(need)
            elif need is not None:
                needs.append(need)
        for key, req in sorted(reqs.items()):
            if key in data.packages:
                needs.append(_package_need(req, ctx))
    except _Clash as clash:
        raise InferenceError(
            f"no GPU base image fits: {clash}",
            hint="--cpu builds a CPU image; --python X.Y, --pin or --base-image IMAGE "
            "change the constraints",
        ) from None
    return needs, notes


@dataclass(frozen=True)
class _Ctx:
    data: Compat
    python: str
    python_why: str
    as_of: str | None
    cuda_option: str | None
    wheelhouse: frozenset[str]

    def python_clash(self, what: str, pythons: Sequence[str]) -> _Clash:
        return _Clash(
            f"{what} has wheels for Python {ranges(pythons)}, not {self.python} "
            f"(Python {self.python}: {self.python_why})"
        )


def _exact(req: Requirement) -> str | None:
    """The one version a requirement allows, if it names one (``==1.4.0``, or chosen)."""
    return req.version or cdata.exact_version(req.specifier)


def _declared(req: Requirement | None) -> str | None:
    """The version the repository (or --pin, or a wheelhouse) fixes, not one repro chose.

    A version with a local label (``2.13.0+cu130``) comes from a wheelhouse or a pin; one
    without, set while the specifier is open, was chosen by date and may yield.
    """
    if req is None:
        return None
    pinned = _exact(dataclasses.replace(req, version=None))
    if pinned:
        return pinned
    return req.version if req.version and "+" in req.version else None


def _is_declared(req: Requirement) -> bool:
    """Stated by a requirements or packaging file (or --pin), not only imported."""
    return any(o.kind in STRONG_KINDS for o in req.origins)


def _allows(req: Requirement | None, version: str) -> bool:
    if req is None or not req.specifier:
        return True
    return _contains(req.specifier, version)


_version = lru_cache(maxsize=4096)(Version)


@lru_cache(maxsize=8192)
def _contains(specifier: str, version: str) -> bool:
    """Whether ``specifier`` allows ``version`` (kept: the planner asks the same pairs for
    every Python and rung it tries)."""
    try:
        return Version(version) in SpecifierSet(specifier)
    except (InvalidSpecifier, InvalidVersion):
        return True


def _pick(
    candidates: Iterable[tuple[str, str | None, Sequence[str]]],
    req: Requirement | None,
    ctx: _Ctx,
) -> tuple[str | None, str]:
    """The newest candidate (version, date, Pythons) the specifier, Python and date allow."""
    fitting = [
        (v, d)
        for v, d, pys in candidates
        if ctx.python in pys and _allows(req, v) and not _version(v).is_prerelease
    ]
    if not fitting:
        return None, ""
    fitting.sort(key=lambda vd: _version(vd[0]))
    if ctx.as_of:
        dated = [(v, d) for v, d in fitting if d and d <= ctx.as_of]
        if dated:
            return dated[-1][0], f"the newest release by {ctx.as_of} (the code's date)"
        return fitting[0][0], f"the oldest release; none was out by {ctx.as_of}"
    return fitting[-1][0], "the newest release in repro's compatibility data"


def _local(version: str) -> str:
    return version.split("+", 1)[1] if "+" in version else ""


def _origin(req: Requirement) -> str:
    if req.origins:
        o = req.origins[0]
        return o.detail if o.kind == "user" else str(o)
    return "the requirements"


# ----------------------------------------------------------------- torch


def _torch_need(reqs: dict[str, Requirement], ctx: _Ctx) -> Need | str | None:
    family: dict[str, Requirement] = {
        n: reqs[n] for n in ("torch", "torchvision", "torchaudio") if n in reqs
    }
    if not family:
        return None
    version, why = _torch_version(family, ctx)
    local = _local(version)
    if local == "cpu":
        return f"torch {version} is a CPU build ({why}): it needs no CUDA"
    release, inherited = _torch_release(ctx.data, version)
    if ctx.python not in release.python:
        raise ctx.python_clash(f"torch {release.torch}", release.python)
    companions = {"torchvision": release.torchvision, "torchaudio": release.torchaudio}
    paired_notes = []
    for name, paired in companions.items():
        req = family.get(name)
        pinned = _declared(req)
        if req is not None and pinned and paired and _predates_pairings(ctx.data, name, pinned):
            paired_notes.append(
                f"{name} {pinned} (pinned, {_origin(req)}) predates every {name} repro's "
                f"compatibility data pairs with a torch: installed as pinned, from PyPI, beside "
                f"torch {release.torch}"
            )
            continue
        if pinned and paired and not inherited and pinned.split("+")[0] != paired:
            raise _Clash(
                f"{name} {pinned} does not go with torch {release.torch} ({name} {paired} does)"
            )
        chosen = req.version if req is not None and not pinned else None
        if chosen and paired and chosen.split("+")[0] != paired:
            paired_notes.append(
                f"{name} {paired} goes with torch {release.torch} (not {chosen}, chosen by date)"
            )
    builds = sorted(release.builds, key=lambda b: minor_key(b.cuda), reverse=True)
    builds.sort(key=lambda b: b.cuda != release.default_cuda)  # PyPI's own build first
    if local.startswith("cu"):
        builds = [b for b in builds if b.tag == local]
        if not builds:
            raise _Clash(f"torch {version}: no CUDA build {local} in the data")
    usable = [b for b in builds if b.local is not None]
    if not usable:
        raise _Clash(
            f"torch {release.torch} (CUDA {', '.join(b.cuda for b in builds)}): no nvidia/cuda "
            "image or install recipe for its CUDA builds"
        )
    options = []
    for build in usable:
        lines = []
        assert build.local is not None
        for name, req in family.items():
            lines.append(_torch_line(name, req, release, build.local, build, ctx, inherited))
        accepts = _same_major_from(ctx.data, build.cuda)
        default = " (PyPI's own build)" if build.cuda == release.default_cuda else ""
        options.append(
            Build(
                label=f"torch {release.torch}+{build.tag}",
                cuda=build.cuda,
                accepts=accepts,
                image_libs=False,
                cudnn=None,
                lines=tuple(lines),
                note=f"torch {version} CUDA {build.cuda} build{default}",
                fallback_key=("torch", release.torch),
            )
        )
    cudas = ", ".join(b.cuda for b in sorted(release.builds, key=lambda b: minor_key(b.cuda)))
    unverified = "" if release.verified else " (row not confirmed by a primary source)"
    gone = (
        "; PyPI has no torch before 1.0 any more: PyTorch's own wheel pages serve it"
        if Version(release.torch) < Version("1.0")
        else ""
    )
    reasons = (
        f"torch {version}: {why}; CUDA builds {cudas}, PyPI's is "
        f"{release.default_cuda or 'none'}{inherited}{gone}{unverified}",
        *paired_notes,
        "torch wheels carry their CUDA runtime and cuDNN: the base needs only a driver",
    )
    return Need(summary=f"torch {version} (CUDA {cudas})", builds=tuple(options), reasons=reasons)


def _predates_pairings(data: Compat, name: str, version: str) -> bool:
    """Whether the companion release ``name`` ``version`` is older than every one the data
    pairs with a torch (torchvision 0.1.9: from before torch's own pairing tables)."""
    paired = [getattr(r, name) for r in data.torch if getattr(r, name)]
    try:
        return bool(paired) and Version(version.split("+")[0]) < min(map(Version, paired))
    except InvalidVersion:
        return False


def _torch_version(family: Mapping[str, Requirement], ctx: _Ctx) -> tuple[str, str]:
    """The torch version and why: the repository's own pins first (torch's, then a
    companion's), then the version repro chose by date, then the newest release in the
    data that fits."""
    data = ctx.data
    torch = family.get("torch")
    version: str | None = _declared(torch)
    why = f"pinned ({_origin(torch)})" if torch and version else ""
    if version is None:
        for companion in ("torchvision", "torchaudio"):
            req = family.get(companion)
            pinned = _declared(req)
            if req is not None and pinned:
                release = data.torch_by_companion(companion, pinned)
                if release is None and _predates_pairings(data, companion, pinned):
                    continue  # installed as pinned (_torch_line); torch as if unpinned
                if release is None:
                    raise _Clash(f"{companion} {pinned} is not in repro's compatibility data")
                version, why = release.torch, f"the torch of {companion} {pinned}"
                break
    if version is None and torch is not None and torch.version:
        version, why = torch.version, "the version chosen for the code's date"
    if version is None:
        picked, how = _pick(((r.torch, r.released, r.python) for r in data.torch), torch, ctx)
        if picked is None:
            spec = torch.specifier if torch else ""
            raise _Clash(
                f"no torch release{' ' + spec if spec else ''} has wheels for Python {ctx.python}"
            )
        version, why = picked, f"torch{torch.specifier if torch else ''} is not pinned: {how}"
    return version, why


def _torch_release(data: Compat, version: str) -> tuple[cdata.TorchRelease, str]:
    """The data's row for a torch version; for a version the data lacks, the newest row of
    its minor series, with the note that says so."""
    release = data.torch_release(version)
    if release is not None:
        return release, ""
    same_minor = [r for r in data.torch if minor_of(r.torch) == minor_of(version)]
    if not same_minor:
        newest = data.torch[-1].torch
        raise _Clash(
            f"torch {version} is not in repro's compatibility data (newest: {newest}): "
            "pass --cuda X.Y, or regenerate the data (scripts/gen_compat.py)"
        )
    release = same_minor[-1]
    return (
        release,
        f"; torch {version} is not in the data, so its CUDA builds are {release.torch}'s",
    )


def _torch_line(
    name: str,
    req: Requirement,
    release: cdata.TorchRelease,
    local: str,
    build: cdata.TorchBuild,
    ctx: _Ctx,
    inherited: str,
) -> Line:
    """One torch-family line for a build; a version chosen with a local label is kept."""
    if req.url:
        return Line(name=name, text=req.pip_line())
    extras = f"[{','.join(req.extras)}]" if req.extras else ""
    marker = f"; {req.marker}" if req.marker else ""
    url = build.wheel_url(ctx.python) if name == "torch" else None
    if url is not None and name not in ctx.wheelhouse:
        # CUDA 7.5 builds (torch 0.1-0.3) predate the wheel pages: the file's own URL
        return Line(name=name, text=f"{req.name}{extras} @ {url}{marker}")
    pinned = _declared(req)
    if name != "torch" and pinned and _predates_pairings(ctx.data, name, pinned):
        return Line(name=name, text=req.pip_line())  # as pinned (_torch_need says so)
    if req.version and "+" in req.version:  # from the wheelhouse or a pin: as it is
        text = req.pip_line()
    else:
        paired = {
            "torch": release.wheel_version if not inherited else (_exact(req) or release.torch),
            "torchvision": release.torchvision if not inherited else _exact(req),
            "torchaudio": release.torchaudio if not inherited else _exact(req),
        }[name]
        if paired is None:
            return Line(name=name, text=req.pip_line())
        # as on PyTorch's install page: torchaudio unsuffixed, the index serves its build
        suffix = local if ctx.data.torch_companion_local.get(name, True) else ""
        text = f"{req.name}{extras}=={paired.split('+')[0]}{suffix}{marker}"
    in_wheelhouse = name in ctx.wheelhouse
    return Line(
        name=name,
        text=text,
        index_url=None if in_wheelhouse else build.index_url,
        find_links=None if in_wheelhouse else build.find_links,
    )


def _same_major_from(data: Compat, cuda: str) -> frozenset[str]:
    """Base CUDA minors a wheel built for ``cuda`` runs under: that minor or newer, same major."""
    return frozenset(
        m
        for m in data.known_minors()
        if major_of(m) == major_of(cuda) and minor_key(m) >= minor_key(cuda)
    )


# ----------------------------------------------------------------- tensorflow


def _tf_need(reqs: dict[str, Requirement], ctx: _Ctx) -> Need | str | None:
    both = [reqs[n] for n in ("tensorflow-gpu", "tensorflow") if n in reqs]
    if not both:
        return None
    # Both may come in: tensorflow-gpu declared, tensorflow from `import tensorflow`. They
    # are one module: the declared one (a pin first) is installed, the other is not.
    req = min(both, key=lambda r: (_declared(r) is None, not _is_declared(r)))
    dropped = [r for r in both if r is not req]
    data = ctx.data
    name = canonicalize_name(req.name)
    version = _exact(req)
    why = _how_fixed(req, version)
    if version is None:
        gpu_last = Version(data.tensorflow_gpu_last + ".999")
        candidates = [
            (v, d, r.python)
            for r in data.tensorflow
            for v, d in r.versions.items()
            if name != "tensorflow-gpu" or Version(v) <= gpu_last
        ]
        version, how = _pick(candidates, req, ctx)
        if version is None:
            raise _Clash(f"no {req.name}{req.specifier} release has wheels for Python {ctx.python}")
        why = f"{req.name}{req.specifier} is not pinned: {how}"
    public = version.split("+")[0]
    if name == "tensorflow-gpu" and Version(public) >= Version(data.tensorflow_gpu_last + ".999"):
        raise _Clash(
            f"tensorflow-gpu {public} does not exist as a working package (it stopped at "
            f"{data.tensorflow_gpu_last}; later versions fail to install): use tensorflow"
        )
    release = data.tf_release(public)
    if release is None:
        raise _Clash(
            f"{req.name} {public} is not in repro's compatibility data: pass --cuda X.Y, or "
            "regenerate the data (scripts/gen_compat.py)"
        )
    if ctx.python not in release.python:
        raise ctx.python_clash(f"{req.name} {public}", release.python)
    package = req.name if name == "tensorflow-gpu" else release.package
    extras = sorted({*req.extras, *release.extras})
    extra_text = f"[{','.join(extras)}]" if extras else ""
    marker = f"; {req.marker}" if req.marker else ""
    lines = [Line(name=name, text=f"{package}{extra_text}=={public}{marker}")]
    lines += [Line(name=canonicalize_name(r.name), text="") for r in dropped]
    apart = [
        f"{r.name} ({_origin(r)}) is the module {req.name} provides: not installed apart"
        for r in dropped
    ]
    if release.bundled:
        accepts: frozenset[str] | None = _same_major_from(data, release.cuda)
        how = (
            f"{package}{extra_text} brings CUDA {release.cuda} and cuDNN {release.cudnn} as "
            "wheels: the base needs only a driver"
        )
    else:
        accepts = frozenset({release.cuda})
        how = (
            f"{package} {public} loads CUDA {release.cuda} and cuDNN {release.cudnn} from "
            "the image (TensorFlow's tested build configuration)"
        )
    renamed = "" if package == req.name else f"; installed as {package}{extra_text} for the GPU"
    build = Build(
        label=f"{package} {public}",
        cuda=release.cuda,
        accepts=accepts,
        image_libs=not release.bundled,
        cudnn=None if release.bundled else release.cudnn,
        lines=tuple(lines),
        note=how,
        fallback_key=("tensorflow", public),
    )
    return Need(
        summary=f"{req.name} {public} (CUDA {release.cuda}, cuDNN {release.cudnn})",
        builds=(build,),
        reasons=(f"{req.name} {public}: {why}{renamed}", *apart, how),
    )


# ----------------------------------------------------------------- jax


def _jax_need(reqs: dict[str, Requirement], ctx: _Ctx) -> Need | str | None:
    jax = reqs.get("jax")
    jaxlib = reqs.get("jaxlib")
    if jax is None and jaxlib is None:
        return None
    data = ctx.data
    main = jax or jaxlib
    assert main is not None
    version = _exact(main)
    why = _how_fixed(main, version)
    if version is None:
        candidates = [(v, d, r.python) for r in data.jax for v, d in r.versions.items()]
        version, how = _pick(candidates, main, ctx)
        if version is None:
            raise _Clash(f"no jax release{main.specifier} has wheels for Python {ctx.python}")
        why = f"{main.name}{main.specifier} is not pinned: {how}"
    public = version.split("+")[0]
    local = _local(_exact(jaxlib) or "") if jaxlib else ""
    if jax is None and not local.startswith("cuda"):
        # jaxlib alone, without a CUDA label, is PyPI's CPU build
        return f"jaxlib {version} without a CUDA label is a CPU build: it needs no CUDA"
    release = data.jax_release(public)
    if release is None:
        raise _Clash(f"jax {public} is not in repro's compatibility data: pass --cuda X.Y")
    if release.jaxlib_labelled:
        return _jaxlib_need(jax, jaxlib, public, release, why, ctx)
    if ctx.python not in release.python:
        raise ctx.python_clash(f"jax {public}", release.python)
    builds = list(release.builds)
    wanted = {e for e in (jax.extras if jax else ()) if e.startswith("cuda")}
    if wanted:
        builds = [b for b in builds if b.extra in wanted] or _same_major_builds(builds, wanted)
    if local.startswith("cuda"):
        major = local[4:].split(".")[0][:2]
        builds = [b for b in builds if major_of(b.cuda) == major]
    if not builds and wanted and jax is not None and _declared(jax) is None:
        # jax[cuda11_...] asked for, and the version chosen by date has no CUDA 11 build
        # any more (0.4.26 dropped it): the newest older release that still has one.
        older = _older_jax_with(data, wanted, public, main, ctx)
        if older is not None:
            extra = ", ".join(sorted(wanted))
            why = (
                f"{why} was {public}, which has no build for jax[{extra}]; {older[0]} is the "
                "newest release that has one"
            )
            public, release, builds = older
    if not builds:
        raise _Clash(f"jax {public}: no CUDA build for {', '.join(sorted(wanted)) or local}")
    options = []
    for b in builds:
        others = [e for e in (jax.extras if jax else ()) if not e.startswith("cuda")]
        extras = ",".join([*others, b.extra])
        links = None if {"jax", "jaxlib"} & ctx.wheelhouse else b.find_links
        lines = []
        if jax is not None:
            lines.append(Line(name="jax", text=f"jax[{extras}]=={public}", find_links=links))
        if jaxlib is not None:
            lines.append(Line(name="jaxlib", text=jaxlib.pip_line(), find_links=links))
        accepts = frozenset(
            m
            for m in data.known_minors()
            if major_of(m) == major_of(b.cuda) and minor_key(m) >= minor_key(b.min_cuda)
        )
        how = (
            f"jax[{b.extra}] brings CUDA and cuDNN as wheels (built with CUDA {b.cuda}, "
            f"runs on CUDA {b.min_cuda} or newer): the base needs only a driver"
            if b.bundled
            else f"jax[{b.extra}] loads CUDA {b.min_cuda}+ and cuDNN {b.cudnn} from the image"
        )
        options.append(
            Build(
                label=f"jax[{b.extra}] {public}",
                cuda=b.cuda,
                accepts=accepts,
                image_libs=not b.bundled,
                cudnn=None if b.bundled else b.cudnn,
                lines=tuple(lines),
                note=how,
            )
        )
    unverified = "" if release.verified else " (row not confirmed by a primary source)"
    extras_list = ", ".join(b.extra for b in release.builds)
    return Need(
        summary=f"jax {public} ({extras_list})",
        builds=tuple(options),
        reasons=(f"jax {public}: {why}; CUDA builds {extras_list}{unverified}",),
    )


def _jaxlib_need(
    jax: Requirement | None,
    jaxlib: Requirement | None,
    public: str,
    release: cdata.JaxRelease,
    why: str,
    ctx: _Ctx,
) -> Need:
    """jax before 0.2.24: the CUDA build is a jaxlib 0.1.x wheel of one CUDA release (a
    ``+cudaXYZ`` label on the find-links page, or before late 2020 a wheel URL per CUDA
    folder), which loads CUDA and cuDNN from the image."""
    data = ctx.data
    # a jaxlib version chosen by date came from PyPI, which keeps no jaxlib before 0.4.13:
    # only the repository's own pin names a jaxlib 0.1 release
    pinned = _declared(jaxlib)
    if pinned:
        found = data.jaxlib_release(pinned)
        if found is None:
            raise _Clash(f"jaxlib {pinned} is not in repro's compatibility data: pass --cuda X.Y")
        how = f"jaxlib {found.jaxlib}: pinned ({_origin(jaxlib)})" if jaxlib else ""
    else:
        dated = release.versions.get(public) or ctx.as_of or ""
        found = data.jaxlib_as_of(dated) if dated else None
        if found is None:
            found = min(data.jaxlib, key=lambda r: Version(r.jaxlib))
            how = f"jaxlib {found.jaxlib}: the oldest jaxlib in the data"
        else:
            how = f"jaxlib {found.jaxlib} ({found.released}): the newest by jax {public}'s release"
    if ctx.python not in found.python:
        raise ctx.python_clash(f"jaxlib {found.jaxlib}", found.python)
    local = _local(pinned or "")
    builds = sorted(found.builds, key=lambda b: minor_key(b.cuda), reverse=True)
    if local.startswith("cuda"):
        builds = [b for b in builds if b.tag == local]
        if not builds:
            raise _Clash(f"jaxlib {found.jaxlib}: no CUDA build {local} in the data")
    options = []
    for b in builds:
        lines = []
        if jax is not None:
            lines.append(Line(name="jax", text=f"jax=={public}"))
        url = b.wheel_url(ctx.python)
        if "jaxlib" in ctx.wheelhouse:
            lines.append(Line(name="jaxlib", text=f"jaxlib=={found.jaxlib}"))
        elif url is not None:
            lines.append(Line(name="jaxlib", text=f"jaxlib @ {url}"))
        else:
            text = f"jaxlib=={found.jaxlib}{b.local}"
            lines.append(Line(name="jaxlib", text=text, find_links=b.find_links))
        accepts = (
            frozenset(
                m
                for m in data.known_minors()
                if major_of(m) == major_of(b.cuda) and minor_key(m) >= minor_key(b.cuda)
            )
            if b.serves_newer
            else frozenset({b.cuda})
        )
        options.append(
            Build(
                label=f"jaxlib {found.jaxlib}+{b.tag}",
                cuda=b.cuda,
                accepts=accepts,
                image_libs=True,
                cudnn=b.cudnn,
                lines=tuple(lines),
                note=(
                    f"jaxlib {found.jaxlib}+{b.tag} loads CUDA {b.cuda} and cuDNN {b.cudnn} from "
                    "the image (JAX's README of the day; not confirmed by a primary source)"
                ),
            )
        )
    cudas = ", ".join(sorted((b.cuda for b in found.builds), key=minor_key))
    return Need(
        summary=f"jax {public} + jaxlib {found.jaxlib} (CUDA {cudas})",
        builds=tuple(options),
        reasons=(
            f"jax {public}: {why}; {how}; its CUDA builds {cudas} are wheels outside PyPI "
            "(jaxlib 0.1 is no longer on PyPI)",
        ),
    )


def _older_jax_with(
    data: Compat, wanted: set[str], newest: str, req: Requirement, ctx: _Ctx
) -> tuple[str, cdata.JaxRelease, list[cdata.JaxBuild]] | None:
    """The newest jax release up to ``newest`` that has a build for the wanted extras."""
    found: list[tuple[Version, str, cdata.JaxRelease, list[cdata.JaxBuild]]] = []
    for release in data.jax:
        if ctx.python not in release.python:
            continue
        fitting = [b for b in release.builds if b.extra in wanted]
        fitting = fitting or _same_major_builds(list(release.builds), wanted)
        if not fitting:
            continue
        for version in release.versions:
            if Version(version) <= Version(newest) and _allows(req, version):
                found.append((Version(version), version, release, fitting))
    if not found:
        return None
    _, version, release, fitting = max(found, key=lambda f: f[0])
    return version, release, fitting


def _how_fixed(req: Requirement, version: str | None) -> str:
    """Why a framework has ``version`` before the data is asked: pinned, or chosen by date."""
    if version is None:
        return ""
    if _declared(req) is not None:
        return f"pinned ({_origin(req)})"
    return "the version chosen for the code's date"


def _same_major_builds(builds: list[cdata.JaxBuild], wanted: set[str]) -> list[cdata.JaxBuild]:
    """``jax[cuda11]`` asked of a release whose CUDA 11 extra is named differently."""
    majors = {w[4:6] for w in wanted}
    return [b for b in builds if major_of(b.cuda) in majors]


# ----------------------------------------------------------------- others


def _package_need(req: Requirement, ctx: _Ctx) -> Need:
    pkg = ctx.data.packages[canonicalize_name(req.name)]
    unverified = "" if pkg.verified else " (not confirmed by a primary source)"
    if pkg.source_built:
        build = Build(
            label=req.name,
            cuda=None,
            accepts=None,
            image_libs=True,
            cudnn=None,
            lines=(),
            note=f"{req.name} compiles against the CUDA toolkit when installed or run",
            devel=True,
        )
        return Need(
            summary=f"{req.name} (built from source)", builds=(build,), reasons=(build.note,)
        )
    minors = frozenset(pkg.cuda)
    span = ranges(pkg.cuda)
    how = (
        f"{req.name} is built for CUDA {span} and brings its libraries{unverified}"
        if pkg.bundled
        else f"{req.name} is built for CUDA {span} and loads it from the image{unverified}"
    )
    build = Build(
        label=req.name,
        cuda=pkg.cuda[0] if len(pkg.cuda) == 1 else None,
        accepts=minors
        if not pkg.bundled
        else _same_major_from(ctx.data, min(minors, key=minor_key)),
        image_libs=not pkg.bundled,
        cudnn=pkg.cudnn,
        lines=(),
        note=how,
    )
    return Need(summary=f"{req.name} (CUDA {span})", builds=(build,), reasons=(how,))


def _paddle_need(reqs: dict[str, Requirement], ctx: _Ctx) -> Need | str | None:
    req = reqs.get("paddlepaddle-gpu")
    if req is None:
        return None
    paddle = ctx.data.paddle
    version = _exact(req)
    if version is None:
        build = Build(
            label="paddlepaddle-gpu",
            cuda=None,
            accepts=None,
            image_libs=True,
            cudnn=None,
            lines=(),
            note="paddlepaddle-gpu is not pinned: its CUDA build is unknown (use --cuda X.Y)",
        )
        return Need(summary="paddlepaddle-gpu", builds=(build,), reasons=(build.note,))
    post = next((p for p in paddle.post if version.endswith("." + p)), None)
    if post is not None:
        cuda = paddle.post[post]
    elif Version(version) < Version(paddle.default_before):
        cuda = paddle.default
    else:
        raise _Clash(
            f"paddlepaddle-gpu {version}: its CUDA build is chosen by the index it comes "
            "from, which repro does not model: pass --cuda X.Y"
        )
    cudnn = paddle.cudnn.get(major_of(cuda))
    note = (
        f"paddlepaddle-gpu {version} is built for CUDA {cuda} and loads it and cuDNN "
        f"{cudnn} from the image (not confirmed by a primary source)"
    )
    line = Line(
        name="paddlepaddle-gpu",
        text=req.pip_line(),
        find_links=paddle.find_links if post else None,
    )
    build = Build(
        label=f"paddlepaddle-gpu {version}",
        cuda=cuda,
        accepts=frozenset({cuda}),
        image_libs=True,
        cudnn=cudnn,
        lines=(line,),
        note=note,
    )
    return Need(
        summary=f"paddlepaddle-gpu {version} (CUDA {cuda})", builds=(build,), reasons=(note,)
    )


def ranges(versions: Sequence[str]) -> str:
    """``["2.7", "3.5", "3.6", "3.7"]`` -> ``"2.7, 3.5-3.7"``."""
    ordered = sorted(set(versions), key=minor_key)
    out: list[list[str]] = []
    for v in ordered:
        if (
            out
            and major_of(out[-1][-1]) == major_of(v)
            and minor_key(v)[1] == minor_key(out[-1][-1])[1] + 1
        ):
            out[-1].append(v)
        else:
            out.append([v])
    return ", ".join(r[0] if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in out)
