"""What a smoke run proved (pure): the per-target lines of repro's in-image checks and of
pytest, sorted into passed, failed and left out (a target that needs what a smoke test
never has: data, network, a GPU, more time), and the outcome of every strategy tried.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from repro.dockerfile import HELP_CHECK, IMPORT_CHECK, NOTEBOOK_CHECK
from repro.models import JSON, SmokeCommand, SmokePlan, SmokeResult, TargetResult
from repro.repair import Failure, classify
from repro.smoke.discover import KIND_ORDER, MAX_TESTS

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


def split_specs(command: SmokeCommand) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the argv up to the check script, the target specs after it)."""
    for i, arg in enumerate(command.argv):
        if arg in (IMPORT_CHECK, HELP_CHECK, NOTEBOOK_CHECK):
            return command.argv[: i + 1], command.argv[i + 1 :]
    return command.argv, ()


def judge(
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


def noun(kind: str) -> str:
    return {"import": "module(s)", "entry-point": "program(s)", "notebook": "notebook(s)"}.get(
        kind, "test(s)"
    )


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


def failure_sections(output: str) -> dict[str, str]:
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


def ran_out_of_memory(output: str) -> bool:
    return "[repro] the container ran out of memory" in output


def exit_text(result: SmokeResult) -> str:
    return "timed out" if result.timed_out else f"exit {result.exit_code}"


def reported_by_pytest(
    statuses: Mapping[str, tuple[str, str]], output: str
) -> dict[str, tuple[str, str, str]]:
    """pytest's status of each test as the judge reads it: ok, SKIP, or FAIL with its
    reason and its section of the output (all the output when it has none)."""
    sections = failure_sections(output)
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
    return reported
