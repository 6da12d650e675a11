#!/usr/bin/env python3
"""The planner's cost: time to plan each GPU-era fixture against the time to read it.

For every repository of fixtures/gpu-era, in the same run and the same process: *read* is
what precedes planning in `repro inspect` (scan the files, infer the environment, offline
release data), *plan* is `repro.planner.plan` on the result (every rung of the ladder it
climbs). Each is timed ``--runs`` times; the median is reported, with the rung the plan
ended on. The fixtures are small (a handful of files), so *read* is the smallest it gets:
on a real repository reading takes longer (and cloning longer still), planning does not.

    python benchmarks/planner.py [--runs 21]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from repro import planner  # noqa: E402
from repro.infer import infer  # noqa: E402
from repro.models import BaseSettings, InferSettings  # noqa: E402
from repro.releases import ShippedIndex  # noqa: E402
from repro.scan import scan  # noqa: E402

ERA = ROOT / "fixtures" / "gpu-era"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args(argv)
    cases = sorted(p.name for p in ERA.iterdir() if (p / "expected.json").is_file())
    print("| fixture | rungs | plan ends on | read (ms) | plan (ms) | plan / read |")
    print("|---|---|---|---|---|---|")
    ratios = []
    totals = [0.0, 0.0]
    for case in cases:
        expected = json.loads((ERA / case / "expected.json").read_text())
        when = dt.datetime.fromisoformat(expected["commit_date"] + "T12:00:00+00:00")
        reads, plans = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            evidence = scan(ERA / case)
            environment = infer(
                evidence, InferSettings(), commit_date=when, releases=ShippedIndex()
            )
            reads.append(time.perf_counter() - start)
            start = time.perf_counter()
            planned = planner.plan(environment, BaseSettings(), evidence=evidence)
            plans.append(time.perf_counter() - start)
        read, plan = statistics.median(reads) * 1000, statistics.median(plans) * 1000
        ratios.append(plan / read)
        totals[0] += read
        totals[1] += plan
        print(
            f"| {case} | {len(planned.ladder)} | {planned.step} | {read:.1f} | {plan:.1f} "
            f"| {plan / read:.2f} |"
        )
    print(
        f"\n{len(cases)} fixtures, {args.runs} runs each: read {totals[0]:.0f} ms, plan "
        f"{totals[1]:.0f} ms in all; plan/read median {statistics.median(ratios):.2f}, "
        f"worst {max(ratios):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
