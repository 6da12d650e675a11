"""Frameworks older than PyPI remembers: torch 0.x, jaxlib 0.1, TensorFlow 0.12, and the
frameworks' own GPU images that stand in for the deleted nvidia/cuda tags.

The rows come from repro/data/compat.json (scripts/gen_compat.py, with the jaxlib history
made by scripts/gen_jaxlib_history.py); each case is a pin a 2017-2021 repository carries.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import pytest

from repro import base_image, compat, infer
from repro.models import (
    BaseSettings,
    DeclaredRequirement,
    Evidence,
    ImportSite,
    InferSettings,
    Origin,
)
from repro.releases import ShippedIndex
from tests.unit.gpu_helpers import env

ROOT = Path(__file__).resolve().parents[2]
DATA = compat.load()


def _lines(python: str, *reqs: str) -> tuple[str, dict[str, str], tuple[str, ...]]:
    base = base_image.select(env(python, *reqs), BaseSettings())
    assert base.cuda is not None
    return base.name, dict(base.cuda.requirements), base.cuda.find_links


def test_torch_041_runs_on_its_own_pytorch_image_with_its_cuda_page() -> None:
    name, lines, links = _lines("3.6", "torch==0.4.1")
    reasons = base_image.select(env("3.6", "torch==0.4.1"), BaseSettings()).reasons
    assert any("PyPI has no torch before 1.0 any more" in r for r in reasons)
    assert name == "pytorch/pytorch:0.4.1-cuda9-cudnn7-runtime"
    assert lines["torch"] == "torch==0.4.1"
    assert links == ("https://download.pytorch.org/whl/cu90/torch_stable.html",)


def test_torch_041_on_a_python_no_vendor_image_has_takes_the_driver_only_cuda_11_base() -> None:
    name, _, links = _lines("3.7", "torch==0.4.1")
    assert name == "nvidia/cuda:11.0.3-runtime-ubuntu18.04"  # 3.7 from Ubuntu 18.04's archive
    assert links == ("https://download.pytorch.org/whl/cu92/torch_stable.html",)


def test_a_post_release_is_pinned_by_its_file_version() -> None:
    _, lines, _ = _lines("3.6", "torch==0.3.0")
    assert lines["torch"] == "torch==0.3.0.post4"  # ==0.3.0 would not match the wheel


def test_cuda_75_builds_are_installed_by_their_wheel_url() -> None:
    release = DATA.torch_release("0.1.12")
    assert release is not None
    cu75 = next(b for b in release.builds if b.cuda == "7.5")
    assert cu75.wheel_url("3.6") == (
        "https://download.pytorch.org/whl/cu75/torch-0.1.12.post2-cp36-cp36m-linux_x86_64.whl"
    )
    assert cu75.wheel_url("2.7") == (
        "https://download.pytorch.org/whl/cu75/torch-0.1.12.post2-cp27-none-linux_x86_64.whl"
    )


def test_tensorflow_012_has_a_row_and_its_python_2_image() -> None:
    assert DATA.tf_release("0.12.1") is not None
    name, lines, _ = _lines("2.7", "tensorflow-gpu==0.12.1")
    assert name == "tensorflow/tensorflow:0.12.1-gpu"
    assert lines["tensorflow-gpu"] == "tensorflow-gpu==0.12.1"


@pytest.mark.parametrize(
    ("image", "python"),
    [
        ("tensorflow/tensorflow:1.13.1-gpu-py3", "3.5"),  # Ubuntu 16.04 images
        ("tensorflow/tensorflow:1.13.1-gpu", "2.7"),
        ("tensorflow/tensorflow:1.14.0-gpu-py3", "3.6"),  # Ubuntu 18.04 from TF 1.14
        ("tensorflow/tensorflow:2.1.0-gpu", "2.7"),  # no suffix = Python 2 up to 2.1.0
        ("tensorflow/tensorflow:2.1.1-gpu", "3.6"),  # ... and Python 3 after it
        ("tensorflow/tensorflow:2.3.0-gpu", "3.6"),
    ],
)
def test_each_tensorflow_image_carries_the_python_its_era_had(image: str, python: str) -> None:
    found = [f for f in DATA.fallbacks if f.image == image]
    assert [f.python for f in found] == [python]


def test_no_py3_tags_after_210_and_no_generated_images_past_23() -> None:
    names = {f.image for f in DATA.fallbacks if f.framework == "tensorflow"}
    assert "tensorflow/tensorflow:2.2.0-gpu-py3" not in names
    assert not any(n.startswith("tensorflow/tensorflow:2.4") for n in names)


def test_pytorch_images_keep_cuda_in_conda_so_tensorflow_does_not_use_them() -> None:
    # TensorFlow 1.13 loads CUDA 10.0 from the system paths: the pytorch/pytorch images of
    # CUDA 10.0 do not count, TensorFlow's own do.
    name, _, _ = _lines("3.6", "tensorflow-gpu==1.13.1")
    assert name.startswith("tensorflow/tensorflow:")
    for fb in DATA.fallbacks:
        assert fb.system_cuda == (fb.framework == "tensorflow")


def test_jax_020_takes_the_jaxlib_of_its_day_with_a_cuda_label() -> None:
    name, lines, links = _lines("3.7", "jax==0.2.0", "jaxlib")
    assert lines == {"jax": "jax==0.2.0", "jaxlib": "jaxlib==0.1.55+cuda110"}
    assert links == ("https://storage.googleapis.com/jax-releases/jax_releases.html",)
    assert name == "nvidia/cuda:11.0.3-cudnn8-runtime-ubuntu18.04"  # CUDA and cuDNN 8 inside


def test_jaxlib_before_the_find_links_page_is_a_wheel_url_per_cuda_folder() -> None:
    name, lines, _ = _lines("3.6", "jax==0.1.55")
    assert lines["jaxlib"].startswith("jaxlib @ https://storage.googleapis.com/jax-releases/cuda")
    assert "-cp36-none-linux_x86_64.whl" in lines["jaxlib"]
    # CUDA 10.x tags are deleted: TensorFlow's image of that CUDA (system CUDA) stands in
    assert name.startswith("tensorflow/tensorflow:")


def test_a_pinned_jaxlib_label_keeps_that_build() -> None:
    name, lines, _ = _lines("3.8", "jax==0.2.5", "jaxlib==0.1.57+cuda110")
    assert lines["jaxlib"] == "jaxlib==0.1.57+cuda110"
    assert name == "nvidia/cuda:11.0.3-cudnn8-runtime-ubuntu20.04"


def test_one_cuda111_wheel_serves_cuda_11_1_and_newer_from_jaxlib_066() -> None:
    release = DATA.jaxlib_release("0.1.66")
    assert release is not None
    cuda111 = next(b for b in release.builds if b.tag == "cuda111")
    assert cuda111.serves_newer
    old = DATA.jaxlib_release("0.1.61")
    assert old is not None and not any(b.serves_newer for b in old.builds)


def test_the_jaxlib_history_drops_python_2_and_3_5_when_the_changelog_says() -> None:
    def pythons(version: str) -> tuple[str, ...]:
        release = DATA.jaxlib_release(version)
        assert release is not None
        return release.python

    assert "2.7" in pythons("0.1.36") and "2.7" not in pythons("0.1.38")
    assert "3.5" not in pythons("0.1.42")
    assert pythons("0.1.70") == ("3.7", "3.8", "3.9")


def test_a_torch_pin_pypi_no_longer_has_holds_through_inference() -> None:
    origin = Origin(kind="requirements", path="requirements.txt", line=1)
    evidence = Evidence(
        declared=(DeclaredRequirement(requirement="torch==0.4.1", name="torch", origin=origin),),
    )
    environment = infer.infer(
        evidence,
        InferSettings(),
        commit_date=dt.datetime(2018, 9, 1, tzinfo=dt.timezone.utc),
        releases=ShippedIndex(),
    )
    torch = next(r for r in environment.requirements if r.name == "torch")
    assert torch.version == "0.4.1"
    assert not any("ignored ==0.4.1" in c for c in environment.conflicts)


def test_an_unpinned_torch_is_not_dated_to_a_release_pypi_lacks() -> None:
    # The API rules that bound old code (fixtures/eras) were written against PyPI's
    # history; only a pin reaches back to torch 0.x.
    origin = Origin(kind="import", path="train.py", line=1)
    evidence = Evidence(imports=(ImportSite(module="torch", origin=origin),))
    environment = infer.infer(
        evidence,
        InferSettings(),
        commit_date=dt.datetime(2018, 1, 10, tzinfo=dt.timezone.utc),
        releases=ShippedIndex(),
    )
    torch = next(r for r in environment.requirements if r.name == "torch")
    assert torch.version == "1.0.0"


def _gen_jaxlib():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen_jaxlib_history", ROOT / "scripts" / "gen_jaxlib_history.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_jaxlib_history_reader_names_cuda_builds_as_the_readme_wrote_them() -> None:
    gen = _gen_jaxlib()
    lines = [
        "CUDA_VERSION=cuda92  # alternatives: cuda90, cuda92, cuda100, cuda101",
        "pip install --upgrade $BASE_URL/$CUDA_VERSION/jaxlib-0.1.36-$PYTHON_VERSION-none-x.whl",
    ]
    assert gen._cudas(lines) == ["9.0", "9.2", "10.0", "10.1"]
    prose = [
        "* For CUDA 11.1, 11.2, or 11.3, use `cuda111`. The same wheel should work for",
        "* For CUDA 10.2, use `cuda102`.",
        # the extras of jaxlib 0.1.73 name no build
        'pip install --upgrade "jax[cuda11_cudnn82]" -f https://example',
    ]
    assert gen._cudas(prose) == ["10.2", "11.1"]
