"""Which commands could prove an image works, in the order they are tried (reads files
only; no engine):

1. the user's command (``--smoke``, ``[tool.repro] smoke``): when given, the only one;
2. the repository's tests: collected first, then a bounded subset is run;
3. its programs with ``--help`` (console scripts, ``python -m pkg``, command-line scripts);
4. an import check of every module (always available).

With ``--notebooks`` the notebooks run afterwards. ``smoke.run`` runs the plan.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path, PurePosixPath

from repro import entrypoints, mapping
from repro.dockerfile import HELP_CHECK, IMPORT_CHECK, NOTEBOOK_CHECK
from repro.models import Evidence, SmokeCommand, SmokePlan, SmokeSettings

MAX_IMPORT_TARGETS = 200
MAX_TESTS = 25  # tests run from a suite, spread over its files
MAX_NOTEBOOKS = 10
# Tests marked like this need what a smoke test does not have: never selected.
DESELECT = "not (gpu or cuda or slow or integration or network)"
PYTEST = ("python", "-m", "pytest", "-p", "no:cacheprovider")
NOTEBOOK_REQUIREMENTS = ("nbclient", "nbformat", "ipykernel")
KIND_ORDER = ("user", "pytest", "entry-point", "import")
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


def discover(
    evidence: Evidence,
    settings: SmokeSettings,
    python: str,
    root: Path | None = None,
    *,
    missing: Collection[str] = (),
    hosted: Mapping[str, str] | None = None,
    platforms: Mapping[str, str] | None = None,
) -> SmokePlan:
    """Every strategy that has something to run, in order; ``root`` is the checkout.

    ``missing``: imports repro cannot install (unresolved: not on PyPI, or nothing maps
    them): files that import one are left out of the smoke test, and said so, rather than
    failing it for a module no repair can add. ``hosted``: modules that exist only inside
    an application (module → application): files importing one are not runnable outside
    it; when that is every file, nothing is run and the plan says why. ``platforms``:
    modules that exist on another operating system only (module → system), the same way."""
    if settings.no_smoke:
        return SmokePlan(candidates=(), considered=(("none", "--no-smoke"),))
    notebooks, nb_note = _notebooks(root, settings, python)
    considered: list[tuple[str, str]] = [*([nb_note] if nb_note else [])]
    if settings.smoke:
        origin = settings.smoke_origin or "--smoke"
        user = SmokeCommand(
            argv=("sh", "-c", settings.smoke), kind="user", reason=f"given by the user ({origin})"
        )
        return SmokePlan(candidates=(user,), notebooks=notebooks, considered=tuple(considered))
    considered.append(("user", "no --smoke and no [tool.repro] smoke"))
    candidates: list[SmokeCommand] = []
    hosted = hosted or {}
    platforms = platforms or {}
    in_app = _blocked_files(evidence, {**hosted, **platforms})
    if in_app and all(p in in_app for p in evidence.python_paths):
        why = _nothing_runnable(in_app, hosted, platforms)
        return SmokePlan(candidates=(), notebooks=notebooks, considered=(("none", why),))
    blocked = {**_blocked_files(evidence, missing), **in_app}
    if blocked and all(p in blocked for p in evidence.python_paths):
        # nothing else would run: the smoke test runs them and fails with the diagnosis
        # (an image that cannot run any of the code is not a working image)
        blocked = {}
    left_out = _left_out(blocked, hosted, platforms)
    paths = [p for p in evidence.python_paths if p not in blocked]
    for found in (
        _pytest_strategy(evidence, python, blocked, left_out),
        _entry_point_strategy(root, paths, left_out),
        _import_strategy(evidence, python, paths, left_out),
    ):
        if isinstance(found, SmokeCommand):
            candidates.append(found)
        else:
            considered.append(found)
    return SmokePlan(
        candidates=tuple(candidates), notebooks=notebooks, considered=tuple(considered)
    )


def _nothing_runnable(
    in_app: Mapping[str, str], hosted: Mapping[str, str], platforms: Mapping[str, str]
) -> str:
    """Why nothing is run when every Python file needs an application or another system."""
    apps = sorted({hosted[m] for m in in_app.values() if m in hosted})
    systems = sorted({platforms[m] for m in in_app.values() if m in platforms})
    where = [
        *([f"runs inside {' or '.join(apps)}"] if apps else []),
        *([f"needs {' or '.join(systems)}"] if systems else []),
    ]
    return (
        f"every Python file {' or '.join(where)} ("
        + ", ".join(f"{path}: {module}" for path, module in sorted(in_app.items())[:5])
        + (f"): {_not_runnable(systems)}" if systems else "): not runnable outside it")
    )


def _not_runnable(systems: Collection[str]) -> str:
    """Where the code cannot run: in a Linux image (another operating system needed), or
    in an image built on another machine (a board's own libraries needed)."""
    where = sorted({mapping.elsewhere(s) for s in systems})
    return f"not runnable in {' or '.join(where)}"


def _left_out(
    blocked: Mapping[str, str], hosted: Mapping[str, str], platforms: Mapping[str, str]
) -> str:
    """What the strategies' reasons add for the files left out (empty when none is)."""
    if not blocked:
        return ""
    return "; left out, importing what repro cannot install: " + ", ".join(
        f"{path} ({module}" + _where(module, hosted, platforms) + ")"
        for path, module in sorted(blocked.items())
    )


def _pytest_strategy(
    evidence: Evidence, python: str, blocked: Mapping[str, str], left_out: str
) -> SmokeCommand | tuple[str, str]:
    """The repository's tests under pytest, or why not."""
    tests = [p for p in evidence.python_paths if _is_test(p)]
    if not tests:
        return ("pytest", "no test files (test_*.py, *_test.py)")
    test_dirs = sorted({_test_root(p) for p in tests})
    pytest_req = "pytest<5" if python.startswith("2.") else "pytest"
    ignored = tuple(f"--ignore={p}" for p in tests if p in blocked)
    return SmokeCommand(
        argv=(*PYTEST, "-m", DESELECT, *ignored, *test_dirs),
        kind="pytest",
        reason=f"the repository has {len(tests)} test file(s) under "
        f"{', '.join(test_dirs)}: collect them, run up to {MAX_TESTS}"
        + (left_out if ignored else ""),
        extra_requirements=(pytest_req,),
    )


def _entry_point_strategy(
    root: Path | None, paths: list[str], left_out: str
) -> SmokeCommand | tuple[str, str]:
    """The repository's programs run with ``--help``, or why not."""
    programs = entrypoints.find(root, tuple(paths)) if root is not None else []
    if not programs:
        return ("entry-point", "no console scripts, python -m packages or command-line scripts")
    absl = [p.spec for p in programs if p.absl]
    return SmokeCommand(
        argv=("python", HELP_CHECK, *(p.check_spec for p in programs)),
        kind="entry-point",
        reason=f"{len(programs)} program(s) run with --help: "
        + ", ".join(f"{p.spec.split(':', 1)[1]} ({p.origin})" for p in programs)
        + (f"; absl flags exit 1 after --help: {', '.join(absl)}" if absl else "")
        + left_out,
    )


def _import_strategy(
    evidence: Evidence, python: str, paths: list[str], left_out: str
) -> SmokeCommand | tuple[str, str]:
    """The import check of the repository's modules and scripts (of what its notebooks
    import, for a repository of notebooks only), or why not."""
    targets = import_targets(paths)
    if targets:
        return SmokeCommand(
            argv=("python", IMPORT_CHECK, *targets),
            kind="import",
            reason=f"import check of {len(targets)} module(s) and script(s), each in a "
            "fresh interpreter (scripts: their imports only)" + left_out,
        )
    if not evidence.notebooks:
        return ("import", "no Python modules to import")
    # A repository of notebooks only: its notebooks are not run without --notebooks,
    # but what they import must import in the image.
    modules = notebook_imports(evidence, python)
    if not modules:
        return ("import", "no Python modules, and the notebooks import none")
    return SmokeCommand(
        argv=("python", IMPORT_CHECK, *(f"module:{m}" for m in modules)),
        kind="import",
        reason=f"import check of the {len(modules)} module(s) the notebooks "
        "import, each in a fresh interpreter (the notebooks are not run; "
        "--notebooks runs them)",
    )


def first_command(plan: SmokePlan) -> SmokeCommand:
    """The strategy tried first (``none`` when there is nothing to run)."""
    if plan.candidates:
        return plan.candidates[0]
    reason = plan.considered[0][1] if plan.considered else "nothing to run"
    if not plan.considered or plan.considered[0][0] != "none":
        reason = "no tests, programs or modules to run"
    return SmokeCommand(argv=(), kind="none", reason=reason)


def _notebooks(
    root: Path | None, settings: SmokeSettings, python: str
) -> tuple[SmokeCommand | None, tuple[str, str] | None]:
    if not settings.notebooks or root is None:
        return None, None
    if python.startswith("2."):
        return None, ("notebook", "--notebooks needs Python 3 in the image (nbclient)")
    found = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.ipynb")
        if not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not found:
        return None, ("notebook", "--notebooks: the repository has no notebooks")
    chosen = found[:MAX_NOTEBOOKS]
    timeout = int(settings.cell_timeout)
    return (
        SmokeCommand(
            argv=(
                "env",
                f"REPRO_CELL_TIMEOUT={timeout}",
                "python",
                NOTEBOOK_CHECK,
                *(f"notebook:{p}" for p in chosen),
            ),
            kind="notebook",
            reason=f"--notebooks: {len(chosen)} of {len(found)} notebook(s), {timeout} s per cell",
            extra_requirements=NOTEBOOK_REQUIREMENTS,
        ),
        None,
    )


def _is_test(rel: str) -> bool:
    name = rel.rpartition("/")[2]  # PurePosixPath(rel).name, without making a path
    return name.startswith("test_") or name.endswith("_test.py")


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
        if len(targets) == MAX_IMPORT_TARGETS:
            break  # the rest would be cut off
    return targets


def _where(module: str, hosted: Mapping[str, str], platforms: Mapping[str, str]) -> str:
    if module in hosted:
        return f": runs inside {hosted[module]}"
    if module in platforms:
        return f": {platforms[module]} only"
    return ""


def _blocked_files(evidence: Evidence, missing: Collection[str]) -> dict[str, str]:
    """Python files that import (not optionally) a module repro cannot install → it."""
    out: dict[str, str] = {}
    for site in evidence.imports:
        if site.optional or not site.origin.path.endswith(".py"):
            continue
        for module in missing:
            if site.module == module or site.module.startswith(module + "."):
                out.setdefault(site.origin.path, module)
    return out


def notebook_imports(evidence: Evidence, python: str) -> list[str]:
    """Top-level modules the notebooks import that a distribution provides, sorted (a
    ``from X import Y`` site names ``X.Y``, which may be a name rather than a module)."""
    from repro import mapping

    found: set[str] = set()
    for site in evidence.imports:
        if site.optional or not site.origin.path.endswith(".ipynb"):
            continue
        if site.module.split(".")[0] in evidence.local_modules:
            continue
        if mapping.lookup(site.module, python=python).kind == "dist":
            found.add(site.module.split(".")[0])
    return sorted(found)[:MAX_IMPORT_TARGETS]


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
