"""Uses of versioned APIs in code, read by AST with import aliases resolved (pure).

``import numpy as np`` makes ``np.float`` mean ``numpy.float``; ``from tensorflow import
contrib`` makes ``contrib.layers`` mean ``tensorflow.contrib.layers``. Each resolved name
is matched against ``data/api_rules.json`` (``repro/apirules.py``) and every hit is kept
with its ``file:line``. Files only Python 2 can parse are read by pattern instead.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from repro import apirules
from repro.apirules import Rule
from repro.models import ApiUse, Origin

# Uses kept per rule and file: enough to show where, without thousands of np.float hits.
PER_FILE = 3


def aliases(tree: ast.AST) -> dict[str, str]:
    """Local names bound by imports anywhere in ``tree`` → the qualified names they mean."""
    return merged_aliases([tree])


def merged_aliases(trees: Iterable[ast.AST]) -> dict[str, str]:
    """The names of :func:`aliases` over several trees (a notebook's cells). A name bound
    to different modules in different places (``import urllib.parse as urllib`` under a
    version check, ``import urllib`` in its ``else``) means neither for sure: it is left
    out, so a use through it (``urllib.unquote``) bounds no version."""
    found: dict[str, set[str]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        found.setdefault(alias.asname, set()).add(alias.name)
                    else:
                        top = alias.name.split(".")[0]
                        found.setdefault(top, set()).add(top)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name != "*":
                        name = alias.asname or alias.name
                        found.setdefault(name, set()).add(f"{node.module}.{alias.name}")
    return {name: next(iter(means)) for name, means in found.items() if len(means) == 1}


def _dotted(node: ast.expr, names: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in names:
        return None
    return ".".join([names[node.id], *reversed(parts)])


class _Collector:
    def __init__(self, rel: str, cell: int | None = None) -> None:
        self.rel = rel
        self.cell = cell
        self._uses: list[ApiUse] = []
        self.seen: dict[str, set[int]] = {}

    @property
    def uses(self) -> list[ApiUse]:
        """The first uses of each rule in line order, at most PER_FILE of each."""
        out: list[ApiUse] = []
        count: dict[str, int] = {}
        for use in sorted(self._uses, key=lambda u: (u.origin.line or 0, u.rule)):
            count[use.rule] = count.get(use.rule, 0) + 1
            if count[use.rule] <= PER_FILE:
                out.append(use)
        return out

    def add(self, rule: Rule, symbol: str, line: int) -> None:
        lines = self.seen.setdefault(rule.id, set())
        if line in lines:
            return
        lines.add(line)
        origin = Origin(
            kind="api",
            path=self.rel,
            line=line if self.cell is None else self.cell,
            detail=symbol if self.cell is None else f"cell {self.cell}: {symbol}",
        )
        self._uses.append(
            ApiUse(
                rule=rule.id,
                package=rule.package,
                bound=rule.bound,
                symbol=symbol,
                origin=origin,
                strength=rule.strength,
                needs=rule.needs,
            )
        )


def detect(
    tree: ast.AST,
    rel: str,
    *,
    names: dict[str, str] | None = None,
    cell: int | None = None,
) -> list[ApiUse]:
    """Versioned API uses in one parsed file (or notebook cell, with the notebook's names)."""
    names = aliases(tree) if names is None else names
    tops = {q.split(".")[0] for q in names.values()}
    if not tops & apirules.modules():
        return []
    attributes = apirules.attributes()
    out = _Collector(rel, cell)
    skip = guarded(tree)
    for node in ast.walk(tree):
        if skip and id(node) in skip:
            continue
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            for alias in node.names:
                for rule in apirules.match_name(alias.name):
                    out.add(rule, alias.name, line)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                full = node.module if alias.name == "*" else f"{node.module}.{alias.name}"
                for rule in apirules.match_name(full):
                    out.add(rule, full, line)
        elif isinstance(node, ast.Attribute):
            qualified = _dotted(node, names)
            if qualified:
                for rule in apirules.match_name(qualified):
                    out.add(rule, qualified, line)
            elif node.attr in attributes:
                for rule in apirules.match_attribute(node.attr, tops):
                    out.add(rule, rule.paths[0], line)
        elif isinstance(node, ast.Call):
            func = node.func
            qualified = names.get(func.id) if isinstance(func, ast.Name) else _dotted(func, names)
            if qualified:
                keywords = [k.arg for k in node.keywords if k.arg]
                positional = len(node.args)
                for rule in apirules.match_call(qualified, keywords, positional):
                    out.add(rule, qualified, line)
    return out.uses


# What a guard catches: code under it may fail, and the program goes on without it.
_GUARD_ERRORS = frozenset(
    {"ImportError", "ModuleNotFoundError", "AttributeError", "NameError", "Exception",
     "BaseException"}
)  # fmt: skip
_VERSION_NAMES = re.compile(r"version|^(?:is_)?py[23]\d*$|^(?:is_)?python[23]$", re.I)


def guarded(tree: ast.AST) -> set[int]:
    """Ids of the nodes in code written for more than one version: a ``try`` whose
    handler catches ImportError or AttributeError (``try: from collections import
    Mapping``), its handlers, and both branches of an ``if`` (or ``x if c else y``) that
    tests a version (``sys.version_info``, ``six.PY2``, ``tf.__version__``) or ``hasattr``.
    A use there does not bound the version: the code runs without it."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            handlers: list[ast.ExceptHandler] = node.handlers  # type: ignore[attr-defined]
            if any(_catches(h) for h in handlers):
                for part in (*node.body, *handlers):  # type: ignore[attr-defined]
                    out.update(id(n) for n in ast.walk(part))
        elif isinstance(node, (ast.If, ast.IfExp, ast.While)) and _version_test(node.test):
            for part in (node.test, *_branches(node)):
                out.update(id(n) for n in ast.walk(part))
    return out


def _branches(node: ast.If | ast.IfExp | ast.While) -> list[ast.AST]:
    if isinstance(node, ast.IfExp):
        return [node.body, node.orelse]
    return [*node.body, *node.orelse]


def _catches(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    for expr in names:
        name = expr.attr if isinstance(expr, ast.Attribute) else getattr(expr, "id", "")
        if name in _GUARD_ERRORS:
            return True
    return False


def _version_test(test: ast.expr) -> bool:
    for node in ast.walk(test):
        if isinstance(node, ast.Name) and _VERSION_NAMES.search(node.id):
            return True
        if isinstance(node, ast.Attribute) and _VERSION_NAMES.search(node.attr):
            return True
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("hasattr", "getattr"):
            return True
    return False


_IMPORT_AS = re.compile(r"^\s*import\s+([\w.]+)(?:\s+as\s+(\w+))?\s*$")
_FROM_IMPORT = re.compile(r"^\s*from\s+([\w.]+)\s+import\s+([\w\s,]+?)\s*$")


def detect_text(source: str, rel: str) -> list[ApiUse]:
    """Fallback for files Python 3 cannot parse (Python 2): names found by pattern."""
    names: dict[str, str] = {}
    lines = source.splitlines()
    out = _Collector(rel)
    for number, line in enumerate(lines, start=1):
        m = _IMPORT_AS.match(line)
        if m:
            names[m.group(2) or m.group(1).split(".")[0]] = (
                m.group(1) if m.group(2) else m.group(1).split(".")[0]
            )
            for rule in apirules.match_name(m.group(1)):
                out.add(rule, m.group(1), number)
            continue
        m = _FROM_IMPORT.match(line)
        if m:
            for part in m.group(2).split(","):
                words = part.split()
                if not words:
                    continue
                full = f"{m.group(1)}.{words[0]}"
                names[words[-1]] = full
                for rule in apirules.match_name(full):
                    out.add(rule, full, number)
    if not names:
        return []
    pattern = re.compile(
        r"(?<![\w.])("
        + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        + r")((?:\.\w+)+)"
    )
    for number, line in enumerate(lines, start=1):
        code = line.split("#", 1)[0]
        for m in pattern.finditer(code):
            qualified = names[m.group(1)] + m.group(2)
            for rule in apirules.match_name(qualified):
                out.add(rule, qualified, number)
    return out.uses


def packages(uses: Iterable[ApiUse]) -> set[str]:
    return {u.package for u in uses}
