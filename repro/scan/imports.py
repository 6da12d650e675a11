"""Imports in Python files and notebooks, read by AST (never executed).

Files that Python 3 cannot parse (Python 2 ``print`` statements, ``except X, e:``) are
read line by line instead, so old code keeps its imports; the fact that a file only parses
as Python 2 is reported as a Python hint.

Speed: most files import everything in their first lines. Only the part of a file up to
its last line that can matter (an ``import``/``from`` line, a ``sys.path`` change, an
``importlib.import_module`` call) is parsed; that prefix ends on a complete statement, so
its tree holds the same import statements as the whole file's. When the prefix does not
parse (it cut a ``try`` from its ``except``), the whole file is parsed.

An import is *optional* when the code runs without it:
- inside ``try:`` whose handler catches ImportError (or any exception) and does not
  re-raise or exit, and in that handler's fallback imports;
- inside an ``if`` other than ``if __name__ == "__main__"``: a feature flag, a version
  check or a platform check decides whether it runs;
- never inside ``if TYPE_CHECKING:`` (skipped: typing-only).
"""

from __future__ import annotations

import ast
import bisect
import json
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from repro.models import ImportSite, Origin
from repro.scan.files import relative_inside

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
# Lines that hold an import statement (as a whole line: ``x; import y`` is rare and
# sends the file to a full parse).
_PATH_CALLS = {"abspath", "realpath", "normpath", "expanduser", "str", "fspath", "Path"}
_IMPORT_LINE = re.compile(r"\n[ \t]*(?:import|from)[ \t\\(]")
_SEMI_IMPORT = re.compile(r";[ \t]*(?:import|from)[ \t]")
_DYNAMIC = re.compile(r"sys\.path|import_module|__import__|require_version")
# Where a top-level statement starts: column 0, not a comment, not the closing bracket of
# a previous line, not a clause of a compound statement.
_TOP_LEVEL = re.compile(r"\n(?![ \t#\r\n)\]}]|(?:else|elif|except|finally)\b)")
# A top-level statement that is one plain import line: read without a parser.
_SIMPLE_IMPORT = re.compile(
    r"(?:import[ \t]+(?P<names>[\w.]+(?:[ \t]+as[ \t]+\w+)?"
    r"(?:[ \t]*,[ \t]*[\w.]+(?:[ \t]+as[ \t]+\w+)?)*)"
    r"|from[ \t]+(?P<module>\w[\w.]*)[ \t]+import[ \t]+"
    r"(?P<items>\*|\w+(?:[ \t]+as[ \t]+\w+)?(?:[ \t]*,[ \t]*\w+(?:[ \t]+as[ \t]+\w+)?)*))"
    r"[ \t]*(?:#[^\n]*)?"
)
# Python 2 markers with the literal each needs, so most files are ruled out by ``in``.
# Python 2 statements at the start of a line (``^[ \t]*WORD...``, re.M) ...
_PY2_LINE_CHECKS = (
    ("print", re.compile(r"^[ \t]*print(?:[ \t]+[^\s(=]|[ \t]*$)", re.M)),
    ("except", re.compile(r"^[ \t]*except[ \t]+[\w.]+[ \t]*,[ \t]*\w+[ \t]*:", re.M)),
    ("exec", re.compile(r"^[ \t]*exec[ \t]+[\"'\w]", re.M)),
    ("raise", re.compile(r"^[ \t]*raise[ \t]+\w+[ \t]*,", re.M)),
)
# ... and anywhere in the text
_PY2_TEXT_CHECKS = (
    ("ur'", re.compile(r"\bur'")),
    ('ur"', re.compile(r'\bur"')),
)


@dataclass
class FileImports:
    sites: list[ImportSite] = field(default_factory=list)
    python2: bool = False  # the file only parses as Python 2
    unparsable: bool = False  # neither Python 3 nor recognisably Python 2
    # What was parsed: the whole file's tree, or the top-level statements holding an
    # import (and their line offsets) when the rest of the file could not matter.
    trees: list[tuple[ast.Module, int]] = field(default_factory=list)
    whole: bool = False
    # Folders the file adds to sys.path, relative to the repository root (entries relative
    # to the working directory are reported both from the root and from the file's folder).
    sys_path_dirs: list[str] = field(default_factory=list)
    # Local names the imports bind → the qualified names they mean (``np`` → ``numpy``).
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def tree(self) -> ast.Module | None:
        """The whole file's tree, when it was parsed whole."""
        return self.trees[0][0] if self.whole and self.trees else None


def scan_source(source: str, rel: str, *, line_offset: int = 0, whole: bool = False) -> FileImports:
    """Imports of one Python source text; ``rel`` names it in every origin. ``whole``
    parses the whole text even where its imports alone would do."""
    result = FileImports()
    pieces = _full(source, rel, result) if whole else _pieces(source, rel, result)
    if pieces is None:
        _scan_lines(source, rel, result, line_offset)
        return result
    result.trees = pieces
    walker = _Walker(rel, result, line_offset)
    for tree, offset in pieces:
        walker.offset = line_offset + offset
        walker.body(tree.body, optional=False)
    return result


def looks_python2(source: str) -> bool:
    for word, pattern in _PY2_LINE_CHECKS:
        if _line_marker(source, word, pattern):
            return True
    return any(word in source and pattern.search(source) for word, pattern in _PY2_TEXT_CHECKS)


def _line_marker(text: str, word: str, pattern: re.Pattern[str]) -> bool:
    """``pattern.search(text)`` for a multi-line pattern ``^[ \t]*WORD...``, trying it
    only at the starts of the lines where WORD follows the indentation: a search of the
    pattern itself tries every position of the text (about ten times slower)."""
    i = text.find(word)
    while i >= 0:
        start = text.rfind("\n", 0, i) + 1
        if (start == i or not text[start:i].strip(" \t")) and pattern.match(text, start):
            return True
        i = text.find(word, i + len(word))
    return False


def _full(source: str, rel: str, out: FileImports) -> list[tuple[ast.Module, int]] | None:
    try:
        tree = ast.parse(source, filename=rel)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    out.whole = True
    return [(tree, 0)]


def _pieces(source: str, rel: str, out: FileImports) -> list[tuple[ast.Module, int]] | None:
    """Parsed top-level statements that hold imports; None when Python 3 cannot parse.

    Top-level statements start at column 0, so the statements holding an import line can
    be cut out and parsed alone. A cut that lands inside a multi-line string or bracket
    makes that piece fail to parse, and the whole file is parsed instead. An import line
    inside a triple-quoted string (an example in a docstring) also sends the file to a
    full parse, which knows it is text. Plain import lines at the top level, or in the
    body of a top-level function or class (no ``try``/``if`` around them), are read
    without a parser.
    """
    if looks_python2(source):
        return _full(source, rel, out)
    positions: list[int] = []
    text = "\n" + source  # every line now starts after a newline
    if "import" in source:
        if _SEMI_IMPORT.search(source):
            return _full(source, rel, out)
        positions += [m.start() for m in _IMPORT_LINE.finditer(text)]
    if any(w in source for w in ("sys.path", "import_module", "__import__", "require_version")):
        # the start of each line that holds one (the newline before it)
        positions += [text.rfind("\n", 0, m.start()) for m in _DYNAMIC.finditer(text)]
        positions = sorted(set(positions))
    if not positions:
        return []
    spans = _string_spans(text, max(positions))
    if spans is None or (spans and any(_inside(spans, pos) for pos in positions)):
        return _full(source, rel, out)
    # A plain import line at column 0 is a whole top-level statement by itself (an import
    # cannot continue another line, and strings were ruled out above): read it directly.
    rest = []
    handled: set[int] = set()
    line_pos, line_no = 0, 0
    for pos in positions:
        end = text.find("\n", pos + 1)
        line = text[pos + 1 : end if end >= 0 else len(text)]
        found = _simple(line.rstrip()) if line[:1] in ("i", "f") else None
        if found is None:
            rest.append(pos)
            continue
        line_no += text.count("\n", line_pos, pos + 1)
        line_pos = pos + 1
        handled.add(pos)
        _record(found, Origin(kind="import", path=rel, line=line_no), out)
    if not rest:
        return []
    # chunk starts, as offsets into ``text`` pointing at the newline before each line
    starts = [0, *[m.start() for m in _TOP_LEVEL.finditer(text, 1)]]
    # (a chunk that starts with a line read above holds nothing else but comments)
    indexes = {bisect.bisect_right(starts, pos) - 1 for pos in rest}
    chosen = sorted(i for i in indexes if starts[i] not in handled)
    ranges: list[list[int]] = []
    for index in chosen:
        stop = starts[index + 1] if index + 1 < len(starts) else len(text)
        chunk = text[starts[index] + 1 : stop]
        if _simple_import(chunk, text, starts[index], rel, out):
            continue
        if _body_imports(chunk, text, starts[index], rel, out):
            continue
        if ranges and ranges[-1][1] == index:
            ranges[-1][1] = index + 1
        else:
            ranges.append([index, index + 1])
    pieces = []
    for first, last in ranges:
        begin = starts[first] + 1
        stop = starts[last] if last < len(starts) else len(text)
        try:
            tree = ast.parse(text[begin:stop], filename=rel)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            del out.sites[:]
            return _full(source, rel, out)
        pieces.append((tree, text.count("\n", 0, begin) - 1))
    return pieces


def _string_spans(text: str, until: int) -> list[tuple[int, int]] | None:
    """Where the triple-quoted strings that start before ``until`` start and end; None when
    the quotes do not pair up."""
    spans: list[tuple[int, int]] = []
    i = 0
    a = text.find('"""')
    b = text.find("'''")
    while i <= until:
        # the next of each kind at or after i (searched again only once passed: a kind
        # that does not occur is not looked for through the whole text each time)
        if 0 <= a < i:
            a = text.find('"""', i)
        if 0 <= b < i:
            b = text.find("'''", i)
        if a < 0 and b < 0:
            return spans
        start, quote = (a, '"""') if b < 0 or 0 <= a < b else (b, "'''")
        if start > until:
            return spans
        end = text.find(quote, start + 3)
        if end < 0:
            return None
        spans.append((start, end + 3))
        i = end + 3
    return spans


def _inside(spans: list[tuple[int, int]], pos: int) -> bool:
    index = bisect.bisect_right(spans, (pos, len(spans) + 10**12)) - 1
    return index >= 0 and spans[index][0] < pos < spans[index][1]


_HEADER = re.compile(
    r"[ \t]*(?:async[ \t]+)?(?:def|class|with|for|while)\b[^\n]*:[ \t]*(?:#[^\n]*)?"
)
_BODY_IMPORT = re.compile(r"[ \t]+(?:import|from)[ \t]")


def _body_imports(chunk: str, text: str, start: int, rel: str, out: FileImports) -> bool:
    """Plain import lines inside a top-level ``def``/``class`` (and ``with``/``for``/``while``
    in them): always run when the function runs, so required. False, with nothing
    recorded, when any import line of the chunk sits under something else (``try``,
    ``if``), spans lines, or the indentation cannot be read."""
    lines = chunk.split("\n")
    if not _HEADER.fullmatch(lines[0]) or "\\\n" in chunk or ";" in chunk or _DYNAMIC.search(chunk):
        return False
    found: list[tuple[int, _Simple]] = []
    for i, line in enumerate(lines):
        if not _BODY_IMPORT.match(line):
            continue
        simple = _simple(line.strip())
        if simple is None or not _under_blocks(lines, i):
            return False
        found.append((i, simple))
    if not found:
        return False
    first = text.count("\n", 0, start + 1)
    for i, simple in found:
        _record(simple, Origin(kind="import", path=rel, line=first + i), out, _scope(lines, i))
    return True


_NAMED = re.compile(r"[ \t]*(?:async[ \t]+)?(def|class)[ \t]+(\w+)")


def _scope(lines: list[str], index: int) -> str:
    """The functions (with their classes) around line ``index``, as ``Class.method``; ""
    when no function encloses it (a class body runs when its module loads)."""
    indent = len(lines[index]) - len(lines[index].lstrip())
    names: list[str] = []
    function = False
    for j in range(index - 1, -1, -1):
        line = lines[j]
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        level = len(line) - len(stripped)
        if level >= indent:
            continue
        named = _NAMED.match(line)
        if named:
            names.append(named.group(2))
            function = function or named.group(1) == "def"
        indent = level
        if level == 0:
            break
    return ".".join(reversed(names)) if function else ""


def _under_blocks(lines: list[str], index: int) -> bool:
    """Every block around line ``index`` is a def/class/with/for/while, up to column 0."""
    indent = len(lines[index]) - len(lines[index].lstrip())
    for j in range(index - 1, -1, -1):
        line = lines[j]
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        level = len(line) - len(stripped)
        if level >= indent:
            continue
        if not _HEADER.fullmatch(line):
            return False
        indent = level
        if level == 0:
            return True
    return False


def _simple_import(chunk: str, text: str, start: int, rel: str, out: FileImports) -> bool:
    """A chunk that is one plain top-level import line (and blank or comment lines):
    its sites, without parsing. False when the chunk is anything else."""
    if "\n" in chunk.rstrip():
        lines = [ln for ln in chunk.split("\n") if ln.strip() and not ln.lstrip().startswith("#")]
        if len(lines) != 1 or not chunk.startswith(lines[0]):
            return False
        line = lines[0]
    else:
        line = chunk
    simple = _simple(line.rstrip())
    if simple is None:
        return False
    number = text.count("\n", 0, start + 1)
    _record(simple, Origin(kind="import", path=rel, line=number), out)
    return True


# A plain import line read: the modules it imports and the (name, meaning) pairs it binds.
_Simple = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]


@lru_cache(maxsize=8192)
def _simple(line: str) -> _Simple | None:
    """A plain import line matched by _SIMPLE_IMPORT, read; None when it is not one.

    Remembered by text: code repeats its import lines (``import numpy as np``) from file
    to file, and a repository of thousands of files reads the same few hundred lines.
    """
    m = _SIMPLE_IMPORT.fullmatch(line)
    if m is None:
        return None
    modules: list[str] = []
    aliases: list[tuple[str, str]] = []
    if m.group("names"):
        for part in m.group("names").split(","):
            words = part.split()
            modules.append(words[0])
            if len(words) == 3:
                aliases.append((words[2], words[0]))
            else:
                aliases.append((words[0].split(".")[0], words[0].split(".")[0]))
        return tuple(modules), tuple(aliases)
    module = m.group("module")
    if module == "__future__":
        return (), ()
    modules.append(module)
    for item in m.group("items").split(","):
        words = item.split()
        if words[0] != "*":
            modules.append(f"{module}.{words[0]}")
            aliases.append((words[-1], f"{module}.{words[0]}"))
    return tuple(modules), tuple(aliases)


def _record(simple: _Simple, origin: Origin, out: FileImports, scope: str = "") -> None:
    """The sites (and the names bound) of one plain import line."""
    modules, aliases = simple
    for module in modules:
        out.sites.append(ImportSite(module=module, origin=origin, scope=scope))
    for name, meaning in aliases:
        out.aliases[name] = meaning


_BLOCKS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.With, ast.AsyncWith)


class _Walker:
    """Visits statements only: imports are statements, so expressions need no visit."""

    def __init__(self, rel: str, out: FileImports, line_offset: int) -> None:
        self.rel = rel
        self.out = out
        self.offset = line_offset
        self.names: list[str] = []  # enclosing classes and functions
        self.functions = 0  # how many of them are functions

    def _add(self, module: str, node: ast.stmt, optional: bool, detail: str = "") -> None:
        origin = Origin(kind="import", path=self.rel, line=node.lineno + self.offset, detail=detail)
        scope = ".".join(self.names) if self.functions else ""
        self.out.sites.append(
            ImportSite(module=module, origin=origin, optional=optional, scope=scope)
        )

    def _named(self, node: Any, optional: bool) -> None:
        """A class or function body: imports in a function run only when it is called."""
        function = not isinstance(node, ast.ClassDef)
        self.names.append(node.name)
        self.functions += function
        self.body(node.body, optional=optional)
        self.functions -= function
        self.names.pop()

    def body(self, stmts: Sequence[ast.stmt], *, optional: bool) -> None:
        for node in stmts:
            self.stmt(node, optional)

    def stmt(self, node: ast.stmt, optional: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self._add(alias.name, node, optional)
                top = alias.name.split(".")[0]
                self.out.aliases[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom):
            if node.level or not node.module or node.module == "__future__":
                return  # relative imports are the repository's own
            for alias in node.names:
                if alias.name != "*":
                    self.out.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            # ``from google.cloud import storage`` may name a submodule: keep both levels so
            # namespace packages map by their full path.
            self._add(node.module, node, optional)
            for alias in node.names:
                if alias.name != "*":
                    self._add(f"{node.module}.{alias.name}", node, optional)
        elif isinstance(node, ast.If):
            if _is_type_checking(node.test):
                self.body(node.orelse, optional=optional)
                return
            guarded = optional or not _is_main_guard(node.test)
            self.body(node.body, optional=guarded)
            self.body(node.orelse, optional=guarded)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            self._try(node, optional)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self._named(node, optional)
        elif isinstance(node, _BLOCKS):
            self.body(node.body, optional=optional)
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            self.body(node.body, optional=optional)
            self.body(node.orelse, optional=optional)
        elif isinstance(node, ast.Match):
            for case in node.cases:
                self.body(case.body, optional=True)
        elif isinstance(node, (ast.Expr, ast.Assign, ast.AnnAssign)) and isinstance(
            node.value, ast.Call
        ):
            self._call(node, node.value, optional)

    def _try(self, node: Any, optional: bool) -> None:
        handlers: list[ast.ExceptHandler] = node.handlers
        catching = [h for h in handlers if _catches_import_error(h)]
        # ``except ImportError: raise ImportError("pip install x")`` keeps x required
        softened = any(not _reraises(h) for h in catching)
        self.body(node.body, optional=optional or softened)
        for handler in handlers:
            self.body(handler.body, optional=True)  # fallbacks are optional
        self.body(node.orelse, optional=optional)
        self.body(node.finalbody, optional=optional)

    def _call(self, node: ast.stmt, call: ast.Call, optional: bool) -> None:
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("import_module", "__import__"):
            if call.args and isinstance(call.args[0], ast.Constant):
                value = call.args[0].value
                if isinstance(value, str) and value and not value.startswith("."):
                    self._add(value, node, optional, detail=name)
        elif name == "require_version" and len(call.args) == 2:
            # gi.require_version("Gst", "1.0"): the GObject-introspection typelib
            # ``from gi.repository import Gst`` will load (repro/system_modules.py)
            namespace, version = (getattr(a, "value", None) for a in call.args)
            if isinstance(namespace, str) and isinstance(version, str) and namespace.isidentifier():
                self._add(f"gi.repository.{namespace}", node, optional, detail=f"{name} {version}")
        elif (
            name in ("append", "insert")
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "path"
            and isinstance(func.value.value, ast.Name)
            and func.value.value.id == "sys"
            and call.args
        ):
            arg = call.args[-1]
            base = posixpath.dirname(self.rel)
            for rel_dir in _sys_path_entries(arg):
                candidates = [posixpath.join(base, rel_dir)]
                if not rel_dir.startswith("<file>"):
                    candidates.append(rel_dir)  # relative to the working directory
                for cand in candidates:
                    normal = relative_inside(cand.replace("<file>/", "").replace("<file>", ""))
                    if normal is not None:
                        self.out.sys_path_dirs.append(normal or ".")


def _sys_path_entries(node: ast.expr) -> list[str]:
    """Folders a ``sys.path`` argument names, relative to the file (``<file>``-prefixed)
    or to the working directory; empty when it cannot be read statically."""
    value = _path_value(node)
    return [] if value is None else [value]


def _path_value(node: ast.expr, depth: int = 0) -> str | None:
    if depth > 12:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return None if node.value.startswith(("/", "~")) else node.value or "."
    if isinstance(node, ast.Name) and node.id == "__file__":
        return "<file>/__self__"
    if isinstance(node, ast.Call):
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if fname == "getcwd":
            return "."
        if fname == "dirname" and node.args:
            inner = _path_value(node.args[0], depth + 1)
            return None if inner is None else _dirname(inner)
        if fname == "join" and node.args:
            parts = [_path_value(a, depth + 1) for a in node.args]
            if any(p is None for p in parts):
                return None
            return posixpath.join(*[p for p in parts if p is not None])
        if fname in _PATH_CALLS and node.args:
            return _path_value(node.args[0], depth + 1)
        if fname in ("resolve", "absolute") and isinstance(func, ast.Attribute):
            return _path_value(func.value, depth + 1)
        return None
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        inner = _path_value(node.value, depth + 1)
        return None if inner is None else _dirname(inner)
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "parents"
        and isinstance(node.slice, ast.Constant)
    ):
        inner = _path_value(node.value.value, depth + 1)
        if inner is None or not isinstance(node.slice.value, int):
            return None
        for _ in range(node.slice.value + 1):
            inner = _dirname(inner)
        return inner
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Add)):
        left = _path_value(node.left, depth + 1)
        right = _path_value(node.right, depth + 1)
        if left is None or right is None:
            return None
        return posixpath.join(left, right.lstrip("/"))
    return None


def _dirname(path: str) -> str:
    if path == "<file>/__self__":
        return "<file>"
    if path.endswith("__self__"):
        return path[: -len("/__self__")]
    return posixpath.join(path, "..")


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


def _reraises(handler: ast.ExceptHandler) -> bool:
    """The handler stops the program: ``raise ...``, ``sys.exit()``, ``exit()``, ``quit()``."""
    for stmt in handler.body:
        if isinstance(stmt, ast.Raise):
            return True
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            func = stmt.value.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("exit", "quit", "_exit"):
                return True
    return False


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    if isinstance(test, ast.Attribute):
        return test.attr == "TYPE_CHECKING"
    return False


def _is_main_guard(test: ast.expr) -> bool:
    """``if __name__ == "__main__":``: runs whenever the script runs."""
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


_BLOCK_START = re.compile(r"^(try|if|elif|else|except|finally)\b.*:\s*(#.*)?$")
_DEF = re.compile(r"^(?:async\s+)?def\s+(\w+)")


def _scan_lines(source: str, rel: str, out: FileImports, offset: int) -> None:
    """Fallback for code Python 3 cannot parse: imports by pattern, line by line.

    A block opened by ``try:`` or ``if`` (but not ``if __name__ == "__main__":``) makes
    the imports indented under it optional, as the AST walk does.
    """
    looks_py2 = False
    guards: list[tuple[int, bool]] = []  # (indent of the block header, makes optional)
    functions: list[tuple[int, str]] = []  # (indent of a def, its name)
    for number, line in enumerate(source.splitlines(), start=1):
        if any(p.search(line) for p in _PY2_MARKERS):
            looks_py2 = True
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        while guards and indent <= guards[-1][0]:
            guards.pop()
        while functions and indent <= functions[-1][0]:
            functions.pop()
        defined = _DEF.match(stripped)
        if defined:
            functions.append((indent, defined.group(1)))
            continue
        block = _BLOCK_START.match(stripped)
        if block:
            word = block.group(1)
            optional_block = word in ("try", "except", "else", "elif") or (
                word == "if" and "__main__" not in stripped and "TYPE_CHECKING" not in stripped
            )
            guards.append((indent, optional_block))
            continue
        optional = any(flag for _, flag in guards)
        scope = ".".join(name for _, name in functions)
        origin = Origin(kind="import", path=rel, line=number + offset)
        m = _PY2_FROM.match(line)
        if m and not m.group(1).startswith(".") and m.group(1) != "__future__":
            site = ImportSite(module=m.group(1), origin=origin, optional=optional, scope=scope)
            out.sites.append(site)
            continue
        m = _PY2_IMPORT.match(line)
        if m:
            for part in m.group(1).split(","):
                name = part.strip().split()[0]
                site = ImportSite(module=name, origin=origin, optional=optional, scope=scope)
                out.sites.append(site)
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
    kernel: str = ""  # metadata.kernelspec.name: "python2", "python3"
    python_version: str = ""  # metadata.language_info.version: the Python it last ran with


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
        worksheets = doc.get("worksheets")
        cells = []
        for ws in worksheets if isinstance(worksheets, list) else []:
            ws_cells = ws.get("cells") if isinstance(ws, dict) else None
            if isinstance(ws_cells, list):
                cells += ws_cells
    if not isinstance(cells, list):
        out.error = "no cells"
        return out
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if isinstance(meta, dict):
        spec, info = meta.get("kernelspec"), meta.get("language_info")
        out.kernel = str(spec.get("name", "")) if isinstance(spec, dict) else ""
        if isinstance(info, dict) and info.get("name", "python") == "python":
            out.python_version = str(info.get("version", ""))
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", cell.get("input", ""))
        text_src = (
            "".join(s for s in src if isinstance(s, str)) if isinstance(src, list) else str(src)
        )
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
