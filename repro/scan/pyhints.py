"""Python versions a repository names outside its ``python_requires``: trove classifiers,
tox envlists and CI matrices (pure, read-only).

Each of these lists the versions the authors ran the code on. repro turns a list into the
range it spans (``3.6``, ``3.7`` → ``>=3.6,<3.8``) and keeps it as a weak hint: it narrows
the choice only where stronger evidence (``python_requires``, syntax) leaves room.
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from repro.lazy import Deferred
from repro.models import Origin, PythonHint
from repro.scan.files import RepoFiles, read_text

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

_CLASSIFIER = re.compile(r"Programming Language :: Python :: (\d)\.(\d+)\s*$")
_TOX_ENV = re.compile(r"\bpy(\d)(\d+)\b")
_VERSION = re.compile(r"^(?:python|cpython|pypy-?)?\s*(\d)\.(\d+)(?:\.\d+)?$")


def read(root: Path, files: RepoFiles) -> list[PythonHint]:
    hints: list[PythonHint] = []
    for rel in files.setup_py:
        if rel.count("/") <= 1:
            hints += _classifier_hint(_setup_py_classifiers(root, rel), rel, "setup.py")
    for rel in files.setup_cfg:
        hints += _classifier_hint(_setup_cfg_classifiers(root, rel), rel, "setup.cfg")
    for rel in files.pyproject:
        hints += _classifier_hint(_pyproject_classifiers(root, rel), rel, "pyproject.toml")
    for rel in files.ci:
        text = read_text(root / rel)
        if not text:
            continue
        if rel.endswith("tox.ini"):
            versions = _tox_versions(text)
            what = "tox envlist"
        else:
            versions = _ci_versions(text)
            what = "CI matrix"
        hint = _range_hint(versions, Origin(kind="ci", path=rel, detail=what))
        if hint:
            hints.append(hint)
    return hints


def _range_hint(versions: set[tuple[int, int]], origin: Origin) -> PythonHint | None:
    if not versions:
        return None
    low, high = min(versions), max(versions)
    listed = ", ".join(f"{a}.{b}" for a, b in sorted(versions))
    origin = Origin(
        kind=origin.kind, path=origin.path, line=origin.line, detail=f"{origin.detail}: {listed}"
    )
    spec = f">={low[0]}.{low[1]},<{high[0]}.{high[1] + 1}"
    return PythonHint(specifier=spec, origin=origin, strength="hint")


def _classifier_hint(classifiers: list[str], rel: str, what: str) -> list[PythonHint]:
    versions = set()
    for text in classifiers:
        m = _CLASSIFIER.search(text)
        if m:
            versions.add((int(m.group(1)), int(m.group(2))))
    hint = _range_hint(versions, Origin(kind="classifier", path=rel, detail="classifiers"))
    return [hint] if hint else []


def _setup_py_classifiers(root: Path, rel: str) -> list[str]:
    text = read_text(root / rel)
    if not text:
        return []
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return re.findall(r"Programming Language :: Python :: \d\.\d+", text)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "classifiers":
            for item in ast.walk(node.value):
                if isinstance(item, ast.Constant) and isinstance(item.value, str):
                    out.append(item.value)
    return out


def _setup_cfg_classifiers(root: Path, rel: str) -> list[str]:
    text = read_text(root / rel)
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text or "")
    except configparser.Error:
        return []
    if not parser.has_option("metadata", "classifiers"):
        return []
    return [line.strip() for line in parser.get("metadata", "classifiers").splitlines()]


def _pyproject_classifiers(root: Path, rel: str) -> list[str]:
    text = read_text(root / rel)
    try:
        doc = tomllib.loads(text or "")
    except (tomllib.TOMLDecodeError, ValueError):
        return []
    project = doc.get("project")
    values = project.get("classifiers") if isinstance(project, dict) else None
    return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []


def _tox_versions(text: str) -> set[tuple[int, int]]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return set()
    if not parser.has_option("tox", "envlist"):
        return set()
    envlist = parser.get("tox", "envlist")
    # brace expansion (py{27,36}) lists versions as numbers in braces
    found = {(int(a), int(b)) for a, b in _TOX_ENV.findall(envlist)}
    for group in re.findall(r"py\{([\d,\s]+)\}", envlist):
        for item in group.split(","):
            item = item.strip()
            if len(item) >= 2 and item.isdigit():
                found.add((int(item[0]), int(item[1:])))
    return found


def _ci_versions(text: str) -> set[tuple[int, int]]:
    """``python-version:`` (GitHub Actions) and ``python:`` (Travis) values anywhere."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return set()
    found: set[tuple[int, int]] = set()
    _walk(doc, found, 0)
    return found


def _walk(node: Any, found: set[tuple[int, int]], depth: int) -> None:
    if depth > 12:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("python-version", "python", "python_version", "python-versions"):
                for item in value if isinstance(value, list) else [value]:
                    m = _VERSION.match(str(item).strip())
                    if m:
                        found.add((int(m.group(1)), int(m.group(2))))
            _walk(value, found, depth + 1)
    elif isinstance(node, list):
        for item in node:
            _walk(item, found, depth + 1)
