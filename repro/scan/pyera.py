"""Which Pythons the code itself allows: bounds from syntax, from the standard library it
imports and from standard APIs Python added or removed (pure, read-only).

Python 2 or 3. A file only Python 2 parses (repro/scan/py2.py) is Python 2 code, and so
is one that uses a Python 2 builtin it never defines (``xrange``, ``raw_input``), imports
a module only Python 2's standard library has (``urlparse``, ``StringIO``; not a module
of the repository's own, nor inside ``try``/``if``), or an API only Python 2 has
(``string.letters``, ``urllib.urlopen``: data/api_rules.json, package ``python``). A file
with syntax only Python 3 parses (annotations, keyword-only arguments, ``print(x,
end="")`` without the ``print_function`` import, f-strings), or an API only Python 3 has
(``urllib.parse``, ``subprocess.run``), is Python 3 code; syntax proof outweighs the
weaker signals within a file. When both kinds of file are found, the side with more
files wins (Python 3 on a tie) and the other is reported as overruled.

Within Python 3: syntax floors (f-string → 3.6, ``:=`` → 3.8, ``match`` → 3.10,
``except*`` → 3.11, ``def f[T]`` → 3.12), ``async`` used as a name → up to 3.6, imports
of modules later Pythons removed (``imp``, ``distutils`` → up to 3.11) and the standard
APIs removed or added in 3.x (``time.clock`` → up to 3.7, ``collections.Mapping`` → up
to 3.9, ``functools.cached_property`` → 3.8 on). Each becomes a ``PythonHint`` of
strength ``syntax`` whose origin is the file and line that caused it; the versions and
sources are data (data/python_syntax.json, data/api_rules.json, data/stdlib.json).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from repro import datafiles, mapping
from repro.models import ApiUse, ImportSite, Origin, PythonHint
from repro.scan import py2
from repro.scan.api import guarded
from repro.scan.files import read_text
from repro.scan.imports import FileImports


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = datafiles.load("python_syntax.json")
    return data


def _since(what: str) -> str:
    return str(_data()["syntax"][what]["since"])


@cache
def _py2_builtins() -> frozenset[str]:
    return frozenset(_data()["python2_builtins"]["names"])


@cache
def _py2_modules() -> frozenset[str]:
    """Top-level modules of Python 2's standard library that Python 3's lacks."""
    return mapping.stdlib_names(2) - mapping.stdlib_names(3)


@cache
def _py2_third_party() -> dict[str, str]:
    """Third-party modules that only ever existed for Python 2 → why."""
    return {k: v["why"] for k, v in _data()["python2_modules"].items()}


@cache
def _py2_method_calls() -> tuple[str, ...]:
    """``.iteritems(`` and the like, as they appear in text."""
    return tuple(f".{n}(" for n in sorted(_py2_methods()[0]))


@cache
def _py2_third_party_tops() -> frozenset[str]:
    return frozenset(m.split(".")[0] for m in _py2_third_party())


@cache
def _py2_methods() -> tuple[frozenset[str], frozenset[str]]:
    """(dict methods only Python 2 has, libraries whose objects have them too)."""
    entry = _data()["python2_methods"]
    return frozenset(entry["names"]), frozenset(entry["unless_imported"])


# Floors looked for in every file (cheaply: a literal, then a pattern, then the tree):
# (node test, what it is, a literal the text must hold, a pattern it must match).
def _is_try_star(node: ast.AST) -> bool:
    return type(node).__name__ == "TryStar"


def _has_type_params(node: ast.AST) -> bool:
    return isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and bool(
        getattr(node, "type_params", None)
    )


def _posonly(node: ast.AST) -> bool:
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and bool(
        node.args.posonlyargs
    )


_FLOORS: tuple[tuple[Any, str, str, re.Pattern[str]], ...] = (
    (ast.JoinedStr, "f-string", "", re.compile(r"""[fF](?<![\w][fF])[rR]?["']""")),
    (ast.JoinedStr, "f-string", "", re.compile(r"""[fF](?<=[^\w][rR][fF])["']""")),
    (ast.NamedExpr, "assignment expression (:=)", ":=", re.compile(r":=")),
    (_posonly, "positional-only parameters (/)", ", /", re.compile(r",[ \t]*/[ \t]*[,)]")),
    (ast.Match, "match statement", "match", re.compile(r"match[ \t(][^\n]*:[ \t]*$", re.M)),
    (_is_try_star, "except*", "except", re.compile(r"except[ \t]*\*")),
    (_has_type_params, "type parameters (def f[T])", "](", re.compile(r"def[ \t]+\w+\[")),
    (_has_type_params, "type parameters (def f[T])", "]", re.compile(r"class[ \t]+\w+\[")),
    (getattr(ast, "TypeAlias", None), "type statement", "\ntype ",
     re.compile(r"^type[ \t]+\w+.*=", re.M)),
)  # fmt: skip

# Python 2 builtins, where a use can be. Distinctive names are looked for as text; the
# common words only where called, by a pattern that starts at the parenthesis (a literal
# the regex engine skips ahead to). The tree decides.
_NAMED = ("xrange", "raw_input", "unichr", "execfile", "basestring", "StandardError")
_CALLED = ("unicode", "reduce", "long", "file", "cmp", "reload", "apply")
_BUILTIN_CALL = re.compile(r"\((?:" + "|".join(f"(?<=[^\\w.]{n}\\()" for n in _CALLED) + ")")


def _parse(text: str, rel: str) -> ast.Module | None:
    try:
        return ast.parse(text, filename=rel)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


@dataclass(frozen=True)
class _Fact:
    what: str
    path: str
    line: int

    def origin(self, detail: str = "") -> Origin:
        return Origin(kind="syntax", path=self.path, line=self.line, detail=detail or self.what)


@dataclass
class Era:
    """What the code says about its Python, gathered file by file (``file``, ``cell``,
    ``notebook``), then turned into hints (``hints``)."""

    root: Path
    warnings: list[str] = field(default_factory=list)
    # file → the first Python 2 trait (syntax proof)
    py2_syntax: dict[str, _Fact] = field(default_factory=dict)
    # file → the first weaker Python 2 signal (builtin, kernel)
    py2_weak: dict[str, _Fact] = field(default_factory=dict)
    # file → the first Python 3-only syntax found
    py3_syntax: dict[str, _Fact] = field(default_factory=dict)
    # files that parse as Python 3 (searched for Python 3 syntax only when Python 2
    # signals make it matter)
    py3_files: list[str] = field(default_factory=list)
    old_py3: list[_Fact] = field(default_factory=list)  # ``async`` as a name
    floors: dict[str, _Fact] = field(default_factory=dict)  # what → first place
    kernels: list[tuple[str, str]] = field(default_factory=list)  # (notebook, version)

    # ----------------------------------------------------------------- per file

    def file(self, rel: str, text: str, found: FileImports) -> ast.Module | None:
        """Read one ``.py`` file; returns its whole tree when one was made (for a Python 2
        file, the tree of its Python 3 spelling: the same names on the same lines)."""
        tree = found.tree
        if found.python2 or found.unparsable:
            return self._refused(rel, text, "")
        if tree is None and py2.suspect(text):
            tree = _parse(text, rel)
            if tree is None:
                return self._refused(rel, text, _error(text, rel))
        tree = self._floors(text, tree, rel)
        if any(n in text for n in _NAMED) or py2.in_code(text, _BUILTIN_CALL):
            tree = tree or _parse(text, rel)
            found_builtin = _python2_builtin(tree) if tree is not None else None
            if found_builtin is not None:
                name, line = found_builtin
                self.py2_weak.setdefault(rel, _Fact(f"uses {name}, a Python 2 builtin", rel, line))
        if rel not in self.py2_weak and any(n in text for n in _py2_method_calls()):
            tree = tree or _parse(text, rel)
            method = _python2_method(tree) if tree is not None else None
            if method is not None:
                name, line = method
                what = f"calls .{name}(), a method of Python 2's dict"
                self.py2_weak.setdefault(rel, _Fact(what, rel, line))
        self.py3_files.append(rel)
        return tree

    def cell(self, rel: str, cell: int, code: str, found: FileImports) -> None:
        """One notebook cell that Python 3 refused."""
        if found.tree is not None or not (found.python2 or found.unparsable):
            return
        reading = py2.read(code)
        if reading.verdict == "python2" and rel not in self.py2_syntax:
            first = reading.traits[0]
            self.py2_syntax[rel] = _Fact(f"{first.what} in cell {cell}", rel, cell)

    def notebook(self, rel: str, kernel: str, version: str) -> None:
        """A notebook's kernel: ``python2``, or the Python version it last ran with."""
        if kernel.lower() in ("python2", "python 2") or version.startswith("2."):
            what = f"saved by a Python {version or '2'} kernel"
            self.py2_weak.setdefault(rel, _Fact(what, rel, 0))
        elif re.match(r"3\.\d+", version):
            self.kernels.append((rel, version))

    def _refused(self, rel: str, text: str, error: str) -> ast.Module | None:
        reading = py2.read(text, error)
        if reading.verdict == "python2":
            first = next(t for t in reading.traits if t.kind == "python2")
            self.py2_syntax[rel] = _Fact(first.what, rel, first.line)
        elif reading.verdict == "python3.6":
            first = reading.traits[0]
            self.old_py3.append(_Fact(first.what, rel, first.line))
            self.py3_files.append(rel)
        else:
            self.warnings.append(
                f"{rel}: parses as neither Python 3 ({reading.python3_error}) nor Python 2 "
                f"({reading.python2_error}); imports read by pattern"
            )
        return reading.tree

    def _floors(self, text: str, tree: ast.Module | None, rel: str) -> ast.Module | None:
        wanted = [
            (test, what)
            for test, what, literal, pattern in _FLOORS
            if test is not None
            and what not in self.floors
            and literal in text
            and pattern.search(text)
        ]
        if not wanted:
            return tree
        if tree is None:
            tree = _parse(text, rel)
            if tree is None:
                return None
        for node in ast.walk(tree):
            for test, what in wanted:
                if what in self.floors:
                    continue
                hit = isinstance(node, test) if isinstance(test, type) else test(node)
                if hit:
                    self.floors[what] = _Fact(what, rel, getattr(node, "lineno", 0))
        return tree

    # ----------------------------------------------------------------- the hints

    def hints(
        self,
        sites: Iterable[ImportSite],
        local: frozenset[str] | set[str],
        api_uses: Iterable[ApiUse],
    ) -> list[PythonHint]:
        """The Python bounds the code gives, the side that wins Python 2 against 3 first."""
        uses = [u for u in api_uses if u.package == "python"]
        self._python2_imports(sites, local)
        for use in uses:
            if use.bound == "<3" and use.origin.path not in self.py2_syntax:
                self.py2_weak.setdefault(
                    use.origin.path,
                    _Fact(f"uses {use.symbol}, Python 2's", use.origin.path, use.origin.line or 0),
                )
        py2_files = {**self.py2_weak, **self.py2_syntax}
        py3_first = True
        if py2_files:
            self._python3_proofs(uses, py2_files)
            two = {f for f in py2_files if f in self.py2_syntax or f not in self.py3_syntax}
            three = {f for f in self.py3_syntax if f not in self.py2_syntax}
            py3_first = len(three) >= len(two)
        else:
            two, three = set(), set()
        out: list[PythonHint] = []
        # (Python 2 signs in files that are Python 3 all the same are reported as overruled)
        py2_hint = self._python2_hint(two or set(py2_files)) if py2_files else None
        py3_hint = self._python3_hint(three) if three else None
        first, last = (py3_hint, py2_hint) if py3_first else (py2_hint, py3_hint)
        if first is not None:
            out.append(first)
        for what, fact in self.floors.items():
            out.append(_hint(f">={_since(what)}", fact.origin()))
        for fact in self.old_py3[:1]:
            more = f"; {len(self.old_py3)} file(s)" if len(self.old_py3) > 1 else ""
            detail = f"{fact.what}: a keyword from Python 3.7 on{more}"
            out.append(_hint("<3.7", fact.origin(detail)))
        out += _api_hints(uses)
        if py3_first:
            out += _removed_stdlib(sites)
        if last is not None:
            out.append(last)
        kernel = self._kernel_hint()
        if kernel is not None:
            out.append(kernel)
        return out

    def _python2_imports(
        self, sites: Iterable[ImportSite], local: frozenset[str] | set[str]
    ) -> None:
        only2 = _py2_modules()
        third = _py2_third_party()
        third_tops = _py2_third_party_tops()
        for site in sites:
            top = site.module.split(".")[0]
            if site.optional or top in local:
                continue
            path = site.origin.path
            if path in self.py2_syntax or path in self.py2_weak:
                continue
            if top in only2:
                what = f"imports {top}, a module of Python 2's standard library only"
            elif top not in third_tops:
                continue
            else:
                module = next((m for m in third if _under(site.module, m)), None)
                if module is None:
                    continue
                what = f"imports {module}: {third[module]}"
            line = site.origin.line or 0
            if site.origin.kind == "notebook":
                what = f"{what} (cell {line})"
            self.py2_weak[path] = _Fact(what, path, line)

    def _python3_proofs(self, uses: list[ApiUse], py2_files: Mapping[str, _Fact]) -> None:
        """Python 3-only syntax or APIs, file by file, until the Python 3 files outnumber
        the Python 2 ones (the count decides which side wins)."""
        for use in uses:
            if use.bound.startswith(">=") and use.origin.path not in self.py3_syntax:
                line = use.origin.line or 0
                self.py3_syntax[use.origin.path] = _Fact(
                    f"uses {use.symbol}, new in Python {use.bound[2:]}", use.origin.path, line
                )
        for fact in self.floors.values():
            self.py3_syntax.setdefault(fact.path, fact)
        for rel in self.py3_files:
            if len(self.py3_syntax) > len(py2_files):
                return
            if rel in self.py3_syntax:
                continue
            text = read_text(self.root / rel)
            tree = _parse(text, rel) if text else None
            found = _python3_syntax(tree) if tree is not None else None
            if found is not None:
                self.py3_syntax[rel] = _Fact(found[0], rel, found[1])

    def _python2_hint(self, files: set[str]) -> PythonHint:
        facts = [self.py2_syntax.get(f) or self.py2_weak[f] for f in sorted(files)]
        syntax = [f for f in facts if f.path in self.py2_syntax]
        first = (syntax or facts)[0]
        detail = f"{first.what}; Python 2 code in {len(files)} file(s)"
        return _hint("<3", first.origin(detail))

    def _python3_hint(self, files: set[str]) -> PythonHint:
        facts = [self.py3_syntax[f] for f in sorted(files)]
        first = facts[0]
        detail = f"{first.what}; Python 3 code in {len(files)} file(s)"
        return _hint(">=3", first.origin(detail))

    def _kernel_hint(self) -> PythonHint | None:
        if not self.kernels:
            return None
        found = sorted(
            {tuple(int(p) for p in v.split(".")[:2]) for _, v in self.kernels if "." in v}
        )
        if not found:
            return None
        low, high = found[0], found[-1]
        listed = ", ".join(f"{a}.{b}" for a, b in found)
        origin = Origin(
            kind="notebook", path=self.kernels[0][0], detail=f"notebook kernels: Python {listed}"
        )
        spec = f">={low[0]}.{low[1]},<{high[0]}.{high[1] + 1}"
        return PythonHint(specifier=spec, origin=origin, strength="hint")


def _hint(spec: str, origin: Origin) -> PythonHint:
    return PythonHint(specifier=spec, origin=origin, strength="syntax")


def _error(text: str, rel: str) -> str:
    try:
        ast.parse(text, filename=rel)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except (ValueError, RecursionError, MemoryError) as exc:
        return exc.__class__.__name__
    return ""


def _api_hints(uses: list[ApiUse]) -> list[PythonHint]:
    """One hint per standard-API rule (its first use; ``<3`` ones are Python 2 signals)."""
    from repro import apirules

    first: dict[str, list[ApiUse]] = {}
    for use in uses:
        if use.bound != "<3":
            first.setdefault(use.rule, []).append(use)
    out = []
    rules = apirules.by_id()
    for rule_id, found in first.items():
        use = found[0]
        rule = rules.get(rule_id)
        more = f" and {len(found) - 1} more" if len(found) > 1 else ""
        why = f"{rule.why} [{rule.source}]" if rule else use.bound
        origin = Origin(
            kind="api",
            path=use.origin.path,
            line=use.origin.line,
            detail=f"uses {use.symbol}{more}: {why}",
        )
        out.append(_hint(use.bound, origin))
    return out


def _removed_stdlib(sites: Iterable[ImportSite]) -> list[PythonHint]:
    """``import imp`` / ``distutils``: code that needs a Python from before their removal."""
    removed = mapping.removed_stdlib()
    seen: set[str] = set()
    out = []
    for site in sites:
        top = site.module.split(".")[0]
        if site.optional or top not in removed or top in seen:
            continue
        seen.add(top)
        origin = Origin(
            kind="syntax",
            path=site.origin.path,
            line=site.origin.line,
            detail=f"imports {top}, removed from the standard library in Python {removed[top]}",
        )
        out.append(_hint(f"<{removed[top]}", origin))
    return out


# --------------------------------------------------------------------------- tree checks


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name the module binds anywhere (assignments, definitions, parameters,
    imports, loop and ``with`` targets, ``global``): a builtin of that name is redefined."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            out.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                out.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            out.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
    return out


def _python2_builtin(tree: ast.Module) -> tuple[str, int] | None:
    """The first use of a Python 2 builtin the module never defines, outside code written
    for both Pythons (a version check, a ``try`` catching NameError)."""
    names = _py2_builtins()
    used = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in names
    ]
    if not used:
        return None
    bound = _bound_names(tree)
    used = [n for n in used if n.id not in bound]
    if not used:
        return None
    skip = guarded(tree)
    for node in sorted(used, key=lambda n: n.lineno):
        if id(node) not in skip:
            return node.id, node.lineno
    return None


def _under(name: str, path: str) -> bool:
    return name == path or name.startswith(path + ".")


def _python2_method(tree: ast.Module) -> tuple[str, int] | None:
    """The first call of a method only Python 2's dict has (``d.iteritems()``), in a file
    that imports none of the libraries whose objects have such methods too."""
    names, libraries = _py2_methods()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] in libraries for a in node.names
        ):
            return None
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in libraries:
            return None
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in names
    ]
    if not calls:
        return None
    skip = guarded(tree)
    for node in sorted(calls, key=lambda n: n.lineno):
        if id(node) not in skip:
            assert isinstance(node.func, ast.Attribute)
            return node.func.attr, node.lineno
    return None


def _print_function(tree: ast.Module) -> bool:
    return any(
        isinstance(n, ast.ImportFrom)
        and n.module == "__future__"
        and any(a.name == "print_function" for a in n.names)
        for n in tree.body
    )


def _python3_syntax(tree: ast.Module) -> tuple[str, int] | None:
    """The first syntax only Python 3 parses (or runs: ``super()``), with its line."""
    future_print = _print_function(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        what = _python3_node(node, future_print)
        if what:
            found.append((getattr(node, "lineno", 0), what))
    if not found:
        return None
    line, what = min(found)
    return what, line


def _python3_node(node: ast.AST, future_print: bool) -> str:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = node.args
        if isinstance(node, ast.AsyncFunctionDef):
            return "async def / await"
        if node.returns is not None or any(
            a.annotation is not None for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)
        ):
            return "function annotations"
        if args.kwonlyargs:
            return "keyword-only arguments"
    elif isinstance(node, ast.Call):
        func = node.func
        starred = any(isinstance(a, ast.Starred) for a in node.args)
        if isinstance(func, ast.Name) and func.id == "print" and (node.keywords or starred):
            return "" if future_print else "print() with keyword arguments"
        if isinstance(func, ast.Name) and func.id == "super" and not node.args:
            return "super() without arguments"
    elif isinstance(node, ast.Nonlocal):
        return "nonlocal"
    elif isinstance(node, ast.YieldFrom):
        return "yield from"
    elif isinstance(node, ast.Raise) and node.cause is not None:
        return "raise ... from ..."
    elif isinstance(node, ast.Starred) and isinstance(node.ctx, ast.Store):
        return "starred assignment (a, *b = ...)"
    elif isinstance(node, (ast.Await, ast.AsyncFor, ast.AsyncWith)):
        return "async def / await"
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
        return "@ (matrix multiplication)"
    elif isinstance(node, ast.Dict) and any(k is None for k in node.keys):
        return "unpacking in displays ({**a}, [*a])"
    elif isinstance(node, ast.JoinedStr):
        return "f-string"
    elif isinstance(node, ast.AnnAssign):
        return "variable annotation"
    elif isinstance(node, ast.NamedExpr):
        return "assignment expression (:=)"
    return ""
