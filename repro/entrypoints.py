"""The repository's programs, for the smoke test's ``--help`` check (reads files only).

Three sources, in this order:

1. console scripts declared in ``pyproject.toml`` (``[project.scripts]``,
   ``[tool.poetry.scripts]``), ``setup.cfg`` (``[options.entry_points]``) or ``setup.py``
   (a literal ``entry_points={"console_scripts": [...]}``), when the module they name is
   part of the repository;
2. packages with a ``__main__.py`` (``python -m pkg --help``);
3. top-level scripts that parse their command line with argparse, optparse, click, typer,
   fire, docopt or absl/``tf.app.flags`` and run under ``if __name__ == "__main__":``.
   ``--help`` makes such a script import everything and stop before doing any work.
   absl (and ``tf.app.flags``, built on it) exits 1 after printing the help: such scripts
   are marked so the check accepts that exit.
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from repro.scan.files import read_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MAX_ENTRY_POINTS = 5
# Scripts whose names say "this is the program" come first.
PREFERRED = ("main", "cli", "run", "app", "demo", "predict", "inference", "infer", "train")
_CLI_MODULES = frozenset({"argparse", "optparse", "click", "typer", "fire", "docopt", "absl"})
_ABSL = re.compile(
    r"^\s*(?:from\s+absl\b|import\s+absl\b)|\btf\.(?:compat\.v1\.)?(?:app\.)?flags\b|"
    r"\btf\.(?:compat\.v1\.)?app\.run\b",
    re.MULTILINE,
)
_MAIN_GUARD = re.compile(r"""^if\s+__name__\s*==\s*['"]__main__['"]\s*:""", re.MULTILINE)
_CLI_IMPORT = re.compile(
    r"^\s*(?:import|from)\s+(argparse|optparse|click|typer|fire|docopt|absl)\b", re.MULTILINE
)


@dataclass(frozen=True, kw_only=True)
class EntryPoint:
    kind: Literal["console", "module", "script"]
    spec: str  # what the in-image help check takes: console:N=M:A, module:P, script:F
    origin: str  # where it was found
    absl: bool = False

    @property
    def check_spec(self) -> str:
        return f"absl-{self.spec}" if self.absl else self.spec


def find(root: Path, python_paths: tuple[str, ...]) -> list[EntryPoint]:
    """Every program found, in the order above, at most ``MAX_ENTRY_POINTS``."""
    present = set(python_paths)
    found: list[EntryPoint] = []
    for name, ref, origin in _console_scripts(root):
        module = ref.split(":")[0].strip()
        if not _module_in_repo(module, present):
            continue
        attr = ref.split(":")[1].strip() if ":" in ref else "main"
        absl = _uses_absl(root, _module_file(module, present))
        found.append(
            EntryPoint(
                kind="console", spec=f"console:{name}={module}:{attr}", origin=origin, absl=absl
            )
        )
    for path in sorted(present):
        p = PurePosixPath(path)
        if p.name != "__main__.py" or len(p.parts) < 2:
            continue
        parents = p.parts[:-1]
        start = 1 if parents[0] == "src" else 0
        if len(parents) - start != 1 or f"{'/'.join(parents)}/__init__.py" not in present:
            continue
        found.append(
            EntryPoint(
                kind="module",
                spec=f"module:{parents[-1]}",
                origin=path,
                absl=_uses_absl(root, path),
            )
        )
    scripts = [p for p in python_paths if "/" not in p and _is_program(p)]
    scripts.sort(key=lambda p: (_rank(p), p))
    for path in scripts:
        text = read_text(root / path) or ""
        if _is_cli_script(text):
            found.append(
                EntryPoint(
                    kind="script",
                    spec=f"script:{path}",
                    origin=path,
                    absl=bool(_ABSL.search(text)),
                )
            )
    unique = list({e.spec: e for e in found}.values())
    return unique[:MAX_ENTRY_POINTS]


def _rank(path: str) -> int:
    stem = PurePosixPath(path).stem
    return PREFERRED.index(stem) if stem in PREFERRED else len(PREFERRED)


def _is_program(path: str) -> bool:
    name = PurePosixPath(path).name
    return not (
        name.startswith(("test_", "_", "."))
        or name.endswith("_test.py")
        or name in ("setup.py", "conftest.py", "noxfile.py", "fabfile.py", "manage.py")
    )


def _is_cli_script(text: str) -> bool:
    """A ``__main__`` guard and a command-line library: ``--help`` stops before any work."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        # Python 2 code: the host cannot parse it; read it as text.
        return bool(_MAIN_GUARD.search(text) and _CLI_IMPORT.search(text))
    if not any(_is_main_guard(node) for node in tree.body):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] in _CLI_MODULES for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in _CLI_MODULES:
            return True
    return bool(_ABSL.search(text))


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    sides = [node.test.left, *node.test.comparators]
    names = {s.id for s in sides if isinstance(s, ast.Name)}
    values = {s.value for s in sides if isinstance(s, ast.Constant)}
    return "__name__" in names and "__main__" in values


def _uses_absl(root: Path, path: str) -> bool:
    if not path:
        return False
    return bool(_ABSL.search(read_text(root / path) or ""))


def _module_file(module: str, present: set[str]) -> str:
    rel = module.replace(".", "/")
    for base in ("", "src/"):
        for candidate in (f"{base}{rel}.py", f"{base}{rel}/__init__.py"):
            if candidate in present:
                return candidate
    return ""


def _module_in_repo(module: str, present: set[str]) -> bool:
    return bool(module) and bool(_module_file(module, present))


# --------------------------------------------------------------------------- console scripts


def _console_scripts(root: Path) -> list[tuple[str, str, str]]:
    """(name, "module:attr", origin) from pyproject.toml, setup.cfg and setup.py."""
    out: list[tuple[str, str, str]] = []
    text = read_text(root / "pyproject.toml")
    if text:
        try:
            doc: dict[str, Any] = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, ValueError):
            doc = {}
        project, tool = doc.get("project"), doc.get("tool")  # any TOML value, not a table
        poetry_table = tool.get("poetry") if isinstance(tool, dict) else None
        scripts = project.get("scripts") if isinstance(project, dict) else None
        poetry = poetry_table.get("scripts") if isinstance(poetry_table, dict) else None
        for table, where in ((scripts, "[project.scripts]"), (poetry, "[tool.poetry.scripts]")):
            if isinstance(table, dict):
                for name, ref in table.items():
                    if isinstance(ref, dict):
                        ref = ref.get("callable", "")
                    if isinstance(ref, str) and ref:
                        out.append((str(name), ref, f"pyproject.toml {where}"))
    text = read_text(root / "setup.cfg")
    if text:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
            value = parser.get("options.entry_points", "console_scripts", fallback="")
        except configparser.Error:
            value = ""
        out += [(n, r, "setup.cfg [options.entry_points]") for n, r in _ini_lines(value)]
    text = read_text(root / "setup.py")
    if text:
        out += [(n, r, "setup.py entry_points") for n, r in _setup_py_scripts(text)]
    return out


def _ini_lines(value: str) -> list[tuple[str, str]]:
    pairs = []
    for line in value.splitlines():
        name, sep, ref = line.partition("=")
        if sep and name.strip() and ref.strip():
            pairs.append((name.strip(), ref.strip().split()[0]))
    return pairs


def _setup_py_scripts(text: str) -> list[tuple[str, str]]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        for kw in node.keywords:
            if kw.arg != "entry_points":
                continue
            try:
                value = ast.literal_eval(kw.value)
            except (ValueError, SyntaxError, TypeError):
                return []
            if isinstance(value, dict):
                scripts = value.get("console_scripts", [])
                if isinstance(scripts, str):
                    return _ini_lines(scripts)
                if isinstance(scripts, list):
                    return _ini_lines("\n".join(str(s) for s in scripts))
            if isinstance(value, str):
                parser = configparser.ConfigParser(interpolation=None)
                try:
                    parser.read_string(value)
                except configparser.Error:
                    return []
                if parser.has_section("console_scripts"):
                    items = parser.items("console_scripts")
                    return _ini_lines("\n".join(f"{k}={v}" for k, v in items))
    return []
