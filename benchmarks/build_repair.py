#!/usr/bin/env python3
"""How many of the build-failure fixtures pack with build repair, and without, side by
side in one run on the real engine.

Each repository under fixtures/build-failures/ is committed to a local git repository at
the date its expected.json names and packed twice, as a user runs repro (a new process):

- **without** build repair: ``repro pack REPO --max-repairs 0`` (the first failure stops
  the pack: what repro did before build failures went through the repair loop; the
  fixtures' smoke tests pass once their image builds, so no smoke repair is lost);
- **with** build repair: ``repro pack REPO`` (the default ``--max-repairs 5``).

Both sides build in a cache namespace of their own ($REPRO_BUILD_CACHE_NS: every layer
and package-cache mount fresh, so no wheel built by an earlier run helps) with an empty
repro cache. Printed: per fixture, each side's outcome and time, the rounds and changes
of the repaired pack, and whether they match expected.json's ``repairs``; then the
totals, as a Markdown table.

    python benchmarks/build_repair.py [--only CASE ...] [--timeout 1800] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "fixtures" / "build-failures"


@dataclass
class Side:
    exit_code: int
    seconds: float
    error: str = ""  # the "repro: error:" line
    rounds: list[str] = field(default_factory=list)  # "kind → action target" per change


@dataclass
class Result:
    case: str
    expected: list[str]
    without: Side
    with_repair: Side

    @property
    def as_expected(self) -> bool:
        made = " ".join(self.with_repair.rounds)
        return self.with_repair.exit_code == 0 and all(e in made for e in self.expected)


def _git(*args: str, cwd: Path, date: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Fixture",
        "GIT_AUTHOR_EMAIL": "fixture@example.org",
        "GIT_COMMITTER_NAME": "Fixture",
        "GIT_COMMITTER_EMAIL": "fixture@example.org",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def make_repo(case: Path, dest: Path) -> dict[str, object]:
    expected: dict[str, object] = json.loads((case / "expected.json").read_text())
    shutil.copytree(case, dest, ignore=shutil.ignore_patterns("expected.json"))
    date = f"{expected['date']}T12:00:00+00:00"
    _git("init", "-q", "-b", "main", cwd=dest, date=date)
    _git("add", "-A", cwd=dest, date=date)
    _git("commit", "-q", "-m", "fixture", cwd=dest, date=date)
    return expected


def pack(repo: Path, work: Path, extra: list[str], timeout: float) -> Side:
    cache = work / f"cache-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "REPRO_BUILD_CACHE_NS": f"bench-build-repair-{uuid.uuid4().hex[:12]}",
        "REPRO_CACHE_DIR": str(cache),
    }
    out = work / f"out-{uuid.uuid4().hex[:8]}"
    argv = [sys.executable, "-m", "repro", "pack", str(repo), "--out", str(out), *extra]
    start = time.monotonic()
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
        code, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code = -1
        stderr = (exc.stderr or b"").decode() if isinstance(exc.stderr, bytes) else ""
        stderr += f"\nrepro: error: timed out after {timeout:.0f} s"
    seconds = time.monotonic() - start
    error = next(
        (ln.removeprefix("repro: error: ") for ln in stderr.splitlines() if "repro: error:" in ln),
        "",
    )
    rounds: list[str] = []
    manifests = list(out.glob("*/repro.json"))
    if manifests:
        doc = json.loads(manifests[0].read_text())
        _remove_images(doc.get("tags", []))
        for r in doc.get("repairs", []):
            for c in r["changes"]:
                gap = " " if c["action"] in ("build-with", "exempt-cutoff") else ""
                target = c["target"] + gap + c["specifier"]
                rounds.append(f"{r['failure']['kind']} → {c['action']} {target}")
    else:  # a failed pack: the rounds it printed
        rounds = [
            "→ " + ln.strip().split(":", 1)[0]
            for ln in stderr.splitlines()
            if ln.startswith("    ") and " for the build:" in ln
        ]
    shutil.rmtree(out, ignore_errors=True)
    return Side(exit_code=code, seconds=seconds, error=error[:160], rounds=rounds)


def _remove_images(tags: list[str]) -> None:
    """The packed image leaves the engine (each case's image is its own, up to 1.4 GB:
    nineteen of them fill a small disk); its build cache stays, for the engine's pruning."""
    if tags:
        subprocess.run(["docker", "rmi", *tags], capture_output=True, check=False)


def _cell(side: Side) -> str:
    return ("packed" if side.exit_code == 0 else "failed") + f" ({side.seconds:.0f} s)"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    cases = sorted(p for p in CASES.iterdir() if (p / "expected.json").is_file())
    if args.only:
        cases = [c for c in cases if c.name in args.only]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-build-repair-") as tmp:
        work = Path(tmp)
        for case in cases:
            repo = work / case.name
            expected = make_repo(case, repo)
            without = pack(repo, work, ["--max-repairs", "0"], args.timeout)
            with_repair = pack(repo, work, [], args.timeout)
            result = Result(
                case=case.name,
                expected=[str(e) for e in expected.get("repairs", [])],  # type: ignore[attr-defined]
                without=without,
                with_repair=with_repair,
            )
            results.append(result)
            print(
                f"{case.name}: without {_cell(without)}, with {_cell(with_repair)}: "
                + "; ".join(with_repair.rounds),
                file=sys.stderr,
                flush=True,
            )
    print("| fixture | without build repair | with build repair | rounds: failure → change |")
    print("|---|---|---|---|")
    for r in results:
        rounds = "<br>".join(r.with_repair.rounds) or "–"
        if r.with_repair.exit_code != 0 and r.with_repair.error:
            rounds += f"<br>stops: {r.with_repair.error}"
        print(f"| `{r.case}` | {_cell(r.without)} | {_cell(r.with_repair)} | {rounds} |")
    packed_without = sum(r.without.exit_code == 0 for r in results)
    packed_with = sum(r.with_repair.exit_code == 0 for r in results)
    matched = sum(r.as_expected for r in results)
    print(
        f"\npacked: {packed_without}/{len(results)} without build repair, "
        f"{packed_with}/{len(results)} with; {matched} as expected.json says"
    )
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
