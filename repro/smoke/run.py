"""Run smoke commands in isolated containers (edge: docker) and try the strategies in
order until one *proves* something: a strategy whose every target needs what a smoke test
never has (data, network, a GPU, more time) is inconclusive, and the next one runs.

Every run has no network, runs as uid 1000, with memory, process and time limits, no host
mounts, a GPU only when the engine has one, and its container is always removed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from repro.dockerfile import UID
from repro.engine import Engine, RunLimits
from repro.models import JSON, BaseImage, Plan, SmokeCommand, SmokePlan, SmokeResult, TargetResult
from repro.repair import Failure, classify
from repro.report import Reporter
from repro.smoke.discover import DESELECT, PYTEST, first_command
from repro.smoke.judge import (
    Attempt,
    Outcome,
    Status,
    exit_text,
    judge,
    noun,
    parse_collected,
    parse_pytest,
    parse_targets,
    ran_out_of_memory,
    reported_by_pytest,
    select_tests,
    split_specs,
)

TEST_BUDGET = 300.0  # seconds for the test run (the smoke timeout, when lower, wins)
PYTEST_RUN = ("-v", "-rfE", "--tb=short")
COLLECT_FLAGS = ("--continue-on-collection-errors",)
SMOKE_USER = f"{UID}:{UID}"
MEMORY = 4 * 1024**3
PIDS = 1024
# The same for every run (recorded in repro.json, reused by `repro verify`): no display,
# a wide terminal so pytest does not cut its summary, and libraries told they are offline
# so they fail at once instead of retrying a network they cannot reach.
SMOKE_ENV = {
    "HOME": "/tmp",
    "MPLBACKEND": "Agg",
    "REPRO_SMOKE": "1",
    "COLUMNS": "200",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "WANDB_MODE": "disabled",
}


@dataclass(frozen=True, kw_only=True)
class Runner:
    """Where and how smoke commands run: one image, the same limits for every run."""

    engine: Engine
    image: str
    gpu: bool = False
    timeout: float = 900.0
    memory: int = MEMORY
    pids: int = PIDS

    def run(self, command: SmokeCommand, timeout: float | None = None) -> tuple[SmokeResult, str]:
        """The result and the whole output of one run."""
        return run_with_output(
            self.engine,
            self.image,
            command,
            gpu=self.gpu,
            timeout=timeout or self.timeout,
            memory=self.memory,
            pids=self.pids,
        )

    def limits_json(self) -> JSON:
        return {
            "network": "none",
            "user": SMOKE_USER,
            "memory_bytes": self.memory,
            "pids": self.pids,
            "timeout": self.timeout,
            "gpu": self.gpu,
            "env": dict(SMOKE_ENV),
            "mounts": [],
        }


def run(
    engine: Engine, image: str, command: SmokeCommand, *, gpu: bool, timeout: float
) -> SmokeResult:
    """Run ``command`` in ``image``: no network, unprivileged, limited; always cleaned up."""
    return run_with_output(engine, image, command, gpu=gpu, timeout=timeout)[0]


def run_with_output(
    engine: Engine,
    image: str,
    command: SmokeCommand,
    *,
    gpu: bool,
    timeout: float,
    memory: int = MEMORY,
    pids: int = PIDS,
) -> tuple[SmokeResult, str]:
    start = time.monotonic()
    result = engine.run(
        image,
        command.argv,
        RunLimits(
            network="none",
            user=SMOKE_USER,
            mem_bytes=memory,
            pids=pids,
            timeout=timeout,
            gpus=gpu,
            env=SMOKE_ENV,
        ),
    )
    tail = "\n".join(result.output.rstrip().splitlines()[-40:])
    output = result.output
    if result.oom_killed:
        note = "\n[repro] the container ran out of memory (limit reached) and was killed"
        tail += note
        output += note
    if result.timed_out:
        note = f"\n[repro] stopped after {timeout:.0f} s (timeout)"
        tail += note
        output += note
    smoke = SmokeResult(
        command=command,
        exit_code=result.exit_code,
        seconds=time.monotonic() - start,
        log_tail=tail,
        timed_out=result.timed_out,
        gpu=gpu,
        network="none",
        timeout=timeout,
    )
    if result.oom_killed and smoke.exit_code == 0:
        smoke = dataclasses.replace(smoke, exit_code=137)
    return smoke, output


Info = Callable[[str], None]


def execute(runner: Runner, plan: SmokePlan, *, info: Info | None = None) -> Outcome:
    """Try the strategies in order until one passes or fails; then the notebooks."""
    say = info or (lambda _m: None)
    attempts: list[Attempt] = []
    for command in plan.candidates:
        say(f"{command.kind}: {command.reason}")
        attempt = attempt_one(runner, command)
        attempts.append(attempt)
        say(f"{command.kind}: {attempt.status} — {attempt.note}")
        if attempt.status != "inconclusive":
            break
    notebooks = None
    if plan.notebooks is not None and attempts and attempts[-1].status == "passed":
        say(f"notebook: {plan.notebooks.reason}")
        notebooks = attempt_one(runner, plan.notebooks)
        say(f"notebook: {notebooks.status} — {notebooks.note}")
    return Outcome(attempts=tuple(attempts), notebooks=notebooks, plan=plan)


def gpu_use(base: BaseImage, engine_has_gpu: Callable[[], bool]) -> tuple[bool, str]:
    """Whether the smoke test of an image on ``base`` runs with GPUs; for a GPU image run
    on the CPU, why. GPUs only when the engine has them, the host driver can start the
    image and the torch build has kernels for the host's GPUs."""
    driver_ok = base.cuda is None or base.cuda.driver_ok is not False
    arch_ok = base.cuda is None or base.cuda.arch_ok is not False
    gpu = base.gpu and driver_ok and arch_ok and engine_has_gpu()
    if not base.gpu or gpu:
        return gpu, ""
    if not driver_ok:
        return False, "the host driver is too old"
    if not arch_ok:
        return False, "the torch build has no kernels for the host's GPU (see the reasons)"
    return False, "no GPU on this engine"


@dataclass(frozen=True, kw_only=True)
class Tested:
    """A smoke test that ran: every strategy tried, and where and how they ran."""

    outcome: Outcome
    runner: Runner

    @property
    def result(self) -> SmokeResult | None:
        main = self.outcome.main
        return main.result if main is not None else None

    @property
    def passed(self) -> bool:
        return self.outcome.passed and self.result is not None

    def to_json(self) -> JSON:
        """What the manifest's ``smoke`` object adds to the final result."""
        return outcome_json(self.outcome, self.runner)


def run_plan(
    runner: Runner, plan: SmokePlan, *, gpu_fallback: bool, info: Info | None = None
) -> Tested:
    """Run ``plan`` (:func:`execute`); ``gpu_fallback``: a GPU image run on the CPU."""
    outcome = dataclasses.replace(execute(runner, plan, info=info), gpu_fallback=gpu_fallback)
    return Tested(outcome=outcome, runner=runner)


def test_image(
    engine: Engine, plan: Plan, image: str, timeout: float, reporter: Reporter
) -> Tested | None:
    """Run the plan's smoke strategies in ``image``, with GPUs when they can run (None:
    there is nothing to run); the stage, the verdict and a failure's log go to
    ``reporter``."""
    smoke_plan = plan.smoke_plan or SmokePlan(candidates=())
    if not smoke_plan.candidates:
        return None
    gpu, on_cpu = gpu_use(plan.base, engine.gpu_available)
    runner = Runner(engine=engine, image=image, gpu=gpu, timeout=timeout)
    reporter.stage("smoke", first_command(smoke_plan).kind)
    if on_cpu:
        reporter.info(f"{on_cpu}: the smoke test runs on the CPU")
    tested = run_plan(runner, smoke_plan, gpu_fallback=bool(on_cpu), info=reporter.info)
    main, result = tested.outcome.main, tested.result
    if tested.passed and result is not None:
        verdict = f"smoke test passed ({main.command.kind if main else ''})"
        reporter.info(f"{verdict} in {result.seconds:.1f} s")
        return tested
    failing = tested.outcome.failing
    if failing is not None and failing.result is not None:
        for line in failing.result.log_tail.splitlines():
            reporter.log(line)
    return tested


def attempt_one(runner: Runner, command: SmokeCommand) -> Attempt:
    if command.kind == "pytest":
        return _pytest(runner, command)
    if command.kind in ("import", "entry-point", "notebook"):
        return _checks(runner, command)
    return _single(runner, command)


def _single(runner: Runner, command: SmokeCommand) -> Attempt:
    result, output = runner.run(command)
    if result.passed:
        return Attempt(
            command=command,
            status="passed",
            note=f"exit 0 in {result.seconds:.1f} s",
            result=result,
        )
    failure = classify(output, timed_out=result.timed_out, oom_killed=ran_out_of_memory(output))
    return Attempt(
        command=command,
        status="failed",
        note=exit_text(result) + f": {failure.line}",
        result=result,
        failures=(failure,),
    )


def _checks(runner: Runner, command: SmokeCommand) -> Attempt:
    prefix, specs = split_specs(command)
    result, output = runner.run(command)
    parsed = parse_targets(output)
    if not parsed:
        failure = classify(output, timed_out=result.timed_out, oom_killed=ran_out_of_memory(output))
        return Attempt(
            command=command,
            status="failed",
            note=f"the check did not run ({exit_text(result)}): {failure.line}",
            result=result,
            failures=(failure,),
        )
    reported = {r.spec: (r.status, r.reason, "\n".join([*r.tail, r.reason])) for r in parsed}
    results, failures, excluded, excused = judge(
        specs, reported, not_reached="not reached before the time limit"
    )
    return _conclude(
        runner,
        command,
        result,
        results,
        failures,
        excluded,
        excused,
        narrowed=lambda ok: dataclasses.replace(command, argv=(*prefix, *ok)),
        what=noun(command.kind),
    )


def _conclude(
    runner: Runner,
    command: SmokeCommand,
    result: SmokeResult,
    results: list[TargetResult],
    failures: list[Failure],
    excluded: list[TargetResult],
    excused: list[Failure],
    *,
    narrowed: Callable[[list[str]], SmokeCommand],
    what: str,
    collected: int | None = None,
    timeout: float | None = None,
) -> Attempt:
    ok = [r.target for r in results if r.status == "ok"]
    left_out = f"; {len(excluded)} left out" if excluded else ""

    def attempt(
        ran: SmokeCommand,
        status: Status,
        note: str,
        seen: SmokeResult,
        failed: Sequence[Failure] = (),
    ) -> Attempt:
        """This run's attempt: each one records what was left out and why (``judge``
        excuses only targets it leaves out: none left out, none excused)."""
        return Attempt(
            command=ran,
            status=status,
            note=note,
            result=seen,
            failures=tuple(failed),
            excluded=tuple(excluded),
            excused=tuple(excused),
            collected=collected,
        )

    if failures:
        failed = [r for r in results if r.status == "failed"]
        return attempt(
            command,
            "failed",
            f"{len(failed)} of {len(results) + len(excluded)} {what} failed{left_out}: "
            f"{failures[0].summary()}",
            dataclasses.replace(result, targets=(*results, *excluded)),
            failures,
        )
    if not ok:
        why = excused[0].line if excused else (excluded[0].reason if excluded else "none ran")
        return attempt(
            command,
            "inconclusive",
            f"none of {len(excluded)} {what} could run here: {why}",
            dataclasses.replace(result, targets=tuple(excluded)),
        )
    if not excluded and result.passed:
        return attempt(
            command,
            "passed",
            f"{len(ok)} {what} passed in {result.seconds:.1f} s",
            dataclasses.replace(result, targets=tuple(results)),
        )
    # Some targets were left out (or the run stopped early): run the others alone, so the
    # recorded command is one that passes as a whole and `repro verify` can rerun it.
    again = narrowed(ok)
    final, output = runner.run(again, timeout=timeout)
    if final.passed:
        return attempt(
            again,
            "passed",
            f"{len(ok)} {what} passed in {final.seconds:.1f} s{left_out}",
            dataclasses.replace(final, targets=tuple(results)),
        )
    failure = classify(output, timed_out=final.timed_out, oom_killed=ran_out_of_memory(output))
    return attempt(
        again,
        "failed",
        f"{len(ok)} {what} passed one by one but not together ({exit_text(final)}): {failure.line}",
        final,
        (failure,),
    )


def _pytest(runner: Runner, command: SmokeCommand) -> Attempt:
    dirs = command.argv[len(PYTEST) + 2 :]
    collect = SmokeCommand(
        argv=(*PYTEST, "--collect-only", "-q", *COLLECT_FLAGS, "-m", DESELECT, *dirs),
        kind="pytest",
        reason=command.reason,
    )
    budget = min(runner.timeout, TEST_BUDGET)
    result, output = runner.run(collect, timeout=budget)
    ids = parse_collected(output)
    if result.timed_out:
        return Attempt(
            command=collect,
            status="inconclusive",
            note=f"collecting the tests took longer than {budget:.0f} s",
            result=result,
        )
    collection_failure = None
    if result.exit_code not in (0, 5):
        collection_failure = classify(output, target="collection")
        if collection_failure.fixable:
            return Attempt(
                command=collect,
                status="failed",
                note=f"the tests cannot be collected: {collection_failure.line}",
                result=result,
                failures=(collection_failure,),
                collected=len(ids),
            )
    if not ids:
        why = (
            f"the tests cannot be collected: {collection_failure.line}"
            if collection_failure
            else "no tests collected"
        )
        return Attempt(
            command=collect,
            status="inconclusive",
            note=why,
            result=result,
            excused=(collection_failure,) if collection_failure else (),
            collected=0,
        )
    selected = select_tests(ids)
    run_cmd = SmokeCommand(
        argv=(*PYTEST, *PYTEST_RUN, *selected),
        kind="pytest",
        reason=f"{len(selected)} of {len(ids)} collected test(s), spread over their files "
        f"({command.reason.split(':')[0]})",
        extra_requirements=command.extra_requirements,
    )
    result, output = runner.run(run_cmd, timeout=budget)
    statuses = parse_pytest(output)
    if result.timed_out and not statuses:
        return Attempt(
            command=run_cmd,
            status="inconclusive",
            note=f"the tests did not finish in {budget:.0f} s",
            result=result,
            collected=len(ids),
        )
    if not statuses and not result.passed:
        failure = classify(output, oom_killed=ran_out_of_memory(output))
        return Attempt(
            command=run_cmd,
            status="failed",
            note=f"pytest did not run ({exit_text(result)}): {failure.line}",
            result=result,
            failures=(failure,),
            collected=len(ids),
        )
    results, failures, excluded, excused = judge(
        selected, reported_by_pytest(statuses, output), not_reached=f"not reached in {budget:.0f} s"
    )
    failures = [
        f if f.kind != "error" or f.line else dataclasses.replace(f, line="the test failed")
        for f in failures
    ]
    return _conclude(
        runner,
        run_cmd,
        result,
        results,
        failures,
        excluded,
        excused,
        narrowed=lambda ok: dataclasses.replace(run_cmd, argv=(*PYTEST, *PYTEST_RUN, *ok)),
        what="test(s)",
        collected=len(ids),
        timeout=budget,
    )


def outcome_json(outcome: Outcome, runner: Runner) -> JSON:
    """What the manifest's ``smoke`` object adds to the final result (docs/manifest.md)."""
    main = outcome.main
    return {
        "discovery": outcome.discovery_json(),
        "excluded": [t.to_json() for t in main.excluded] if main else [],
        "collected": main.collected if main else None,
        "limits": runner.limits_json(),
        "gpu_fallback": outcome.gpu_fallback,
        "notebooks": None
        if outcome.notebooks is None or outcome.notebooks.result is None
        else {
            **outcome.notebooks.result.to_json(),
            "status": outcome.notebooks.status,
            "note": outcome.notebooks.note,
            "excluded": [t.to_json() for t in outcome.notebooks.excluded],
        },
    }
