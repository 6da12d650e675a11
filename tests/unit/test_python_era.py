"""Python bounds from the code itself (repro/scan/pyera.py, repro/scan/py2.py): Python 2
only, Python 3 only, and the standard APIs Python removed or added, each with its line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from repro.infer import infer
from repro.models import InferSettings, PythonHint
from repro.releases import ShippedIndex
from repro.scan import py2, scan
from tests.conftest import write_files


def hints(tmp_path: Path, files: dict[str, str]) -> list[PythonHint]:
    return list(scan(write_files(tmp_path, files)).python_hints)


def specs(tmp_path: Path, files: dict[str, str]) -> list[tuple[str, str, int | None]]:
    return [(h.specifier, h.origin.path, h.origin.line) for h in hints(tmp_path, files)]


def python_for(tmp_path: Path, files: dict[str, str], when: str = "2019-06-01") -> str:
    ev = scan(write_files(tmp_path, files))
    date = dt.datetime.fromisoformat(when + "T12:00:00+00:00")
    return infer(ev, InferSettings(), commit_date=date, releases=ShippedIndex()).python.version


# --------------------------------------------------------------------------- Python 2 only

PY2_TRAITS = [
    ("print 'hello'\n", "print statement", 1),
    ("import os\nexec 'x = 1' in globals()\n", "exec statement", 2),
    ("x = 1\ny = `x`\n", "backticks (repr)", 2),
    ("a, b = 1, 2\nif a <> b:\n    pass\n", "<> operator", 2),
    ("try:\n    pass\nexcept ValueError, e:\n    pass\n", "except X, e", 3),
    ("def f(a, (b, c)):\n    return a + b\n", "tuple parameter", 1),
    ("pairs = map(lambda (k, v): k, {}.items())\n", "tuple parameter", 1),
    ("s = ur'abc'\n", "ur'' string", 1),
    ("import os\nos.chmod('f', 0755)\n", "octal literal (0777)", 2),
    ("n = 10L\n", "long literal (10L)", 1),
    ("raise ValueError, 'bad'\n", "raise E, v", 1),
    ("if 1:\n\tif 1:\n\t    x = 1\n        y = 2\n", "tabs and spaces mixed in indentation", 2),
]


@pytest.mark.parametrize(("source", "what", "line"), PY2_TRAITS)
def test_each_python2_trait_bounds_python_below_3_with_its_line(
    tmp_path: Path, source: str, what: str, line: int
) -> None:
    (hint,) = hints(tmp_path, {"old.py": "import numpy\n" + source})
    assert hint.specifier == "<3" and hint.strength == "syntax"
    assert hint.origin.path == "old.py" and hint.origin.line == line + 1
    assert hint.origin.detail.startswith(what)


def test_a_tuple_parameter_far_from_the_imports_makes_python_2_7(tmp_path: Path) -> None:
    """The import scan parses only the statements that import; Python 3 would refuse the
    file at line 40 all the same."""
    body = "import numpy as np\n\n" + "x = np.zeros(3)\n" * 37 + "def f(a, (b, c)):\n    pass\n"
    assert specs(tmp_path, {"train.py": body}) == [("<3", "train.py", 40)]
    assert python_for(tmp_path, {"train.py": body}) == "2.7"


def test_python2_modules_bound_python_unless_optional_or_local(tmp_path: Path) -> None:
    assert specs(tmp_path / "a", {"get.py": "import urlparse\nimport numpy\n"}) == [
        ("<3", "get.py", 1)
    ]
    compat = "try:\n    from urlparse import urljoin\nexcept ImportError:\n    pass\n"
    assert specs(tmp_path / "b", {"get.py": compat}) == []
    # a module of the repository's own named like a Python 2 module
    assert specs(tmp_path / "c", {"run.py": "import commands\n", "commands.py": ""}) == []
    detail = hints(tmp_path / "d", {"io2.py": "from StringIO import StringIO\n"})[0].origin.detail
    assert "imports StringIO, a module of Python 2's standard library only" in detail


def test_python2_builtins_count_unless_defined_or_guarded(tmp_path: Path) -> None:
    assert specs(tmp_path / "a", {"loop.py": "for i in xrange(3):\n    pass\n"}) == [
        ("<3", "loop.py", 1)
    ]
    defined = "try:\n    xrange\nexcept NameError:\n    xrange = range\nfor i in xrange(3): pass\n"
    assert specs(tmp_path / "b", {"loop.py": defined}) == []
    versioned = (
        "import sys\nif sys.version_info[0] == 2:\n    text = unicode('x')\nelse:\n"
        "    text = str('x')\n"
    )
    assert specs(tmp_path / "c", {"t.py": versioned}) == []
    assert specs(tmp_path / "d", {"t.py": "# xrange(3) in a comment\ns = 'unicode(x)'\n"}) == []


def test_python2_apis_of_the_standard_library(tmp_path: Path) -> None:
    source = "import string, urllib\nabc = string.letters\npage = urllib.urlopen('x')\n"
    (hint,) = hints(tmp_path, {"s.py": source})
    assert (hint.specifier, hint.origin.line) == ("<3", 2)
    assert "string.letters" in hint.origin.detail


def test_python3_syntax_outweighs_a_python2_import_in_the_same_file(tmp_path: Path) -> None:
    source = "import Queue\n\ndef run(q: Queue.Queue, *, wait=True):\n    print(q, end='')\n"
    found = specs(tmp_path, {"w.py": source})
    assert found[0] == (">=3", "w.py", 3)  # the annotation; Python 2 is overruled
    assert found[-1] == ("<3", "w.py", 1)
    assert python_for(tmp_path, {"w.py": source}).startswith("3.")


def test_print_with_keywords_is_python3_only_without_the_future_import(tmp_path: Path) -> None:
    py3 = "import cPickle\nprint('x', end='')\n"
    assert specs(tmp_path / "a", {"p.py": py3})[0] == (">=3", "p.py", 2)
    both = "from __future__ import print_function\nimport cPickle\nprint('x', end='')\n"
    assert specs(tmp_path / "b", {"p.py": both}) == [("<3", "p.py", 2)]


def test_more_python3_files_than_python2_files_keep_python_3(tmp_path: Path) -> None:
    files = {
        "tools/legacy.py": "print 'old tool'\n",
        "train.py": "def fit(x: int) -> int:\n    return x\n",
        "model.py": "class M:\n    def __init__(self):\n        super().__init__()\n",
    }
    found = specs(tmp_path, files)
    assert found[0][0] == ">=3" and found[-1] == ("<3", "tools/legacy.py", 1)
    ev = scan(tmp_path)
    env = infer(ev, InferSettings(), commit_date=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    assert env.python.version.startswith("3.")
    assert any("ignored Python <3 from tools/legacy.py:1" in c for c in env.conflicts)


def test_python2_wins_when_most_files_are_python2(tmp_path: Path) -> None:
    files = {
        "a.py": "print 'a'\n",
        "b.py": "import urllib2\n",
        "c.py": "def f(x: int):\n    return x\n",
    }
    assert [s for s, _, _ in specs(tmp_path, files)] == ["<3", ">=3"]
    assert python_for(tmp_path, files) == "2.7"


def test_a_file_neither_python_parses_is_reported_with_both_errors(tmp_path: Path) -> None:
    write_files(tmp_path, {"broken.py": "import numpy\nprint 'x'\ndef f(:\n    pass\n"})
    ev = scan(tmp_path)
    (warning,) = [w for w in ev.warnings if "broken.py" in w]
    assert warning.startswith("broken.py: parses as neither Python 3 (line 2:")
    assert "nor Python 2 (line 3:" in warning
    assert [s.module for s in ev.imports] == ["numpy"]  # its imports are still read


def test_python2_notebooks(tmp_path: Path) -> None:
    cells = [{"cell_type": "code", "source": ["import numpy\n", "print 'x'\n"]}]
    nb = {"cells": cells, "metadata": {}, "nbformat": 4}
    assert specs(tmp_path / "a", {"n.ipynb": json.dumps(nb)}) == [("<3", "n.ipynb", 1)]
    kernel = {"kernelspec": {"name": "python2"}, "language_info": {"version": "2.7.12"}}
    plain = {"cells": [{"cell_type": "code", "source": "import numpy\n"}], "metadata": kernel}
    (hint,) = hints(tmp_path / "b", {"n.ipynb": json.dumps(plain)})
    assert hint.specifier == "<3" and "Python 2.7.12 kernel" in hint.origin.detail
    info = {"language_info": {"name": "python", "version": "3.6.8"}}
    newer = {"cells": [{"cell_type": "code", "source": "import numpy\n"}], "metadata": info}
    (hint,) = hints(tmp_path / "c", {"n.ipynb": json.dumps(newer)})
    assert (hint.specifier, hint.strength) == (">=3.6,<3.7", "hint")


# --------------------------------------------------------------------------- within Python 3


def test_async_as_a_name_bounds_python_to_3_6(tmp_path: Path) -> None:
    source = "import asyncio\n\ndef go(f):\n    return asyncio.async(f)\n"
    assert specs(tmp_path, {"aio.py": source}) == [("<3.7", "aio.py", 4), (">=3.4", "aio.py", 1)]
    assert python_for(tmp_path, {"aio.py": source}, "2020-06-01") == "3.6"


@pytest.mark.parametrize(
    ("source", "bound"),
    [
        ("import time\nstart = time.clock()\n", "<3.8"),
        ("import collections\nok = isinstance({}, collections.Mapping)\n", "<3.10"),
        ("from collections import Iterable\n", "<3.10"),
        ("import inspect\nspec = inspect.getargspec(len)\n", "<3.11"),
        ("import imp\n", "<3.12"),
        ("from distutils.core import setup\n", "<3.12"),
        ("import os\nimport errno\nx = os.errno.ENOENT\n", "<3.7"),
        ("from functools import cached_property as cp\nclass A:\n    x = cp(len)\n", ">=3.8"),
        ("import tomllib\n", ">=3.11"),
        ("try:\n    pass\nexcept* ValueError:\n    pass\n", ">=3.11"),
        ("if (n := 3):\n    pass\n", ">=3.8"),
        ("def f(a, /, b):\n    pass\n", ">=3.8"),
    ],
)
def test_standard_apis_and_syntax_bound_python_3(tmp_path: Path, source: str, bound: str) -> None:
    found = specs(tmp_path, {"m.py": source})
    assert [s for s, _, _ in found] == [bound]
    assert found[0][2] and found[0][2] >= 1


def test_compatibility_code_for_two_versions_bounds_nothing(tmp_path: Path) -> None:
    source = (
        "try:\n    from collections.abc import Mapping\nexcept ImportError:\n"
        "    from collections import Mapping\n"
        "import time, sys\n"
        "timer = time.perf_counter if hasattr(time, 'perf_counter') else time.clock\n"
        "if sys.version_info < (3, 3):\n    now = time.clock()\n"
    )
    assert specs(tmp_path, {"compat.py": source}) == []


def test_a_module_aliased_by_version_is_not_read_as_python2(tmp_path: Path) -> None:
    # Sublist3r (2020): urllib is urllib.parse on Python 3 and urllib on Python 2, so
    # urllib.unquote is both majors' spelling, not a Python 2 API
    source = (
        "import sys\nif sys.version > '3':\n    import urllib.parse as urllib\nelse:\n"
        "    import urllib\n\ndef clean(s):\n    return urllib.unquote(s)\n"
    )
    assert specs(tmp_path / "a", {"tool.py": source}) == []
    assert python_for(tmp_path / "b", {"tool.py": source}, "2020-06-21") == "3.7"
    # one binding only: still Python 2's urllib.unquote
    plain = "import urllib\n\ndef clean(s):\n    return urllib.unquote(s)\n"
    assert specs(tmp_path / "c", {"tool.py": plain}) == [("<3", "tool.py", 4)]


def test_python_bounds_decide_the_python(tmp_path: Path) -> None:
    source = "import time\nimport numpy\nt = time.clock()\n"
    assert python_for(tmp_path, {"t.py": source}, "2024-06-01") == "3.7"


# --------------------------------------------------------------------------- the reader


def test_reading_keeps_lines_so_api_uses_of_python2_files_have_theirs(tmp_path: Path) -> None:
    source = "import numpy as np\n\n\nprint 'x'\nx = `np.float(1)`\n"
    ev = scan(write_files(tmp_path, {"old.py": source}))
    assert [(u.rule, u.origin.line) for u in ev.api_uses] == [("np-builtin-aliases", 5)]


def test_the_reader_tells_python2_from_broken_code() -> None:
    assert py2.read("print 'a' % (1,)\n").verdict == "python2"
    assert py2.read("print >>sys.stderr, 'a'\n").verdict == "python2"
    assert py2.read("class A:\n    def f(self): print 'x'\n").verdict == "python2"
    broken = py2.read("x = (\n")
    assert broken.verdict == "neither" and broken.python2_error.startswith("line 1:")
    assert not py2.suspect("doc = '''``code`` <> 0777'''\n# `x`\n")
    assert py2.suspect("mode = 0755\n")


def test_inspect_explains_every_python_bound_with_its_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from repro.cli import cli

    write_files(
        tmp_path,
        {
            "setup.py": "from setuptools import setup\nsetup(python_requires='>=3.6')\n",
            "bench.py": "import time\nstart = time.clock()\nprint(f'{start}')\n",
        },
    )
    out = CliRunner().invoke(cli, ["inspect", str(tmp_path)]).stdout
    assert "Python     3.7" in out
    block = out.split("bounds found")[1].split("Base image")[0]
    lines = [line.split() for line in block.strip().splitlines()[1:]]
    assert [(w[0], w[1]) for w in lines] == [
        (">=3.6", "setup.py:2"),
        (">=3.6", "bench.py:3"),
        ("<3.8", "bench.py:2"),
    ]
    assert "https://docs.python.org/3/whatsnew/3.8.html" in block


def test_modules_that_only_ever_existed_for_python2(tmp_path: Path) -> None:
    (hint,) = hints(tmp_path / "a", {"tray.py": "import pygtk\nimport gtk\n"})
    assert (hint.specifier, hint.origin.line) == ("<3", 1)
    assert "PyGTK" in hint.origin.detail
    (hint,) = hints(tmp_path / "b", {"fabfile.py": "from fabric.api import run, task\n"})
    assert hint.specifier == "<3" and "Fabric 1.x" in hint.origin.detail
    assert hints(tmp_path / "c", {"f.py": "from fabric import Connection\n"}) == []


def test_python2_dict_methods_unless_a_library_has_them_too(tmp_path: Path) -> None:
    source = "SETTINGS = {'a': 1}\nfor k, v in SETTINGS.iteritems():\n    print(k, v)\n"
    assert specs(tmp_path / "a", {"s.py": source}) == [("<3", "s.py", 2)]
    frame = "import pandas as pd\ndf = pd.DataFrame()\nfor k, v in df.iteritems():\n    pass\n"
    assert specs(tmp_path / "b", {"s.py": frame}) == []
    compat = "import six\nfor k, v in six.iteritems({}):\n    pass\n"
    assert specs(tmp_path / "c", {"s.py": compat}) == []
