"""The labelled corpus: every fixture repo's inferred requirement set, checked exactly.

fixtures/corpus/<case>/expected.json holds what a careful person reading the repository
would install (``requirements``), what the code can run without (``optional``), which
imports nothing can provide (``unresolved``), and, where relevant, which requirements must
be reported as conflicts or below which Python the code must stay. ``known_misses`` are
true requirements repro is known not to find (packages no data file maps, which it
reports as unresolved instead of guessing): the benchmark counts them against repro.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from repro.infer import infer
from repro.merge import url_name
from repro.models import Environment, InferSettings, Requirement
from repro.scan import scan

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").is_file())
WHEN = dt.datetime(2021, 6, 1, tzinfo=dt.timezone.utc)


def key(req: Requirement) -> str:
    """A requirement's name for comparison: its distribution, or the project its URL names."""
    return canonicalize_name(req.name) if req.name else url_name(req.url)


def names(items: list[str]) -> set[str]:
    return {canonicalize_name(n) for n in items}


def run(case: str) -> tuple[Environment, dict[str, Any]]:
    expected = json.loads((CORPUS / case / "expected.json").read_text())
    evidence = scan(CORPUS / case)
    return infer(evidence, InferSettings(), commit_date=WHEN), expected


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_corpus_case(case: str) -> None:
    env, expected = run(case)
    required = {key(r) for r in env.requirements if not r.optional}
    misses = names(expected.get("known_misses", []))
    assert required == names(expected["requirements"]) - misses
    if "optional" in expected:
        assert {key(r) for r in env.requirements if r.optional} == names(expected["optional"])
    assert {u.module for u in env.unresolved} == set(expected.get("unresolved", []))
    for name in expected.get("conflicts", []):
        assert any(c.startswith(f"{name}:") for c in env.conflicts), env.conflicts
    for name, spec in expected.get("specifiers", {}).items():
        req = next(r for r in env.requirements if key(r) == canonicalize_name(name))
        assert req.specifier == spec, (name, req.specifier)
    if "python_below" in expected:
        assert Version(env.python.version) < Version(expected["python_below"])
    # provenance: every requirement says which file (and line) it came from
    for req in env.requirements:
        assert req.origins, req.name
        assert all(o.path for o in req.origins), req.name
        assert any(o.line is not None for o in req.origins), (req.name, req.origins)
