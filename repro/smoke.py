"""Find the commands that prove an image works, and run them in isolated containers.

``discover`` (reads files only) lists the strategies in the order they are tried:

1. the user's command (``--smoke``, ``[tool.repro] smoke``): when given, the only one;
2. the repository's tests: collected first, then a bounded subset is run;
3. its programs with ``--help`` (console scripts, ``python -m pkg``, command-line scripts);
4. an import check of every module (always available).

``execute`` tries them in order until one *proves* something: a strategy whose every
target needs what a smoke test never has (data, network, a GPU, more time) is
inconclusive, and the next one runs. Targets that need such things are left out and
reported; the others must pass. With ``--notebooks`` the notebooks run afterwards.

Every run has no network, runs as uid 1000, with memory, process and time limits, no host
mounts, a GPU only when the engine has one, and its container is always removed.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from repro import entrypoints
from repro.dockerfile import HELP_CHECK, IMPORT_CHECK, NOTEBOOK_CHECK, UID
from repro.engine import Engine, RunLimits
from repro.models import (
    JSON,
    BaseImage,
    Evidence,
    Options,
    Plan,
    SmokeCommand,
    SmokePlan,
    SmokeResult,
    TargetResult,
)
from repro.repair import Failure, classify
from repro.report import Reporter

MAX_IMPORT_TARGETS = 200
MAX_TESTS = 25  # tests run from a suite, spread over its files
TEST_BUDGET = 300.0  # seconds for the test run (the smoke timeout, when lower, wins)
MAX_NOTEBOOKS = 10
# Tests marked like this need what a smoke test does not have: never selected.
DESELECT = "not (gpu or cuda or slow or integration or network)"
PYTEST = ("python", "-m", "pytest", "-p", "no:cacheprovider")
PYTEST_RUN = ("-v", "-rfE", "--tb=short")
COLLECT_FLAGS = ("--continue-on-collection-errors",)
NOTEBOOK_REQUIREMENTS = ("nbclient", "nbformat", "ipykernel")
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
KIND_ORDER = ("user", "pytest", "entry-point", "import")
_SKIP_PARTS = {
    "docs",
    "doc",
    "examples",
    "example",
    "benchmarks",
    "scripts",
    "tools",
    "build",
    "dist",
}


# --------------------------------------------------------------------------- discover


def discover(
    evidence: Evidence,
    options: Options,
    python: str,
    root: Path | None = None,
    *,
    missing: Collection[str] = (),
    hosted: Mapping[str, str] | None = None,
) -> SmokePlan:
    """Every strategy that has something to run, in order; ``root`` is the checkout.

    ``missing``: imports repro cannot install (unresolved: not on PyPI, or nothing maps
    them): files that import one are left out of the smoke test, and said so, rather than
    failing it for a module no repair can add. ``hosted``: modules that exist only inside
    an application (module → application): files importing one are not runnable outside
    it; when that is every file, nothing is run and the plan says why."""
    if options.no_smoke:
        return SmokePlan(candidates=(), considered=(("none", "--no-smoke"),))
    notebooks, nb_note = _notebooks(root, options, python)
    considered: list[tuple[str, str]] = [*([nb_note] if nb_note else [])]
    if options.smoke:
        origin = options.smoke_origin or "--smoke"
        user = SmokeCommand(
            argv=("sh", "-c", options.smoke), kind="user", reason=f"given by the user ({origin})"
        )
        return SmokePlan(candidates=(user,), notebooks=notebooks, considered=tuple(considered))
    considered.append(("user", "no --smoke and no [tool.repro] smoke"))
    candidates: list[SmokeCommand] = []
    hosted = hosted or {}
    in_app = _blocked_files(evidence, hosted)
    if in_app and all(p in in_app for p in evidence.python_paths):
        apps = sorted({hosted[m] for m in in_app.values()})
        why = (
            f"every Python file runs inside {' or '.join(apps)} ("
            + ", ".join(f"{path}: {module}" for path, module in sorted(in_app.items())[:5])
            + "): not runnable outside it"
        )
        return SmokePlan(candidates=(), notebooks=notebooks, considered=(("none", why),))
    blocked = {**_blocked_files(evidence, missing), **in_app}
    if blocked and all(p in blocked for p in evidence.python_paths):
        # nothing else would run: the smoke test runs them and fails with the diagnosis
        # (an image that cannot run any of the code is not a working image)
        blocked = {}
    left_out = (
        "; left out, importing what repro cannot install: "
        + ", ".join(
            f"{path} ({module}" + (f": runs inside {hosted[module]})" if module in hosted else ")")
            for path, module in sorted(blocked.items())
        )
        if blocked
        else ""
    )
    paths = [p for p in evidence.python_paths if p not in blocked]
    tests = [p for p in evidence.python_paths if _is_test(p)]
    if tests:
        test_dirs = sorted({_test_root(p) for p in tests})
        pytest_req = "pytest<5" if python.startswith("2.") else "pytest"
        ignored = tuple(f"--ignore={p}" for p in tests if p in blocked)
        candidates.append(
            SmokeCommand(
                argv=(*PYTEST, "-m", DESELECT, *ignored, *test_dirs),
                kind="pytest",
                reason=f"the repository has {len(tests)} test file(s) under "
                f"{', '.join(test_dirs)}: collect them, run up to {MAX_TESTS}"
                + (left_out if ignored else ""),
                extra_requirements=(pytest_req,),
            )
        )
    else:
        considered.append(("pytest", "no test files (test_*.py, *_test.py)"))
    programs = entrypoints.find(root, tuple(paths)) if root is not None else []
    if programs:
        absl = [p.spec for p in programs if p.absl]
        candidates.append(
            SmokeCommand(
                argv=("python", HELP_CHECK, *(p.check_spec for p in programs)),
                kind="entry-point",
                reason=f"{len(programs)} program(s) run with --help: "
                + ", ".join(f"{p.spec.split(':', 1)[1]} ({p.origin})" for p in programs)
                + (f"; absl flags exit 1 after --help: {', '.join(absl)}" if absl else "")
                + left_out,
            )
        )
    else:
        considered.append(
            ("entry-point", "no console scripts, python -m packages or command-line scripts")
        )
    targets = import_targets(paths)
    if targets:
        candidates.append(
            SmokeCommand(
                argv=("python", IMPORT_CHECK, *targets),
                kind="import",
                reason=f"import check of {len(targets)} module(s) and script(s), each in a "
                "fresh interpreter (scripts: their imports only)" + left_out,
            )
        )
    elif evidence.notebooks:
        # A repository of notebooks only: its notebooks are not run without --notebooks,
        # but what they import must import in the image.
        modules = notebook_imports(evidence, python)
        if modules:
            candidates.append(
                SmokeCommand(
                    argv=("python", IMPORT_CHECK, *(f"module:{m}" for m in modules)),
                    kind="import",
                    reason=f"import check of the {len(modules)} module(s) the notebooks "
                    "import, each in a fresh interpreter (the notebooks are not run; "
                    "--notebooks runs them)",
                )
            )
        else:
            considered.append(("import", "no Python modules, and the notebooks import none"))
    else:
        considered.append(("import", "no Python modules to import"))
    return SmokePlan(
        candidates=tuple(candidates), notebooks=notebooks, considered=tuple(considered)
    )


def first_command(plan: SmokePlan) -> SmokeCommand:
    """The strategy tried first (``none`` when there is nothing to run)."""
    if plan.candidates:
        return plan.candidates[0]
    reason = plan.considered[0][1] if plan.considered else "nothing to run"
    if not plan.considered or plan.considered[0][0] != "none":
        reason = "no tests, programs or modules to run"
    return SmokeCommand(argv=(), kind="none", reason=reason)


def _notebooks(
    root: Path | None, options: Options, python: str
) -> tuple[SmokeCommand | None, tuple[str, str] | None]:
    if not options.notebooks or root is None:
        return None, None
    if python.startswith("2."):
        return None, ("notebook", "--notebooks needs Python 3 in the image (nbclient)")
    found = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.ipynb")
        if not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not found:
        return None, ("notebook", "--notebooks: the repository has no notebooks")
    chosen = found[:MAX_NOTEBOOKS]
    timeout = int(options.cell_timeout)
    return (
        SmokeCommand(
            argv=(
                "env",
                f"REPRO_CELL_TIMEOUT={timeout}",
                "python",
                NOTEBOOK_CHECK,
                *(f"notebook:{p}" for p in chosen),
            ),
            kind="notebook",
            reason=f"--notebooks: {len(chosen)} of {len(found)} notebook(s), {timeout} s per cell",
            extra_requirements=NOTEBOOK_REQUIREMENTS,
        ),
        None,
    )


def _is_test(rel: str) -> bool:
    name = rel.rpartition("/")[2]  # PurePosixPath(rel).name, without making a path
    return name.startswith("test_") or name.endswith("_test.py")


def _test_root(rel: str) -> str:
    parts = PurePosixPath(rel).parts
    for i, part in enumerate(parts[:-1]):
        if part in ("tests", "test"):
            return "/".join(parts[: i + 1])
    return "/".join(parts[:-1]) or "."


def import_targets(python_files: list[str]) -> list[str]:
    """``module:pkg.mod`` for package modules, ``script:path.py`` for scripts."""
    present = set(python_files)
    targets = []
    for rel in python_files:
        p = PurePosixPath(rel)
        if _is_test(rel) or p.name in ("setup.py", "conftest.py", "__main__.py"):
            continue
        if _SKIP_PARTS & set(p.parts[:-1]) or any(part.startswith(".") for part in p.parts):
            continue
        package = _package_path(p, present)
        if package:
            targets.append(f"module:{package}")
        else:
            targets.append(f"script:{rel}")
        if len(targets) == MAX_IMPORT_TARGETS:
            break  # the rest would be cut off
    return targets


def _blocked_files(evidence: Evidence, missing: Collection[str]) -> dict[str, str]:
    """Python files that import (not optionally) a module repro cannot install → it."""
    out: dict[str, str] = {}
    for site in evidence.imports:
        if site.optional or not site.origin.path.endswith(".py"):
            continue
        for module in missing:
            if site.module == module or site.module.startswith(module + "."):
                out.setdefault(site.origin.path, module)
    return out


def notebook_imports(evidence: Evidence, python: str) -> list[str]:
    """Top-level modules the notebooks import that a distribution provides, sorted (a
    ``from X import Y`` site names ``X.Y``, which may be a name rather than a module)."""
    from repro import mapping

    found: set[str] = set()
    for site in evidence.imports:
        if site.optional or not site.origin.path.endswith(".ipynb"):
            continue
        if site.module.split(".")[0] in evidence.local_modules:
            continue
        if mapping.lookup(site.module, python=python).kind == "dist":
            found.add(site.module.split(".")[0])
    return sorted(found)[:MAX_IMPORT_TARGETS]


def _package_path(p: PurePosixPath, present: set[str]) -> str:
    """``pkg/sub/mod.py`` → ``pkg.sub.mod`` when every folder has __init__.py, else ""."""
    parents = p.parts[:-1]
    if not parents:
        return ""
    start = 1 if parents[0] == "src" else 0
    dirs = parents[start:]
    if not dirs:
        return ""
    for i in range(len(dirs)):
        init = "/".join(parents[: start + i + 1]) + "/__init__.py"
        if init not in present:
            return ""
    name = p.stem
    mods = list(dirs) if name == "__init__" else [*dirs, name]
    return ".".join(mods)


# --------------------------------------------------------------------------- run


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


# --------------------------------------------------------------------------- execute

Status = Literal["passed", "failed", "inconclusive"]


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One strategy, tried: what ran, what it proved, and what was left out."""

    command: SmokeCommand  # what finally ran (with the chosen tests, modules, programs)
    status: Status
    note: str  # one line for the user and the manifest
    result: SmokeResult | None = None
    failures: tuple[Failure, ...] = ()  # why it failed, the fixable ones first
    excluded: tuple[TargetResult, ...] = ()  # targets left out, and why
    excused: tuple[Failure, ...] = ()  # what the excluded targets needed
    collected: int | None = None  # tests collected (pytest)

    def to_json(self) -> JSON:
        return {
            "kind": self.command.kind,
            "status": self.status,
            "note": self.note,
            "command": list(self.command.argv),
            "collected": self.collected,
            "excluded": [t.to_json() for t in self.excluded],
        }


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """Every strategy tried, in order; the last decides."""

    attempts: tuple[Attempt, ...]
    notebooks: Attempt | None = None
    plan: SmokePlan | None = None
    gpu_fallback: bool = False  # a GPU image, run on the CPU: the engine has no GPU

    @property
    def main(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def passed(self) -> bool:
        main = self.main
        if main is None or main.status != "passed":
            return False
        return self.notebooks is None or self.notebooks.status != "failed"

    @property
    def failing(self) -> Attempt | None:
        """The attempt that failed (the notebooks, when the main one passed)."""
        if self.main is not None and self.main.status != "passed":
            return self.main
        if self.notebooks is not None and self.notebooks.status == "failed":
            return self.notebooks
        return None

    @property
    def failure(self) -> Failure | None:
        """What to repair or explain: a fixable failure first, else the first seen."""
        attempt = self.failing
        if attempt is None:
            return None
        if attempt.failures:
            return attempt.failures[0]
        if attempt.excused:
            return attempt.excused[0]
        result = attempt.result
        return Failure(
            kind="error",
            line=f"nothing could run without data, network or GPU ({attempt.note})"
            if result is None
            else attempt.note,
        )

    def discovery_json(self) -> list[JSON]:
        """The manifest's ``smoke.discovery``: every strategy, in discovery order."""
        rows: dict[str, JSON] = {}
        plan = self.plan or SmokePlan(candidates=())
        for kind, why in plan.considered:
            rows.setdefault(kind, {"kind": kind, "status": "not found", "note": why})
        tried = {a.command.kind for a in self.attempts}
        for attempt in self.attempts:
            rows[attempt.command.kind] = attempt.to_json()
        for cand in plan.candidates:
            if cand.kind not in tried:
                rows[cand.kind] = {
                    "kind": cand.kind,
                    "status": "not tried",
                    "note": "an earlier strategy decided",
                    "command": list(cand.argv),
                }
        order = {k: i for i, k in enumerate((*KIND_ORDER, "notebook", "none"))}
        return sorted(rows.values(), key=lambda r: order.get(str(r["kind"]), 99))


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
    failure = classify(output, timed_out=result.timed_out, oom_killed=_oom(output))
    return Attempt(
        command=command,
        status="failed",
        note=_exit_text(result) + f": {failure.line}",
        result=result,
        failures=(failure,),
    )


def _oom(output: str) -> bool:
    return "[repro] the container ran out of memory" in output


def _exit_text(result: SmokeResult) -> str:
    return "timed out" if result.timed_out else f"exit {result.exit_code}"


# --------------------------------------------------------------------------- per target

_TARGET = re.compile(r"^(ok|FAIL|SKIP)\s+(\S(?:.*?\S)?)(?:  -> (.*))?$")
_TAIL = re.compile(r"^     \| ?(.*)$")


@dataclass(frozen=True)
class Reported:
    status: str  # ok, FAIL, SKIP
    spec: str
    reason: str
    tail: tuple[str, ...]


def parse_targets(output: str) -> list[Reported]:
    """The per-target lines of repro's in-image checks (import, help, notebook)."""
    found: list[Reported] = []
    tail: list[str] = []
    for line in output.splitlines():
        m = _TAIL.match(line)
        if m and found:
            tail.append(m.group(1))
            continue
        m2 = _TARGET.match(line.rstrip())
        if m2:
            if found and tail:
                found[-1] = dataclasses.replace(found[-1], tail=tuple(tail))
            tail = []
            found.append(Reported(m2.group(1), m2.group(2), m2.group(3) or "", ()))
    if found and tail:
        found[-1] = dataclasses.replace(found[-1], tail=tuple(tail))
    return found


def _specs(command: SmokeCommand) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the argv up to the check script, the target specs after it)."""
    for i, arg in enumerate(command.argv):
        if arg in (IMPORT_CHECK, HELP_CHECK, NOTEBOOK_CHECK):
            return command.argv[: i + 1], command.argv[i + 1 :]
    return command.argv, ()


def _judge(
    specs: Sequence[str],
    reported: dict[str, tuple[str, str, str]],  # spec → (status, reason, text to classify)
    *,
    not_reached: str,
) -> tuple[list[TargetResult], list[Failure], list[TargetResult], list[Failure]]:
    """Sort targets into ok / failed (with failures) / excluded (with what they needed)."""
    results: list[TargetResult] = []
    failures: list[Failure] = []
    excluded: list[TargetResult] = []
    excused: list[Failure] = []
    for spec in specs:
        if spec not in reported:
            excluded.append(TargetResult(target=spec, status="skipped", reason=not_reached))
            continue
        status, reason, text = reported[spec]
        if status == "ok":
            results.append(TargetResult(target=spec, status="ok"))
        elif status == "SKIP":
            excluded.append(TargetResult(target=spec, status="skipped", reason=reason))
        else:
            failure = classify(text, target=spec)
            if failure.excusable:
                excluded.append(
                    TargetResult(
                        target=spec,
                        status="skipped",
                        reason=f"needs {failure.kind}: {failure.line}",
                    )
                )
                excused.append(failure)
            else:
                results.append(TargetResult(target=spec, status="failed", reason=failure.line))
                failures.append(failure)
    failures.sort(key=lambda f: not f.fixable)
    return results, failures, excluded, excused


def _checks(runner: Runner, command: SmokeCommand) -> Attempt:
    prefix, specs = _specs(command)
    result, output = runner.run(command)
    parsed = parse_targets(output)
    if not parsed:
        failure = classify(output, timed_out=result.timed_out, oom_killed=_oom(output))
        return Attempt(
            command=command,
            status="failed",
            note=f"the check did not run ({_exit_text(result)}): {failure.line}",
            result=result,
            failures=(failure,),
        )
    reported = {r.spec: (r.status, r.reason, "\n".join([*r.tail, r.reason])) for r in parsed}
    results, failures, excluded, excused = _judge(
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
        what=_noun(command.kind),
    )


def _noun(kind: str) -> str:
    return {"import": "module(s)", "entry-point": "program(s)", "notebook": "notebook(s)"}.get(
        kind, "test(s)"
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
    if failures:
        failed = [r for r in results if r.status == "failed"]
        return Attempt(
            command=command,
            status="failed",
            note=f"{len(failed)} of {len(results) + len(excluded)} {what} failed{left_out}: "
            f"{failures[0].summary()}",
            result=dataclasses.replace(result, targets=(*results, *excluded)),
            failures=tuple(failures),
            excluded=tuple(excluded),
            excused=tuple(excused),
            collected=collected,
        )
    if not ok:
        why = excused[0].line if excused else (excluded[0].reason if excluded else "none ran")
        return Attempt(
            command=command,
            status="inconclusive",
            note=f"none of {len(excluded)} {what} could run here: {why}",
            result=dataclasses.replace(result, targets=tuple(excluded)),
            excluded=tuple(excluded),
            excused=tuple(excused),
            collected=collected,
        )
    if not excluded and result.passed:
        return Attempt(
            command=command,
            status="passed",
            note=f"{len(ok)} {what} passed in {result.seconds:.1f} s",
            result=dataclasses.replace(result, targets=tuple(results)),
            collected=collected,
        )
    # Some targets were left out (or the run stopped early): run the others alone, so the
    # recorded command is one that passes as a whole and `repro verify` can rerun it.
    again = narrowed(ok)
    final, output = runner.run(again, timeout=timeout)
    if final.passed:
        return Attempt(
            command=again,
            status="passed",
            note=f"{len(ok)} {what} passed in {final.seconds:.1f} s{left_out}",
            result=dataclasses.replace(final, targets=tuple(results)),
            excluded=tuple(excluded),
            excused=tuple(excused),
            collected=collected,
        )
    failure = classify(output, timed_out=final.timed_out, oom_killed=_oom(output))
    return Attempt(
        command=again,
        status="failed",
        note=f"{len(ok)} {what} passed one by one but not together ({_exit_text(final)}): "
        f"{failure.line}",
        result=final,
        failures=(failure,),
        excluded=tuple(excluded),
        excused=tuple(excused),
        collected=collected,
    )


# --------------------------------------------------------------------------- pytest

_PYTEST_STATUS = re.compile(
    r"^(?P<id>\S.*?::.*?) (?P<status>PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b"
)
_PYTEST_SUMMARY = re.compile(r"^(?P<status>FAILED|ERROR) (?P<id>\S.*?)(?: - (?P<reason>.*))?$")
_SECTION = re.compile(r"^_{3,} (?P<title>.+?) _{3,}$")


def parse_collected(output: str) -> list[str]:
    """Test ids printed by ``pytest --collect-only -q``, in collection order."""
    ids = []
    for line in output.splitlines():
        line = line.rstrip()
        if "::" in line and not line.startswith((" ", "ERROR", "FAILED", "_", "=")):
            ids.append(line)
    return list(dict.fromkeys(ids))


def select_tests(ids: Sequence[str], limit: int = MAX_TESTS) -> list[str]:
    """Up to ``limit`` tests, taken from each file in turn, kept in collection order."""
    by_file: dict[str, list[int]] = {}
    for index, test_id in enumerate(ids):
        by_file.setdefault(test_id.split("::")[0], []).append(index)
    chosen: list[int] = []
    queues = [list(v) for v in by_file.values()]
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return [ids[i] for i in sorted(chosen)]


def parse_pytest(output: str) -> dict[str, tuple[str, str]]:
    """Test id → (status, reason) from ``pytest -v -rfE`` output."""
    statuses: dict[str, tuple[str, str]] = {}
    for line in output.splitlines():
        m = _PYTEST_STATUS.match(line.rstrip())
        if m:
            statuses[m.group("id")] = (m.group("status"), "")
    for line in output.splitlines():
        m2 = _PYTEST_SUMMARY.match(line.rstrip())
        if m2 and m2.group("id") in statuses:
            statuses[m2.group("id")] = (m2.group("status"), m2.group("reason") or "")
    return statuses


def _sections(output: str) -> dict[str, str]:
    """Failure sections (``____ test_name ____``) by title, for pytest without reasons."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        m = _SECTION.match(line)
        if m:
            current = out.setdefault(m.group("title"), [])
            continue
        if line.startswith("=") and current is not None:
            current = None
        if current is not None:
            current.append(line)
    return {k: "\n".join(v) for k, v in out.items()}


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
        failure = classify(output, oom_killed=_oom(output))
        return Attempt(
            command=run_cmd,
            status="failed",
            note=f"pytest did not run ({_exit_text(result)}): {failure.line}",
            result=result,
            failures=(failure,),
            collected=len(ids),
        )
    sections = _sections(output)
    reported: dict[str, tuple[str, str, str]] = {}
    for test_id, (status, reason) in statuses.items():
        if status in ("PASSED", "XFAIL", "XPASS"):
            reported[test_id] = ("ok", "", "")
        elif status == "SKIPPED":
            reported[test_id] = ("SKIP", "skipped by the test itself", "")
        else:
            title = test_id.split("::")[-1]
            text = sections.get(title, "") + "\n" + (reason or "")
            reported[test_id] = ("FAIL", reason, text if text.strip() else output)
    results, failures, excluded, excused = _judge(
        selected, reported, not_reached=f"not reached in {budget:.0f} s"
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


# --------------------------------------------------------------------------- record


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
