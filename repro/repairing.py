"""The repair step of the pack loop (edge: the engine, PyPI): after a failed build or
smoke test, gather what a proposal reads (the Pythons this engine has base images for,
the base image's Debian release, the release history) and ask ``repair`` what to change;
keep the rounds so far (:class:`Repairs`). The proposals themselves are pure
(``repro/repair/``); ``pack_loop.PackLoop`` runs the loop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from repro import buildlog, cache, planner, probe, projects, pypi, repair, smoke
from repro.engine import Engine
from repro.errors import BuildError
from repro.models import BuiltImage, ImageFacts, Plan, Scanned
from repro.repair import Change, ReleasesFor, Round, explain
from repro.repair import build as repair_build
from repro.repair.build import History
from repro.repair.rounds import (
    build_context,
    build_round,
    release_history,
    repair_context,
    smoke_round,
)
from repro.report import Reporter


@dataclass(kw_only=True)
class Repairs:
    """The pack loop's repair rounds so far: their records, every change made (the next
    plan applies them all), and the images of earlier rounds to remove."""

    limit: int  # --max-repairs
    rounds: list[Round] = field(default_factory=list)
    changes: tuple[Change, ...] = ()
    superseded: list[str] = field(default_factory=list)

    def build_failed(
        self,
        exc: BuildError,
        log: Path,
        engine: Engine,
        plan: Plan,
        scanned: Scanned,
        history: History | None,
        reporter: Reporter,
        pause: Callable[[float], None],
    ) -> None:
        """The build of ``plan`` failed (its whole log at ``log``): record a round with the
        changes that fix it (waiting first when it is a retry), or raise the explained
        error when repro cannot fix it or the rounds ran out."""
        broken, fix = after_build(exc, log, engine, plan, scanned, self, history)
        if self.exhausted(fix):
            shown = str(log) if log.exists() else ""
            raise explain.unrepaired_build(
                exc, broken, fix, self.rounds, self.limit, shown
            ) from exc
        done = build_round(len(self.rounds) + 1, broken, fix.changes, str(log))
        self.next(reporter, done, broken.summary())
        wait = repair_build.retry_wait(fix.changes)
        if wait:
            reporter.info(f"waiting {wait:g} s before building again")
            pause(wait)

    def smoke_failed(
        self,
        engine: Engine,
        tested: smoke.Tested,
        image: BuiltImage,
        plan: Plan,
        scanned: Scanned,
        facts: ImageFacts,
        releases: ReleasesFor | None,
        reporter: Reporter,
    ) -> None:
        """The smoke test of ``image`` failed: record a round with the changes that fix
        it (the image is removed once the next one is built), or raise the explained
        error when repro cannot fix it or the rounds ran out."""
        failure, proposal = after_smoke(engine, tested, plan, scanned, facts, self, releases)
        if self.exhausted(proposal):
            outcome, rounds, limit = tested.outcome, self.rounds, self.limit
            raise explain.smoke_failure(plan, outcome, failure, proposal, rounds, limit)
        number = len(self.rounds) + 1
        done = smoke_round(number, failure, proposal.changes, image, tested.outcome)
        self.next(reporter, done, failure.summary())
        self.superseded.append(image.id)

    def exhausted(self, proposal: repair.Proposal) -> bool:
        """No change to make, or no round left to make it in: repro stops."""
        return not proposal.changes or len(self.rounds) >= self.limit

    def next(self, reporter: Reporter, done: Round, summary: str) -> None:
        """Record round ``done`` (its failure's ``summary`` shown) and keep its changes."""
        reporter.stage(f"repair {done.number}/{self.limit}", summary)
        for change in done.changes:
            reporter.info(change.describe())
        self.rounds.append(done)
        self.changes = (*self.changes, *done.changes)


def after_smoke(
    engine: Engine,
    tested: smoke.Tested,
    plan: Plan,
    scanned: Scanned,
    facts: ImageFacts,
    repairs: Repairs,
    releases: ReleasesFor | None,
) -> tuple[repair.Failure, repair.Proposal]:
    """What failed, and the changes that fix it (or the diagnosis when none does)."""
    failure = tested.outcome.failure
    assert failure is not None
    # Pythons to switch to: for code of another Python, and for a module a later Python
    # removed from its standard library
    python_kinds = ("wrong-python", "missing-module")
    pythons = probe.repair_pythons(engine) if failure.kind in python_kinds else ()
    history = releases or release_history(
        pypi.PyPIIndex(as_of=plan.environment.lock_cutoff or dt.date.today()),
        plan.environment.python.version,
    )
    gpu_fallback = tested.outcome.gpu_fallback
    as_of = plan.environment.lock_cutoff or dt.date.today()
    context = repair_context(
        plan,
        scanned,
        facts,
        repairs.changes,
        history,
        pythons,
        gpu_fallback=gpu_fallback,
        look_up=projects.module_provider(as_of) if failure.kind == "missing-module" else None,
        ships=projects.release_ships(as_of) if failure.kind == "missing-module" else None,
    )
    if not failure.fixable:
        return failure, repair.Proposal(diagnosis=repair.diagnose(failure, context))
    return failure, repair.propose(failure, context)


def build_log(plan: Plan, number: int) -> Path:
    """Where a build's whole log is kept: the repro cache, one file per repair round."""
    name = f"{plan.checkout.source.slug}-{plan.checkout.short_sha}-build-{number}.log"
    return cache.subdir("logs") / name


def after_build(
    exc: BuildError,
    log: Path,
    engine: Engine,
    plan: Plan,
    scanned: Scanned,
    repairs: Repairs,
    history: History | None,
) -> tuple[buildlog.BuildFailure, repair.Proposal]:
    """What the failed build's log says, and the changes that fix it (or the diagnosis)."""
    try:
        text = log.read_text("utf-8", "replace")
    except OSError:
        text = exc.log_tail
    failure = buildlog.classify(text)
    environment = plan.environment
    if history is None:
        history = pypi.PyPIIndex(as_of=environment.lock_cutoff or dt.date.today()).get
    here = probe.local_pythons(engine)
    pythons = tuple(
        p
        for p in planner.python_alternatives(environment, scanned.evidence, scanned.settings.base)
        if p in here
    )
    codename = probe.os_codename(engine, plan.base.name)
    context = build_context(
        plan, scanned, repairs.changes, history, codename=codename, pythons=pythons
    )
    return failure, repair.propose_build(failure, context)
