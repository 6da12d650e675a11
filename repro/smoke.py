"""Find the command that proves an image works, and run it in an isolated container.

Discovery (pure) tries, in order: the user's ``--smoke``/``[tool.repro] smoke``; the
repository's tests; otherwise an import check of every module (scripts are not run: only
their import statements are). The run has no network, runs as the image's unprivileged
user, with memory, process and time limits, and no host mounts.
"""

from __future__ import annotations

import time
from pathlib import PurePosixPath

from repro.dockerfile import IMPORT_CHECK
from repro.engine import Engine, RunLimits
from repro.models import Evidence, Options, SmokeCommand, SmokeResult

MAX_IMPORT_TARGETS = 200
_SKIP_PARTS = {
    "docs",
    "doc",
    "examples",
    "example",
    "benchmarks",
    "scripts",
    "tools",
    "build",
    "dist",
}


def discover(evidence: Evidence, options: Options, python: str) -> SmokeCommand:
    if options.no_smoke:
        return SmokeCommand(argv=(), kind="none", reason="--no-smoke")
    if options.smoke:
        return SmokeCommand(
            argv=("sh", "-c", options.smoke), kind="user", reason="given by the user"
        )
    tests = [p for p in evidence.python_paths if _is_test(p)]
    if tests:
        test_dirs = sorted({_test_root(p) for p in tests})
        pytest_req = "pytest<5" if python.startswith("2.") else "pytest"
        return SmokeCommand(
            argv=("python", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *test_dirs),
            kind="pytest",
            reason=f"the repository has {len(tests)} test file(s) under {', '.join(test_dirs)}",
            extra_requirements=(pytest_req,),
        )
    targets = import_targets(list(evidence.python_paths))
    if not targets:
        return SmokeCommand(argv=(), kind="none", reason="no Python modules to import")
    return SmokeCommand(
        argv=("python", IMPORT_CHECK, *targets),
        kind="import",
        reason=f"no tests found: import check of {len(targets)} module(s) and script(s)",
    )


def _is_test(rel: str) -> bool:
    p = PurePosixPath(rel)
    return p.name.startswith("test_") or p.name.endswith("_test.py")


def _test_root(rel: str) -> str:
    parts = PurePosixPath(rel).parts
    for i, part in enumerate(parts[:-1]):
        if part in ("tests", "test"):
            return "/".join(parts[: i + 1])
    return "/".join(parts[:-1]) or "."


def import_targets(python_files: list[str]) -> list[str]:
    """``module:pkg.mod`` for package modules, ``script:path.py`` for scripts."""
    present = set(python_files)
    targets = []
    for rel in python_files:
        p = PurePosixPath(rel)
        if _is_test(rel) or p.name in ("setup.py", "conftest.py", "__main__.py"):
            continue
        if _SKIP_PARTS & set(p.parts[:-1]) or any(part.startswith(".") for part in p.parts):
            continue
        package = _package_path(p, present)
        if package:
            targets.append(f"module:{package}")
        else:
            targets.append(f"script:{rel}")
    return targets[:MAX_IMPORT_TARGETS]


def _package_path(p: PurePosixPath, present: set[str]) -> str:
    """``pkg/sub/mod.py`` → ``pkg.sub.mod`` when every folder has __init__.py, else ""."""
    parents = p.parts[:-1]
    if not parents:
        return ""
    start = 1 if parents[0] == "src" else 0
    dirs = parents[start:]
    if not dirs:
        return ""
    for i in range(len(dirs)):
        init = "/".join(parents[: start + i + 1]) + "/__init__.py"
        if init not in present:
            return ""
    name = p.stem
    mods = list(dirs) if name == "__init__" else [*dirs, name]
    return ".".join(mods)


def run(
    engine: Engine, image: str, command: SmokeCommand, *, gpu: bool, timeout: float
) -> SmokeResult:
    """Run ``command`` in ``image``: no network, unprivileged, limited; always cleaned up."""
    start = time.monotonic()
    result = engine.run(
        image,
        command.argv,
        RunLimits(
            network="none",
            user="1000:1000",
            timeout=timeout,
            gpus=gpu,
            env={"HOME": "/tmp", "MPLBACKEND": "Agg", "REPRO_SMOKE": "1"},
        ),
    )
    tail = "\n".join(result.output.rstrip().splitlines()[-40:])
    if result.oom_killed:
        tail += "\n[repro] the container ran out of memory (limit reached) and was killed"
    if result.timed_out:
        tail += f"\n[repro] stopped after {timeout:.0f} s (timeout)"
    return SmokeResult(
        command=command,
        exit_code=result.exit_code,
        seconds=time.monotonic() - start,
        log_tail=tail,
        timed_out=result.timed_out,
        gpu=gpu,
        network="none",
    )
