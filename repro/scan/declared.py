"""Declared dependencies in packaging files, read statically (nothing is executed).

setup.py by AST: ``install_requires``/``extras_require``/``python_requires`` given as
literals, as names assigned elsewhere in the file, or read from a requirements file.
setup.cfg, pyproject.toml (PEP 621 and Poetry), conda environment files and
``.python-version`` / ``runtime.txt``.
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from repro.models import DeclaredRequirement, Hint, Origin, PythonHint
from repro.scan import requirements as reqs
from repro.scan.files import read_text

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


# --------------------------------------------------------------------------- setup.py


def read_setup_py(root: Path, rel: str) -> Declared:
    out = Declared()
    text = read_text(root / rel)
    if text is None:
        return out
    try:
        tree = ast.parse(text, filename=rel)
    except (SyntaxError, ValueError):
        out.warnings.append(f"{rel}: not valid Python 3, read for requirement files only")
        _requirement_files_named(root, rel, text, out)
        return out
    assigned = _assignments(tree)
    call = _setup_call(tree)
    if call is None:
        return out
    for kw in call.keywords:
        origin = Origin(kind="setup.py", path=rel, line=kw.value.lineno, detail=kw.arg or "")
        if kw.arg == "install_requires":
            values = _strings(kw.value, assigned)
            if values is None:
                _requirement_files_named(root, rel, text, out)
            else:
                for value in values:
                    _add_requirement(out, value, origin)
        elif kw.arg == "extras_require":
            for group, values in _extras(kw.value, assigned).items():
                for value in values:
                    _add_requirement(out, value, origin, optional=True, group=group)
        elif kw.arg == "python_requires":
            values = _strings(kw.value, assigned)
            if values:
                out.python.append(PythonHint(specifier=values[0], origin=origin))
    return out


def _setup_call(tree: ast.Module) -> ast.Call | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = (
                f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            )
            if name == "setup":
                return node
    return None


def _assignments(tree: ast.Module) -> dict[str, ast.expr]:
    out: dict[str, ast.expr] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            out[node.target.id] = node.value
    return out


def _strings(node: ast.expr, assigned: dict[str, ast.expr], depth: int = 0) -> list[str] | None:
    """String values of a literal list/tuple/str, following names and ``+``; else None."""
    if depth > 5:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        out: list[str] = []
        for elt in node.elts:
            sub = _strings(elt, assigned, depth + 1)
            if sub is None:
                return None
            out += sub
        return out
    if isinstance(node, ast.Name) and node.id in assigned:
        return _strings(assigned[node.id], assigned, depth + 1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = _strings(node.left, assigned, depth + 1)
        right = _strings(node.right, assigned, depth + 1)
        return None if left is None or right is None else left + right
    return None


def _extras(node: ast.expr, assigned: dict[str, ast.expr]) -> dict[str, list[str]]:
    if isinstance(node, ast.Name) and node.id in assigned:
        node = assigned[node.id]
    out: dict[str, list[str]] = {}
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=False):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                out[key.value] = _strings(value, assigned) or []
    return out


def _requirement_files_named(root: Path, rel: str, text: str, out: Declared) -> None:
    """setup.py reads its requirements from a file: parse the files it names."""
    base = PurePosixPath(rel).parent
    for name in sorted(set(re.findall(r"['\"]([\w./-]*requirements[\w.-]*\.txt)['\"]", text))):
        target = (base / name).as_posix().lstrip("./")
        if (root / target).is_file():
            result = reqs.RequirementsResult()
            reqs.parse_file(root, target, result)
            out.requirements += result.requirements
            out.hints += result.hints
            out.warnings += result.warnings


# --------------------------------------------------------------------------- setup.cfg


def read_setup_cfg(root: Path, rel: str) -> Declared:
    out = Declared()
    text = read_text(root / rel)
    if text is None:
        return out
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=rel)
    except configparser.Error as exc:
        out.warnings.append(f"{rel}: not a valid setup.cfg ({exc.__class__.__name__}), skipped")
        return out
    if parser.has_option("options", "install_requires"):
        for value in _cfg_list(parser.get("options", "install_requires")):
            _add_requirement(
                out, value, Origin(kind="setup.cfg", path=rel, detail="install_requires")
            )
    if parser.has_section("options.extras_require"):
        for group, raw in parser.items("options.extras_require"):
            for value in _cfg_list(raw):
                origin = Origin(kind="setup.cfg", path=rel, detail=f"extras_require.{group}")
                _add_requirement(out, value, origin, optional=True, group=group)
    if parser.has_option("options", "python_requires"):
        spec = parser.get("options", "python_requires").strip()
        out.python.append(PythonHint(specifier=spec, origin=Origin(kind="setup.cfg", path=rel)))
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
    out = Declared()
    text = read_text(root / rel)
    if text is None:
        return out
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        out.warnings.append(f"{rel}: invalid TOML ({str(exc).splitlines()[0]}), skipped")
        return out
    project = doc.get("project")
    if isinstance(project, dict):
        for value in _as_list(project.get("dependencies")):
            _add_requirement(out, value, Origin(kind="pyproject", path=rel, detail="dependencies"))
        extras = project.get("optional-dependencies")
        for group, values in extras.items() if isinstance(extras, dict) else []:
            for value in _as_list(values):
                origin = Origin(kind="pyproject", path=rel, detail=f"optional-dependencies.{group}")
                _add_requirement(out, value, origin, optional=True, group=str(group))
        if isinstance(project.get("requires-python"), str):
            origin = Origin(kind="pyproject", path=rel, detail="requires-python")
            out.python.append(PythonHint(specifier=project["requires-python"], origin=origin))
    groups = doc.get("dependency-groups")
    for group, values in groups.items() if isinstance(groups, dict) else []:
        for value in _as_list(values):
            origin = Origin(kind="pyproject", path=rel, detail=f"dependency-groups.{group}")
            _add_requirement(out, value, origin, optional=True, group=str(group))
    poetry = doc.get("tool", {}).get("poetry") if isinstance(doc.get("tool"), dict) else None
    if isinstance(poetry, dict):
        _read_poetry(poetry, rel, out)
    return out


def _as_list(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _read_poetry(poetry: dict[str, Any], rel: str, out: Declared) -> None:
    sections: list[tuple[str, Any, bool]] = [("dependencies", poetry.get("dependencies"), False)]
    sections.append(("dev-dependencies", poetry.get("dev-dependencies"), True))
    for name, group in (poetry.get("group") or {}).items():
        if isinstance(group, dict):
            sections.append((f"group.{name}", group.get("dependencies"), True))
    for section, deps, optional in sections:
        if not isinstance(deps, dict):
            continue
        for name, spec in deps.items():
            origin = Origin(kind="pyproject", path=rel, detail=f"tool.poetry.{section}")
            version, extras, is_optional, url = _poetry_spec(spec)
            if name.lower() == "python":
                if version:
                    out.python.append(PythonHint(specifier=version, origin=origin))
                continue
            text = f"{name}[{','.join(extras)}]" if extras else name
            if url:
                text = f"{text} @ {url}"
            elif version:
                text += version
            _add_requirement(out, text, origin, optional=optional or is_optional)


def _poetry_spec(spec: Any) -> tuple[str, list[str], bool, str]:
    """A Poetry dependency value → (PEP 440 specifier, extras, optional, url)."""
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
            if len(nums) >= 2:
                parts += [f">={c[1:]}", f"<{nums[0]}.{int(nums[1]) + 1}"]
            else:
                parts += [f">={c[1:]}", f"<{int(nums[0]) + 1}"]
        elif c[0].isdigit():
            parts.append(f"=={c}")
        else:
            parts.append(c)
    return ",".join(parts)


# --------------------------------------------------------------------------- conda


@dataclass(frozen=True)
class CondaPackage:
    name: str
    version: str


def read_conda(root: Path, rel: str, conda_map: dict[str, Any]) -> Declared:
    """environment.yml: conda names mapped to PyPI names, ``pip:`` lines, ``python=``."""
    out = Declared()
    text = read_text(root / rel)
    if text is None:
        return out
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
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
                    else:
                        _add_requirement(out, item, origin)
        elif isinstance(dep, str):
            _conda_dependency(out, dep, rel, _line_of(lines, dep), conda_map)
    return out


def _line_of(lines: list[str], needle: str) -> int | None:
    for number, line in enumerate(lines, start=1):
        if needle in line:
            return number
    return None


def _conda_dependency(
    out: Declared, dep: str, rel: str, line: int | None, conda_map: dict[str, Any]
) -> None:
    spec = dep.split("::")[-1].strip()
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(?:([=<>!~]{1,2})?\s*([^\s=]*))?(?:=(\S+))?", spec)
    if not m:
        out.warnings.append(f"{rel}:{line}: cannot read conda dependency {dep!r}, skipped")
        return
    name, op, version = m.group(1).lower(), m.group(2) or "", m.group(3) or ""
    origin = Origin(kind="conda", path=rel, line=line, detail=dep)
    if name == "python":
        if version:
            out.python.append(PythonHint(specifier=_conda_spec(op, version), origin=origin))
        return
    entry = conda_map.get("packages", {}).get(name)
    if entry is None:
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
    if not text:
        return out
    m = re.search(r"(?:python-?)?(\d)\.(\d+)", text.strip().splitlines()[0])
    if m:
        origin = Origin(kind="python-version", path=rel, line=1)
        out.python.append(
            PythonHint(
                specifier=f"=={m.group(1)}.{m.group(2)}.*", origin=origin, strength="declared"
            )
        )
    return out
