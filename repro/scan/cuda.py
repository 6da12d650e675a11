"""Does the repository compile CUDA code? Evidence for a ``devel`` CUDA image (read-only).

Each finding becomes a ``Hint(topic="cuda-compile")`` with its ``file:line``:

* ``setup.py`` building a ``CUDAExtension`` (or a ``BuildExtension`` fed ``.cu`` sources);
* code that JIT-compiles CUDA: ``torch.utils.cpp_extension.load``/``load_inline`` with CUDA
  sources, ``pycuda.compiler.SourceModule``;
* ``.cu``/``.cuh`` sources;
* build scripts (``*.sh``, ``Makefile``, ``CMakeLists.txt``) that call ``nvcc`` or enable
  CMake's CUDA language.

Only files the scan already listed (and the Makefiles/CMake files next to them) are read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from repro.models import Hint, ImportSite, Origin
from repro.scan.files import RepoFiles, read_text

_SETUP_CUDA_CALL = re.compile(r"\bCUDAExtension\s*\(")
_SETUP_CUDA = re.compile(r"\bCUDAExtension\b")
_SETUP_BUILD = re.compile(r"\bBuildExtension\b")
_CU_SOURCE = re.compile(r"""["'][^"'\n]*\.cu["']""")
_JIT_CALL = re.compile(r"\b(load_inline|load)\s*\(")
_JIT_CUDA = re.compile(r"""cuda_sources\s*=|with_cuda\s*=\s*True|["'][^"'\n]*\.cu["']""")
_PYCUDA = re.compile(r"\bSourceModule\s*\(")
_NVCC = re.compile(r"(^|[\s/=\"'`(])nvcc(\s|$|[\"'`)])")
_CMAKE_CUDA = re.compile(
    r"enable_language\s*\(\s*CUDA|project\s*\([^)]*\bCUDA\b|find_package\s*\(\s*CUDA(Toolkit)?\b",
    re.IGNORECASE,
)
_BUILD_FILES = ("Makefile", "makefile", "GNUmakefile", "CMakeLists.txt")
_JIT_MODULES = ("torch.utils.cpp_extension", "pycuda.compiler")


def compile_hints(root: Path, files: RepoFiles, sites: Iterable[ImportSite]) -> list[Hint]:
    """Every reason to believe the code compiles CUDA, at most one per file."""
    hints: list[Hint] = []
    for rel in files.setup_py:
        hint = _setup_py(root, rel)
        if hint:
            hints.append(hint)
    jit_files = sorted(
        {s.origin.path for s in sites if s.module.startswith(_JIT_MODULES) and s.origin.path}
    )
    for rel in jit_files:
        if rel.endswith(".py"):
            hint = _jit(root, rel)
            if hint:
                hints.append(hint)
    if files.cuda_sources:
        first = files.cuda_sources[0]
        more = len(files.cuda_sources) - 1
        detail = "CUDA source" + (f" (+{more} more)" if more else "")
        hints.append(
            Hint(
                topic="cuda-compile",
                value=first,
                origin=Origin(kind="script", path=first, detail=detail),
            )
        )
    for rel in [*files.scripts, *_build_files(root, files)]:
        hint = _build_script(root, rel)
        if hint:
            hints.append(hint)
    return hints


def _lines(root: Path, rel: str) -> list[str]:
    text = read_text(root / rel)
    return text.splitlines() if text else []


def _first(lines: list[str], pattern: re.Pattern[str]) -> int | None:
    for number, line in enumerate(lines, start=1):
        if not line.lstrip().startswith("#") and pattern.search(line):
            return number
    return None


def _setup_py(root: Path, rel: str) -> Hint | None:
    lines = _lines(root, rel)
    line = _first(lines, _SETUP_CUDA_CALL) or _first(lines, _SETUP_CUDA)
    what = "CUDAExtension"
    if line is None and _first(lines, _SETUP_BUILD) is not None:
        line = _first(lines, _CU_SOURCE)
        what = "BuildExtension with .cu sources"
    if line is None:
        return None
    return Hint(
        topic="cuda-compile",
        value=f"{rel}: {what}",
        origin=Origin(kind="setup.py", path=rel, line=line, detail=what),
    )


def _jit(root: Path, rel: str) -> Hint | None:
    lines = _lines(root, rel)
    line = _first(lines, _PYCUDA)
    what = "pycuda SourceModule (nvcc at run time)"
    if line is None:
        call = _first(lines, _JIT_CALL)
        if call is None or _first(lines, _JIT_CUDA) is None:
            return None
        line, what = call, "torch.utils.cpp_extension JIT build of CUDA sources"
    return Hint(
        topic="cuda-compile",
        value=f"{rel}: {what}",
        origin=Origin(kind="import", path=rel, line=line, detail=what),
    )


def _build_files(root: Path, files: RepoFiles) -> list[str]:
    """Makefiles and CMake files at the top and next to the code (not a second full walk)."""
    # each folder once (a path's parent, as PurePosixPath(p).parent, is its text before
    # the last "/", or "."), then as paths: they sort by their parts
    parents = {p.rpartition("/")[0] or "." for p in [*files.python, *files.cuda_sources]}
    dirs = {PurePosixPath(".")} | {PurePosixPath(d) for d in parents}
    found = []
    for d in sorted(dirs):
        for name in _BUILD_FILES:
            rel = (d / name).as_posix()
            if (root / rel).is_file():
                found.append(rel)
    return found


def _build_script(root: Path, rel: str) -> Hint | None:
    lines = _lines(root, rel)
    pattern = _CMAKE_CUDA if rel.endswith("CMakeLists.txt") else _NVCC
    line = _first(lines, pattern)
    if line is None and rel.endswith("CMakeLists.txt"):
        line = _first(lines, _NVCC)
    if line is None:
        return None
    what = "CUDA in CMake" if rel.endswith("CMakeLists.txt") else "calls nvcc"
    return Hint(
        topic="cuda-compile",
        value=f"{rel}: {what}",
        origin=Origin(kind="script", path=rel, line=line, detail=what),
    )
