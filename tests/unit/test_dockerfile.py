"""The rendered Dockerfile, compared whole against golden files (review their diffs).

Set REPRO_UPDATE_GOLDEN=1 to rewrite the golden files after an intended change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repro.dockerfile import Recipe, render
from repro.models import BaseImage, CudaChoice

GOLDEN = Path(__file__).parent / "golden"

CPU = BaseImage(
    name="python:3.11-slim",
    python="3.11",
    python_source="image",
    gpu=False,
    cuda=None,
    reasons=(),
    variant="py3.11-cpu",
)
GPU = BaseImage(
    name="nvidia/cuda:12.6.3-runtime-ubuntu22.04",
    python="3.11",
    python_source="apt",
    gpu=True,
    cuda=CudaChoice(
        cuda="12.6",
        cudnn=None,
        flavour="runtime",
        min_driver="560.28.03",
        torch_index_url="https://download.pytorch.org/whl/cu126",
    ),
    reasons=(),
    variant="py3.11-cu126",
)
PY27 = BaseImage(
    name="python:2.7-slim",
    python="2.7",
    python_source="image",
    gpu=False,
    cuda=None,
    reasons=(),
    variant="py2.7-cpu",
)

CASES = {
    "cpu-framework": Recipe(
        base=CPU,
        source_url="https://github.com/acme/paper",
        commit="a" * 40,
        framework_requirements=("torch==2.13.0+cpu",),
        requirements=("numpy", "scipy>=1.7"),
        wheelhouse=True,
        python_path=("/app", "/app/src"),
    ),
    "gpu-torch": Recipe(
        base=GPU,
        source_url="https://github.com/acme/paper",
        commit="b" * 40,
        framework_requirements=("torch==2.5.1", "torchvision==0.20.1"),
        requirements=("einops",),
        framework_index_urls=("https://download.pytorch.org/whl/cu126",),
    ),
    "uv-lock": Recipe(
        base=CPU,
        source_url="https://github.com/acme/paper",
        commit="d" * 40,
        framework_requirements=("torch==2.2.1",),
        requirements=("numpy<1.24", "scipy>=1.7"),
        framework_index_urls=("https://download.pytorch.org/whl/cpu",),
        installer="uv",
        exclude_newer="2024-03-01T00:00:00Z",
    ),
    "py27-date-constraints": Recipe(
        base=PY27,
        source_url="https://github.com/acme/old",
        commit="e" * 40,
        requirements=("numpy", "scipy<1.2"),
        date_constraints=("numpy==1.14.3", "scipy==1.1.0", "six==1.11.0"),
    ),
    "repair-runtime-packages": Recipe(
        base=CPU,
        source_url="https://github.com/acme/paper",
        commit="f" * 40,
        framework_requirements=("torch==2.2.1",),
        requirements=("opencv-python<4.9",),
        installer="uv",
        exclude_newer="2024-03-01T00:00:00Z",
        runtime_packages=("libgl1", "libglib2.0-0"),
    ),
    "py27-classic": Recipe(
        base=PY27,
        source_url="https://github.com/acme/old",
        commit="c" * 40,
        requirements=("numpy==1.16.6",),
        buildkit=False,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_dockerfile_matches_golden(case: str) -> None:
    text = render(CASES[case]).dockerfile
    path = GOLDEN / f"{case}.Dockerfile"
    if os.environ.get("REPRO_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_source_is_copied_after_every_install() -> None:
    text = render(CASES["cpu-framework"]).dockerfile
    assert text.index("COPY --chown=1000:1000 src/") > text.rindex("pip install")
    assert text.index("requirements-framework.txt") < text.index("/opt/repro/requirements.txt")


def test_secrets_are_mounted_never_copied() -> None:
    text = render(CASES["gpu-torch"]).dockerfile
    assert "--mount=type=secret,id=repro-ca" in text
    assert "COPY" not in "".join(ln for ln in text.splitlines() if "secret" in ln)
    assert "ENV PIP_CERT" not in text and "ENV SSL_CERT_FILE" not in text


def test_requirement_files_are_rendered_with_the_dockerfile() -> None:
    files = render(CASES["cpu-framework"]).files
    assert files[".repro/requirements-framework.txt"] == "torch==2.13.0+cpu\n"
    assert files[".repro/requirements.txt"] == "numpy\nscipy>=1.7\n"
    assert "def main(argv)" in files[".repro/import_check.py"]


def test_libraries_a_repair_adds_come_after_every_python_package() -> None:
    # adding libGL after a failed smoke test must not reinstall torch: its layer stays cached
    text = render(CASES["repair-runtime-packages"]).dockerfile
    apt = text.index("apt-get install -y --no-install-recommends libgl1 libglib2.0-0")
    assert apt > text.rindex("-r /opt/repro/requirements.txt")
    assert apt < text.index("COPY --chown=1000:1000 src/")
    assert "apt-get" not in render(CASES["uv-lock"]).dockerfile
