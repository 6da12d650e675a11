"""Modules that come from the base image's Linux distribution (pure).

``gi``, ``dbus``, ``apt``, ``cairo``, ``libvirt``, ``rpm``, ``selinux`` and the like are
either not on PyPI at all or only as source that compiles against system libraries; the
distribution ships them built. Which package ships a module in a release comes from the
distribution's own package contents index (data/contents.json, repro/contents.py,
made by scripts/gen_contents.py); which modules are taken from the distribution even
where PyPI names a project is data/system_modules.json (each with why pip cannot).

A module becomes a *system package* when the release of the base image ships it for the
image's Python major, and that release's own Python is the image's Python: the modules
live in the release's ``dist-packages``, built for that Python's ABI. The image then gets
the package (apt) and its virtual environment a path file to that ``dist-packages``
(dockerfile.SYSTEM_SITE). Where the Pythons differ the import stays unresolved, its
reason naming the Python that would work; :func:`python_preferences` steers the Python
choice to such a Python beforehand.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path

from packaging.utils import canonicalize_name

from repro import contents, datafiles, mapping
from repro.lookup import Found
from repro.models import (
    JSON,
    BaseImage,
    Environment,
    Evidence,
    ImportResolution,
    Origin,
    Unresolved,
)

# The releases a python:X.Y image may run on, newest first (its Python is the release's
# own only on one of them).
_DEBIAN = ("trixie", "bookworm", "bullseye")


def release_for(base: BaseImage) -> str:
    """The codename of the base image's distribution release ("" when not known): an
    nvidia/cuda image's Ubuntu from its tag, a python:X.Y image's Debian release whose own
    Python is X.Y (the image's Python then matches the distribution's modules)."""
    if base.cuda is not None and base.cuda.ubuntu:
        return contents.codename_of("ubuntu", base.cuda.ubuntu)
    m = re.search(r"ubuntu(\d+\.\d+)", base.name)
    if m:
        return contents.codename_of("ubuntu", m.group(1))
    major = int(base.python.split(".")[0])
    for codename in _DEBIAN:
        if contents.system_python(codename, major) == base.python:
            return codename
    return ""


def program_packages(programs: Sequence[str], base: BaseImage) -> tuple[str, ...]:
    """The distribution packages that put ``programs`` on PATH in the base image's release
    (the contents index; the newest Debian's names when the release is not known, a
    program's own name when no index has it), in order, without repeats."""
    codename = release_for(base) or _DEBIAN[0]
    packages = []
    for name in programs:
        found = contents.program(name, codename)
        packages.append(found.package if found else name)
    return tuple(dict.fromkeys(packages))


def site_dir(python: str) -> str:
    """Where a Debian/Ubuntu release puts the modules of its Python ``python``."""
    return (
        "/usr/lib/python3/dist-packages"
        if python.startswith("3")
        else (f"/usr/lib/python{python}/dist-packages")
    )


def packages(environment: Environment) -> tuple[str, ...]:
    """The distribution packages the system modules need, sorted."""
    return tuple(sorted({i.provider for i in environment.imports if i.kind == "system"}))


def _import_only(environment: Environment, dist: str) -> bool:
    """Whether the requirement ``dist`` is there only because code imports it (nobody
    declared it, pinned it or repaired it in)."""
    key = canonicalize_name(dist)
    for req in environment.requirements:
        if canonicalize_name(req.name) == key:
            return all(o.kind in ("import", "notebook") for o in req.origins)
    return False


def apply(
    environment: Environment, base: BaseImage, evidence: Evidence | None = None
) -> Environment:
    """``environment`` with the imports the base's distribution provides turned into
    system packages (and the pip requirements they replace dropped); with ``evidence``,
    also the GObject-introspection typelibs the code loads through ``gi``
    (:func:`typelibs`)."""
    environment = _modules(environment, base)
    if evidence is None:
        return environment
    return typelibs(environment, evidence, base)


def _modules(environment: Environment, base: BaseImage) -> Environment:
    codename = release_for(base)
    major = int(base.python.split(".")[0])
    imports: list[ImportResolution] = []
    dropped: set[str] = set()
    solved: dict[str, str] = {}  # module → the reason that replaces "unresolved"
    changed = False
    for item in environment.imports:
        wanted = item.kind == "unresolved" or (
            item.kind == "distribution"
            and mapping.system_first(item.module) is not None
            and _import_only(environment, item.provider)
        )
        found = contents.python_module(item.module, codename, major=major) if wanted else None
        if found is None:
            elsewhere = _elsewhere(item.module, major) if wanted and not codename else ""
            if elsewhere and item.kind == "unresolved":
                solved[item.module] = (
                    f"{elsewhere}; the image's Python {base.python} is none of these "
                    "releases' own Python, whose modules the packages are built for"
                )
                imports.append(dataclasses.replace(item, how=solved[item.module]))
                changed = True
            else:
                imports.append(item)
            continue
        own = contents.system_python(found.release, major)
        why = mapping.system_first(item.module)
        if own and own != base.python:
            if item.kind == "unresolved":
                solved[item.module] = (
                    f"{found.package} ships it in {found.release}, built for Python {own}; "
                    f"the image's Python is {base.python} (--python {own} would use it)"
                )
                imports.append(dataclasses.replace(item, how=solved[item.module]))
                changed = True
            else:
                imports.append(item)
            continue
        how = (
            f"{found.package} ships {found.path} in {found.release}'s dist-packages for "
            f"Python {own or base.python} ({found.basis})"
        )
        if found.note:
            how += f"; {found.note}"
        if why:
            how += f"; from the distribution because {why}"
        if item.kind == "distribution":
            dropped.add(canonicalize_name(item.provider))
        imports.append(
            dataclasses.replace(
                item,
                kind="system",
                provider=found.package,
                how=how,
                alternatives=(item.provider,) if item.kind == "distribution" else (),
                tried=(),
            )
        )
        solved[item.module] = ""
        changed = True
    if not changed:
        return environment
    unresolved: list[Unresolved] = []
    for u in environment.unresolved:
        if u.module not in solved:
            unresolved.append(u)
        elif solved[u.module]:
            unresolved.append(dataclasses.replace(u, reason=solved[u.module]))
    requirements = tuple(
        r for r in environment.requirements if canonicalize_name(r.name) not in dropped
    )
    return dataclasses.replace(
        environment,
        imports=tuple(imports),
        unresolved=tuple(unresolved),
        requirements=requirements,
    )


TYPELIB_PREFIX = "gi.repository."
_REQUIRE = "require_version "  # the detail of a site made from gi.require_version(NS, V)


def typelibs(environment: Environment, evidence: Evidence, base: BaseImage) -> Environment:
    """``environment`` with the typelib package of each ``gi.repository`` namespace the
    code loads (``gi.require_version("Gst", "1.0")``, ``from gi.repository import Gst``),
    from the base image's release, as system imports ``gi.repository.NS``. ``gi`` itself
    (python3-gi) brings GLib, GObject and Gio (its dependency's typelibs, not repeated
    here); ``Gst`` needs gir1.2-gstreamer-1.0.
    Without ``require_version`` the release's newest version is what ``gi`` loads. Only
    where ``gi`` comes from the distribution (the typelibs need its python3-gi)."""
    if not any(i.module == "gi" and i.kind == "system" for i in environment.imports):
        return environment
    codename = release_for(base)
    wanted: dict[str, tuple[str, Origin]] = {}  # namespace → (version, where)
    for site in evidence.imports:
        if not site.module.startswith(TYPELIB_PREFIX) or site.module.split(".")[0] in (
            evidence.local_modules
        ):
            continue
        namespace = site.module[len(TYPELIB_PREFIX) :]
        if "." in namespace or not namespace:
            continue
        detail = site.origin.detail
        version = detail[len(_REQUIRE) :] if detail.startswith(_REQUIRE) else ""
        if namespace not in wanted or (version and not wanted[namespace][0]):
            wanted[namespace] = (version, site.origin)
    if not wanted:
        return environment
    known = {i.module for i in environment.imports}
    # PyGObject cannot load without the GObject typelib, so python3-gi depends on its
    # package (gir1.2-glib-2.0: GLib, GObject, Gio): namespaces of that package come with gi
    with_gi = contents.typelib("GObject", "", codename)
    added: list[ImportResolution] = []
    warnings: list[str] = []
    for namespace, (version, origin) in sorted(wanted.items()):
        module = TYPELIB_PREFIX + namespace
        if module in known:
            continue
        where = f"{origin.path}:{origin.line}"
        found = contents.typelib(namespace, version, codename)
        if found is None:
            warnings.append(
                f"{namespace}-{version or '*'} typelib ({where}): no package of "
                f"{codename or 'the base image’s release'} ships it; "
                f"`from gi.repository import {namespace}` will fail in the image"
            )
            continue
        if with_gi is not None and found.package == with_gi.package:
            continue
        how = f"{found.path} typelib ({where}) is in {found.package} on {found.release}"
        if not version:
            how += " (no gi.require_version: the newest version the release ships)"
        how += f" ({found.basis})"
        if found.note:
            how += f"; {found.note}"
        added.append(
            ImportResolution(
                module=module,
                kind="system",
                provider=found.package,
                how=how,
                origins=(origin,),
                optional=all(s.optional for s in evidence.imports if s.module == module),
                alternatives=found.packages[1:],
            )
        )
    return dataclasses.replace(
        environment,
        imports=(*environment.imports, *added),
        warnings=(*environment.warnings, *warnings),
    )


def _elsewhere(module: str, major: int) -> str:
    """Which Debian releases ship ``module``, for which Python ("" when none does)."""
    found = []
    for codename in reversed(_DEBIAN):
        hit = contents.python_module(module, codename, major=major)
        python = contents.system_python(codename, major)
        if hit is not None and python:
            found.append(f"{hit.package} in {codename} (--python {python})")
    return "shipped as " + ", ".join(found) if found else ""


def python_preferences(
    evidence: Evidence,
    lookups: Mapping[str, Found] | None = None,
    *,
    released: Mapping[str, dt.date] | None = None,
    as_of: dt.date | None = None,
) -> dict[str, str]:
    """Pythons that can use a system module the code needs (Python → why): the own
    Pythons of the Debian releases whose contents ship it, released by ``as_of`` (the
    packages of the code's time, and the installer, must run on it). For modules no PyPI
    project was found for, and for those data/system_modules.json takes from the
    distribution."""
    out: dict[str, str] = {}
    for module in _system_candidates(evidence, lookups or {}):
        for codename in reversed(_DEBIAN):
            found = contents.python_module(module, codename, major=3)
            python = contents.system_python(codename, 3)
            if as_of is not None and released is not None:
                date = released.get(python)
                if date is None or date > as_of:
                    continue
            if found is not None and python:
                out.setdefault(
                    python,
                    f"{module} comes from the distribution ({found.package}), built for "
                    f"{codename}'s own Python {python}",
                )
    return out


def _system_candidates(evidence: Evidence, lookups: Mapping[str, Found]) -> Iterable[str]:
    seen: dict[str, None] = {}
    for site in evidence.imports:
        top = site.module.split(".")[0]
        if site.optional or top in evidence.local_modules or top in seen:
            continue
        looked = lookups.get(top)
        if mapping.system_first(top) or (
            mapping.lookup(site.module).kind == "unknown"
            and looked is not None
            and not looked.resolved
            and not looked.note
        ):
            seen[top] = None
    return list(seen)


# --------------------------------------------------------------------------- libraries


@cache
def _shared_libs() -> tuple[dict[str, JSON], dict[str, str], frozenset[str]]:
    data = datafiles.load("shared_libs.json")
    return (
        dict(data["libraries"]),
        dict(data.get("aliases", {})),
        frozenset(data.get("suites", ())),
    )


def system_package_for(soname: str, codename: str) -> str:
    """The Debian/Ubuntu package that ships ``soname`` on ``codename`` ("" if unknown)."""
    libs, aliases, suites = _shared_libs()
    name = Path(soname).name
    if name not in libs:
        # an alias as a program names its library: "portaudio", or "PortAudio" in
        # sounddevice's "OSError: PortAudio library not found"
        # ("failed to find libmagic": the alias with its "lib")
        folded = name.lower()
        names = {folded, folded.removeprefix("lib")}
        name = next((lib for alias, lib in aliases.items() if alias.lower() in names), "")
    if not name and "." in soname:
        # "libsndfile.so" (a development name) → the runtime soname with the same stem.
        stem = Path(soname).name.split(".so")[0]
        name = next((k for k in libs if k.split(".so")[0] == stem), "")
    entry = libs.get(name)
    if entry is None:
        return ""
    if codename in suites and codename not in entry.get("verified", ()):
        return ""  # checked: this release has no package with that soname
    by_release: Mapping[str, str] = entry.get("by_release", {})
    return str(by_release.get(codename, entry["package"]))


@cache
def _wheel_libs() -> dict[str, tuple[str, ...]]:
    data = datafiles.load("wheel_libs.json")
    return {
        canonicalize_name(name): tuple(entry["needs"])
        for name, entry in data["distributions"].items()
    }


def library_packages(environment: Environment, base: BaseImage) -> tuple[tuple[str, ...], str]:
    """The Debian packages of the system libraries required distributions' wheels link
    that slim images lack (data/wheel_libs.json, scripts/gen_wheel_libs.py), sorted, and
    why: opencv-python links libGL.so.1, which the smoke test's repair would otherwise add
    one failure at a time."""
    codename = release_for(base)
    packages: set[str] = set()
    said: list[str] = []
    for req in environment.requirements:
        if req.optional:
            continue
        linked = []
        for soname in _wheel_libs().get(canonicalize_name(req.name), ()):
            package = system_package_for(soname, codename)
            if package:
                packages.add(package)
                linked.append(soname)
        if linked:
            said.append(f"{req.name} links {', '.join(linked)}")
    why = f"{'; '.join(said)} (repro/data/wheel_libs.json)" if said else ""
    return tuple(sorted(packages)), why
