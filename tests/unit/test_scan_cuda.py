"""Detecting code that compiles CUDA: the evidence for a devel CUDA image."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.scan import scan
from tests.conftest import write_files


def compile_hints(root: Path) -> list[tuple[str, int | None, str]]:
    return [
        (h.origin.path, h.origin.line, h.origin.detail)
        for h in scan(root).hints
        if h.topic == "cuda-compile"
    ]


CUDA_SETUP = """\
from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CUDAExtension

setup(
    name="deform_conv",
    ext_modules=[CUDAExtension("deform_conv_cuda", ["src/deform_conv.cpp", "src/kernel.cu"])],
    cmdclass={"build_ext": BuildExtension},
)
"""

CPP_ONLY_SETUP = """\
from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CppExtension

setup(name="ops", ext_modules=[CppExtension("ops", ["ops.cpp"])],
      cmdclass={"build_ext": BuildExtension})
"""

JIT = """\
import os
from torch.utils.cpp_extension import load

module_path = os.path.dirname(__file__)
upfirdn2d_op = load(
    "upfirdn2d",
    sources=[os.path.join(module_path, "upfirdn2d.cpp"), os.path.join(module_path, "kernel.cu")],
)
"""

PYCUDA = """\
import pycuda.autoinit
from pycuda.compiler import SourceModule

mod = SourceModule('''
__global__ void twice(float *a) { a[threadIdx.x] *= 2; }
''')
"""


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"setup.py": CUDA_SETUP, "model.py": "import torch\n"}, ("setup.py", 6, "CUDAExtension")),
        (
            {"op/upfirdn2d.py": JIT, "train.py": "import op\n"},
            ("op/upfirdn2d.py", 5, "torch.utils.cpp_extension JIT build of CUDA sources"),
        ),
        ({"kernels.py": PYCUDA}, ("kernels.py", 4, "pycuda SourceModule (nvcc at run time)")),
        (
            {
                "train.py": "import torch\n",
                "make.sh": "#!/bin/sh\ncd lib\nnvcc -c -o nms.o nms.cu\n",
            },
            ("make.sh", 3, "calls nvcc"),
        ),
        (
            {"lib/ext.py": "x = 1\n", "lib/Makefile": "all:\n\t$(NVCC) -o k k.o\n\tnvcc -c k.cu\n"},
            ("lib/Makefile", 3, "calls nvcc"),
        ),
        (
            {
                "main.py": "x = 1\n",
                "CMakeLists.txt": "cmake_minimum_required(VERSION 3.18)\n"
                "project(kern LANGUAGES CXX CUDA)\n",
            },
            ("CMakeLists.txt", 2, "CUDA in CMake"),
        ),
        (
            {"main.py": "x = 1\n", "csrc/a.cu": "// a", "csrc/b.cuh": "// b"},
            ("csrc/a.cu", None, "CUDA source (+1 more)"),
        ),
    ],
)
def test_cuda_compilation_is_found_with_its_origin(
    tmp_path: Path, files: dict[str, str], expected: tuple[str, int | None, str]
) -> None:
    write_files(tmp_path, files)
    assert expected in compile_hints(tmp_path)


@pytest.mark.parametrize(
    "files",
    [
        {"setup.py": CPP_ONLY_SETUP},
        {"train.py": "import torch\nmodel = torch.load('m.pt')\n"},  # load() of a checkpoint
        {"run.sh": "#!/bin/sh\n# nvcc is not needed here\npython train.py\n", "train.py": ""},
        {"train.py": "from torch.utils.cpp_extension import load\nm = load('ops', ['ops.cpp'])\n"},
    ],
)
def test_no_cuda_compilation_no_hint(tmp_path: Path, files: dict[str, str]) -> None:
    write_files(tmp_path, files)
    assert compile_hints(tmp_path) == []
