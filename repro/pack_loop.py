"""The pack loop (edge: the engine): plan, build, smoke-test, and after a failure repair the
plan and go again, until an image passes or repro cannot repair it.

``pipeline.pack_fetched`` scans, runs :meth:`PackLoop.run` and exports what passed. One
:meth:`PackLoop.round` is: plan with the repairs so far → build (a failed build records a
repair round, ``repairing.Repairs.build_failed``) → sweep what earlier rounds and killed
runs left → start the export beside the rest (``export.Prefetch``) → read the image's
facts → smoke test (a failed one records a repair round,
``repairing.Repairs.smoke_failed``). What to change after a failure is decided in
``repro/repair/``; this module only runs the rounds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from repro import build, export, probe, repairing, smoke, sweep
from repro.engine import Engine, ImageInfo
from repro.errors import BuildError
from repro.manifest import dropped
from repro.models import BuiltImage, ImageFacts, Plan, Prepared, Scanned
from repro.repair import Change, ReleasesFor
from repro.repair.build import History
from repro.report import Reporter


@dataclass(frozen=True, kw_only=True)
class Passed:
    """The image of the last round, built and passed (or with no smoke test to pass): what
    the export writes. ``prefetch`` is still running; the export finishes it."""

    engine: Engine
    plan: Plan
    image: BuiltImage
    base_info: ImageInfo | None
    facts: ImageFacts
    tested: smoke.Tested | None
    prefetch: export.Prefetch | None


@dataclass(kw_only=True)
class PackLoop:
    """The rounds of one pack. ``plan`` makes the plan with the repairs' changes applied
    (``pipeline.plan_for``); ``engine`` waits for the engine being connected; ``workdir``
    holds the build context; ``history``: release histories with their wheels for build
    repairs, ``releases`` for smoke repairs (PyPI's unless given); ``pause`` waits before
    a build is retried after a network error."""

    scanned: Scanned
    plan: Callable[[tuple[Change, ...]], Prepared]
    engine: Callable[[], Engine]
    workdir: Path
    reporter: Reporter
    repairs: repairing.Repairs
    history: History | None
    releases: ReleasesFor | None
    pause: Callable[[float], None]

    def run(self) -> Passed:
        """Rounds until one passes; raises (explained) when a failure cannot be repaired
        or the rounds ran out."""
        while True:
            passed = self.round()
            if passed is not None:
                return passed

    def round(self) -> Passed | None:
        """One round; None when it failed and recorded a repair round (go again)."""
        first = not self.repairs.rounds
        prepared = self.plan(self.repairs.changes)
        plan, docker = prepared.plan, self.engine()
        if first:
            for warning in plan.warnings:
                self.reporter.warn(warning)
        base_info = probe.ensure_base_images(docker, plan, self.reporter.info)
        image = self._build(docker, prepared, first=first)
        if image is None:
            return None
        sweep.superseded(docker, self.repairs.superseded, keep=image.id)
        sweep.dead_runs(docker)  # containers of killed runs: their images are free then
        sweep.untagged_images(docker, plan.checkout.source.url, keep=image.id)  # re-packs
        out = self.scanned.settings.export
        pending = export.PendingImage(
            export.artifact_path(out.out, plan.checkout), docker, image.id, plan.tags, oci=out.oci
        )
        prefetch = export.Prefetch.start(docker, plan, image.id, pending)  # beside the smoke test
        try:
            facts = probe.image_facts(docker, image.id, key=image.facts_key)
            if prefetch is not None:  # the SBOM, made while the smoke test runs
                prefetch.make_documents(plan, image, base_info, facts)
            if first:
                for note in dropped(plan.environment, facts.lock):
                    self.reporter.warn(note)
            timeout = self.scanned.settings.smoke.smoke_timeout
            tested = smoke.test_image(docker, plan, image.id, timeout, self.reporter)
            if tested is None or tested.passed:
                return Passed(
                    engine=docker,
                    plan=plan,
                    image=image,
                    base_info=base_info,
                    facts=facts,
                    tested=tested,
                    prefetch=prefetch,
                )
            self.repairs.smoke_failed(
                docker, tested, image, plan, self.scanned, facts, self.releases, self.reporter
            )
        except BaseException:
            if prefetch is not None:
                prefetch.stop()
            raise
        if prefetch is not None:
            prefetch.stop()  # a repair round builds another image
        return None

    def _build(self, docker: Engine, prepared: Prepared, *, first: bool) -> BuiltImage | None:
        """The round's image; None when the build failed and a repair round was recorded
        (else the explained error is raised)."""
        plan = prepared.plan
        log = repairing.build_log(plan, len(self.repairs.rounds) + 1)
        try:
            return build.build_prepared(
                docker,
                self.workdir,
                prepared,
                self.scanned.settings.build,
                self.reporter,
                first_round=first,
                log=log,
            )
        except BuildError as exc:
            self.repairs.build_failed(
                exc, log, docker, plan, self.scanned, self.history, self.reporter, self.pause
            )
            return None
