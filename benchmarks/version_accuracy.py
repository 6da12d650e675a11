#!/usr/bin/env python3
"""How often the version repro chooses falls inside the range the code really works with.

Corpus: fixtures/eras/<case>/ (each with expected.json: the package whose version matters,
the range of its versions the code runs with, the Pythons it runs on, the commit date, and
``history``: ``none`` for a folder without history, whose date is when it was copied).
For every case the script scans the fixture, runs repro's inference offline (release
dates from repro/data/releases.json, as of the case's commit date, or of the code's own
era where there is no history), and checks:

- repro: the version repro chose for that package (for a package nothing bounds, the one
  its lock resolves), and the Python it chose;
- latest: the newest release of that package (what pipreqs pins) and the newest Python
  repro builds, side by side.

No image is built and nothing is downloaded. Usage:
    python benchmarks/version_accuracy.py [--json] [--cases DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from packaging.specifiers import SpecifierSet  # noqa: E402
from packaging.utils import canonicalize_name  # noqa: E402

from repro import infer, versions  # noqa: E402
from repro.models import InferSettings  # noqa: E402
from repro.releases import ShippedIndex  # noqa: E402
from repro.scan import scan  # noqa: E402

FRAMEWORKS = {"tensorflow", "torch", "jax", "flax", "keras", "theano", "mxnet", "transformers"}


@dataclass
class Row:
    case: str
    package: str
    truth: str
    python_truth: str
    repro: str | None
    latest: str | None
    repro_python: str
    latest_python: str
    history: str = "full"
    known_miss: str = ""

    @property
    def repro_ok(self) -> bool:
        return _inside(self.repro, self.truth)

    @property
    def latest_ok(self) -> bool:
        return _inside(self.latest, self.truth)

    @property
    def repro_python_ok(self) -> bool:
        return _inside_python(self.repro_python, self.python_truth)

    @property
    def latest_python_ok(self) -> bool:
        return _inside_python(self.latest_python, self.python_truth)


def _inside(version: str | None, spec: str) -> bool:
    return version is not None and SpecifierSet(spec).contains(version, prereleases=True)


def _inside_python(python: str, spec: str) -> bool:
    return SpecifierSet(spec).contains(f"{python}.0", prereleases=True)


def evaluate(case_dir: Path) -> Row:
    expected = json.loads((case_dir / "expected.json").read_text())
    when = dt.datetime.fromisoformat(expected["commit_date"] + "T12:00:00+00:00")
    env = infer.infer(
        scan(case_dir),
        InferSettings(),
        commit_date=when,
        releases=ShippedIndex(),
        history=expected.get("history", "full"),
    )
    key = canonicalize_name(expected["package"])
    chosen = versions.resolved(env, key, ShippedIndex())
    history = ShippedIndex().get(key)
    latest = history.latest() if history else None
    newest_python = max(infer.python_releases(), key=lambda v: tuple(map(int, v.split("."))))
    return Row(
        case=case_dir.name,
        package=expected["package"],
        truth=expected["range"],
        python_truth=expected["python"],
        repro=chosen,
        latest=latest.version if latest else None,
        repro_python=env.python.version,
        latest_python=newest_python,
        history=expected.get("history", "full"),
        known_miss=expected.get("known_miss", ""),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=ROOT / "fixtures" / "eras")
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    args = parser.parse_args(argv)
    rows = [evaluate(d) for d in sorted(args.cases.iterdir()) if (d / "expected.json").is_file()]
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=2))
        return 0
    mark = {True: "ok", False: "MISS"}
    print(
        "| case | history | package | true range | repro | latest | Python truth | "
        "repro Python | latest Python |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.case} | {'none' if r.history == 'none' else 'git'} | {r.package} | "
            f"`{r.truth}` | {r.repro} {mark[r.repro_ok]} | {r.latest} {mark[r.latest_ok]} | "
            f"`{r.python_truth}` | {r.repro_python} {mark[r.repro_python_ok]} | "
            f"{r.latest_python} {mark[r.latest_python_ok]} |"
        )
    groups = {
        "all cases": rows,
        "no history (a folder)": [r for r in rows if r.history == "none"],
        "non-framework APIs": [r for r in rows if r.package not in FRAMEWORKS],
    }
    print()
    print("| cases | n | version: repro | version: latest | Python: repro | Python: latest |")
    print("|---|---|---|---|---|---|")
    for label, group in groups.items():
        n = len(group)

        def pct(k: int, n: int = n) -> str:
            return f"{k}/{n} ({100 * k / n:.0f}%)"

        print(
            f"| {label} | {n} | {pct(sum(r.repro_ok for r in group))} | "
            f"{pct(sum(r.latest_ok for r in group))} | "
            f"{pct(sum(r.repro_python_ok for r in group))} | "
            f"{pct(sum(r.latest_python_ok for r in group))} |"
        )
    misses = [r for r in rows if not (r.repro_ok and r.repro_python_ok)]
    if misses:
        print()
        for r in misses:
            print(f"- {r.case}: {r.known_miss or 'NOT A DOCUMENTED MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
