"""Is a file Python 2? Read it as Python 2 would, without a Python 2 (pure).

Python 3 refuses a Python 2 file at its first Python 2 trait. To tell a Python 2 file
from a broken one, this module rewrites every Python 2 trait it knows into its Python 3
spelling, keeping every line where it was, and parses the result with Python 3's own
parser: when the rewritten text parses, the file is Python 2 and the traits found (each
with its line) are the evidence; when it does not, the file parses under neither, and
both errors are kept.

The traits: the ``print`` and ``exec`` statements, backticks, ``<>``, ``except X, e``,
``raise E, v``, tuple parameters (``def f(a, (b, c))``, ``lambda (k, v):``), ``ur''``
strings, ``0777`` octals, ``10L`` longs, indentation mixing tabs and spaces, and ``async``
or ``await`` used as names (which Python 3 allowed up to 3.6: a file whose only trait is
that is Python 3, up to 3.6).
"""

from __future__ import annotations

import ast
import bisect
import re
from dataclasses import dataclass, field
from typing import Literal

# One pass over the text: the first alternative that matches at each place wins, so a
# ``#`` inside a string is part of the string and a quote inside a comment is comment.
_TOKEN = re.compile(
    r"""
     (?P<nl>\r?\n)
    |(?P<ws>[ \t\f]+)
    |(?P<cont>\\\r?\n)
    |(?P<comment>\#[^\r\n]*)
    |(?P<string>(?:[rR][bBfFuU]?|[bBfFuU][rR]?)?
        (?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"
          |'(?:\\.|\\\r?\n|[^'\\\r\n])*'|"(?:\\.|\\\r?\n|[^"\\\r\n])*"))
    |(?P<number>0[xX][0-9a-fA-F_]+[lL]?|0[oO][0-7_]+|0[bB][01_]+[lL]?
        |\d[\d_]*(?:\.[\d_]*)?(?:[eE][-+]?\d+)?[jJlL]?|\.\d[\d_]*(?:[eE][-+]?\d+)?[jJ]?)
    |(?P<name>\w+)
    |(?P<op>\*\*=?|//=?|>>=?|<<=?|<>|!=|==|<=|>=|->|:=|\.\.\.|[-+*/%&|^@]=|.)
    """,
    re.X | re.S,
)
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = frozenset(")]}")
_OLD_OCTAL = re.compile(r"0+[0-7]*[1-9][0-9]*|0+[1-7][0-7]*")
# What may follow ``print`` when it is the statement (anything else: a name used in an
# expression, ``print(...)``, ``print = ...``, ``print.x``).
_NOT_PRINT_STATEMENT = frozenset("(=.,)]}:;") | {"+=", "-=", "*=", "/=", "%=", "|=", "&="}
_HEADER_WORDS = frozenset(
    {"if", "elif", "else", "for", "while", "try", "except", "finally", "with", "def", "class"}
)

TraitKind = Literal["python2", "python3.6"]


@dataclass(frozen=True, kw_only=True)
class Trait:
    what: str  # "print statement", "backticks (repr)", ...
    line: int
    kind: TraitKind = "python2"


@dataclass(kw_only=True)
class Reading:
    """How a file Python 3 refused reads: as Python 2, as an old Python 3, or neither."""

    verdict: Literal["python2", "python3.6", "neither"]
    traits: list[Trait] = field(default_factory=list)  # first of each kind, by line
    tree: ast.Module | None = None  # the rewritten text's tree (lines kept), when it parses
    python3_error: str = ""
    python2_error: str = ""


@dataclass
class _Tok:
    kind: str
    text: str
    line: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    line = 1
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "op"
        value = m.group()
        out.append(_Tok(kind, value, line))
        if kind in ("nl", "cont", "string"):
            line += value.count("\n")
    return out


def _error(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"line {exc.lineno}: {exc.msg}"
    return exc.__class__.__name__


def _parse(text: str) -> tuple[ast.Module | None, str]:
    try:
        return ast.parse(text), ""
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return None, _error(exc)


class _Rewriter:
    """Python 2 tokens → Python 3 text, same lines; records the traits it rewrites."""

    def __init__(self, tokens: list[_Tok], *, names_only: bool) -> None:
        self.toks = tokens
        self.names_only = names_only  # only ``async``/``await`` as names
        self.traits: dict[str, Trait] = {}
        self.backticks = 0

    def trait(self, what: str, line: int, kind: TraitKind = "python2") -> None:
        if what not in self.traits:
            self.traits[what] = Trait(what=what, line=line, kind=kind)

    def run(self) -> str:
        toks = self.toks
        out: list[str] = [t.text for t in toks]
        code = [i for i, t in enumerate(toks) if t.kind not in ("ws", "comment", "cont")]
        depth = 0
        stmt_start = True  # the next code token starts a statement
        header = False  # inside a compound statement's header (``if``, ``def``, ...)
        pos = 0
        while pos < len(code):
            i = code[pos]
            tok = toks[i]
            nxt = toks[code[pos + 1]] if pos + 1 < len(code) else None
            if tok.kind == "nl":
                if depth == 0:
                    stmt_start, header = True, False
                pos += 1
                continue
            starts = stmt_start
            stmt_start = False
            if tok.kind == "name" and tok.text in ("async", "await"):
                keyword = (
                    tok.text == "async" and nxt is not None and nxt.text in ("def", "for", "with")
                )
                if not keyword and not (tok.text == "await" and _awaits(nxt)):
                    self.trait(f"{tok.text} used as a name", tok.line, "python3.6")
                    out[i] = tok.text + "_"
                    pos += 1
                    continue
            if self.names_only:
                pos += 1
                continue
            if tok.kind == "op" and tok.text in _OPEN:
                depth += 1
            elif tok.kind == "op" and tok.text in _CLOSE:
                depth = max(depth - 1, 0)
            elif tok.kind == "op" and tok.text == ";" and depth == 0:
                stmt_start = True
            elif tok.kind == "op" and tok.text == ":" and depth == 0 and header:
                stmt_start, header = True, False
            elif tok.kind == "op" and tok.text == "<>":
                self.trait("<> operator", tok.line)
                out[i] = "!="
            elif tok.kind == "op" and tok.text == "`":
                depth = max(depth + self._backtick(i, out), 0)
            elif tok.kind == "number":
                self._number(i, out)
            elif tok.kind == "string" and tok.text[:2].lower() == "ur":
                self.trait("ur'' string", tok.line)
                out[i] = tok.text[1:]
            elif tok.kind == "name":
                if starts and tok.text in _HEADER_WORDS:
                    header = True
                if starts and tok.text == "print" and _print_statement(nxt):
                    pos = self._wrap(pos, code, out, "print", "print statement")
                    stmt_start = True
                    continue
                exec_arg = nxt is not None and nxt.kind in ("string", "name")
                if starts and tok.text == "exec" and exec_arg:
                    pos = self._wrap(pos, code, out, "exec", "exec statement")
                    stmt_start = True
                    continue
                if starts and tok.text == "except":
                    self._except(pos, code, out)
                if starts and tok.text == "raise":
                    self._raise(pos, code, out)
                if tok.text in ("def", "lambda"):
                    self._tuple_params(pos, code, out, lambda_=tok.text == "lambda")
            pos += 1
        return "".join(out)

    def _number(self, i: int, out: list[str]) -> None:
        tok = self.toks[i]
        text = tok.text
        if text[-1] in "lL" and not text.lower().startswith(("0o",)):
            self.trait("long literal (10L)", tok.line)
            text = text[:-1]
        if _OLD_OCTAL.fullmatch(text):
            self.trait("octal literal (0777)", tok.line)
            text = "0o" + (text.lstrip("0") or "0")
        out[i] = text

    def _statement_end(self, pos: int, code: list[int]) -> int:
        """Index in ``code`` of the token ending the statement starting at ``pos``: the
        newline or ``;`` at bracket depth 0 (len(code) at the end of the text)."""
        depth = 0
        for k in range(pos, len(code)):
            t = self.toks[code[k]]
            if t.kind == "op" and t.text in _OPEN:
                depth += 1
            elif t.kind == "op" and t.text in _CLOSE:
                depth = max(depth - 1, 0)
            elif depth == 0 and (t.kind == "nl" or (t.kind == "op" and t.text == ";")):
                return k
        return len(code)

    def _wrap(self, pos: int, code: list[int], out: list[str], word: str, what: str) -> int:
        """``print x, y`` → ``print(x, y)``; ``exec code in ns`` → ``exec(code, ns)``."""
        i = code[pos]
        self.trait(what, self.toks[i].line)
        end = self._statement_end(pos + 1, code)
        out[i] = word + "("
        depth = 0
        for k in range(pos + 1, end):
            j = code[k]
            t = self.toks[j]
            if t.kind == "op" and t.text in _OPEN:
                depth += 1
            elif t.kind == "op" and t.text in _CLOSE:
                depth -= 1
            if depth == 0 and word == "print" and k == pos + 1 and t.text == ">>":
                out[j] = ""  # print >>f, x → print(f, x)
            elif depth == 0 and word == "exec" and t.kind == "name" and t.text == "in":
                out[j] = ","
            else:
                self._rewrite_inner(j, out)
        last = code[end - 1] if end - 1 > pos else i
        out[last] = out[last] + ")"
        return end

    def _rewrite_inner(self, j: int, out: list[str]) -> None:
        """Traits inside a wrapped statement."""
        t = self.toks[j]
        if t.kind == "number":
            self._number(j, out)
        elif t.kind == "op" and t.text == "<>":
            self.trait("<> operator", t.line)
            out[j] = "!="
        elif t.kind == "string" and t.text[:2].lower() == "ur":
            self.trait("ur'' string", t.line)
            out[j] = t.text[1:]
        elif t.kind == "op" and t.text == "`":
            self._backtick(j, out)

    def _backtick(self, j: int, out: list[str]) -> int:
        """`` `x` `` → ``repr(x)``: backticks pair up in order; returns the depth change."""
        self.trait("backticks (repr)", self.toks[j].line)
        opening = self.backticks % 2 == 0
        self.backticks += 1
        out[j] = "repr(" if opening else ")"
        return 1 if opening else -1

    def _except(self, pos: int, code: list[int], out: list[str]) -> None:
        """``except X, e:`` → ``except X as e:`` (the first comma at depth 0)."""
        depth = 0
        for k in range(pos + 1, len(code)):
            t = self.toks[code[k]]
            if t.kind == "nl" and depth == 0:
                return
            if t.kind == "op" and t.text in _OPEN:
                depth += 1
            elif t.kind == "op" and t.text in _CLOSE:
                depth -= 1
            elif depth == 0 and t.text == ":":
                return
            elif depth == 0 and t.text == ",":
                self.trait("except X, e", t.line)
                out[code[k]] = " as "
                return

    def _raise(self, pos: int, code: list[int], out: list[str]) -> None:
        """``raise E, v`` → ``raise E(v)``."""
        end = self._statement_end(pos + 1, code)
        depth = 0
        for k in range(pos + 1, end):
            t = self.toks[code[k]]
            if t.kind == "op" and t.text in _OPEN:
                depth += 1
            elif t.kind == "op" and t.text in _CLOSE:
                depth -= 1
            elif depth == 0 and t.text == ",":
                self.trait("raise E, v", t.line)
                out[code[k]] = "("
                out[code[end - 1]] += ")"
                return

    def _tuple_params(self, pos: int, code: list[int], out: list[str], *, lambda_: bool) -> None:
        """``def f(a, (b, c)):`` / ``lambda (k, v):`` → a plain name for each tuple."""
        k = pos + 1
        if not lambda_:
            if k + 1 >= len(code) or self.toks[code[k + 1]].text != "(":
                return
            k += 2  # past the name and "("
            base = 1
        else:
            base = 0
        depth = base
        while k < len(code):
            t = self.toks[code[k]]
            if t.kind == "nl" and depth == 0:
                return
            if t.text == "(" and depth == base and self._param_start(code, k, lambda_):
                close = self._matching(code, k)
                if close is None:
                    return
                self.trait("tuple parameter", t.line)
                out[code[k]] = f"_tuple{k}"
                for m in range(k + 1, close + 1):
                    if self.toks[code[m]].kind != "nl":
                        out[code[m]] = ""
                k = close + 1
                continue
            if t.kind == "op" and t.text in _OPEN:
                depth += 1
            elif t.kind == "op" and t.text in _CLOSE:
                depth -= 1
                if depth < base or (not lambda_ and depth == 0):
                    return
            elif lambda_ and depth == 0 and t.text == ":":
                return
            elif not lambda_ and depth == base and t.text == "=":
                # a default value: skip to the next comma at this depth
                pass
            k += 1

    def _param_start(self, code: list[int], k: int, lambda_: bool) -> bool:
        prev = self.toks[code[k - 1]].text
        return prev in (",", "(") or (lambda_ and prev == "lambda")

    def _matching(self, code: list[int], k: int) -> int | None:
        depth = 0
        for m in range(k, len(code)):
            t = self.toks[code[m]]
            if t.kind == "op" and t.text in _OPEN:
                depth += 1
            elif t.kind == "op" and t.text in _CLOSE:
                depth -= 1
                if depth == 0:
                    return m
        return None


def _print_statement(nxt: _Tok | None) -> bool:
    if nxt is None or nxt.kind == "nl":
        return True  # a bare ``print``
    return nxt.text not in _NOT_PRINT_STATEMENT


def _awaits(nxt: _Tok | None) -> bool:
    """``await`` followed by something it can await (not ``=``, ``.``, ``,``, ``)``)."""
    if nxt is None:
        return False
    return nxt.kind in ("name", "string", "number") or nxt.text in ("(", "[", "{")


def _expand_tabs(text: str) -> str:
    """Leading tabs as Python 2 read them (to the next multiple of 8 columns)."""
    return re.sub(r"(?m)^[ \t]+", lambda m: m.group().expandtabs(8), text)


def read(text: str, python3_error: str = "") -> Reading:
    """How a text Python 3 refused (with ``python3_error``) reads instead."""
    if not python3_error:
        _, python3_error = _parse(text)
    tokens = _tokens(text)
    if "async" in text or "await" in text:
        old = _Rewriter(tokens, names_only=True)
        rewritten = old.run()
        if old.traits:
            tree, _ = _parse(rewritten)
            if tree is not None:
                traits = sorted(old.traits.values(), key=lambda t: t.line)
                return Reading(
                    verdict="python3.6", traits=traits, tree=tree, python3_error=python3_error
                )
    rewriter = _Rewriter(tokens, names_only=False)
    rewritten = rewriter.run()
    tree, error = _parse(rewritten)
    if tree is None and "\t" in text:
        expanded = _expand_tabs(rewritten)
        if expanded != rewritten:
            tree, _ = _parse(expanded)
            if tree is not None:
                line = _first_mixed_indent(text)
                rewriter.trait("tabs and spaces mixed in indentation", line)
    traits = sorted(rewriter.traits.values(), key=lambda t: t.line)
    py2 = [t for t in traits if t.kind == "python2"]
    if tree is not None and py2:
        return Reading(verdict="python2", traits=traits, tree=tree, python3_error=python3_error)
    return Reading(
        verdict="neither",
        traits=traits,
        python3_error=python3_error,
        python2_error=error or python3_error,
    )


def _first_mixed_indent(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            return number
    return 1


# --------------------------------------------------------------------------- cheap checks

# Python 2 traits (and ``async`` as a name) that only a full parse would find (the import
# scan parses only the statements that import): a literal the text must hold ("" for
# none) and a pattern for the place, each written to start with a literal character
# (the regex engine then skips ahead to it; a leading look-behind makes it try every
# position of the text).
_SUSPECTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("`", re.compile(r"`(?<!``)(?!`)[^`\n]+`(?!`)")),  # not reST's ``code``
    ("<>", re.compile(r"<>")),
    ("def", re.compile(r"def[ \t]+\w+[ \t]*\([^()]*\(")),
    ("lambda", re.compile(r"lambda[ \t]*\(")),
    ("", re.compile(r"0(?<![\w.]0)[0-7]*[1-9]")),
    ("L", re.compile(r"L(?<=\dL)(?!\w)")),
    ("async", re.compile(r"async\b(?<![\w.]async)(?![ \t]+(?:def|for|with)\b)")),
    ("async", re.compile(r"\.async\b")),
    ("await", re.compile(r"await\b[ \t]*[=.,)\]:]")),
)
_SPACE_INDENT = re.compile(r"\n {2,}\S")


def suspect(text: str) -> bool:
    """Whether the code (strings and comments left out) holds something that may be a
    Python 2 trait a partial parse would miss: a full parse must decide."""
    if "\n\t" in text and _SPACE_INDENT.search(text):
        return True  # tabs and spaces both indent: Python 3 may refuse the mix
    for literal, pattern in _SUSPECTS:
        if (not literal or literal in text) and in_code(text, pattern):
            return True
    return False


def in_code(text: str, pattern: re.Pattern[str]) -> bool:
    """Whether ``pattern`` matches somewhere outside strings and comments (a docstring's
    matches are skipped together: the search goes on after its end)."""
    spans: list[tuple[int, int]] | None = None
    pos = 0
    while (m := pattern.search(text, pos)) is not None:
        if spans is None:
            spans = _triple_quoted(text)
        at = m.start()
        k = bisect.bisect_right(spans, (at, len(text) + 1)) - 1
        if k >= 0 and at < spans[k][1]:
            pos = spans[k][1]
            continue
        if _code_at(text, at, spans):
            return True
        pos = at + 1
    return False


def _triple_quoted(text: str) -> list[tuple[int, int]]:
    """Where the triple-quoted strings are, in order (an unclosed one runs to the end)."""
    spans: list[tuple[int, int]] = []
    i = 0
    a, b = text.find('"""'), text.find("'''")
    while a >= 0 or b >= 0:
        if 0 <= a < i:
            a = text.find('"""', i)
        if 0 <= b < i:
            b = text.find("'''", i)
        if a < 0 and b < 0:
            break
        start, quote = (a, '"""') if b < 0 or 0 <= a < b else (b, "'''")
        if not _code_at(text, start, spans):  # inside a comment or a one-line string
            i = start + 3
            continue
        end = text.find(quote, start + 3)
        end = len(text) if end < 0 else end + 3
        spans.append((start, end))
        i = end
    return spans


def _code_at(text: str, pos: int, spans: list[tuple[int, int]]) -> bool:
    """``pos`` is in code: not in a triple-quoted string, a one-line string or a comment."""
    begin = text.rfind("\n", 0, pos) + 1
    k = bisect.bisect_right(spans, (pos, len(text) + 1)) - 1
    if k >= 0:
        end = spans[k][1]
        if pos < end:
            return False
        begin = max(begin, end)  # a string that closed earlier on this line
    quote = ""
    i = begin
    while i < pos:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return False
        i += 1
    return not quote
