"""Checkout → Evidence: everything a repository says about what it needs (pure, read-only).

Nothing found here is executed: setup.py is parsed, notebooks are read as JSON, code is
read by AST. Each piece of evidence keeps its ``file:line`` origin.

Declared files (requirements, setup.py/cfg, pyproject, Pipfile, locks, conda files) give
requirements of their own kind; Dockerfiles, install scripts, READMEs and CI configs give
requirements of kinds ``dockerfile``/``script``/``readme``/``ci``, which infer weighs as
hints (see docs/inference.md). A file that cannot be read is a warning, never an error.
"""

from __future__ import annotations

import ast
import posixpath
import re
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from repro import apirules, datafiles, mapping
from repro.errors import NothingToPackError
from repro.models import ApiUse, Evidence, Hint, ImportSite, Origin
from repro.scan import api, binder, cuda, lockfiles, modules, pyera, pyhints
from repro.scan import declared as decl
from repro.scan import hints as hint_files
from repro.scan import requirements as reqs
from repro.scan.commands import find_commands
from repro.scan.files import RepoFiles, read_text, walk
from repro.scan.imports import FileImports, read_notebook, scan_source


def scan(root: Path) -> Evidence:
    files = walk(root)
    config = binder.read(root, files)
    if not (
        files.python
        or files.notebooks
        or files.requirements
        or files.pyproject
        or files.conda
        or files.setup_cfg
        or files.pipfiles
        or files.locks
        or config.config is not None
    ):
        raise NothingToPackError(
            "no Python code, notebooks or requirement files found (nor a Binder "
            "configuration): nothing to pack"
        )
    out = decl.Declared(warnings=list(config.warnings))
    conda_map: dict[str, Any] = datafiles.load("conda_map.json")
    _declared_files(root, files, out, conda_map, config)
    out.python += pyhints.read(root, files)
    api_uses: list[ApiUse] = []
    era = pyera.Era(root=root)
    sites, sys_path_dirs = _code(root, files, out, conda_map, api_uses, era)
    out.hints += cuda.compile_hints(root, files, sites)
    _hint_files(root, files, out, conda_map)
    local = local_modules(files, sys_path_dirs, out.hints)
    api_uses += modules.uses(sites, local, api_uses)
    out.python += era.hints(sites, local, api_uses)
    out.warnings += era.warnings
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
        binder=config.config,
    )


def _declared_files(
    root: Path,
    files: RepoFiles,
    out: decl.Declared,
    conda_map: dict[str, Any],
    config: binder.Reading,
) -> None:
    """Every declaration file; those a Binder configuration does not use where they lie
    are weighed as hints (``binder.shadow``), those it names but cannot use are skipped."""
    shadowed, skipped = config.shadowed, config.skipped
    result = reqs.RequirementsResult()
    # requirements.txt at the top first, so files it includes keep their includer's order
    ordered = sorted(files.requirements, key=lambda r: (r.count("/"), r != "requirements.txt", r))
    for rel in ordered:
        if rel not in shadowed and rel not in skipped:
            reqs.parse_file(root, rel, result)
    out.requirements += result.requirements
    out.hints += result.hints
    out.warnings += result.warnings
    for rel in ordered:
        if rel in shadowed and rel not in result.visited:  # not included by a used file
            alone = reqs.RequirementsResult(visited=set(result.visited))
            reqs.parse_file(root, rel, alone)
            found = decl.Declared(
                requirements=alone.requirements, hints=alone.hints, warnings=alone.warnings
            )
            out.extend(binder.shadow(found, shadowed[rel]))

    def read(rel: str, found: decl.Declared) -> None:
        out.extend(binder.shadow(found, shadowed[rel]) if rel in shadowed else found)

    for rel in files.setup_py:
        if rel.count("/") <= 2:
            read(rel, decl.read_setup_py(root, rel))
    for rel in files.setup_cfg:
        out.extend(decl.read_setup_cfg(root, rel))
    for rel in files.pyproject:
        out.extend(decl.read_pyproject(root, rel))
    for rel in files.pipfiles:
        read(rel, lockfiles.read_pipfile(root, rel))
    for rel in files.locks:
        read(rel, lockfiles.read_lock(root, rel))
    for rel in files.conda:
        read(rel, decl.read_conda(root, rel, conda_map))
    for rel in files.python_version_files:
        if rel not in skipped:
            out.extend(decl.read_python_version_file(root, rel))


def _hint_files(
    root: Path, files: RepoFiles, out: decl.Declared, conda_map: dict[str, Any]
) -> None:
    """Dockerfiles, install scripts, READMEs, CI configs: evidence weighed as hints."""
    known = frozenset(files.requirements)
    image_hints: dict[str, Any] = (
        datafiles.load("image_hints.json") if files.dockerfiles else {"images": []}
    )
    for rel in files.dockerfiles:
        out.extend(hint_files.read_dockerfile(root, rel, conda_map, image_hints, known))
    for rel in files.scripts:
        out.extend(hint_files.read_script(root, rel, conda_map, known))
    for rel in files.readmes:
        out.extend(hint_files.read_readme(root, rel, conda_map, known, _known_name(conda_map)))
    for rel in files.ci:
        out.extend(hint_files.read_ci(root, rel, conda_map, known))


def _known_name(conda_map: dict[str, Any]) -> Any:
    """A name as a README writes it (``PyTorch``, ``OpenCV``, ``sklearn``) → a distribution
    that some data file knows, else ``""``: prose is never guessed into a package."""
    packages = conda_map.get("packages", {})

    def known(raw: str) -> str:
        lower = raw.lower()
        entry = packages.get(lower)
        if isinstance(entry, str):
            return entry
        if isinstance(entry, dict):
            return str(entry.get("pypi") or "")
        found = mapping.lookup(raw)
        if found.kind == "dist":
            return found.dist
        return mapping.known_distribution(raw) or ""

    return known


def _code(
    root: Path,
    files: RepoFiles,
    out: decl.Declared,
    conda_map: dict[str, Any],
    api_uses: list[ApiUse],
    era: pyera.Era,
) -> tuple[list[ImportSite], list[str]]:
    sites: list[ImportSite] = []
    sys_path_dirs: list[str] = []
    top = str(root)
    for rel in files.python:
        text = read_text(f"{top}/{rel}")  # root / rel, without making 5,000 paths
        if text is None:
            out.warnings.append(f"{rel}: binary content in a .py file, skipped")
            continue
        found = scan_source(text, rel)
        sites += found.sites
        sys_path_dirs += found.sys_path_dirs
        # the whole tree when the era's checks made one (for a Python 2 file, the tree
        # of its Python 3 spelling, lines kept)
        tree = era.file(rel, text, found)
        if found.python2 or found.unparsable:
            api_uses += api.detect(tree, rel) if tree is not None else api.detect_text(text, rel)
        else:
            api_uses += _api_uses(text, rel, found, tree)
    for rel in files.notebooks:
        _notebook(root, rel, sites, out, conda_map, api_uses, era)
    return sites, sys_path_dirs


@cache
def _rule_paths() -> tuple[frozenset[str], frozenset[str]]:
    """(paths of name rules, paths of call rules) of the API rules."""
    names = frozenset(p for r in apirules.rules() if r.kind == "name" for p in r.paths)
    calls = frozenset(p for r in apirules.rules() if r.kind != "name" for p in r.paths)
    return names, calls


@cache
def _attribute_needles(tops: frozenset[str]) -> tuple[str, ...]:
    """``.NAME`` for the attribute rules of the packages a file imports."""
    return tuple(
        f".{attribute}"
        for attribute in apirules.attributes()
        if apirules.match_attribute(attribute, tops)
    )


@cache
def _import_hits(module: str) -> bool:
    """Importing ``module`` is itself a use some rule talks about."""
    return bool(apirules.match_name(module)) or module in _rule_paths()[1]


@cache
def _alias_use(alias: str, qualified: str) -> re.Pattern[str] | None:
    """A pattern for ``alias.<rest>`` where ``qualified.<rest>`` is a rule's path; None
    when no rule path lies under ``qualified``."""
    names, calls = _rule_paths()
    prefix = qualified + "."
    rests = {p[len(prefix) :] for p in names | calls if p.startswith(prefix)}
    if not rests:
        return None
    choices = "|".join(re.escape(r) for r in sorted(rests, key=lambda r: (-len(r), r)))
    # the alias first, so the regex engine can skip ahead to it; what precedes it is
    # checked by _spells
    return re.compile(re.escape(alias) + r"\.(?:" + choices + r")\b")


def _spells(pattern: re.Pattern[str], alias: str, text: str) -> bool:
    """``text`` holds ``alias.<rest>`` with ``alias`` not the tail of a longer name."""
    if alias + "." not in text:
        return False
    for m in pattern.finditer(text):
        before = text[m.start() - 1] if m.start() else " "
        if not (before.isalnum() or before in "._"):
            return True
    return False


def _api_uses(
    text: str, rel: str, found: FileImports, tree: ast.Module | None = None
) -> list[ApiUse]:
    """Versioned API uses (repro/scan/api.py) in one file.

    The API rules need the whole file's tree, and most files were parsed only where they
    import: a file is parsed whole only when one of its imports is itself a rule's path,
    or the text spells a rule's path through a name an import binds (``np.float``,
    ``tf.contrib``, ``F.scaled_dot_product_attention``): the same references api.detect
    resolves, so the search is never narrower than the rules.
    """
    tree = tree or found.tree
    if tree is not None:
        return api.detect(tree, rel)
    rule_modules = apirules.modules()
    names = {k: v for k, v in found.aliases.items() if v.split(".")[0] in rule_modules}
    if not names:
        return []
    hit = any(_import_hits(v) for v in names.values()) or any(
        _import_hits(site.module)
        for site in found.sites
        if site.module.split(".")[0] in rule_modules
    )
    if not hit:
        tops = frozenset(v.split(".")[0] for v in names.values())
        hit = any(needle in text for needle in _attribute_needles(tops))
    if not hit:
        for alias, qualified in names.items():
            pattern = _alias_use(alias, qualified)
            if pattern is not None and _spells(pattern, alias, text):
                hit = True
                break
    if not hit:
        return []
    try:
        tree = ast.parse(text, filename=rel)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return api.detect(tree, rel)


def _notebook(
    root: Path,
    rel: str,
    sites: list[ImportSite],
    out: decl.Declared,
    conda_map: dict[str, Any],
    api_uses: list[ApiUse],
    era: pyera.Era,
) -> None:
    text = read_text(root / rel)
    if text is None:
        out.warnings.append(f"{rel}: unreadable notebook, skipped")
        return
    nb = read_notebook(text)
    if nb.error:
        out.warnings.append(f"{rel}: {nb.error}, skipped")
        return
    era.notebook(rel, nb.kernel, nb.python_version)
    trees = []
    for cell, code in nb.code:
        found = scan_source(code, rel, whole=True)
        if found.tree is not None:
            trees.append((cell, found.tree))
        else:
            era.cell(rel, cell, code, found)
        for site in found.sites:
            origin = Origin(kind="notebook", path=rel, line=cell, detail=f"cell {cell}")
            sites.append(
                ImportSite(
                    module=site.module, origin=origin, optional=site.optional, scope=site.scope
                )
            )
    names = api.merged_aliases(tree for _, tree in trees)
    for cell, tree in trees:
        api_uses += api.detect(tree, rel, names=names, cell=cell)
    installs = [(cell, f"pip install {args}") for cell, args in nb.pip_installs]
    installs += [(cell, f"conda install {args}") for cell, args in nb.conda_installs]
    for cell, line in installs:
        for command in find_commands(line, cell):
            hint_files.add_command(
                root, rel, command, "notebook", out, conda_map,
                detail=f"cell {cell}: {command.tool} install",
            )  # fmt: skip


def _is_test_file(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1]
    return name.startswith("test_") or name.endswith("_test.py") or "tests" in parts[:-1]


def local_modules(
    files: RepoFiles, sys_path_dirs: list[str], hints: list[Hint] | None = None
) -> set[str]:
    """Top-level names the repository itself provides, from anywhere a script may import.

    A script run as ``python dir/script.py`` imports its siblings, so every folder that
    holds Python code is a root, as are ``src/``, folders added to ``sys.path`` or
    PYTHONPATH, package folders that packaging files name, and extension modules that
    setup.py builds (``Extension("nms_cuda", ...)``) or that ship as ``.pyx``/``.so``.
    """
    names: set[str] = set()
    py_files = set(files.python)
    code_dirs = {posixpath.dirname(p) for p in files.python}
    code_dirs |= {posixpath.dirname(p) for p in files.notebooks}
    # A folder with __init__.py is a package: its modules are imported through it, not
    # as top-level names; any other folder of code is a folder of scripts.
    script_dirs = {d for d in code_dirs if posixpath.join(d, "__init__.py") not in py_files}
    roots = {"", "src"} | script_dirs
    roots |= {"" if d == "." else d for d in sys_path_dirs}
    for hint in hints or ():
        if hint.topic == "package-dir":
            roots.add("" if hint.value == "." else hint.value)
        elif hint.topic == "local-module":
            names.add(hint.value)
    for path in [*files.python, *files.extension_sources]:
        parts = path.split("/")
        # the file's folder and each folder above it: a root there makes the next part
        # a top-level name (a module when it is the file itself)
        for depth in range(len(parts)):
            if "/".join(parts[:depth]) in roots:
                first = parts[depth]
                names.add(first.split(".")[0] if depth == len(parts) - 1 else first)
    for path in files.notebooks:
        names.add(PurePosixPath(path).stem)
    names.discard("__init__")
    return {n for n in names if n.isidentifier()}
