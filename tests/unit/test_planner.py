"""The planner's ladder: each rung in order, what it gives up, and that it never dead-ends.

Environments are built directly (tests/unit/gpu_helpers.py); the fixture repositories of
fixtures/gpu-era run the whole inference first (tests/unit/test_gpu_era.py).
"""

from __future__ import annotations

import dataclasses

import pytest

from repro import planner
from repro.errors import InferenceError
from repro.models import BaseSettings, Evidence, ImportSite, InferSettings, Origin, PythonHint
from tests.unit.gpu_helpers import env


def _pin(spec: str, strength: str = "declared") -> Evidence:
    origin = Origin(kind="setup.py", path="setup.py", line=5, detail="python_requires")
    return Evidence(python_hints=(PythonHint(specifier=spec, origin=origin, strength=strength),))  # type: ignore[arg-type]


def _imports(**counts: int) -> Evidence:
    sites = []
    for module, n in counts.items():
        for i in range(n):
            origin = Origin(kind="import", path=f"{module}_{i}.py", line=1)
            sites.append(ImportSite(module=module, origin=origin))
    return Evidence(imports=tuple(sites))


def test_a_python_the_framework_supports_replaces_a_declared_pin_it_cannot_have() -> None:
    # TF 1.15 needs CUDA 10.0 (tags deleted); its own images have Python 2.7, 3.5 and 3.6
    planned = planner.plan(
        env("3.7", "tensorflow-gpu==1.15.0"), BaseSettings(), evidence=_pin("==3.7")
    )
    assert planned.step == "python"
    assert planned.environment.python.version == "3.6"
    assert planned.base.name == "tensorflow/tensorflow:1.15.0-gpu-py3"
    assert [r.step for r in planned.ladder] == [
        "nvidia-cuda",
        "vendor-image",
        "newer-cuda",
        "python",
    ]
    assert [r.outcome for r in planned.ladder] == ["no fit", "no fit", "no fit", "chosen"]
    assert "deleted" in planned.ladder[0].detail
    assert "Python 2.7, 3.5, 3.6" in planned.ladder[1].detail
    (gave_up,) = planned.gave_up
    assert gave_up.kind == "python"
    assert gave_up.constraint == "declared Python ==3.7 (setup.py:5 (python_requires))"
    assert any("Python ==3.7" in w for w in planned.warnings)


def test_without_a_pin_the_date_choice_is_what_gives_way() -> None:
    planned = planner.plan(env("3.9", "torch==1.4.0"), BaseSettings())
    assert planned.environment.python.version == "3.8"
    assert planned.gave_up[0].constraint == "Python 3.9 (chosen for the code's date)"
    assert "torch 1.4.0 has wheels for Python 2.7, 3.5-3.8, not 3.9" in planned.ladder[0].detail


def test_the_frameworks_own_image_comes_before_another_python() -> None:
    planned = planner.plan(env("3.6", "tensorflow-gpu==1.15.0"), BaseSettings())
    assert planned.step == "vendor-image" and not planned.gave_up
    assert planned.environment.python.version == "3.6"


def test_wheels_that_carry_their_cuda_take_a_newer_cuda_before_the_python_moves() -> None:
    planned = planner.plan(env("3.7", "torch==0.4.1"), BaseSettings(), evidence=_pin("==3.7"))
    assert planned.step == "newer-cuda"
    assert planned.base.name == "nvidia/cuda:11.0.3-runtime-ubuntu18.04"
    assert not planned.gave_up


def test_syntax_is_a_hard_constraint_on_the_other_pythons() -> None:
    # f-strings: no Python before 3.6, so TF 1.3 (CUDA 8.0, images with 2.7 and 3.5) has no
    # GPU plan at all and the plan is a CPU image, with the reasons
    evidence = _pin(">=3.6", strength="syntax")
    planned = planner.plan(env("3.6", "tensorflow-gpu==1.3.0"), BaseSettings(), evidence=evidence)
    assert planned.step == "cpu"
    assert not planned.base.gpu and planned.base.name == "python:3.6-slim"
    assert "3.5" not in planned.ladder[3].detail  # never tried: the code needs >= 3.6
    assert planned.gave_up[-1].kind == "gpu"
    assert any(r.startswith("no GPU plan for tensorflow-gpu") for r in planned.base.reasons)
    assert not any(r.startswith("--cpu") for r in planned.base.reasons)


def test_require_gpu_turns_the_cpu_rung_into_one_error_line() -> None:
    evidence = _pin(">=3.6", strength="syntax")
    with pytest.raises(InferenceError) as caught:
        planner.plan(
            env("3.6", "tensorflow-gpu==1.3.0"), BaseSettings(require_gpu=True), evidence=evidence
        )
    assert caught.value.message.startswith("--require-gpu: no GPU base image fits")
    assert "\n" not in caught.value.message
    assert "python: no fit" in caught.value.detail


def test_a_user_python_is_never_moved() -> None:
    planned = planner.plan(env("3.7", "tensorflow-gpu==1.15.0"), BaseSettings(python="3.7"))
    assert planned.environment.python.version == "3.7"
    python_rung = next(r for r in planned.ladder if r.step == "python")
    assert python_rung.detail == "--python fixes it"
    assert planned.step == "cpu"


def test_the_primary_framework_keeps_the_gpu_and_the_others_become_cpu_builds() -> None:
    # torch 1.8.1's builds need CUDA >= 10.1 of their major (10.x tags deleted; 11.1 on),
    # TF 1.15 needs exactly 10.0 from the image: no base serves both on the GPU
    environment = env("3.6", "torch==1.8.1", "tensorflow==1.15.0")
    planned = planner.plan(environment, BaseSettings(), evidence=_imports(torch=9, tensorflow=1))
    assert planned.step == "primary-gpu"
    assert planned.base.name.startswith("nvidia/cuda:11.1.1-")
    assert planned.base.cuda is not None
    lines = dict(planned.base.cuda.requirements)
    assert lines["torch"] == "torch==1.8.1+cu111"
    assert lines["tensorflow"] == "tensorflow==1.15.0"  # no tensorflow-cpu for 1.15.x
    (gave_up,) = planned.gave_up
    assert gave_up.constraint == "tensorflow on the GPU"
    assert "torch is the primary framework (9 import site(s), against tensorflow (1" in (
        gave_up.reason
    )


def test_imports_decide_the_primary_framework() -> None:
    environment = env("3.6", "torch==1.8.1", "tensorflow==1.15.0")
    planned = planner.plan(environment, BaseSettings(), evidence=_imports(torch=1, tensorflow=5))
    assert planned.base.name == "tensorflow/tensorflow:1.15.0-gpu-py3"
    assert planned.base.cuda is not None
    lines = dict(planned.base.cuda.requirements)
    assert lines["torch"] == "torch==1.8.1"
    assert "https://download.pytorch.org/whl/cpu" in planned.base.cuda.index_urls


def test_tensorflow_as_a_cpu_build_uses_tensorflow_cpu_where_it_exists() -> None:
    environment = env("3.8", "torch==1.11.0", "tensorflow==2.8.0", "jax==0.3.4")
    evidence = _imports(torch=5, tensorflow=1, jax=1)
    planned = planner.plan(environment, BaseSettings(), evidence=evidence)
    assert planned.step == "primary-gpu"
    assert planned.base.cuda is not None
    lines = dict(planned.base.cuda.requirements)
    assert lines["tensorflow"] == "tensorflow-cpu==2.8.0"
    assert lines["jax"] == "jax[cpu]==0.3.4"
    assert any("jax_releases" in link for link in planned.base.cuda.find_links)
    assert {g.constraint for g in planned.gave_up} == {"tensorflow on the GPU", "jax on the GPU"}


def test_no_gpu_framework_is_a_cpu_plan_without_a_ladder() -> None:
    planned = planner.plan(env("3.11", "numpy"), BaseSettings())
    assert planned.step == "cpu" and len(planned.ladder) == 1
    assert planned.ladder[0].detail.endswith("(no GPU framework among the requirements)")
    with pytest.raises(InferenceError, match="--require-gpu"):
        planner.plan(env("3.11", "numpy"), BaseSettings(require_gpu=True))


def test_cpu_builds_pinned_by_the_user_need_no_rung() -> None:
    planned = planner.plan(env("3.11", "torch==2.1.0+cpu"), BaseSettings())
    assert planned.step == "cpu" and not planned.gave_up
    assert planned.ladder[0].outcome == "chosen"


def test_python_alternatives_are_the_nearest_of_the_same_major_older_first() -> None:
    alternatives = planner.python_alternatives(env("3.7", "torch"), None, BaseSettings())
    assert alternatives[:4] == ["3.6", "3.8", "3.5", "3.9"]
    assert "2.7" not in alternatives and "3.7" not in alternatives
    assert planner.python_alternatives(env("2.7", "torch"), None, BaseSettings()) == []


def test_retarget_chooses_date_versions_again_and_keeps_pins() -> None:
    environment = env("3.9", "torch==1.4.0", "tensorflow", versions={"tensorflow": "2.4.1"})
    environment = dataclasses.replace(
        environment,
        requirements=tuple(
            dataclasses.replace(r, version="1.4.0") if r.name == "torch" else r
            for r in environment.requirements
        ),
    )
    moved = planner.retarget_python(environment, "3.8", "why")
    versions = {r.name: r.version for r in moved.requirements}
    assert versions == {"torch": "1.4.0", "tensorflow": None}
    assert moved.python.version == "3.8" and moved.python.reasons == ("why",)


def test_the_plan_is_recorded_as_json() -> None:
    planned = planner.plan(
        env("3.7", "tensorflow-gpu==1.15.0"), BaseSettings(), evidence=_pin("==3.7")
    )
    doc = planned.to_json()
    assert doc["step"] == "python"
    assert [r["step"] for r in doc["ladder"]][-1] == "python"
    assert doc["gave_up"][0]["kind"] == "python"


def test_for_python_dates_the_frameworks_again_for_the_planners_python() -> None:
    import datetime as dt

    from repro import infer
    from repro.models import PythonChoice
    from repro.releases import ShippedIndex

    origin = Origin(kind="import", path="train.py", line=1)
    evidence = Evidence(imports=(ImportSite(module="torch", origin=origin),))
    environment = infer.infer(
        evidence,
        InferSettings(),
        commit_date=dt.datetime(2021, 1, 15, tzinfo=dt.timezone.utc),
        releases=ShippedIndex(),
    )
    torch = next(r for r in environment.requirements if r.name == "torch")
    assert environment.python.version == "3.8" and torch.version == "1.7.1"
    moved = infer.for_python(environment, PythonChoice(version="3.5", reasons=("why",)))
    torch = next(r for r in moved.requirements if r.name == "torch")
    assert torch.version == "1.5.1"  # torch 1.6 dropped Python 3.5
    assert torch.reasons[-1] == "torch 1.5.1 for Python 3.5 (was 1.7.1 for Python 3.8)"
    assert moved.python.version == "3.5" and moved.date_constraints  # pip on 3.5: as of the date
    assert any(line.startswith("numpy==") for line in moved.date_constraints)
