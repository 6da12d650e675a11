"""Every parser, fuzzed: no input makes repro raise anything but a ReproError.

Each reader of repository files gets generated input shaped like its format (so the
fuzzing reaches past the first syntax check) mixed with arbitrary text and bytes; the
whole inspect path (fetch → scan → infer → base image → Dockerfile) is fuzzed with
generated repositories. The number of cases run is printed at the end of the session
and written to ``$REPRO_FUZZ_REPORT`` when set (docs/security.md quotes it).

``REPRO_FUZZ_EXAMPLES`` sets the examples per fuzzer (default 100; the figure in
docs/security.md was made with 2000).
"""

from __future__ import annotations

import contextlib
import json
import os
import string
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from repro import config, pipeline, scratch
from repro.errors import ReproError
from repro.fetch import parse_source
from repro.models import Options, Origin
from repro.report import QuietReporter
from repro.scan import commands, declared, imports, lockfiles, requirements
from repro.scan import hints as hint_files
from repro.scan.files import walk

EXAMPLES = int(os.environ.get("REPRO_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
CASES: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    total = sum(CASES.values())
    lines = [f"{name}: {count}" for name, count in sorted(CASES.items())]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    message = f"\nfuzz cases run: {total} ({', '.join(lines)})"
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print(message)
    target = os.environ.get("REPRO_FUZZ_REPORT")
    if target:
        Path(target).write_text(
            json.dumps({"total": total, "per_fuzzer": dict(CASES)}, indent=2) + "\n"
        )


def count(name: str) -> None:
    CASES[name] += 1


# --------------------------------------------------------------------------- vocabulary

TEXT = st.text(max_size=60)
BYTES_AS_TEXT = st.binary(max_size=60).map(lambda b: b.decode("latin-1"))
NAMES = st.sampled_from(
    ["numpy", "scipy", "torch", "tensorflow", "jax", "Django", "python", "a", "-", "_", "x.y"]
) | st.text(alphabet=string.ascii_letters + string.digits + "-_.", max_size=12)
OPS = st.sampled_from(["==", "!=", "<=", ">=", "<", ">", "~=", "===", "=", "<<", "^", "~", "*", ""])
VERSIONS = st.from_regex(
    r"[0-9]{1,3}(\.[0-9*]{1,3}){0,3}(a|b|rc|\.post|\.dev)?[0-9]?", fullmatch=True
)
VERSIONS = VERSIONS | st.text(alphabet="0123456789.*+!abrcdevpostx", max_size=10)
MARKERS = st.sampled_from(
    ["", "; python_version<'3'", "; sys_platform == 'win32'", ";", "; and or", " ; extra=='x'"]
)
EXTRAS = st.sampled_from(["", "[cuda]", "[a,b]", "[", "]", "[]"])


def _spec(name: str, extra: str, op: str, version: str, marker: str) -> str:
    return f"{name}{extra}{op}{version}{marker}"


REQUIREMENT = st.builds(_spec, NAMES, EXTRAS, OPS, VERSIONS, MARKERS)
OPTION = st.builds(
    lambda o, v: f"{o}{v}",
    st.sampled_from(
        [
            "-r ",
            "-c ",
            "-e ",
            "-i ",
            "--index-url=",
            "--extra-index-url ",
            "-f ",
            "--hash=",
            "--no-binary ",
            "--trusted-host ",
            "- ",
            "-- ",
            "-rr",
            "-e.",
            "--requirement=",
            "-r",
        ]
    ),
    st.sampled_from(["", "requirements.txt", "../x.txt", "/etc/passwd", ".", "sha256:00"]) | TEXT,
)
URL_LINE = st.sampled_from(
    [
        "git+https://github.com/a/b.git#egg=b",
        "git+https://x/y#egg=[",
        "https://x/y-1.0-py3-none-any.whl",
        "file:../x",
        "foo @ https://x/foo.tar.gz",
        "foo @ ",
        "-e git+ssh://git@x/y.git#egg=y&subdirectory=z",
        "./local/path",
        "pkg.zip",
    ]
)
LINE = st.one_of(REQUIREMENT, OPTION, URL_LINE, TEXT, BYTES_AS_TEXT)
JOINERS = st.sampled_from(["\n", "\r\n", " \\\n", "\n# comment\n", "  #x\n", "\t"])


@st.composite
def lines_text(draw: st.DrawFn, line: st.SearchStrategy[str] = LINE) -> str:
    parts = draw(st.lists(line, max_size=12))
    out = ""
    for part in parts:
        out += part + draw(JOINERS)
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
        )
    raise TypeError(value)


def toml_text(doc: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in doc.items())


KEYS = st.sampled_from(
    ["project", "dependencies", "optional-dependencies", "requires-python", "tool", "poetry",
     "group", "dev-dependencies", "repro", "smoke", "python", "pins", "as-of", "cuda", "cpu",
     "base-image", "classifiers", "build-system", "dependency-groups", "version", "extras",
     "git", "rev", "url", "optional", "packages", "source", "name", "requires", "dev",
     "scripts", "callable", "entry-points", "console_scripts"]
) | st.text(max_size=8)  # fmt: skip
SCALARS = st.one_of(
    st.booleans(), st.integers(-(2**40), 2**40), REQUIREMENT, VERSIONS, TEXT, st.just("^1.2")
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)


@st.composite
def pyproject_doc(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = draw(st.dictionaries(KEYS, VALUES, max_size=3))
    if draw(st.booleans()):
        doc["project"] = draw(st.dictionaries(KEYS, VALUES, max_size=4))
    if draw(st.booleans()):
        doc["tool"] = {
            "poetry": draw(st.dictionaries(KEYS, VALUES, max_size=4)),
            "repro": draw(st.dictionaries(KEYS, VALUES, max_size=3)),
        }
    return doc


TOML_TEXT = pyproject_doc().map(toml_text) | TEXT | lines_text()
YAML_TEXT = VALUES.map(lambda v: yaml.safe_dump({"dependencies": v, "name": "env"})) | st.one_of(
    VALUES.map(yaml.safe_dump), TEXT, st.just("!!python/object/apply:os.system ['id']\n")
)

EXPRS = st.recursive(
    st.one_of(
        REQUIREMENT.map(repr),
        st.sampled_from(["REQS", "x", "None", "1", "f'{x}'", "open('r.txt').read()", "..."]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]} + {t[1]}"),
        st.dictionaries(REQUIREMENT.map(repr), inner, max_size=3).map(
            lambda d: "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}"
        ),
        inner.map(lambda e: f"list({e})"),
    ),
    max_leaves=12,
)
SETUP_KEYS = st.sampled_from(
    [
        "install_requires",
        "extras_require",
        "python_requires",
        "classifiers",
        "name",
        "**kw",
        "entry_points",
    ]
)


@st.composite
def setup_py(draw: st.DrawFn) -> str:
    assigns = draw(st.lists(st.tuples(st.sampled_from(["REQS", "x", "kw"]), EXPRS), max_size=3))
    kwargs = draw(st.lists(st.tuples(SETUP_KEYS, EXPRS), max_size=4))
    head = "".join(f"{name} = {expr}\n" for name, expr in assigns)
    args = ", ".join(expr if key == "**kw" else f"{key}={expr}" for key, expr in kwargs)
    call = draw(st.sampled_from(["setup", "setuptools.setup", "distutils.core.setup", "main"]))
    return f"from setuptools import setup\n{head}{call}({args})\n" + draw(TEXT)


SETUP_CFG = (
    st.builds(
        lambda section, key, value: f"[{section}]\n{key} =\n    {value}\n",
        st.sampled_from(
            ["options", "options.extras_require", "metadata", "", "options.entry_points"]
        ),
        st.sampled_from(
            ["install_requires", "python_requires", "classifiers", "dev", "console_scripts"]
        ),
        lines_text(),
    )
    | TEXT
)

PY_LINES = st.one_of(
    st.builds(lambda n: f"import {n}", NAMES),
    st.builds(lambda n, m: f"from {n} import {m}", NAMES, NAMES),
    st.sampled_from(
        [
            "from . import x",
            "from .. import *",
            "try:",
            "    import torch",
            "except ImportError:",
            "    pass",
            "if TYPE_CHECKING:",
            "print 'py2'",
            "except Exception, e:",
            "exec 'x'",
            "sys.path.append('lib')",
            "sys.path.insert(0, os.path.join('a', 'b'))",
            "x := 1",
            "match x:",
            "    case 1: pass",
            "def f(:",
            "tf.contrib.layers",
            "np.float(1)",
            "torch.load('x')",
            "async def f(): await x",
            "f'{x!r:>{w}}'",
            "\tmixed",
            "  ",
        ]
    ),
    TEXT,
)
PY_SOURCE = lines_text(PY_LINES) | TEXT | BYTES_AS_TEXT


@st.composite
def notebook(draw: st.DrawFn) -> str:
    cells = []
    for _ in range(draw(st.integers(0, 4))):
        source: Any = draw(
            st.one_of(
                PY_SOURCE,
                st.lists(PY_SOURCE, max_size=3),
                st.sampled_from(["!pip install numpy==1.0 'scipy<2'", "%conda install torch"]),
                VALUES,
            )
        )
        cell = {
            "cell_type": draw(st.sampled_from(["code", "markdown", "raw", 3])),
            "source": source,
        }
        cells.append(draw(st.sampled_from([cell, {"input": source, "cell_type": "code"}, source])))
    shape = draw(st.sampled_from(["v4", "v3", "weird"]))
    if shape == "v4":
        doc: Any = {"cells": cells, "nbformat": 4}
    elif shape == "v3":
        doc = {"worksheets": [{"cells": cells}, draw(VALUES)], "nbformat": 3}
    else:
        doc = draw(VALUES)
    return json.dumps(doc)


NOTEBOOK = notebook() | TEXT | st.just('{"cells": [') | st.just("[" * 5000)


# --------------------------------------------------------------------------- helpers


def _tmp_repo(files: dict[str, str]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="repro-fuzz-") as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", errors="surrogateescape")
        yield root


def _with_file(rel: str, text: str, reader: Callable[[Path, str], object]) -> None:
    for root in _tmp_repo({rel: text}):
        reader(root, rel)


ORIGIN = Origin(kind="requirements", path="requirements.txt", line=1)


# --------------------------------------------------------------------------- parsers


@FUZZ
@given(LINE)
def test_fuzz_requirement_line(line: str) -> None:
    count("requirement line")
    result = requirements.parse_requirement(line, ORIGIN)
    assert isinstance(result, str) or result.name == result.name.lower()


@FUZZ
@given(lines_text())
def test_fuzz_requirements_file(text: str) -> None:
    count("requirements file")
    requirements.parse_text(text, "requirements.txt")

    def read(root: Path, rel: str) -> None:
        (root / "requirements-dev.txt").write_text(text)
        requirements.parse_file(root, rel, requirements.RequirementsResult())

    _with_file("requirements.txt", text, read)


@FUZZ
@given(setup_py() | PY_SOURCE)
def test_fuzz_setup_py(text: str) -> None:
    count("setup.py")
    _with_file("setup.py", text, declared.read_setup_py)


@FUZZ
@given(SETUP_CFG)
def test_fuzz_setup_cfg(text: str) -> None:
    count("setup.cfg")
    _with_file("setup.cfg", text, declared.read_setup_cfg)


@FUZZ
@given(TOML_TEXT)
def test_fuzz_pyproject(text: str) -> None:
    count("pyproject.toml")
    _with_file("pyproject.toml", text, declared.read_pyproject)


@FUZZ
@given(st.one_of(st.text(max_size=20), OPS.map(lambda o: o + "1.2"), VERSIONS))
@example("~")  # found by this fuzzer
@example("~1.x")
def test_fuzz_poetry_constraint(text: str) -> None:
    count("poetry constraint")
    declared.poetry_constraint(text)


@FUZZ
@given(YAML_TEXT)
def test_fuzz_conda_environment(text: str) -> None:
    count("environment.yml")
    _with_file("environment.yml", text, lambda r, p: declared.read_conda(r, p, {"packages": {}}))


@FUZZ
@given(st.one_of(TEXT, VERSIONS.map(lambda v: f"python-{v}")))
@example("\r")  # found by this fuzzer: a file of whitespace only
def test_fuzz_python_version_files(text: str) -> None:
    count("runtime.txt / .python-version")
    _with_file("runtime.txt", text, declared.read_python_version_file)
    _with_file(".python-version", text, declared.read_python_version_file)


@FUZZ
@given(PY_SOURCE)
def test_fuzz_python_source(text: str) -> None:
    count("python source (imports, APIs)")
    found = imports.scan_source(text, "m.py")
    assert all(site.origin.path == "m.py" for site in found.sites)


@FUZZ
@given(NOTEBOOK)
@example('{"cells": [{"cell_type": "code", "source": [false]}], "nbformat": 4}')  # found here
@example('{"worksheets": [{"cells": []}, []], "nbformat": 3}')  # found here
def test_fuzz_notebook(text: str) -> None:
    count("notebook")
    nb = imports.read_notebook(text)
    for _, code in nb.code:
        imports.scan_source(code, "nb.ipynb")


@FUZZ
@given(pyproject_doc())
@example({"tool": False})  # found by this fuzzer
def test_fuzz_repo_settings(doc: dict[str, Any]) -> None:
    count("[tool.repro] settings")
    for root in _tmp_repo({"pyproject.toml": toml_text(doc)}):
        table, source = config.read_repo_config(root)
        with contextlib.suppress(ReproError):
            config.with_repo_settings(Options(), table, source)


# --------------------------------------------------------------------------- prose, scripts, locks

COMMAND_LINES = st.one_of(
    st.builds(lambda r: f"pip install {r}", REQUIREMENT),
    st.builds(lambda r: f"conda install -c pytorch {r}", REQUIREMENT),
    st.builds(lambda o, v: f"pip install {o} {v}", OPTION, REQUIREMENT),
    st.sampled_from(
        [
            "RUN pip install -r requirements.txt",
            "FROM nvidia/cuda:10.1-cudnn7-devel",
            "```bash",
            "```",
            "## Requirements",
            "- numpy >= 1.16",
            "* `torch` (1.4)",
            "python setup.py develop",
            "export PYTHONPATH=$PWD/lib:$PYTHONPATH",
            "pip install -e .",
            "  run: pip install 'x<2' && pytest",
            "deps =",
            "    pytest",
            "ENV PYTHONPATH=/x",
        ]
    ),
    TEXT,
)
PROSE = lines_text(COMMAND_LINES)


def _scan_reader(rel: str, text: str, read: Callable[..., object], *extra: Any) -> None:
    for root in _tmp_repo({rel: text}):
        read(root, rel, {"packages": {}}, *extra)


@FUZZ
@given(PROSE)
def test_fuzz_install_commands(text: str) -> None:
    count("install commands (README, scripts, CI, Dockerfile)")
    commands.find_commands(text)
    known: frozenset[str] = frozenset({"requirements.txt"})
    _scan_reader("README.md", text, hint_files.read_readme, known, lambda name: name == "numpy")
    _scan_reader("run.sh", text, hint_files.read_script, known)
    _scan_reader(".travis.yml", text, hint_files.read_ci, known)
    _scan_reader("tox.ini", text, hint_files.read_ci, known)
    _scan_reader("Dockerfile", text, hint_files.read_dockerfile, {"images": []}, known)


LOCK_FILES = st.sampled_from(["Pipfile.lock", "poetry.lock", "uv.lock", "pdm.lock"])


@FUZZ
@given(TOML_TEXT, LOCK_FILES, VALUES.map(json.dumps) | TOML_TEXT, st.booleans())
def test_fuzz_pipfile_and_locks(pipfile: str, lock: str, text: str, manifest: bool) -> None:
    count("Pipfile and lock files")
    files = {"Pipfile": pipfile, lock: text}
    if manifest:
        files["pyproject.toml"] = pipfile
    for root in _tmp_repo(files):
        lockfiles.read_pipfile(root, "Pipfile")
        lockfiles.read_lock(root, lock)


# --------------------------------------------------------------------------- whole repositories

REPO_FILES: dict[str, st.SearchStrategy[str]] = {
    "requirements.txt": lines_text(),
    "requirements/base.txt": lines_text(),
    "setup.py": setup_py() | PY_SOURCE,
    "setup.cfg": SETUP_CFG,
    "pyproject.toml": TOML_TEXT,
    "Pipfile": TOML_TEXT,
    "Pipfile.lock": VALUES.map(json.dumps) | TEXT,
    "poetry.lock": TOML_TEXT,
    "run.sh": PROSE,
    "environment.yml": YAML_TEXT,
    "tox.ini": SETUP_CFG,
    ".travis.yml": YAML_TEXT,
    ".github/workflows/ci.yml": YAML_TEXT,
    ".python-version": VERSIONS,
    "repro.toml": TOML_TEXT,
    "Dockerfile": PROSE,
    "README.md": PROSE,
    "main.py": PY_SOURCE,
    "pkg/__init__.py": PY_SOURCE,
    "tests/test_x.py": PY_SOURCE,
    "notebook.ipynb": NOTEBOOK,
}


@st.composite
def repository(draw: st.DrawFn) -> dict[str, str]:
    names = draw(st.lists(st.sampled_from(sorted(REPO_FILES)), min_size=1, max_size=8, unique=True))
    return {name: draw(REPO_FILES[name]) for name in names}


@FUZZ
@given(repository())
@example({"pyproject.toml": '"project" = false\n', "main.py": ""})  # found here (entry points)
def test_fuzz_whole_inspect(files: dict[str, str]) -> None:
    """fetch → scan → infer → base image → Dockerfile: a plan, or one ReproError."""
    count("whole repository (inspect)")
    for root in _tmp_repo(files):
        walk(root)
        with scratch.workspace() as workdir:
            try:
                pipeline.prepare(parse_source(str(root)), Options(), workdir, QuietReporter())
            except ReproError as exc:
                assert (exc.message and "\n" not in exc.message.strip()) or exc.message
