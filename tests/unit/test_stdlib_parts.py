"""Parts of the standard library a distribution ships in packages of their own (Tk:
python3-tk): the generator's table, the query, and the smoke-test repair that installs
the package on an image whose Python is the release's own."""

from __future__ import annotations

import gzip
from pathlib import Path

from repro import contents
from repro.repair import Change, Context, classify, propose
from tests.unit.test_contents import _generator


def test_generator_keeps_only_what_no_core_package_ships(tmp_path: Path) -> None:
    index = tmp_path / "Contents-amd64.gz"
    with gzip.open(index, "wt") as out:
        out.write(
            "usr/lib/python3.11/json/__init__.py  libs/libpython3.11-stdlib\n"
            "usr/lib/python3.11/tkinter/__init__.py  libs/libpython3.11-stdlib\n"
            "usr/lib/python3.11/lib-dynload/_tkinter.cpython-311-x86_64-linux-gnu.so  "
            "python/python3-tk\n"
            "usr/lib/python3.11/lib-dynload/_tkinter.cpython-311-x86_64-linux-gnu.so  "
            "debug/python3-tk-dbg\n"
            "usr/lib/python3.11/ensurepip/__init__.py  python/python3.11-venv\n"
            "usr/lib/python3.11/test/test_tk.py  libs/libpython3.11-testsuite\n"
            "usr/lib/python3.10/lib-dynload/_tkinter.cpython-310-x86_64-linux-gnu.so  "
            "python/python3.10-tk\n"
            "usr/lib/python3/dist-packages/yaml/__init__.py  python/python3-yaml\n"
            "usr/lib/python3/dist-packages/x.cpython-311-x86_64-linux-gnu.so  python/python3-x\n"
            "usr/lib/python2.7/lib-tk/Tkinter.py  python/python-tk\n"
            "usr/bin/python2.7  python/python2.7-minimal\n"
        )
    tables = _generator().read_release([index])
    # the release's own Python 3 (3.11, told by its extension modules) and Python 2
    assert tables.stdlib == {
        "3": {"_tkinter": ("python3-tk", "python3-tk-dbg"), "ensurepip": ("python3.11-venv",)},
        "2": {"Tkinter": ("python-tk",)},
    }


def test_the_shipped_data_names_tk_for_each_releases_own_python() -> None:
    bookworm = contents.stdlib_part("_tkinter", "bookworm")
    assert bookworm is not None and bookworm.package == "python3-tk"
    trixie = contents.stdlib_part("tkinter", "trixie")
    assert trixie is not None and trixie.package == "python3.13-tk"
    py2 = contents.stdlib_part("_tkinter", "bullseye", major=2)
    assert py2 is not None and py2.package == "python-tk"
    assert contents.stdlib_part("json", "bookworm") is None  # the core ships it


PY3_NO_TK = """\
Traceback (most recent call last):
  File "/src/todo.py", line 1, in <module>
    import tkinter as tk
  File "/usr/lib/python3.11/tkinter/__init__.py", line 38, in <module>
    import _tkinter # If this fails your Python may not be configured for Tk
    ^^^^^^^^^^^^^^^
ModuleNotFoundError: No module named '_tkinter'
"""
PY2_NO_TK = """\
Traceback (most recent call last):
  File "/src/calc.py", line 1, in <module>
    from Tkinter import *
  File "/usr/lib/python2.7/lib-tk/Tkinter.py", line 42, in <module>
    raise ImportError, str(msg) + ', please install the python-tk package'
ImportError: No module named _tkinter, please install the python-tk package
"""


def test_tk_missing_from_the_releases_own_python_installs_its_package() -> None:
    (change,) = propose(classify(PY3_NO_TK), Context(python="3.11", os_codename="bookworm")).changes
    assert (change.action, change.target) == ("add-system-package", "python3-tk")
    assert "bookworm ships in python3-tk" in change.reason
    (py2,) = propose(classify(PY2_NO_TK), Context(python="2.7", os_codename="bullseye")).changes
    assert (py2.action, py2.target) == ("add-system-package", "python-tk")


def test_no_tk_package_for_a_python_that_is_not_the_releases_own() -> None:
    # python:3.12 built into /usr/local on bookworm: Debian's python3-tk is for 3.11
    other = propose(classify(PY3_NO_TK), Context(python="3.12", os_codename="bookworm"))
    assert not other.changes and other.diagnosis is not None
    assert "not in this Python's standard library" in other.diagnosis.message
    tried = Change(action="add-system-package", target="python3-tk")
    again = propose(
        classify(PY3_NO_TK), Context(python="3.11", os_codename="bookworm", previous=(tried,))
    )
    assert not again.changes and again.diagnosis is not None
