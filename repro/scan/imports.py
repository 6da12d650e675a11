"""Imports in Python files and notebooks, read by AST (never executed).

Files that Python 3 cannot parse (Python 2 ``print`` statements, ``except X, e:``) are
read line by line instead, so old code keeps its imports; the fact that a file only parses
as Python 2 is reported as a Python hint.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from repro.models import ImportSite, Origin

# Exceptions whose handler makes the imports of a ``try:`` body optional.
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}

_PY2_IMPORT = re.compile(r"^\s*import\s+([\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*)")
_PY2_FROM = re.compile(r"^\s*from\s+([\w.]+)\s+import\b")
_PY2_MARKERS = (
    re.compile(r"^\s*print\s+[^\s(=]"),
    re.compile(r"^\s*print\s*$"),
    re.compile(r"^\s*except\s+[\w.]+\s*,\s*\w+\s*:"),
    re.compile(r"^\s*exec\s+[\"'\w]"),
    re.compile(r"\bur[\"']"),
    re.compile(r"^\s*raise\s+\w+\s*,"),
)


@dataclass
class FileImports:
    sites: list[ImportSite] = field(default_factory=list)
    python2: bool = False  # the file only parses as Python 2
    unparsable: bool = False  # neither Python 3 nor recognisably Python 2
    tree: ast.Module | None = None  # kept for other analyses (API rules, syntax)
    sys_path_dirs: list[str] = field(default_factory=list)  # sys.path.append("...") args


def scan_source(
    source: str, rel: str, *, kind: str = "import", line_offset: int = 0
) -> FileImports:
    """Imports of one Python source text; ``rel`` names it in every origin."""
    result = FileImports()
    try:
        tree = ast.parse(source, filename=rel)
    except (SyntaxError, ValueError):
        _scan_lines(source, rel, result, line_offset)
        return result
    result.tree = tree
    _Visitor(rel, result, line_offset).visit(tree)
    return result


class _Visitor(ast.NodeVisitor):
    def __init__(self, rel: str, out: FileImports, line_offset: int) -> None:
        self.rel = rel
        self.out = out
        self.offset = line_offset
        self.optional_depth = 0

    def _add(self, module: str, node: ast.stmt) -> None:
        origin = Origin(kind="import", path=self.rel, line=node.lineno + self.offset)
        self.out.sites.append(
            ImportSite(module=module, origin=origin, optional=self.optional_depth > 0)
        )

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return  # relative imports are the repository's own
        if node.module == "__future__":
            return
        # ``from google.cloud import storage`` may name a submodule: keep both levels so
        # namespace packages map by their full path.
        self._add(node.module, node)
        for alias in node.names:
            if alias.name != "*":
                self._add(f"{node.module}.{alias.name}", node)

    def visit_Try(self, node: ast.Try) -> None:
        self._try(node.body, node.handlers, node.orelse + node.finalbody)

    def visit_TryStar(self, node: Any) -> None:  # ast.TryStar, Python 3.11+
        self._try(node.body, node.handlers, node.orelse + node.finalbody)

    def _try(
        self, body: list[ast.stmt], handlers: list[ast.ExceptHandler], rest: list[ast.stmt]
    ) -> None:
        catches = any(_catches_import_error(h) for h in handlers)
        if catches:
            self.optional_depth += 1
        for stmt in body:
            self.visit(stmt)
        if catches:
            self.optional_depth -= 1
        # imports in the handler are the fallback: optional too
        self.optional_depth += 1
        for handler in handlers:
            self.visit(handler)
        self.optional_depth -= 1
        for stmt in rest:
            self.visit(stmt)

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            return  # typing-only imports are never needed at run time
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        # sys.path.append("lib") / sys.path.insert(0, "lib"): folders scripts import from
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("append", "insert")
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "path"
        ):
            for arg in node.args:
                for const in ast.walk(arg):
                    if isinstance(const, ast.Constant) and isinstance(const.value, str):
                        self.out.sys_path_dirs.append(const.value)
        self.generic_visit(node)


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names: Iterable[ast.expr] = (
        handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    )
    for expr in names:
        name = expr.attr if isinstance(expr, ast.Attribute) else getattr(expr, "id", "")
        if name in _IMPORT_ERRORS:
            return True
    return False


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    if isinstance(test, ast.Attribute):
        return test.attr == "TYPE_CHECKING"
    return False


def _scan_lines(source: str, rel: str, out: FileImports, offset: int) -> None:
    """Fallback for code Python 3 cannot parse: imports by pattern, line by line."""
    looks_py2 = False
    indent_try: list[int] = []
    for number, line in enumerate(source.splitlines(), start=1):
        if any(p.search(line) for p in _PY2_MARKERS):
            looks_py2 = True
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        while indent_try and indent <= indent_try[-1] and not stripped.startswith(("try", "#")):
            if stripped and not stripped.startswith("except"):
                indent_try.pop()
            else:
                break
        if stripped.startswith("try:"):
            indent_try.append(indent)
            continue
        optional = (bool(indent_try) and indent > indent_try[-1]) or stripped.startswith("except")
        origin = Origin(kind="import", path=rel, line=number + offset)
        m = _PY2_FROM.match(line)
        if m and not m.group(1).startswith(".") and m.group(1) != "__future__":
            out.sites.append(ImportSite(module=m.group(1), origin=origin, optional=optional))
            continue
        m = _PY2_IMPORT.match(line)
        if m:
            for part in m.group(1).split(","):
                name = part.strip().split()[0]
                out.sites.append(ImportSite(module=name, origin=origin, optional=optional))
    out.python2 = looks_py2
    out.unparsable = not looks_py2


# --------------------------------------------------------------------------- notebooks

_MAGIC_INSTALL = re.compile(r"^\s*[!%]\s*(?:pip3?|python3?\s+-m\s+pip)\s+install\s+(.*)$")
_CONDA_INSTALL = re.compile(r"^\s*[!%]\s*(?:conda|mamba)\s+install\s+(.*)$")


@dataclass
class NotebookContent:
    code: list[tuple[int, str]] = field(default_factory=list)  # (cell number, source)
    pip_installs: list[tuple[int, str]] = field(default_factory=list)  # (cell, args)
    conda_installs: list[tuple[int, str]] = field(default_factory=list)
    error: str = ""


def read_notebook(text: str) -> NotebookContent:
    """Code cells of a notebook with magics stripped, and its install lines."""
    out = NotebookContent()
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        out.error = f"not valid notebook JSON ({exc.__class__.__name__})"
        return out
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if cells is None and isinstance(doc, dict):  # nbformat 3
        cells = [c for ws in doc.get("worksheets", []) or [] for c in ws.get("cells", []) or []]
    if not isinstance(cells, list):
        out.error = "no cells"
        return out
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", cell.get("input", ""))
        text_src = "".join(src) if isinstance(src, list) else str(src)
        lines = []
        for line in text_src.splitlines():
            m = _MAGIC_INSTALL.match(line)
            c = _CONDA_INSTALL.match(line)
            if m:
                out.pip_installs.append((number, m.group(1)))
            elif c:
                out.conda_installs.append((number, c.group(1)))
            stripped = line.lstrip()
            if stripped.startswith(("!", "%", "?")) or stripped.endswith("?"):
                lines.append(" " * (len(line) - len(stripped)) + "pass")
            else:
                lines.append(line)
        out.code.append((number, "\n".join(lines)))
    return out
