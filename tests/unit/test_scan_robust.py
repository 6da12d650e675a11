"""Every evidence reader survives bad input: a warning at most, never an exception.

Random bytes and random text go into each kind of file repro reads (requirements,
setup.py/cfg, pyproject, Pipfile and locks, conda files, Dockerfiles, scripts, READMEs,
CI configs, notebooks, Python code), and the whole scan runs on them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repro.scan import scan

NAMES = [
    "requirements.txt",
    "setup.py",
    "setup.cfg",
    "pyproject.toml",
    "Pipfile",
    "Pipfile.lock",
    "poetry.lock",
    "uv.lock",
    "environment.yml",
    "Dockerfile",
    "install.sh",
    "README.md",
    ".travis.yml",
    ".github/workflows/ci.yml",
    "tox.ini",
    "analysis.ipynb",
    "code.py",
]

# Text that looks a little like the real thing, so parsers get past their first line.
FRAGMENTS = st.sampled_from(
    [
        "[project]\n", "dependencies = [", "\"numpy>=1\"", "]\n", "[[package]]\n",
        "name = \"x\"\n", "version = ", "{", "}", "install_requires=[", "setup(", ")",
        "- pip:\n", "  - torch==1.4\n", "dependencies:\n", "RUN pip install ", "FROM ",
        "tensorflow/tensorflow:1.", "\\\n", "```\n", "pip install -r ", "conda install ",
        "import ", "from . import x\n", "try:\n", "except ImportError:\n", "    ", "\t",
        "print 'x'\n", "sys.path.append(", "os.path.join(__file__, '..')", "\"cells\": [",
        "\"source\": ", "#egg=", "git+https://example.invalid/x.git", ";", ":", "=", "\n",
        "\x00", "\xff", "é", "\ud7ff", "%pip install ", "!conda install -y ",
    ]
)  # fmt: skip
TEXTS = st.lists(FRAGMENTS, max_size=40).map("".join)


def _write(root: Path, name: str, data: bytes) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), data=st.binary(max_size=2000))
def test_random_bytes_never_crash_a_reader(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write(root, name, data)
        _write(root, "main.py", b"import numpy\n")
        evidence = scan(root)
    assert "numpy" in {s.module for s in evidence.imports}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.dictionaries(st.sampled_from(NAMES), TEXTS, min_size=1, max_size=6))
def test_plausible_garbage_never_crashes_the_scan(files: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, text in files.items():
            _write(root, name, text.encode("utf-8", "surrogatepass"))
        _write(root, "main.py", b"import numpy\n")
        scan(root)


def test_known_bad_files_give_warnings(tmp_path: Path) -> None:
    bad = {
        "pyproject.toml": b"[project\nname = broken",
        "Pipfile": b"[packages\nrequests = ",
        "poetry.lock": b"[[package]\n",
        "Pipfile.lock": b"{not json",
        "environment.yml": b"dependencies: [numpy\n  - : :\n",
        "setup.cfg": b"[options\ninstall_requires = x",
        "nb.ipynb": json.dumps({"cells": "nope"}).encode(),
        "blob.py": b"\x00\x01binary",
        "setup.py": b"setup(install_requires=[\n",
    }
    for name, data in bad.items():
        _write(tmp_path, name, data)
    _write(tmp_path, "main.py", b"import requests\n")
    warnings = "\n".join(scan(tmp_path).warnings)
    for name in ("pyproject.toml", "Pipfile", "poetry.lock", "Pipfile.lock", "environment.yml"):
        assert name in warnings, name
    assert "blob.py" in warnings and "nb.ipynb" in warnings


def test_partial_parsing_finds_what_a_full_parse_finds() -> None:
    """The fast path (top-level import statements only, plain lines without a parser)
    must give the same imports, lines and optional flags as walking the whole tree: checked
    on a sample of the standard library's own files, which are real code of every style."""
    import sysconfig

    from repro.scan.imports import scan_source

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(stdlib.glob("*.py"))[::2] + sorted(stdlib.glob("*/*.py"))[::8]
    checked = 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        full = scan_source(text, path.name, whole=True)
        if full.tree is None:
            continue
        fast = scan_source(text, path.name)
        key = lambda f: sorted((s.module, s.origin.line, s.optional) for s in f.sites)  # noqa: E731
        assert key(fast) == key(full), path
        assert sorted(fast.sys_path_dirs) == sorted(full.sys_path_dirs), path
        checked += 1
    assert checked > 100


def test_api_uses_found_without_a_full_parse_match_a_full_parse() -> None:
    """Files parsed only where they import are parsed whole when an API rule may match:
    every fixture file must give the API uses a full parse gives."""
    from repro.scan import _api_uses
    from repro.scan import api as api_scan
    from repro.scan.imports import scan_source

    root = Path(__file__).resolve().parents[2] / "fixtures"
    checked = 0
    for path in sorted(root.rglob("*.py")):
        text = path.read_bytes().decode("utf-8", "replace")
        fast = scan_source(text, path.name)
        if fast.python2 or fast.unparsable:
            continue
        full = scan_source(text, path.name, whole=True)
        if full.tree is None:
            continue  # e.g. nesting too deep for the parser: nothing to compare
        expected = api_scan.detect(full.tree, path.name)
        assert _api_uses(text, path.name, fast) == expected, path
        checked += bool(expected)
    assert checked >= 10  # the era fixtures use TF1, numpy, torch APIs the rules know
