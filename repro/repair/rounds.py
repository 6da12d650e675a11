"""One round of the pack loop's repair (pure): the context a proposal reads, made from
the plan, the built image (or the failed build) and the rounds before; and the round's
record in the manifest (``repairs``, docs/manifest.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from repro.buildlog import BuildFailure
from repro.models import BuiltImage, Evidence, ImageFacts, Plan, Scanned
from repro.planning import wheelhouse_versions
from repro.repair.build import BuildContext, History
from repro.repair.values import (
    Change,
    Context,
    Failure,
    KnownRelease,
    LookUp,
    ReleasesFor,
    Round,
    Ships,
)

if TYPE_CHECKING:
    from repro.releases import ReleaseIndex
    from repro.smoke.judge import Outcome


def repair_context(
    plan: Plan,
    scanned: Scanned,
    facts: ImageFacts,
    changes: tuple[Change, ...],
    history: ReleasesFor,
    pythons: tuple[str, ...],
    *,
    gpu_fallback: bool,
    look_up: LookUp | None = None,
    ships: Ships | None = None,
) -> Context:
    """What a proposal may look at after the image of ``plan`` failed: the plan, what the
    image holds (``facts``), the release ``history`` (with the wheelhouse's versions), the
    Pythons a repair may switch to, and the ``changes`` made in earlier rounds."""
    python = plan.environment.python.version
    wheel_versions = wheelhouse_versions(scanned.wheels, python)

    def releases(dist: str) -> list[KnownRelease]:
        known = list(history(dist))
        have = {r.version for r in known}
        for version in wheel_versions.get(canonicalize_name(dist), []):
            if version not in have:
                known.append(KnownRelease(version=version))
        return known

    return Context(
        python=python,
        requirements=plan.environment.requirements,
        installed=facts.installed,
        module_dists=facts.modules,
        local_modules=scanned.evidence.local_modules,
        os_codename=facts.os_codename,
        releases=releases,
        pythons=pythons,
        python_hard=bool(scanned.options.python),
        previous=changes,
        checkout=scanned.checkout.path,
        gpu_fallback=gpu_fallback,
        look_up=look_up,
        ships=ships,
    )


def release_history(index: ReleaseIndex, python: str) -> ReleasesFor:
    """Releases of a package that install on ``python``, from the release index (what
    a proposal reads when the pack was given no history of its own)."""

    def releases(dist: str) -> list[KnownRelease]:
        history = index.get(dist)
        if history is None:
            return []
        return [
            KnownRelease(
                version=r.version,
                requires_python=r.requires_python,
                yanked=r.yanked,
            )
            for r in history.releases
            if r.supports(python)
        ]

    return releases


def smoke_round(
    number: int,
    failure: Failure,
    changes: tuple[Change, ...],
    image: BuiltImage,
    outcome: Outcome,
) -> Round:
    """Repair round ``number`` after a failed smoke test; its record: the image that
    failed, its smoke attempt, the failure and the changes made for the next round."""
    attempt = outcome.failing
    record = {
        "round": number,
        "stage": "smoke",
        "image": image.id,
        "smoke": {
            "kind": attempt.command.kind if attempt else "",
            "command": list(attempt.command.argv) if attempt else [],
            "exit_code": attempt.result.exit_code if attempt and attempt.result else None,
            "note": attempt.note if attempt else "",
        },
        "failure": failure.to_json(),
        "changes": [c.to_json() for c in changes],
    }
    return Round(number=number, failure=failure.line, changes=changes, record=record)


def build_context(
    plan: Plan,
    scanned: Scanned,
    changes: tuple[Change, ...],
    history: History,
    *,
    codename: str,
    pythons: tuple[str, ...],
) -> BuildContext:
    """What a build repair may look at after the build of ``plan`` failed: the plan, the
    base image's release (``codename``), the release ``history`` with wheels, the other
    Pythons the code allows that this engine has (``pythons``, the planner's order), the
    Pythons the repository declares and the ``changes`` of earlier rounds."""
    environment = plan.environment
    return BuildContext(
        python=environment.python.version,
        codename=codename,
        requirements=environment.requirements,
        previous=changes,
        history=history,
        pythons=pythons,
        python_pins=_python_pins(scanned.evidence),
        python_hard=bool(scanned.options.python),
        lock_cutoff=environment.lock_cutoff,
    )


def _python_pins(evidence: Evidence) -> tuple[tuple[str, str], ...]:
    return tuple(
        (h.specifier, str(h.origin)) for h in evidence.python_hints if h.strength == "declared"
    )


def build_round(number: int, failure: BuildFailure, changes: tuple[Change, ...], log: str) -> Round:
    """Repair round ``number`` after a failed build; its record: the failure read from
    its log (kept at ``log``) and the changes made for the next round."""
    record = {
        "round": number,
        "stage": "build",
        "image": None,
        "log": log,
        "failure": failure.to_json(),
        "changes": [c.to_json() for c in changes],
    }
    return Round(number=number, failure=failure.line, changes=changes, record=record)
