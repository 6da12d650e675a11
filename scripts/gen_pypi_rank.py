#!/usr/bin/env python3
"""Regenerate repro/data/pypi_rank.json: PyPI projects by download rank (1 = most used).

The verified import look-up (repro/lookup.py) prefers, among several projects that each
ship a module, the most used one, and lists the others; the generator of the import map
does the same with the same ranks. Source: scripts/data/pypi_rank.tsv (``rank<TAB>name``
lines, a snapshot of PyPI's download ranking for the top 5,000 projects).

Usage:
    python scripts/gen_pypi_rank.py
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TSV = ROOT / "scripts" / "data" / "pypi_rank.tsv"
OUT = ROOT / "repro" / "data" / "pypi_rank.json"


def main() -> int:
    ranks: dict[str, int] = {}
    for line in TSV.read_text().splitlines():
        rank, _, name = line.partition("\t")
        if rank.strip().isdigit() and name.strip():
            key = re.sub(r"[-_.]+", "-", name.strip()).lower()
            ranks.setdefault(key, int(rank))
    data = {
        "schema_version": 1,
        "generated": dt.date.today().isoformat(),
        "generated_by": "scripts/gen_pypi_rank.py",
        "source": "scripts/data/pypi_rank.tsv: a snapshot of PyPI's download ranking "
        f"(top {len(ranks)} projects); names canonical (PEP 503)",
        "ranks": dict(sorted(ranks.items(), key=lambda kv: kv[1])),
    }
    OUT.write_text(json.dumps(data, indent=0) + "\n")
    print(f"wrote {OUT}: {len(ranks)} projects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
