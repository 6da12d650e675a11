"""The registry of failure kinds: every kind repro recognises in a failed run's output, in
the order they are tried (most specific first), and what repro does about each.

To add a kind of failure, edit this file and the two beside it:

1. ``classify.py``: a detector, output lines → ``Failure(kind="your-kind", ...)`` or None;
2. ``propose.py``: for a kind repro can fix, a proposal (``fix_*``: the changes to the plan,
   or a diagnosis when none applies); for any kind, the diagnosis it stops with
   (``explain_*``: one line and a hint; the default says the code itself fails);
3. here: one ``Kind`` in ``KINDS``, at the place in the order where it should be tried.

Nothing else names the kinds: ``Failure.fixable`` and ``excusable``, :func:`classify`,
:func:`propose` and :func:`diagnose` all read this table, and the smoke test's judgement
reads ``Failure.excusable`` (a target that needs what no smoke test has is left out).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from repro.buildlog import BuildFailure, BuildFailureKind
from repro.repair import build as build_fixes
from repro.repair import classify as detect
from repro.repair import propose as fixes
from repro.repair.build import BuildContext
from repro.repair.classify import Detector
from repro.repair.values import Context, Diagnosis, Failure, Proposal

# fix: change the plan and build again; excuse: the target needs what a smoke test never
# has (data, network, a GPU, more time): it is left out of the smoke test, reported, never
# counted as passing; report: the code itself fails.
Handling = Literal["fix", "excuse", "report"]
Proposer = Callable[[Failure, Context], Proposal]
Explainer = Callable[[Failure, Context], Diagnosis]


@dataclass(frozen=True, kw_only=True)
class Kind:
    """One kind of failure: how it is recognised, and what repro does about it."""

    name: str
    meaning: str  # for the reader (docs/smoke.md lists the same)
    handling: Handling
    detect: Detector | None = None  # None: only classify's fall-backs name it
    fix: Proposer | None = None  # handling "fix": the changes, or a diagnosis
    explain: Explainer = fixes.explain_error  # the one line and hint repro stops with


KINDS: tuple[Kind, ...] = (
    Kind(
        name="cuda",
        meaning="no GPU, no driver, driver too old, CUDA libraries missing",
        handling="excuse",
        detect=detect.cuda,
        explain=fixes.explain_cuda,
    ),
    Kind(
        name="hardware",
        meaning="a library for a board's pins (Raspberry Pi, Jetson) refuses another machine",
        handling="excuse",
        detect=detect.by_pattern("hardware", detect.HARDWARE),
        explain=fixes.explain_hardware,
    ),
    Kind(
        name="shared-library",
        meaning="libX.so.N: cannot open shared object file",
        handling="fix",
        detect=detect.shared_library,
        fix=fixes.fix_shared_library,
    ),
    Kind(
        name="missing-module",
        meaning="ModuleNotFoundError: a distribution is not installed",
        handling="fix",
        detect=detect.missing_module,
        fix=fixes.fix_missing_module,
    ),
    Kind(
        name="typelib",
        meaning="gi cannot load a GObject-introspection namespace: its typelib is missing",
        handling="fix",
        detect=detect.typelib,
        fix=fixes.fix_typelib,
    ),
    Kind(
        name="install-advice",
        meaning="an ImportError that names the project to install (a part split off)",
        handling="fix",
        detect=detect.install_advice,
        fix=fixes.fix_install_advice,
    ),
    Kind(
        name="missing-name",
        meaning="cannot import name / module has no attribute: the version is too new",
        handling="fix",
        detect=detect.missing_name,
        fix=fixes.fix_missing_name,
    ),
    Kind(
        name="wrong-python",
        meaning="SyntaxError / TabError in the repository's code",
        handling="fix",
        detect=detect.wrong_python,
        fix=fixes.fix_wrong_python,
    ),
    Kind(
        name="network",
        meaning="the smoke test has no network",
        handling="excuse",
        detect=detect.by_pattern("network", detect.NETWORK),
        explain=fixes.explain_network,
    ),
    Kind(
        name="memory",
        meaning="out of memory (the limit was reached)",
        handling="excuse",
        detect=detect.by_pattern("memory", detect.MEMORY),
        explain=fixes.explain_memory,
    ),
    Kind(
        name="processes",
        meaning="the process limit was reached (cannot fork, no new thread)",
        handling="excuse",
        detect=detect.by_pattern("processes", detect.PROCESSES),
        explain=fixes.explain_processes,
    ),
    Kind(
        name="timeout",
        meaning="did not finish in time",
        handling="excuse",
        detect=detect.by_pattern("timeout", detect.TIMEOUT),
        explain=fixes.explain_timeout,
    ),
    Kind(
        name="data",
        meaning="a file the repository does not contain",
        handling="excuse",
        detect=detect.by_pattern("data", detect.DATA),
        explain=fixes.explain_data,
    ),
    Kind(name="error", meaning="anything else: the code itself fails", handling="report"),
)

_BY_NAME = {k.name: k for k in KINDS}


def kind(name: str) -> Kind:
    """The registered kind called ``name`` (an unknown name is a bug: ValueError)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown failure kind {name!r} (not in repair.kinds.KINDS)") from None


def classify(
    text: str, *, timed_out: bool = False, oom_killed: bool = False, target: str = ""
) -> Failure:
    """The failure a run's output shows: the first kind whose detector recognises it, in
    the order of :data:`KINDS`; else the memory or time limit the run hit; else an error
    with the last exception line (or the last line)."""
    lines = detect.lines_of(text)
    for entry in KINDS:
        found = entry.detect(lines) if entry.detect is not None else None
        if found is not None:
            return dataclasses.replace(found, target=target)
    if oom_killed:
        return Failure(kind="memory", line="killed: the memory limit was reached", target=target)
    if timed_out:
        return Failure(kind="timeout", line="stopped: the time limit was reached", target=target)
    last = detect.last_exception(lines)
    if last:
        return Failure(kind="error", line=last, target=target)
    tail = detect.clean(lines[-1]) if lines else "no output"
    return Failure(kind="error", line=tail[:300], target=target)


def propose(failure: Failure, context: Context) -> Proposal:
    """The changes that fix ``failure``, or a diagnosis when repro cannot fix it."""
    entry = kind(failure.kind)
    if entry.fix is None:
        return Proposal(diagnosis=entry.explain(failure, context))
    return entry.fix(failure, context)


def diagnose(failure: Failure, context: Context) -> Diagnosis:
    """One line and a hint for a failure repro does not change the plan for."""
    return kind(failure.kind).explain(failure, context)


# --------------------------------------------------------------------------- builds

BuildProposer = Callable[[BuildFailure, BuildContext], Proposal]


@dataclass(frozen=True, kw_only=True)
class BuildKind:
    """One kind of failed build: what repro does about it. How it is recognised in the
    build's log is ``repro/buildlog.py`` (its detectors, in their order)."""

    name: BuildFailureKind
    meaning: str  # for the reader (docs/build-repair.md lists the same)
    handling: Literal["fix", "report"]
    fix: BuildProposer | None = None  # handling "fix": the changes, or a diagnosis


BUILD_KINDS: tuple[BuildKind, ...] = (
    BuildKind(
        name="missing-compiler",
        meaning="a compiler is not on PATH (gcc, g++, gfortran, rustc, cargo)",
        handling="fix",
        fix=build_fixes.fix_program,
    ),
    BuildKind(
        name="missing-program",
        meaning="a program the build runs is not on PATH (pg_config, make, pkg-config, git)",
        handling="fix",
        fix=build_fixes.fix_program,
    ),
    BuildKind(
        name="missing-header",
        meaning="fatal error: X.h: No such file or directory",
        handling="fix",
        fix=build_fixes.fix_header,
    ),
    BuildKind(
        name="missing-pkgconfig",
        meaning="pkg-config (or meson) does not know a module",
        handling="fix",
        fix=build_fixes.fix_pkgconfig,
    ),
    BuildKind(
        name="compile-error",
        meaning="the compiler ran and the package's code did not compile",
        handling="fix",
        fix=build_fixes.fix_no_build,
    ),
    BuildKind(
        name="sdist-unbuildable",
        meaning="the source release cannot be built here (its build script or metadata)",
        handling="fix",
        fix=build_fixes.fix_no_build,
    ),
    BuildKind(
        name="build-dependency",
        meaning="the build needs a package it does not declare (numpy)",
        handling="fix",
        fix=build_fixes.fix_build_dependency,
    ),
    BuildKind(
        name="no-distribution",
        meaning="no file of the release installs on this Python",
        handling="fix",
        fix=build_fixes.fix_no_build,
    ),
    BuildKind(
        name="resolver-conflict",
        meaning="the requirements cannot be satisfied together",
        handling="fix",
        fix=build_fixes.fix_conflict,
    ),
    BuildKind(
        name="network",
        meaning="a host did not answer",
        handling="fix",
        fix=build_fixes.fix_network,
    ),
    BuildKind(name="certificate", meaning="a host's certificate was refused", handling="report"),
    BuildKind(name="not-found", meaning="the index has no such package", handling="report"),
    BuildKind(
        name="apt-package", meaning="the distribution has no such package", handling="report"
    ),
    BuildKind(name="missing-library", meaning="the linker cannot find -lX", handling="report"),
    BuildKind(name="build-error", meaning="anything else", handling="report"),
)

_BUILD_BY_NAME = {k.name: k for k in BUILD_KINDS}


def propose_build(failure: BuildFailure, context: BuildContext) -> Proposal:
    """The changes that fix a failed build, or a diagnosis when repro cannot fix it."""
    entry = _BUILD_BY_NAME.get(failure.kind)
    if entry is None:
        raise ValueError(f"unknown build failure kind {failure.kind!r} (not in BUILD_KINDS)")
    if entry.fix is None:
        return Proposal(diagnosis=build_fixes.explain(failure, context))
    return entry.fix(failure, context)
