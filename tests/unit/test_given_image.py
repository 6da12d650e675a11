"""``--base-image``: what the probe reads from an image, and the plan for what it has
(repro/given_image.py, planner._on_given, base_image.on_given). The probe against real
images is tests/integration/test_given_image.py."""

from __future__ import annotations

import pytest

from repro import base_image, fetching, given_image, planner
from repro.errors import UsageError
from repro.models import BaseSettings, Evidence, GivenImage, Options, Origin, PythonHint
from tests.fakes import FakeEngine
from tests.unit.gpu_helpers import env

PROBE_39 = """\
python python3 3.9
pip python3
venv python3
python python 3.9
pip python
venv python
python python2 2.7
os ID=debian
os VERSION_ID="11"
done
"""

PROBE_CUDA = """\
python python3 3.6
pip python3
os ID=ubuntu
os VERSION_ID="18.04"
lib libcudart.so.10.0
lib libcudart.so.10.0.130
lib libcudnn.so.7
lib libcudnn.so.7.6.5
nvcc
done
"""


def test_the_probe_decides_where_the_config_is_silent() -> None:
    image = given_image.parse("lab/env:1", {"PATH": "/usr/bin"}, {}, PROBE_39)
    assert (image.python, image.interpreter, image.pip, image.venv) == (
        "3.9",
        "python3",
        True,
        True,
    )
    assert image.pythons == ("2.7", "3.9")
    assert image.os == "debian 11" and image.cuda is None and image.probed
    assert "probe: python3 -> Python 3.9" in image.evidence


def test_cuda_and_cudnn_come_from_the_libraries_inside() -> None:
    image = given_image.parse("lab/cuda:10", {}, {}, PROBE_CUDA)
    assert (image.cuda, image.cudnn, image.nvcc) == ("10.0", "7.6", True)
    assert image.pip and not image.venv


def test_the_config_answers_first_and_skips_the_probe_when_it_says_everything() -> None:
    env_ = {"PYTHON_VERSION": "3.10.13", "CUDA_VERSION": "11.8.0", "NV_CUDNN_VERSION": "8.9.6.50"}
    assert not given_image.needs_probe(env_)
    image = given_image.parse("cfg", env_, {}, None)
    assert (image.python, image.cuda, image.cudnn) == ("3.10", "11.8", "8.9")
    assert not image.probed and image.evidence[0] == "config: PYTHON_VERSION=3.10.13"


def test_only_python_2_is_python_2_and_nothing_is_nothing() -> None:
    only2 = given_image.parse("old", {}, {}, "python python 2.7\npip python\ndone\n")
    assert (only2.python, only2.interpreter) == ("2.7", "python")
    none = given_image.parse("bare", {}, {}, "os ID=alpine\ndone\n")
    assert none.python is None and none.interpreter is None


def test_the_probe_runs_its_script_through_sh_whatever_the_entrypoint() -> None:
    engine = FakeEngine(script=lambda argv: (0, PROBE_39))
    image = given_image.probe(engine, "lab/env:1")  # type: ignore[arg-type]
    ((name, argv, limits),) = engine.runs
    assert name == "lab/env:1" and limits.entrypoint == ("sh", "-c") and limits.network == "none"
    assert argv == (given_image.PROBE,) and image.python == "3.9"


def test_a_probe_that_fails_leaves_the_config_alone() -> None:
    engine = FakeEngine(
        image_env={"PYTHON_VERSION": "3.11.4"}, script=lambda argv: (127, "sh: not found")
    )
    image = given_image.probe(engine, "distroless")  # type: ignore[arg-type]
    assert image.python == "3.11" and not image.probed


def _image(**kw: object) -> GivenImage:
    fields: dict[str, object] = {
        "name": "lab/env:1",
        "python": "3.9",
        "interpreter": "python3",
        "pythons": ("3.9",),
        "pip": True,
        "venv": True,
        "probed": True,
        "evidence": ("probe: python3 -> Python 3.9",),
    }
    fields.update(kw)
    return GivenImage(**fields)  # type: ignore[arg-type]


def _plan(environment, image: GivenImage, evidence: Evidence | None = None, **options: object):  # type: ignore[no-untyped-def]
    opts = BaseSettings(base_image=image.name, **options)  # type: ignore[arg-type]
    return planner.plan(environment, opts, image=image, evidence=evidence)


def test_the_plan_takes_the_python_the_image_has_and_says_what_it_gave_up() -> None:
    planned = _plan(env("3.14", "numpy"), _image())
    assert planned.step == "base-image"
    assert planned.environment.python.version == "3.9"
    base = planned.base
    assert (base.name, base.python, base.interpreter, base.python_source) == (
        "lab/env:1",
        "3.9",
        "python3",
        "image",
    )
    assert planned.gave_up[0].constraint == "Python 3.14 (chosen for the code's date)"
    assert planned.gave_up[0].reason == "the Python of --base-image lab/env:1 is 3.9"


def test_a_declared_pin_the_image_breaks_is_named() -> None:
    origin = Origin(kind="python-version", path=".python-version", line=1)
    evidence = Evidence(python_hints=(PythonHint(specifier="==3.11.*", origin=origin),))
    planned = _plan(env("3.11", "numpy"), _image(), evidence)
    assert planned.gave_up[0].constraint == "declared Python ==3.11.* (.python-version:1)"


def test_an_image_without_python_is_one_clear_error() -> None:
    with pytest.raises(UsageError) as caught:
        _plan(env("3.11", "numpy"), _image(python=None, interpreter=None, pythons=()))
    message = caught.value.message
    assert message.startswith("--base-image lab/env:1 has no Python (the probe found no python3")
    assert "python:3.11-slim" in caught.value.hint


def test_python_2_for_python_3_code_is_an_error_naming_both() -> None:
    with pytest.raises(UsageError, match=r"has Python 2\.7; the code is Python 3"):
        _plan(env("3.8", "numpy"), _image(python="2.7", interpreter="python"))


def test_the_codes_syntax_is_checked_against_the_images_python() -> None:
    origin = Origin(kind="syntax", path="train.py", line=3, detail="walrus")
    evidence = Evidence(
        python_hints=(PythonHint(specifier=">=3.8", origin=origin, strength="syntax"),)
    )
    with pytest.raises(UsageError, match=r"syntax needs Python >=3\.8 \(train\.py:3"):
        _plan(env("3.9", "numpy"), _image(python="3.7"), evidence)


def test_a_framework_without_wheels_for_the_images_python_is_an_error() -> None:
    with pytest.raises(
        UsageError, match=r"torch 1\.4\.0 has wheels for Python 2\.7, 3\.5-3\.8, not 3\.9"
    ):
        _plan(env("3.8", "torch==1.4.0"), _image())


def test_wheels_that_carry_their_cuda_run_on_any_image() -> None:
    planned = _plan(env("3.9", "torch==1.8.1"), _image())
    base = planned.base
    assert base.gpu and base.cuda is not None
    assert dict(base.cuda.requirements) == {"torch": "torch==1.8.1"}  # PyPI's cu102 build


def test_cuda_older_than_the_framework_needs_cannot_serve() -> None:
    image = _image(python="3.6", cuda="10.0", cudnn="7.6")
    with pytest.raises(UsageError) as caught:
        _plan(env("3.6", "tensorflow==2.4.1"), image)
    assert "cannot serve tensorflow 2.4.1 (CUDA 11.0, cuDNN 8.0) on the GPU" in caught.value.message
    assert "the image has CUDA 10.0 and cuDNN 7.6" in caught.value.message


def test_the_right_cuda_serves_a_framework_that_loads_it_from_the_image() -> None:
    image = _image(python="3.6", cuda="10.0", cudnn="7.6")
    base = _plan(env("3.6", "tensorflow-gpu==1.15.0"), image).base
    assert base.gpu and base.cuda is not None and base.cuda.cuda == "10.0"
    assert dict(base.cuda.requirements) == {"tensorflow-gpu": "tensorflow-gpu==1.15.0"}


def test_no_cuda_inside_gives_cpu_builds_with_a_warning_or_an_error_if_required() -> None:
    planned = _plan(env("3.9", "tensorflow-gpu==1.15.0"), _image(python="3.7"))
    assert not planned.base.gpu and planned.base.cuda is None
    assert any("has no CUDA inside" in w for w in planned.warnings)
    # on a CPU base, tensorflow-gpu (which cannot load without CUDA) installs as tensorflow
    assert base_image.cpu_lines(planned.environment) == {"tensorflow-gpu": "tensorflow==1.15.0"}
    with pytest.raises(Exception, match="--require-gpu"):
        _plan(env("3.9", "tensorflow-gpu==1.15.0"), _image(python="3.7"), require_gpu=True)


def test_no_pip_and_no_ensurepip_cannot_install() -> None:
    with pytest.raises(UsageError, match="neither pip nor ensurepip"):
        _plan(env("3.9", "numpy"), _image(pip=False, venv=False))


def test_without_an_engine_the_plan_is_for_the_python_inferred_with_a_warning(
    tmp_path: object,
) -> None:
    from pathlib import Path

    from repro import pipeline
    from repro.errors import EngineError
    from repro.fetch import parse_source
    from repro.report import QuietReporter
    from tests.conftest import commit_all, write_files

    root = Path(str(tmp_path)) / "paper"
    write_files(root, {"main.py": "import json\n"})
    commit_all(root)
    warnings: list[str] = []

    class Reporter(QuietReporter):
        def warn(self, message: str) -> None:
            warnings.append(message)

    def no_engine(name: str) -> GivenImage:
        raise EngineError("cannot reach a Docker engine at unix:///nowhere")

    work = Path(str(tmp_path)) / "work"
    checkout = fetching.fetch_checkout(parse_source(str(root)), work, Reporter())
    options = Options(base_image="lab/env:1", python="3.11")
    scanned = pipeline.scan_checkout(
        checkout, options, Reporter(), probe_gpu=lambda: None, probe_image=no_engine
    )
    assert scanned.given is None
    assert warnings == [
        "--base-image lab/env:1 could not be probed (cannot reach a Docker engine at "
        "unix:///nowhere): planned for the Python inferred, not for what the image has"
    ]
    plan = pipeline.plan_for(scanned, Reporter()).plan
    assert plan.base.name == "lab/env:1" and plan.environment.python.version == "3.11"
