"""The faults table of docs/security.md: run the fault tests, count what they left.

    python scripts/fault_table.py            # ~10 min: the engine, disk and signal tests too
    python scripts/fault_table.py --unit     # the daemon-free ones only (~1 min)

Every test appends a line to a report (tests/fault_report.py): the faults it injected, the
repro runs it started, and, measured after it apart from its own assertions, the partial
artifact folders under its folder, the containers and untagged images it left on the
engine, and the cache entries of its cache the next run could not trust. This prints one
row per test (parametrized cases together) and the totals, as Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNIT = [
    "tests/unit/test_faults.py",
    "tests/unit/test_stale.py",
    "tests/unit/test_network_faults.py",
    "tests/unit/test_diskspace.py",
]
INTEGRATION = [
    "tests/integration/test_security_faults.py",
    "tests/integration/test_engine_faults.py",
    "tests/integration/test_disk_faults.py",
]
COUNTS = ("runs", "partial", "engine", "cache")


@dataclass
class Row:
    faults: Counter[str] = field(default_factory=Counter)
    counts: Counter[str] = field(default_factory=Counter)
    cases: int = 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--unit", action="store_true", help="the daemon-free tests only")
    args = parser.parse_args()
    files = UNIT if args.unit else [*UNIT, *INTEGRATION]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "faults.jsonl"
        env = {**os.environ, "REPRO_FAULT_REPORT": str(report), "PYTHONPATH": str(ROOT)}
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files]
        done = subprocess.run(argv, cwd=ROOT, env=env, check=False)
        text = report.read_text() if report.exists() else ""
    rows: dict[str, Row] = defaultdict(Row)
    for line in map(json.loads, text.splitlines()):
        row = rows[line["test"].split("[")[0]]
        row.faults.update(line["faults"])
        row.counts.update({k: int(line[k]) for k in COUNTS})
        row.cases += 1
    print(
        "| test (cases) | faults injected | repro runs | partial artifacts left "
        "| containers/images left | corrupt cache entries |"
    )
    print("|---|---|---|---|---|---|")
    total: Counter[str] = Counter()
    for name, row in rows.items():
        if not row.faults:
            continue
        what = ", ".join(f"{n} {kind}" for kind, n in sorted(row.faults.items()))
        short = name.replace("tests/", "").replace(".py::", "::")
        cells = " | ".join(str(row.counts[k]) for k in COUNTS)
        print(f"| `{short}` ({row.cases}) | {what} | {cells} |")
        total.update(row.counts)
        total["faults"] += sum(row.faults.values())
    cells = " | ".join(f"**{total[k]}**" for k in COUNTS)
    print(f"| **all** | **{total['faults']}** | {cells} |")
    print(f"\npytest exit status {done.returncode}", file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
