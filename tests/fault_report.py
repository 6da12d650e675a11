"""Counts for the faults table of docs/security.md (``scripts/fault_table.py``).

With ``$REPRO_FAULT_REPORT`` naming a file, every test appends one JSON line: the faults
it injected (by kind), the repro runs it started, and what was left after it, measured
here, apart from the test's own assertions: partial artifact folders under its
``tmp_path``, containers and untagged images on the engine (the integration conftest's
guard), and cache entries that cannot be read in its ``$REPRO_CACHE_DIR`` (a PyPI entry
that does not parse, a temporary file of a writer, a half clone). Unset: nothing happens.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

ENV = "REPRO_FAULT_REPORT"

FAULTS: Counter[str] = Counter()
RUNS = [0]
ENGINE_LEFT: dict[str, int] = {}


def fault(kind: str) -> None:
    FAULTS[kind] += 1


def run() -> None:
    RUNS[0] += 1


def reset() -> None:
    FAULTS.clear()
    RUNS[0] = 0


_PARTIAL = re.compile(r"^\..+\.(?:partial|old)-[A-Za-z0-9._]+-\d+-[0-9a-f]{8}$")


def partial_artifacts(root: Path) -> int:
    """Artifact folders being written or moved aside (``artifact.staging``) under ``root``."""
    count = 0
    for dirpath, dirnames, _ in os.walk(root):
        count += sum(1 for d in dirnames if _PARTIAL.match(d))
        dirnames[:] = [d for d in dirnames if d != "cache"]
        del dirpath
    return count


def corrupt_cache_entries(cache: Path) -> int:
    """Entries of a repro cache the next run could not trust."""
    bad = 0
    for entry in (cache / "pypi").glob("*") if (cache / "pypi").is_dir() else ():
        if entry.name.startswith(".") or entry.suffix != ".json":
            bad += 1  # a writer's temporary file
            continue
        try:
            json.loads(entry.read_text())
        except (OSError, ValueError):
            bad += 1
    git = cache / "git"
    for entry in git.iterdir() if git.is_dir() else ():
        if entry.name.endswith(".lock"):
            continue
        if not entry.name.endswith(".git") or not (entry / "HEAD").is_file():
            bad += 1  # a half clone
    return bad


def write(nodeid: str, tmp_path: Path | None, cache: Path | None) -> None:
    line = {
        "test": nodeid,
        "faults": dict(FAULTS),
        "runs": RUNS[0],
        "partial": partial_artifacts(tmp_path) if tmp_path else 0,
        "engine": ENGINE_LEFT.pop(nodeid, 0),
        "cache": corrupt_cache_entries(cache) if cache else 0,
    }
    with open(os.environ[ENV], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")
