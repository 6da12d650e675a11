"""Recipes for the Dockerfile tests: one per golden file (tests/unit/golden/), and the base
images they start from; shared by the golden-file tests and the performance tests."""

from __future__ import annotations

from repro.dockerfile import Recipe
from repro.models import BaseImage, CudaChoice

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
    name="nvidia/cuda:12.1.1-runtime-ubuntu22.04",
    python="3.10",
    python_source="apt",
    gpu=True,
    cuda=CudaChoice(
        cuda="12.1",
        cudnn=None,
        flavour="runtime",
        min_driver="530.30.02",
        torch_index_url="https://download.pytorch.org/whl/cu121",
    ),
    reasons=(),
    variant="py3.10-cu121",
)
GPU_DEVEL = BaseImage(
    name="nvidia/cuda:12.3.2-devel-ubuntu22.04",
    python="3.12",
    python_source="deadsnakes",
    gpu=True,
    cuda=CudaChoice(cuda="12.3", cudnn=None, flavour="devel", min_driver="545.23.06"),
    reasons=(),
    variant="py3.12-cu123-devel",
)
FALLBACK = BaseImage(
    name="tensorflow/tensorflow:1.15.5-gpu-py3",
    python="3.6",
    python_source="image",
    gpu=True,
    cuda=CudaChoice(cuda="10.0", cudnn="7", flavour="runtime", min_driver="410.48", fallback=True),
    reasons=(),
    variant="py3.6-cu100",
    venv=False,
)
GPU_DEVEL_APT = BaseImage(
    name="nvidia/cuda:12.6.3-devel-ubuntu22.04",
    python="3.11",
    python_source="apt",
    gpu=True,
    cuda=CudaChoice(
        cuda="12.6",
        cudnn=None,
        flavour="devel",
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
        framework_requirements=("torch==2.5.1+cu121", "torchvision==0.20.1+cu121"),
        requirements=("einops",),
        framework_index_urls=("https://download.pytorch.org/whl/cu121",),
    ),
    "gpu-jax-devel-deadsnakes": Recipe(
        base=GPU_DEVEL,
        source_url="https://github.com/acme/kernels",
        commit="d" * 40,
        framework_requirements=("jax[cuda12_pip]==0.4.25",),
        requirements=("numpy",),
        framework_find_links=(
            "https://storage.googleapis.com/jax-releases/jax_cuda_releases.html",
        ),
    ),
    "gpu-fallback-tf115": Recipe(
        base=FALLBACK,
        source_url="https://github.com/acme/old-gpu",
        commit="e" * 40,
        framework_requirements=("tensorflow-gpu==1.15.5",),
        requirements=("h5py<3",),
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
    "uv-classic": Recipe(
        base=CPU,
        source_url="https://github.com/acme/paper",
        commit="f" * 40,
        requirements=("numpy<1.24",),
        installer="uv",
        exclude_newer="2024-03-01T00:00:00Z",
        buildkit=False,
    ),
    "gpu-devel-two-stages": Recipe(
        base=GPU_DEVEL_APT,
        source_url="https://github.com/acme/kernels",
        commit="9" * 40,
        framework_requirements=("torch==2.5.1",),
        requirements=("einops",),
        framework_index_urls=("https://download.pytorch.org/whl/cu126",),
        installer="uv",
        exclude_newer="2024-11-01T00:00:00Z",
        runtime_base="nvidia/cuda:12.6.3-runtime-ubuntu22.04",
        runtime_reason="setup.py:12 compiles against CUDA at build time",
        build_extensions=True,
    ),
    "py27-classic": Recipe(
        base=PY27,
        source_url="https://github.com/acme/old",
        commit="c" * 40,
        requirements=("numpy==1.16.6",),
        buildkit=False,
    ),
    "uv-optional": Recipe(
        base=CPU,
        source_url="https://github.com/acme/scripts",
        commit="7" * 40,
        requirements=("requests",),
        optional_requirements=("simplejson", "matplotlib>=2"),
        installer="uv",
        exclude_newer="2018-03-01T00:00:00Z",
    ),
}
