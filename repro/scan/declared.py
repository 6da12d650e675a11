"""Declared dependencies in packaging files, read statically (nothing is executed).

setup.py by AST: ``install_requires``/``extras_require``/``python_requires`` given as
literals, as names assigned (and appended to) elsewhere in the file, passed through
``**kwargs``, or read from a requirements file by a helper function. setup.cfg,
pyproject.toml (PEP 621 with setuptools' dynamic files, Poetry, PDM, Flit, Hatch, PEP 735
groups), conda environment files and ``.python-version`` / ``runtime.txt``. Every value
keeps the line it was written on; the project's own name and package folders become hints
(they are the repository's modules, not PyPI packages).
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from repro.lazy import Deferred
from repro.models import DeclaredRequirement, EvidenceKind, Hint, Origin, PythonHint
from repro.scan import requirements as reqs
from repro.scan.files import read_or_warn, read_text, relative_inside

if TYPE_CHECKING:
    import yaml
else:  # imported when a YAML file is read (most repositories have none)

    def _import_yaml() -> ModuleType:
        import yaml

        return yaml

    yaml = Deferred(_import_yaml)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass
class Declared:
    requirements: list[DeclaredRequirement] = field(default_factory=list)
    python: list[PythonHint] = field(default_factory=list)
    hints: list[Hint] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: Declared) -> None:
        self.requirements += other.requirements
        self.python += other.python
        self.hints += other.hints
        self.warnings += other.warnings


def _add_requirement(
    out: Declared, text: str, origin: Origin, *, optional: bool = False, group: str = ""
) -> None:
    req = reqs.parse_requirement(text, origin, optional=optional)
    if isinstance(req, str):
        out.warnings.append(f"{origin}: {req}, skipped")
        return
    if group:
        req = DeclaredRequirement(
            requirement=req.requirement,
            name=req.name,
            origin=req.origin,
            optional=req.optional,
            editable=req.editable,
            group=group,
        )
    out.requirements.append(req)


class Lines:
    """Finds the line a value was written on, for origins of parsed TOML/INI/YAML files."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def section(self, *headers: str) -> int:
        """0-based index of the first ``[header]`` line found, else 0."""
        for header in headers:
            pattern = re.compile(r"^\s*\[+\s*" + re.escape(header) + r"\s*\]+\s*(#.*)?$")
            for i, line in enumerate(self.lines):
                if pattern.match(line):
                    return i
        return 0

    def find(self, needle: str, start: int = 0) -> int | None:
        """1-based line of the first line at or after ``start`` holding ``needle``."""
        if not needle:
            return None
        for i in range(start, len(self.lines)):
            if needle in self.lines[i]:
                return i + 1
        for i in range(0, min(start, len(self.lines))):
            if needle in self.lines[i]:
                return i + 1
        return None

    def key(self, key: str, start: int = 0) -> int | None:
        pattern = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*[=:]")
        for i in range(start, len(self.lines)):
            if pattern.match(self.lines[i]):
                return i + 1
        return None


def _project_name(out: Declared, name: Any, origin: Origin) -> None:
    if isinstance(name, str) and name.strip():
        out.hints.append(Hint(topic="project-name", value=name.strip(), origin=origin))


def _package_dir(out: Declared, path: Any, origin: Origin) -> None:
    if isinstance(path, str) and path.strip() and not path.startswith("/"):
        value = path.strip().strip("/") or "."
        out.hints.append(Hint(topic="package-dir", value=value, origin=origin))


# --------------------------------------------------------------------------- setup.py

_SETUP_GROUPS = {
    "install_requires": ("", False),
    "requires": ("", False),  # distutils
    "extras_require": ("extras", True),
    "tests_require": ("tests_require", True),
    "setup_requires": ("setup_requires", True),
}
_EXTENSION_CALLS = ("Extension", "CUDAExtension", "CppExtension", "Pybind11Extension")


def read_setup_py(root: Path, rel: str) -> Declared:
    """setup.py by AST: literals, names, list mutations, helpers reading requirement files."""
    out = Declared()
    text = read_or_warn(root, rel, out.warnings)
    if text is None:
        return out
    try:
        tree = ast.parse(text, filename=rel)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        out.warnings.append(f"{rel}: not valid Python 3, read by pattern")
        _setup_by_pattern(root, rel, text, out)
        return out
    env = _Env(tree)
    kwargs = _setup_kwargs(tree, env)
    for key, expr in kwargs.items():
        origin = Origin(kind="setup.py", path=rel, line=getattr(expr, "lineno", None), detail=key)
        if key in ("install_requires", "requires", "tests_require", "setup_requires"):
            group, optional = _SETUP_GROUPS[key]
            if key in ("tests_require", "setup_requires"):
                group = key
            values = env.strings(expr)
            if values is None:
                files = env.files(expr)
                if not _read_named_files(root, rel, files, out, optional=optional):
                    _requirement_files_named(root, rel, text, out)
            else:
                for value in values:
                    _add_requirement(out, value, origin, optional=optional, group=group)
        elif key == "extras_require":
            for group, values in env.extras(expr).items():
                for value in values:
                    _add_requirement(out, value, origin, optional=True, group=group)
        elif key == "python_requires":
            values = env.strings(expr)
            if values:
                out.python.append(PythonHint(specifier=values[0], origin=origin))
        elif key == "name":
            values = env.strings(expr)
            _project_name(out, values[0] if values else None, origin)
        elif key == "package_dir" and isinstance(expr, ast.Dict):
            for k, v in zip(expr.keys, expr.values, strict=False):
                if isinstance(k, ast.Constant) and k.value == "" and isinstance(v, ast.Constant):
                    _package_dir(out, v.value, origin)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            _setup_call_facts(node, rel, out)
    return out


def _setup_call_facts(node: ast.Call, rel: str, out: Declared) -> None:
    """Extension modules built from the repository, and ``find_packages(where=...)``."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    origin = Origin(kind="setup.py", path=rel, line=node.lineno, detail=name)
    if name.endswith(_EXTENSION_CALLS):
        arg: ast.expr | None = node.args[0] if node.args else None
        for kw in node.keywords:
            if kw.arg == "name":
                arg = kw.value
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value:
            top = arg.value.split(".")[0]
            out.hints.append(Hint(topic="local-module", value=top, origin=origin))
    elif name in ("find_packages", "find_namespace_packages"):
        where = node.args[0] if node.args else None
        for kw in node.keywords:
            if kw.arg == "where":
                where = kw.value
        if isinstance(where, ast.Constant):
            _package_dir(out, where.value, origin)


def _setup_kwargs(tree: ast.Module, env: _Env) -> dict[str, ast.expr]:
    """Keywords of the ``setup(...)`` call, with ``**kwargs`` dicts expanded."""
    call = None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = (
                f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            )
            if name == "setup":
                call = node
                break
    out: dict[str, ast.expr] = {}
    if call is None:
        return out
    for kw in call.keywords:
        if kw.arg is None:
            out.update(env.dict_items(kw.value))
        else:
            out[kw.arg] = kw.value
    return out


class _Env:
    """What a setup.py assigns, read statically: names, list mutations, helper functions."""

    def __init__(self, tree: ast.Module) -> None:
        self.assigned: dict[str, ast.expr] = {}
        self.added: dict[str, list[ast.expr]] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        self.items: dict[str, dict[str, ast.expr]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.assigned.setdefault(target.id, node.value)
                    elif (
                        isinstance(target, ast.Subscript)
                        and isinstance(target.value, ast.Name)
                        and isinstance(target.slice, ast.Constant)
                        and isinstance(target.slice.value, str)
                    ):
                        self.items.setdefault(target.value.id, {})[target.slice.value] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                if node.value is not None:
                    self.assigned.setdefault(node.target.id, node.value)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                if isinstance(node.op, ast.Add):
                    self.added.setdefault(node.target.id, []).append(node.value)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if isinstance(owner, ast.Name) and node.args:
                    if node.func.attr == "append":
                        self.added.setdefault(owner.id, []).append(ast.List(elts=[node.args[0]]))
                    elif node.func.attr == "extend":
                        self.added.setdefault(owner.id, []).append(node.args[0])
                    elif node.func.attr == "insert" and len(node.args) == 2:
                        self.added.setdefault(owner.id, []).append(ast.List(elts=[node.args[1]]))
            elif isinstance(node, ast.FunctionDef):
                self.functions[node.name] = node

    def strings(self, node: ast.expr, depth: int = 0) -> list[str] | None:
        """String values of an expression, or None when it is not statically known."""
        if depth > 8:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            out: list[str] = []
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    elt = elt.value
                sub = self.strings(elt, depth + 1)
                if sub is None:
                    return None
                out += sub
            return out
        if isinstance(node, ast.Name) and node.id in self.assigned:
            base = self.strings(self.assigned[node.id], depth + 1)
            if base is None:
                return None
            for extra in self.added.get(node.id, []):
                more = self.strings(extra, depth + 1)
                if more is None:
                    return None
                base = base + more
            return base
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left = self.strings(node.left, depth + 1)
            right = self.strings(node.right, depth + 1)
            return None if left is None or right is None else left + right
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)) and len(node.generators) == 1:
            return self.strings(node.generators[0].iter, depth + 1)
        if isinstance(node, ast.Call):
            func = node.func
            fname = func.id if isinstance(func, ast.Name) else ""
            if fname in ("list", "sorted", "set", "tuple") and len(node.args) == 1:
                return self.strings(node.args[0], depth + 1)
            if isinstance(func, ast.Attribute) and func.attr in ("split", "splitlines"):
                inner = self.strings(func.value, depth + 1)
                if inner is not None:
                    return [p.strip() for s in inner for p in s.split() if p.strip()]
        return None

    def extras(self, node: ast.expr) -> dict[str, list[str]]:
        if isinstance(node, ast.Name):
            name = node.id
            out = {k: v for k, v in self._dict(self.assigned.get(name)).items()}
            for key, value in self.items.get(name, {}).items():
                out[key] = value
            node_items = out
        else:
            node_items = self._dict(node)
        result: dict[str, list[str]] = {}
        for group, value in node_items.items():
            result[group] = self.strings(value) or []
        return result

    def _dict(self, node: ast.expr | None) -> dict[str, ast.expr]:
        out: dict[str, ast.expr] = {}
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=False):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    out[key.value] = value
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "dict":
            for kw in node.keywords:
                if kw.arg:
                    out[kw.arg] = kw.value
        return out

    def dict_items(self, node: ast.expr) -> dict[str, ast.expr]:
        """A ``**kwargs`` argument: a dict literal, ``dict(...)`` or a name bound to one."""
        if isinstance(node, ast.Name):
            out = self._dict(self.assigned.get(node.id))
            out.update(self.items.get(node.id, {}))
            return out
        return self._dict(node)

    def files(self, node: ast.expr) -> list[str]:
        """Requirement files an expression reads, following helper functions it calls."""
        found: list[str] = []
        seen: set[str] = set()
        todo: list[ast.AST] = [node]
        while todo:
            current = todo.pop()
            for sub in ast.walk(current):
                if isinstance(sub, ast.Call):
                    fname = getattr(sub.func, "id", "") or getattr(sub.func, "attr", "")
                    if fname in ("join", "Path") and sub.args:
                        parts = [self.strings(a) for a in sub.args]
                        consts = [p[0] for p in parts if p and len(p) == 1]
                        if consts and _looks_like_requirements(consts[-1]):
                            found.append("/".join(consts))
                    if fname in self.functions and fname not in seen:
                        seen.add(fname)
                        todo.append(self.functions[fname])
                elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    if _looks_like_requirements(sub.value):
                        found.append(sub.value)
                elif isinstance(sub, ast.Name) and sub.id in self.assigned and sub.id not in seen:
                    seen.add(sub.id)
                    todo.append(self.assigned[sub.id])
        return list(dict.fromkeys(found))


def _looks_like_requirements(value: str) -> bool:
    lower = value.lower()
    return lower.endswith((".txt", ".in", ".pip")) and "\n" not in value and len(value) < 200


def _read_named_files(
    root: Path, rel: str, names: list[str], out: Declared, *, optional: bool = False
) -> bool:
    base = PurePosixPath(rel).parent
    read_any = False
    for name in names:
        for candidate in ((base / name).as_posix(), name):
            target = relative_inside(candidate) or None
            if target and (root / target).is_file():
                result = reqs.RequirementsResult()
                reqs.parse_file(root, target, result)
                for req in result.requirements:
                    if optional and not req.optional:
                        req = DeclaredRequirement(
                            requirement=req.requirement,
                            name=req.name,
                            origin=req.origin,
                            optional=True,
                            editable=req.editable,
                            group=req.group,
                        )
                    out.requirements.append(req)
                out.hints += result.hints
                out.warnings += result.warnings
                read_any = True
                break
    return read_any


def _requirement_files_named(root: Path, rel: str, text: str, out: Declared) -> None:
    """setup.py reads its requirements from a file: parse the files it names."""
    names = sorted(set(re.findall(r"['\"]([\w./-]*requirements[\w.-]*\.txt)['\"]", text)))
    _read_named_files(root, rel, names, out)


_PATTERN_INSTALL = re.compile(r"install_requires\s*=\s*\[([^\]]*)\]", re.S)


def _setup_by_pattern(root: Path, rel: str, text: str, out: Declared) -> None:
    """A setup.py only Python 2 can parse: literal ``install_requires=[...]`` lists."""
    for m in _PATTERN_INSTALL.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        origin = Origin(kind="setup.py", path=rel, line=line, detail="install_requires")
        for value in re.findall(r"['\"]([^'\"]+)['\"]", m.group(1)):
            _add_requirement(out, value, origin)
    _requirement_files_named(root, rel, text, out)


# --------------------------------------------------------------------------- setup.cfg


def read_setup_cfg(root: Path, rel: str) -> Declared:
    out = Declared()
    text = read_or_warn(root, rel, out.warnings)
    if text is None:
        return out
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text, source=rel)
    except configparser.Error as exc:
        out.warnings.append(f"{rel}: not a valid setup.cfg ({exc.__class__.__name__}), skipped")
        return out
    lines = Lines(text)
    options = lines.section("options")
    groups: list[tuple[str, str, str, bool]] = [
        ("options", "install_requires", "", False),
        ("options", "tests_require", "tests_require", True),
        ("options", "setup_requires", "setup_requires", True),
    ]
    if parser.has_section("options.extras_require"):
        groups += [
            ("options.extras_require", g, g, True) for g in parser.options("options.extras_require")
        ]
    for section, key, group, optional in groups:
        if not parser.has_option(section, key):
            continue
        start = lines.section(section)
        key_line = lines.key(key, start) or start + 1
        for value in _cfg_list(parser.get(section, key)):
            line = lines.find(value, key_line - 1)
            detail = key if section == "options" else f"extras_require.{key}"
            origin = Origin(kind="setup.cfg", path=rel, line=line, detail=detail)
            if value.startswith("file:"):
                names = [n.strip() for n in value[5:].split(",")]
                _read_named_files(root, rel, names, out, optional=optional)
                continue
            _add_requirement(out, value, origin, optional=optional, group=group)
    if parser.has_option("options", "python_requires"):
        spec = parser.get("options", "python_requires").strip()
        line = lines.key("python_requires", options)
        out.python.append(
            PythonHint(specifier=spec, origin=Origin(kind="setup.cfg", path=rel, line=line))
        )
    if parser.has_option("metadata", "name"):
        line = lines.key("name", lines.section("metadata"))
        _project_name(
            out, parser.get("metadata", "name"), Origin(kind="setup.cfg", path=rel, line=line)
        )
    if parser.has_option("options", "package_dir"):
        for item in _cfg_list(parser.get("options", "package_dir")):
            key, _, value = item.partition("=")
            if not key.strip() and value.strip():
                _package_dir(
                    out, value.strip(), Origin(kind="setup.cfg", path=rel, detail="package_dir")
                )
    if parser.has_option("options.packages.find", "where"):
        _package_dir(
            out,
            parser.get("options.packages.find", "where").strip(),
            Origin(kind="setup.cfg", path=rel, detail="packages.find"),
        )
    return out


def _cfg_list(raw: str) -> list[str]:
    items = []
    for line in raw.replace(";", "\n;").splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith(";"):
            items.append(line)
    return items


# --------------------------------------------------------------------------- pyproject


def read_pyproject(root: Path, rel: str) -> Declared:
    """PEP 621 with setuptools' ``dynamic`` files, Poetry, PDM, Flit (old metadata), Hatch
    environments, and PEP 735 dependency groups."""
    out = Declared()
    text = read_or_warn(root, rel, out.warnings)
    if text is None:
        return out
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
        out.warnings.append(f"{rel}: invalid TOML ({str(exc).splitlines()[0]}), skipped")
        return out
    lines = Lines(text)
    tool = doc.get("tool") if isinstance(doc.get("tool"), dict) else {}
    assert isinstance(tool, dict)
    project = doc.get("project")
    if isinstance(project, dict):
        start = lines.section("project")
        _list_section(out, rel, lines, project.get("dependencies"), start, "dependencies")
        extras = project.get("optional-dependencies")
        estart = lines.section("project.optional-dependencies")
        for group, values in extras.items() if isinstance(extras, dict) else []:
            _list_section(
                out,
                rel,
                lines,
                values,
                estart or start,
                f"optional-dependencies.{group}",
                optional=True,
                group=str(group),
            )
        if isinstance(project.get("requires-python"), str):
            origin = Origin(
                kind="pyproject",
                path=rel,
                line=lines.key("requires-python", start),
                detail="requires-python",
            )
            out.python.append(PythonHint(specifier=project["requires-python"], origin=origin))
        _project_name(
            out,
            project.get("name"),
            Origin(kind="pyproject", path=rel, line=lines.key("name", start)),
        )
        _setuptools_dynamic(root, rel, tool, project, out)
    groups = doc.get("dependency-groups")
    gstart = lines.section("dependency-groups")
    for group, values in groups.items() if isinstance(groups, dict) else []:
        _list_section(
            out,
            rel,
            lines,
            values,
            gstart,
            f"dependency-groups.{group}",
            optional=True,
            group=str(group),
        )
    poetry = tool.get("poetry")
    if isinstance(poetry, dict):
        _read_poetry(poetry, rel, out, lines)
    _read_pdm(tool.get("pdm"), rel, out, lines)
    _read_flit(tool.get("flit"), rel, out, lines)
    _read_hatch(tool.get("hatch"), rel, out, lines)
    setuptools = tool.get("setuptools")
    if isinstance(setuptools, dict):
        pkg_dir = setuptools.get("package-dir")
        if isinstance(pkg_dir, dict):
            _package_dir(
                out, pkg_dir.get(""), Origin(kind="pyproject", path=rel, detail="package-dir")
            )
        find = (
            (setuptools.get("packages") or {})
            if isinstance(setuptools.get("packages"), dict)
            else {}
        )
        where = find.get("find", {}).get("where") if isinstance(find.get("find"), dict) else None
        for w in where if isinstance(where, list) else []:
            _package_dir(out, w, Origin(kind="pyproject", path=rel, detail="packages.find"))
    return out


def _list_section(
    out: Declared,
    rel: str,
    lines: Lines,
    values: Any,
    start: int,
    detail: str,
    *,
    optional: bool = False,
    group: str = "",
) -> None:
    for value in _as_list(values):
        line = lines.find(f'"{value}"', start) or lines.find(f"'{value}'", start)
        origin = Origin(kind="pyproject", path=rel, line=line, detail=detail)
        _add_requirement(out, value, origin, optional=optional, group=group)


def _setuptools_dynamic(
    root: Path, rel: str, tool: dict[str, Any], project: dict[str, Any], out: Declared
) -> None:
    """``dynamic = ["dependencies"]`` read from ``[tool.setuptools.dynamic]`` files."""
    dynamic = project.get("dynamic")
    if not isinstance(dynamic, list):
        return
    setuptools = tool.get("setuptools") if isinstance(tool.get("setuptools"), dict) else {}
    spec = setuptools.get("dynamic") if isinstance(setuptools, dict) else None
    if not isinstance(spec, dict):
        return
    deps = spec.get("dependencies")
    if "dependencies" in dynamic and isinstance(deps, dict):
        files = deps.get("file")
        names = [files] if isinstance(files, str) else _as_list(files)
        _read_named_files(root, rel, names, out)
    extras = spec.get("optional-dependencies")
    if "optional-dependencies" in dynamic and isinstance(extras, dict):
        for value in extras.values():
            files = value.get("file") if isinstance(value, dict) else None
            names = [files] if isinstance(files, str) else _as_list(files)
            _read_named_files(root, rel, names, out, optional=True)


def _as_list(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _read_poetry(poetry: dict[str, Any], rel: str, out: Declared, lines: Lines) -> None:
    _project_name(
        out, poetry.get("name"), Origin(kind="pyproject", path=rel, detail="tool.poetry.name")
    )
    sections: list[tuple[str, Any, bool]] = [("dependencies", poetry.get("dependencies"), False)]
    sections.append(("dev-dependencies", poetry.get("dev-dependencies"), True))
    groups = poetry.get("group")
    for name, group in groups.items() if isinstance(groups, dict) else []:
        if isinstance(group, dict):
            sections.append((f"group.{name}", group.get("dependencies"), True))
    for section, deps, optional in sections:
        if not isinstance(deps, dict):
            continue
        start = lines.section(f"tool.poetry.{section}", f"tool.poetry.{section}.dependencies")
        for name, spec in deps.items():
            line = lines.key(str(name), start)
            origin = Origin(kind="pyproject", path=rel, line=line, detail=f"tool.poetry.{section}")
            version, extras, is_optional, url = _poetry_spec(spec)
            if str(name).lower() == "python":
                if version:
                    out.python.append(PythonHint(specifier=version, origin=origin))
                continue
            text = f"{name}[{','.join(extras)}]" if extras else str(name)
            if url:
                text = f"{text} @ {url}"
            elif version:
                text += version
            _add_requirement(out, text, origin, optional=optional or is_optional)


def _read_pdm(pdm: Any, rel: str, out: Declared, lines: Lines) -> None:
    """PDM keeps runtime dependencies in [project]; dev groups are optional."""
    if not isinstance(pdm, dict):
        return
    dev = pdm.get("dev-dependencies")
    start = lines.section("tool.pdm.dev-dependencies")
    for group, values in dev.items() if isinstance(dev, dict) else []:
        _list_section(
            out,
            rel,
            lines,
            values,
            start,
            f"tool.pdm.dev-dependencies.{group}",
            optional=True,
            group=str(group),
        )


def _read_flit(flit: Any, rel: str, out: Declared, lines: Lines) -> None:
    """Flit's pre-PEP 621 ``[tool.flit.metadata]``: requires, requires-extra, requires-python."""
    if not isinstance(flit, dict) or not isinstance(flit.get("metadata"), dict):
        return
    meta = flit["metadata"]
    start = lines.section("tool.flit.metadata")
    _list_section(out, rel, lines, meta.get("requires"), start, "tool.flit.metadata.requires")
    extras = meta.get("requires-extra")
    for group, values in extras.items() if isinstance(extras, dict) else []:
        _list_section(
            out,
            rel,
            lines,
            values,
            start,
            f"tool.flit.metadata.requires-extra.{group}",
            optional=True,
            group=str(group),
        )
    if isinstance(meta.get("requires-python"), str):
        origin = Origin(kind="pyproject", path=rel, line=lines.key("requires-python", start))
        out.python.append(PythonHint(specifier=meta["requires-python"], origin=origin))
    _project_name(
        out, meta.get("dist-name") or meta.get("module"), Origin(kind="pyproject", path=rel)
    )


def _read_hatch(hatch: Any, rel: str, out: Declared, lines: Lines) -> None:
    """Hatch environments add tools for development: optional."""
    envs = hatch.get("envs") if isinstance(hatch, dict) else None
    for env, table in envs.items() if isinstance(envs, dict) else []:
        if not isinstance(table, dict):
            continue
        start = lines.section(f"tool.hatch.envs.{env}")
        for key in ("dependencies", "extra-dependencies"):
            _list_section(
                out,
                rel,
                lines,
                table.get(key),
                start,
                f"tool.hatch.envs.{env}.{key}",
                optional=True,
                group=f"hatch.{env}",
            )


def _poetry_spec(spec: Any) -> tuple[str, list[str], bool, str]:
    """A Poetry dependency value → (PEP 440 specifier, extras, optional, url)."""
    if isinstance(spec, list):  # multiple constraints by marker: take the first
        spec = spec[0] if spec else ""
    if isinstance(spec, str):
        return poetry_constraint(spec), [], False, ""
    if isinstance(spec, dict):
        url = ""
        if "git" in spec:
            url = f"git+{spec['git']}"
            rev = spec.get("rev") or spec.get("tag") or spec.get("branch")
            url += f"@{rev}" if rev else ""
        elif "url" in spec:
            url = str(spec["url"])
        elif "path" in spec:
            return "", [], True, ""
        version = poetry_constraint(str(spec.get("version", "")))
        extras = [str(e) for e in spec.get("extras", []) if isinstance(e, str)]
        return version, extras, bool(spec.get("optional")), url
    return "", [], False, ""


def poetry_constraint(text: str) -> str:
    """Poetry's ``^1.2``, ``~1.2``, ``1.2.*``, ``*`` → a PEP 440 specifier set."""
    parts = []
    for raw in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", text.strip()):
        c = raw.strip()
        if not c or c == "*":
            continue
        if c.startswith("^"):
            nums = c[1:].split(".")
            digits = [int(n) if n.isdigit() else 0 for n in nums]
            idx = next((i for i, d in enumerate(digits) if d != 0), len(digits) - 1)
            upper = digits[: idx + 1]
            upper[-1] += 1
            parts += [f">={c[1:]}", f"<{'.'.join(map(str, upper))}"]
        elif c.startswith("~") and not c.startswith("~="):
            nums = c[1:].split(".")
            if len(nums) >= 2 and nums[1].isdigit():
                parts += [f">={c[1:]}", f"<{nums[0]}.{int(nums[1]) + 1}"]
            elif nums[0].isdigit():
                parts += [f">={c[1:]}", f"<{int(nums[0]) + 1}"]
        elif c[0].isdigit():
            parts.append(f"=={c}")
        else:
            parts.append(c)
    return ",".join(parts)


# --------------------------------------------------------------------------- conda


def read_conda(root: Path, rel: str, conda_map: dict[str, Any]) -> Declared:
    """environment.yml: conda names mapped to PyPI names, ``pip:`` lines, ``python=``."""
    out = Declared()
    text = read_or_warn(root, rel, out.warnings)
    if text is None:
        return out
    try:
        doc = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        out.warnings.append(f"{rel}: invalid YAML ({exc.__class__.__name__}), skipped")
        return out
    deps = doc.get("dependencies") if isinstance(doc, dict) else None
    if not isinstance(deps, list):
        return out
    lines = text.splitlines()
    for dep in deps:
        if isinstance(dep, dict) and isinstance(dep.get("pip"), list):
            for item in dep["pip"]:
                if isinstance(item, str):
                    line = _line_of(lines, item)
                    origin = Origin(kind="conda", path=rel, line=line, detail="pip")
                    if item.startswith("-"):
                        parsed = reqs.parse_text(item, rel)
                        out.hints += parsed.hints
                        if item.startswith(("-r", "--requirement")):
                            name = item.split(None, 1)[-1] if " " in item else item[2:]
                            _read_named_files(root, rel, [name.strip()], out)
                    else:
                        _add_requirement(out, item, origin)
        elif isinstance(dep, (str, int, float)):
            conda_dependency(out, str(dep), rel, _line_of(lines, str(dep)), conda_map)
    return out


def _line_of(lines: list[str], needle: str) -> int | None:
    item = re.compile(r"^\s*-\s*['\"]?" + re.escape(needle))
    for number, line in enumerate(lines, start=1):
        if item.match(line):
            return number
    for number, line in enumerate(lines, start=1):
        if needle in line:
            return number
    return None


_CONDA_SPEC = re.compile(r"^([A-Za-z0-9_.\-]+)\s*(?:([=<>!~]{1,2})?\s*([^\s=,]*))?(?:=(\S+))?")


def conda_dependency(
    out: Declared,
    dep: str,
    rel: str,
    line: int | None,
    conda_map: dict[str, Any],
    *,
    kind: EvidenceKind = "conda",
) -> None:
    """One conda package spec (``pytorch=1.4``, ``conda-forge::opencv``, ``numpy=1.19=py37_0``)."""
    spec = dep.split("::")[-1].strip().strip("'\"")
    m = _CONDA_SPEC.match(spec)
    if not m:
        out.warnings.append(f"{rel}:{line}: cannot read conda dependency {dep!r}, skipped")
        return
    name, op, version, build = (
        m.group(1).lower(),
        m.group(2) or "",
        m.group(3) or "",
        m.group(4) or "",
    )
    origin = Origin(kind=kind, path=rel, line=line, detail=dep)
    strength: Literal["declared", "hint"] = "declared" if kind in ("conda", "notebook") else "hint"
    if name == "python":
        if version:
            out.python.append(
                PythonHint(specifier=_conda_spec(op, version), origin=origin, strength=strength)
            )
        return
    for prefix, about in (conda_map.get("prefixes") or {}).items():
        if name.startswith(prefix) and isinstance(about, dict):  # r-base, r-digest: R's
            out.warnings.append(
                f"{origin}: {about.get('language', 'another language')} package {name} is "
                "not installed: repro builds Python environments"
            )
            return
    entry = conda_map.get("packages", {}).get(name)
    if entry is None:
        # A conda package conda_map does not know: a Python package when its build string
        # says so (py37h..., pyhd3eb1b0_0), a system library when it has another build string
        # or a lib* name; otherwise the declared name is taken as the PyPI name.
        if (build and not build.startswith("py")) or name.startswith("lib"):
            out.hints.append(Hint(topic="system-package", value=name, origin=origin))
            return
        pypi = name
    elif isinstance(entry, dict):
        if entry.get("hint"):
            out.hints.append(Hint(topic=str(entry["hint"]), value=version, origin=origin))
        if not entry.get("pypi"):
            return
        pypi = str(entry["pypi"])
    else:
        pypi = str(entry)
    spec_text = _conda_spec(op, version) if version else ""
    _add_requirement(out, f"{pypi}{spec_text}", origin)


def _conda_spec(op: str, version: str) -> str:
    """conda ``=1.4`` means 1.4.*; ``==1.4.0`` exact; ``>=`` etc. as in PEP 440."""
    version = version.rstrip("*").rstrip(".")
    if not version:
        return ""
    if op in ("", "="):
        return f"=={version}.*" if version.count(".") < 2 else f"=={version}"
    return f"{op}{version}"


# --------------------------------------------------------------------------- python version files


def read_python_version_file(root: Path, rel: str) -> Declared:
    out = Declared()
    text = read_text(root / rel)
    if not text or not text.strip():
        return out
    # "3.8.5", "python-3.7", "python-3" (Binder: that major's default), "python-3.7-2020-01-01";
    # never "r-4.1" (another language's runtime) or "pypy3.9"
    m = _VERSION_LINE.match(text.strip().splitlines()[0].strip())
    if m:
        origin = Origin(kind="python-version", path=rel, line=1)
        version = f"{m.group(1)}.{m.group(2)}" if m.group(2) else m.group(1)
        out.python.append(
            PythonHint(specifier=f"=={version}.*", origin=origin, strength="declared")
        )
    return out


_VERSION_LINE = re.compile(r"(?:python-?)?([23])(?:\.(\d+))?(?:[.\-\s/]|$)")
