"""The values repair works with: a ``Failure`` read from output, the ``Change``s of a plan
that fix one (or the ``Diagnosis`` when none does), and the ``Context`` a proposal reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from repro.models import JSON, Requirement

if TYPE_CHECKING:
    from repro.repair.kinds import Kind

FailureKind = str  # the name of a kind in kinds.KINDS: "missing-module", "cuda", ...


def _kind(name: str) -> Kind:
    from repro.repair.kinds import kind  # (kinds imports the detectors, which make Failures)

    return kind(name)


@dataclass(frozen=True, kw_only=True)
class Failure:
    """What a failed run's output says went wrong."""

    kind: FailureKind  # a name in kinds.KINDS (the registry)
    line: str  # the line that names the problem, as printed
    subject: str = ""  # module, soname, ``module.attr``
    module: str = ""  # missing-name: the module that lacks the name
    name: str = ""  # missing-name: the name it lacks
    path: str = ""  # the file the error points at (SyntaxError, import errors)
    lineno: int | None = None
    source: str = ""  # the source line shown under ``File ..., line N`` (when shown)
    caller: str = ""  # the innermost file of the traceback (the code that failed)
    target: str = ""  # the smoke target that failed (module, test id, script)

    def __post_init__(self) -> None:
        _kind(self.kind)  # an unknown kind is a bug: fail where it is made

    @property
    def fixable(self) -> bool:
        """repro may fix it by changing the plan (kinds.KINDS: handling "fix")."""
        return _kind(self.kind).handling == "fix"

    @property
    def excusable(self) -> bool:
        """The target needs what a smoke test never has (data, network, a GPU, more
        time): it is left out of the smoke test and reported, never counted as passing."""
        return _kind(self.kind).handling == "excuse"

    def summary(self) -> str:
        where = f" ({self.target})" if self.target else ""
        return f"{self.line}{where}"

    def to_json(self) -> JSON:
        return {
            "kind": self.kind,
            "line": self.line,
            "subject": self.subject,
            "target": self.target,
            "path": self.path,
        }


ChangeAction = Literal[
    "add-requirement",
    "bound-requirement",
    "set-python",
    "add-system-package",
    # build repairs (repair/build.py): a distribution package the build needs (the system
    # layer), a package whose files may be newer than the lock's cutoff, a package built
    # without isolation with what its build imports installed first, a retry
    "add-build-package",
    "exempt-cutoff",
    "build-with",
    "retry",
]


@dataclass(frozen=True, kw_only=True)
class Change:
    """One change to the plan, and why it was made."""

    action: ChangeAction
    target: str  # distribution, Python version, or Debian package
    specifier: str = ""  # bound-requirement: the new specifier set
    reason: str = ""
    basis: str = ""  # what decided it: import map, api-rule, release-history, soname data...

    def describe(self) -> str:
        what = {
            "add-requirement": f"add {self.target}{self.specifier}",
            "bound-requirement": f"require {self.target}{self.specifier}",
            "set-python": f"use Python {self.target}",
            "add-system-package": f"install the Debian package {self.target}",
            "add-build-package": f"install the distribution package {self.target} for the build",
            "exempt-cutoff": f"let {self.target} have files up to {self.specifier}",
            "build-with": f"build {self.target} with {self.specifier} installed first",
            "retry": "build again",
        }[self.action]
        return f"{what}: {self.reason}" if self.reason else what

    def short(self) -> str:
        """``add-requirement PyYAML``, ``bound-requirement numpy<1.24``, ``build-with glmnet
        numpy``: one change, briefly."""
        gap = " " if self.specifier and self.action in ("build-with", "exempt-cutoff") else ""
        return f"{self.action} {self.target}{gap}{self.specifier}"

    def to_json(self) -> JSON:
        return {
            "action": self.action,
            "target": self.target,
            "specifier": self.specifier,
            "reason": self.reason,
            "basis": self.basis,
        }


@dataclass(frozen=True, kw_only=True)
class Diagnosis:
    """Why repro stops: one line, and what the user can do."""

    message: str
    hint: str = ""


@dataclass(frozen=True, kw_only=True)
class Proposal:
    changes: tuple[Change, ...] = ()
    diagnosis: Diagnosis | None = None

    @classmethod
    def stop(cls, message: str, hint: str = "") -> Proposal:
        """No change to make: repro stops, and says why and what the user can do."""
        return cls(diagnosis=Diagnosis(message=message, hint=hint))


@dataclass(frozen=True, kw_only=True)
class KnownRelease:
    """A release of a distribution a repair may move to, as the release history (or the
    wheelhouse) knows it."""

    version: str
    requires_python: str = ""
    yanked: bool = False


ReleasesFor = Callable[[str], Sequence[KnownRelease]]


LookUp = Callable[[str], "tuple[str, str] | None"]  # module → (project, evidence) or None
# (distribution, version, dotted module) → whether that release's file ships the module
# (its wheel, else its sdist), or None when it cannot be told (offline, no file, unreadable)
Ships = Callable[[str, str, str], "bool | None"]


@dataclass(frozen=True, kw_only=True)
class Context:
    """What a proposal may look at: the plan, the built image, and the history so far."""

    python: str  # Python of the image that failed ("3.11")
    requirements: tuple[Requirement, ...] = ()
    installed: Mapping[str, str] = dataclasses.field(default_factory=dict)  # canonical → version
    module_dists: Mapping[str, str] = dataclasses.field(default_factory=dict)  # top → dist
    local_modules: frozenset[str] = frozenset()
    os_codename: str = ""  # "bookworm", "jammy", ... ("" when unknown)
    releases: ReleasesFor | None = None  # release history (PyPI and the wheelhouse)
    pythons: tuple[str, ...] = ()  # Pythons repro may switch to, oldest first
    python_hard: bool = False  # the user chose the Python (--python): a repair keeps it
    previous: tuple[Change, ...] = ()  # changes made in earlier rounds
    checkout: Path | None = None  # the repository's files (to read a failing line)
    gpu_fallback: bool = False  # a GPU image smoke-tested on the CPU
    # the verified package-index look-up of a module repro's data does not map: (project,
    # evidence) when a project's release ships it, else None; made by the orchestrator
    # (network), None where there is none (offline, tests)
    look_up: LookUp | None = None
    # whether a release of a distribution ships a module: read from its file list, the
    # same range requests as the look-up (the orchestrator's; None offline and in tests)
    ships: Ships | None = None


Dated = Callable[[str, str], "str | None"]  # (name, specifier) → version as of the cutoff


@dataclass(frozen=True, kw_only=True)
class Round:
    """One repair round of a pack: the failure that started it, the changes made for the
    next build, and its record in the manifest's ``repairs`` (docs/manifest.md)."""

    number: int
    failure: str  # the line that names the failure
    changes: tuple[Change, ...]
    record: JSON

    def changed(self) -> str:
        """The round's changes, briefly: ``add-requirement PyYAML; ...``."""
        return "; ".join(c.short() for c in self.changes)

    def line(self) -> str:
        """``<failure> → <changes>``: the round on one line."""
        return f"{self.failure} → {self.changed()}"
