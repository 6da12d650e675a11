"""GPU-era fixture repositories (fixtures/gpu-era/<case>/expected.json): the planner finds
the expected plan -- base image family and name, CUDA, Python, the soft constraints given
up -- for code of 2017-2024 as found, and none of them dead-ends.

benchmarks/planner.py times the same corpus.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from repro import planner
from repro.infer import infer
from repro.models import BaseSettings, InferSettings
from repro.releases import ShippedIndex
from repro.scan import scan

ERA = Path(__file__).resolve().parents[2] / "fixtures" / "gpu-era"
CASES = sorted(p.name for p in ERA.iterdir() if (p / "expected.json").is_file())


def plan_case(case: str) -> tuple[dict[str, Any], planner.Planned]:
    expected = json.loads((ERA / case / "expected.json").read_text())
    when = dt.datetime.fromisoformat(expected["commit_date"] + "T12:00:00+00:00")
    evidence = scan(ERA / case)
    environment = infer(evidence, InferSettings(), commit_date=when, releases=ShippedIndex())
    return expected, planner.plan(environment, BaseSettings(), evidence=evidence)


def test_the_corpus_covers_the_gpu_eras() -> None:
    assert len(CASES) >= 15
    names = " ".join(CASES)
    for era in ("tf012", "tf13", "tf115", "tf20", "tf23", "tf24", "tf212"):
        assert era in names, era
    for era in ("torch03", "torch041", "torch14", "torch18", "torch113", "torch23"):
        assert era in names, era
    for era in ("jax01", "jax02", "jax04"):
        assert era in names, era
    assert "mixed-" in names and "cuda-extension" in names and "declared-py37" in names


@pytest.mark.parametrize("case", CASES)
def test_the_plan_is_the_expected_one(case: str) -> None:
    expected, planned = plan_case(case)
    want = expected["plan"]
    base = planned.base
    assert planned.step == want["step"], [r.line() for r in planned.ladder]
    assert base.name == want["base"]
    family = base.name.split(":")[0] if "/" in base.name else "python"
    assert family == want["base_family"]
    assert (base.cuda.cuda if base.cuda else None) == want["cuda"]
    assert planned.environment.python.version == want["python"]
    assert [g.kind for g in planned.gave_up] == want["gave_up"]
    if base.cuda is not None:
        assert dict(base.cuda.requirements) == want.get("lines", {})
        if "index_urls" in want:  # the frameworks off the GPU come from a CPU index
            assert list(base.cuda.index_urls) == want["index_urls"]
    optional = sorted(r.name for r in planned.environment.requirements if r.optional)
    assert optional == want.get("optional", [])
    rungs = [r.line() for r in planned.ladder]
    for needle in want.get("ladder_mentions", []):
        assert needle in rungs, rungs
    text = " ".join(f"{g.constraint} {g.reason}" for g in planned.gave_up)
    for needle in want.get("gave_up_mentions", []):
        assert needle in text, text
    # every rung said, the chosen one last; a given-up constraint always has its reason
    assert planned.ladder[-1].outcome == "chosen" and planned.ladder[-1].step == planned.step
    assert all(g.reason for g in planned.gave_up)


def test_no_case_dead_ends_and_every_possible_gpu_plan_is_one() -> None:
    for case in CASES:
        expected, planned = plan_case(case)
        assert planned.base.name  # a plan, always
        if expected["plan"]["step"] != "cpu":
            assert planned.base.gpu, case


def test_an_older_pair_moves_torch_and_its_companions_everywhere_it_is_said() -> None:
    _, planned = plan_case("mixed-tf1-lessons-torch")
    versions = {r.name: r.version for r in planned.environment.requirements}
    assert (versions["torch"], versions["torchvision"]) == ("1.4.0", "0.5.0")
    torch = next(c for c in planned.environment.choices if c.name == "torch")
    assert torch.version == "1.4.0" and "not 1.10.2" in torch.chain[-1]
    assert not any(r.startswith("torch 1.4.0: the version chosen") for r in planned.base.reasons)
    assert any(r.startswith("torch 1.4.0, not 1.10.2") for r in planned.base.reasons)
    assert planned.warnings == (
        f"torch 1.10.2 (chosen for the code's date) given up: {planned.gave_up[0].reason}",
    )
