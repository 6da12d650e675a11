"""``repro pack-many FILE``: pack a list of sources, N at a time; one failure stops nothing.

Each source is an ordinary ``pipeline.pack`` in a worker thread, with the same options.
Builds are ``docker`` CLI processes and smoke runs are containers, so the threads mostly
wait on the engine: N jobs means N builds at once on the engine, which may be remote
(``DOCKER_HOST``) or a BuildKit cluster; repro does no scheduling of its own.

Every job ends as ``packed`` (first image passed), ``repaired`` (passed after repair
rounds) or ``failed`` (with the one-line reason ``repro pack`` would print). Progress
lines go to stderr as jobs move through their stages; the summary table to stdout; the
JSON report (``schema_version`` 1, docs/user-guide.md) to a file, written atomically.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro import __version__, fetch, pipeline, signals
from repro.engine import DockerEngine, Engine
from repro.errors import ReproError, UsageError
from repro.models import JSON, Options, Source

REPORT_SCHEMA = 1
Say = Callable[[str], None]


class Cancelled(BaseException):
    """Raised inside a job when the run was interrupted (a BaseException, like Ctrl-C)."""


@dataclass(frozen=True, kw_only=True)
class Job:
    number: int
    source: str
    line: int  # line number in the list file


@dataclass(frozen=True, kw_only=True)
class JobResult:
    job: Job
    status: str  # packed, repaired, failed, cancelled
    seconds: float
    artifact: str | None = None
    image: str | None = None
    commit: str | None = None
    smoke: str | None = None
    repairs: tuple[str, ...] = ()
    error: str | None = None
    hint: str | None = None
    exit_status: int = 0

    def to_json(self) -> JSON:
        return {
            "source": self.job.source,
            "line": self.job.line,
            "status": self.status,
            "seconds": round(self.seconds, 1),
            "artifact": self.artifact,
            "image": self.image,
            "commit": self.commit,
            "smoke": self.smoke,
            "repairs": list(self.repairs),
            "error": self.error,
            "hint": self.hint,
            "exit_status": self.exit_status,
        }


def read_list(path: Path) -> list[Job]:
    """Sources, one per line; ``#`` starts a comment; blank lines and repeats are skipped."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    jobs: list[Job] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.split(r"(?:^|\s)#", raw, maxsplit=1)[0].strip()  # "# …" and "src  # …"
        if not line:
            continue
        if len(line.split()) > 1:
            raise UsageError(
                f"{path}:{number}: one source per line, got {line!r}",
                hint="options apply to every source: give them on the command line",
            )
        if line in seen:
            continue
        seen.add(line)
        jobs.append(Job(number=len(jobs) + 1, source=line, line=number))
    if not jobs:
        raise UsageError(f"{path} lists no sources (one per line, # for comments)")
    return jobs


class JobReporter:
    """A job's reporter: stage changes become progress lines; Ctrl-C cancels the job."""

    def __init__(self, job: Job, total: int, say: Say, cancel: threading.Event) -> None:
        self.job, self.total, self.say, self.cancel = job, total, say, cancel
        self.warnings: list[str] = []

    def _check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    def stage(self, name: str, detail: str = "") -> None:
        self._check()
        self.say(f"[{self.job.number}/{self.total}] {self.job.source}: {name}")

    def info(self, message: str) -> None:
        self._check()

    def warn(self, message: str) -> None:
        self._check()
        self.warnings.append(message)

    def log(self, line: str) -> None:
        self._check()  # build log lines arrive often: the build stops soon after Ctrl-C


@dataclass(kw_only=True)
class Progress:
    """Counts shared by the workers (under a lock) for the progress lines."""

    total: int
    say: Say
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: int = 0
    failed: int = 0

    def emit(self, text: str) -> None:
        with self.lock:
            self.say(text)

    def finish(self, result: JobResult) -> None:
        with self.lock:
            self.done += 1
            self.failed += result.status == "failed"
            detail = result.artifact if result.status != "failed" else result.error
            self.say(
                f"[{self.done}/{self.total} done, {self.failed} failed] {result.job.source}: "
                f"{result.status} in {result.seconds:.0f} s" + (f" — {detail}" if detail else "")
            )


def run_job(
    job: Job,
    source: Source | ReproError,
    options: Options,
    reporter: JobReporter,
    engine_factory: Callable[[], Engine],
) -> JobResult:
    """Pack ``source`` (the job's line, parsed; or the error parsing it raised)."""
    start = time.monotonic()
    try:
        if isinstance(source, ReproError):
            raise source
        result = pipeline.pack(source, options, reporter, engine_factory=engine_factory)
    except Cancelled:
        return JobResult(job=job, status="cancelled", seconds=time.monotonic() - start)
    except ReproError as exc:
        return JobResult(
            job=job,
            status="failed",
            seconds=time.monotonic() - start,
            error=exc.message,
            hint=exc.hint or None,
            exit_status=int(exc.exit_status),
        )
    except Exception as exc:  # a bug in one job must not stop the others
        return JobResult(
            job=job,
            status="failed",
            seconds=time.monotonic() - start,
            error=f"internal error: {exc.__class__.__name__}: {exc}",
            exit_status=1,
        )
    smoke = result.smoke
    repairs = tuple(r.line() for r in result.repairs)
    return JobResult(
        job=job,
        status="repaired" if result.repairs else "packed",
        seconds=time.monotonic() - start,
        artifact=str(result.artifact_dir),
        image=result.plan.tags[0],
        commit=result.plan.checkout.commit,
        smoke="skipped" if smoke is None else f"{smoke.command.kind}: passed",
        repairs=repairs,
    )


def pack_many(
    jobs: Sequence[Job],
    options: Options,
    *,
    workers: int,
    say: Say,
    engine_factory: Callable[[], Engine] = DockerEngine,
) -> list[JobResult]:
    """Pack every job, ``workers`` at a time; results in list order."""
    engine_factory()  # one clear error up front when no engine answers
    progress = Progress(total=len(jobs), say=say)
    cancel = threading.Event()
    results: dict[int, JobResult] = {}

    sources = {job.number: _parse(job.source) for job in jobs}

    # Sources of one repository (two refs, or a URL and its OWNER/NAME) share one git
    # mirror in the cache: their packs take turns rather than fetch into it at once.
    def repository(job: Job) -> str:  # its clone URL (the line's text when it names none)
        parsed = sources[job.number]
        return parsed.url if isinstance(parsed, Source) else job.source

    locks = {key: threading.Lock() for key in {repository(j) for j in jobs}}

    def work(job: Job) -> JobResult:
        with locks[repository(job)]:
            if cancel.is_set():
                return JobResult(job=job, status="cancelled", seconds=0.0)
            progress.emit(f"[{job.number}/{len(jobs)}] {job.source}: start")
            reporter = JobReporter(job, len(jobs), progress.emit, cancel)
            result = run_job(job, sources[job.number], options, reporter, engine_factory)
        if result.status != "cancelled":
            progress.finish(result)
        return result

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="repro-pack")
    with signals.quiet_threads():
        futures = {job.number: pool.submit(work, job) for job in jobs}
    try:
        for number, future in futures.items():
            results[number] = future.result()
    except KeyboardInterrupt:
        cancel.set()
        say("interrupted: stopping the running jobs")
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [results[job.number] for job in jobs]


def _parse(spec: str) -> Source | ReproError:
    """The source a list line names (options apply to all: no --ref), or why it names none."""
    try:
        return fetch.parse_source(spec)
    except ReproError as exc:
        return exc


def summary_table(results: Iterable[JobResult]) -> str:
    rows = [("source", "status", "time", "result")]
    for r in results:
        if r.status == "failed":
            what = r.error or ""
        elif r.status == "repaired":
            what = f"{r.artifact} ({len(r.repairs)} repair(s): {r.repairs[-1][:60]})"
        else:
            what = r.artifact or ""
        rows.append((r.job.source, r.status, f"{r.seconds:.0f} s", what))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(3)]
        lines.append(("  ".join(cells) + "  " + row[3]).rstrip())
    return "\n".join(lines) + "\n"


def counts(results: Iterable[JobResult]) -> dict[str, int]:
    out = {"packed": 0, "repaired": 0, "failed": 0, "cancelled": 0}
    for r in results:
        out[r.status] = out.get(r.status, 0) + 1
    return out


def report(results: Sequence[JobResult], *, list_file: Path, workers: int) -> JSON:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return {
        "schema_version": REPORT_SCHEMA,
        "repro_version": __version__,
        "created": now.isoformat().replace("+00:00", "Z"),
        "list": str(list_file),
        "jobs": workers,
        "counts": counts(results),
        "results": [r.to_json() for r in results],
    }


def write_report(path: Path, doc: Any) -> None:
    """Write the JSON report atomically (a temporary file renamed over the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
