"""Checkout → Evidence: everything a repository says about what it needs (pure, read-only).

Nothing found here is executed: setup.py is parsed, notebooks are read as JSON, code is
read by AST. Each piece of evidence keeps its ``file:line`` origin.
"""

from __future__ import annotations

import ast
from pathlib import Path, PurePosixPath

from repro.errors import NothingToPackError
from repro.mapping import load_json
from repro.models import ApiUse, DeclaredRequirement, Evidence, ImportSite, Origin, PythonHint
from repro.scan import api, cuda, pyhints
from repro.scan import declared as decl
from repro.scan import requirements as reqs
from repro.scan.files import RepoFiles, read_text, walk
from repro.scan.imports import FileImports, read_notebook, scan_source

# Syntax that dates code: (node type, minimum Python, what it is).
_SYNTAX_FLOORS: tuple[tuple[type[ast.AST], str, str], ...] = (
    (ast.JoinedStr, "3.6", "f-string"),
    (ast.NamedExpr, "3.8", "assignment expression (:=)"),
    (ast.Match, "3.10", "match statement"),
)


def scan(root: Path) -> Evidence:
    files = walk(root)
    if not (
        files.python
        or files.notebooks
        or files.requirements
        or files.pyproject
        or files.conda
        or files.setup_cfg
        or files.pipfiles
    ):
        raise NothingToPackError(
            "no Python code, notebooks or requirement files found: nothing to pack"
        )
    out = decl.Declared()
    _declared_files(root, files, out)
    out.python += pyhints.read(root, files)
    api_uses: list[ApiUse] = []
    sites, sys_path_dirs = _code(root, files, out, api_uses)
    out.hints += cuda.compile_hints(root, files, sites)
    local = local_modules(files, sys_path_dirs)
    warnings = list(out.warnings)
    for rel, size in files.oversized:
        warnings.append(f"{rel}: {size // (1024 * 1024)} MiB .py file not scanned")
    return Evidence(
        declared=tuple(out.requirements),
        imports=tuple(sites),
        local_modules=frozenset(local),
        python_hints=tuple(out.python),
        hints=tuple(out.hints),
        python_paths=tuple(files.python),
        notebooks=len(files.notebooks),
        has_tests=any(_is_test_file(p) for p in files.python),
        warnings=tuple(warnings),
        api_uses=tuple(api_uses),
    )


def _declared_files(root: Path, files: RepoFiles, out: decl.Declared) -> None:
    result = reqs.RequirementsResult()
    # requirements.txt at the top first, so files it includes keep their includer's order
    for rel in sorted(files.requirements, key=lambda r: (r.count("/"), r != "requirements.txt", r)):
        reqs.parse_file(root, rel, result)
    out.requirements += result.requirements
    out.hints += result.hints
    out.warnings += result.warnings
    for rel in files.setup_py:
        if rel.count("/") <= 1:
            out.extend(decl.read_setup_py(root, rel))
    for rel in files.setup_cfg:
        out.extend(decl.read_setup_cfg(root, rel))
    for rel in files.pyproject:
        out.extend(decl.read_pyproject(root, rel))
    conda_map = load_json("conda_map.json") if files.conda else {}
    for rel in files.conda:
        out.extend(decl.read_conda(root, rel, conda_map))
    for rel in files.python_version_files:
        out.extend(decl.read_python_version_file(root, rel))


def _code(
    root: Path, files: RepoFiles, out: decl.Declared, api_uses: list[ApiUse]
) -> tuple[list[ImportSite], list[str]]:
    sites: list[ImportSite] = []
    sys_path_dirs: list[str] = []
    py2_files: list[str] = []
    floors: dict[str, tuple[str, str, int]] = {}
    for rel in files.python:
        text = read_text(root / rel)
        if text is None:
            out.warnings.append(f"{rel}: binary content in a .py file, skipped")
            continue
        found = scan_source(text, rel)
        sites += found.sites
        base = PurePosixPath(rel).parent
        sys_path_dirs += [(base / d).as_posix() for d in found.sys_path_dirs]
        if found.python2:
            py2_files.append(rel)
            api_uses += api.detect_text(text, rel)
        elif found.unparsable:
            out.warnings.append(
                f"{rel}: neither Python 3 nor Python 2 syntax, imports read by pattern"
            )
        if found.tree is not None:
            _syntax_floors(found, rel, floors)
            api_uses += api.detect(found.tree, rel)
    for rel in files.notebooks:
        _notebook(root, rel, sites, out, api_uses)
    if py2_files:
        origin = Origin(
            kind="syntax", path=py2_files[0], detail=f"Python 2 syntax in {len(py2_files)} file(s)"
        )
        out.python.append(PythonHint(specifier="<3", origin=origin, strength="syntax"))
    for version, (what, rel, line) in floors.items():
        origin = Origin(kind="syntax", path=rel, line=line, detail=what)
        out.python.append(PythonHint(specifier=f">={version}", origin=origin, strength="syntax"))
    return sites, sys_path_dirs


def _syntax_floors(found: FileImports, rel: str, floors: dict[str, tuple[str, str, int]]) -> None:
    assert found.tree is not None
    wanted = [(t, v, w) for t, v, w in _SYNTAX_FLOORS if v not in floors]
    if not wanted:
        return
    for node in ast.walk(found.tree):
        for node_type, version, what in wanted:
            if isinstance(node, node_type) and version not in floors:
                floors[version] = (what, rel, getattr(node, "lineno", 0))


def _notebook(
    root: Path, rel: str, sites: list[ImportSite], out: decl.Declared, api_uses: list[ApiUse]
) -> None:
    text = read_text(root / rel)
    if text is None:
        out.warnings.append(f"{rel}: unreadable notebook, skipped")
        return
    nb = read_notebook(text)
    if nb.error:
        out.warnings.append(f"{rel}: {nb.error}, skipped")
        return
    trees = []
    for cell, code in nb.code:
        found = scan_source(code, rel)
        if found.tree is not None:
            trees.append((cell, found.tree))
        for site in found.sites:
            origin = Origin(kind="notebook", path=rel, line=cell, detail=f"cell {cell}")
            sites.append(ImportSite(module=site.module, origin=origin, optional=site.optional))
    names: dict[str, str] = {}
    for _, tree in trees:
        names.update(api.aliases(tree))
    for cell, tree in trees:
        api_uses += api.detect(tree, rel, names=names, cell=cell)
    for cell, args in nb.pip_installs:
        origin = Origin(kind="notebook", path=rel, line=cell, detail=f"cell {cell}: pip install")
        for token in args.split():
            if token.startswith("-") or token in ("install",):
                continue
            req = reqs.parse_requirement(token.strip("'\""), origin)
            if isinstance(req, DeclaredRequirement):
                out.requirements.append(req)


def _is_test_file(rel: str) -> bool:
    name = PurePosixPath(rel).name
    parts = PurePosixPath(rel).parts
    return name.startswith("test_") or name.endswith("_test.py") or "tests" in parts[:-1]


def local_modules(files: RepoFiles, sys_path_dirs: list[str]) -> set[str]:
    """Top-level names the repository itself provides, from anywhere a script may import.

    A script run as ``python dir/script.py`` imports its siblings, so every folder that
    holds Python code is a root, as are ``src/`` and folders added to ``sys.path``.
    """
    names: set[str] = set()
    py_files = set(files.python)
    code_dirs = {PurePosixPath(p).parent for p in files.python}
    code_dirs |= {PurePosixPath(p).parent for p in files.notebooks}
    # A folder with __init__.py is a package: its modules are imported through it, not
    # as top-level names; any other folder of code is a folder of scripts.
    script_dirs = {d for d in code_dirs if (d / "__init__.py").as_posix() not in py_files}
    roots = {PurePosixPath("."), PurePosixPath("src")} | script_dirs
    roots |= {PurePosixPath(d) for d in sys_path_dirs}
    for path in files.python:
        pure = PurePosixPath(path)
        for root in roots:
            try:
                rel = pure.relative_to(root) if str(root) != "." else pure
            except ValueError:
                continue
            first = rel.parts[0]
            names.add(first[:-3] if first.endswith(".py") else first)
    for path in files.notebooks:
        names.add(PurePosixPath(path).stem)
    names.discard("__init__")
    return {n for n in names if n.isidentifier()}
