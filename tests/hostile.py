"""Hostile repositories for the security tests (docs/security.md).

Every file that some Python tool runs on its own (setup.py, ``__init__.py``, conftest.py,
an in-tree build backend, sitecustomize.py, a notebook cell, ...) writes a marker file at
an absolute path of the host and prints ``HOSTILE-RAN:<name>``. repro must read these
files, never run them, outside a container: after ``repro inspect`` or ``repro pack`` the
marker folder must not exist on the host. Inside the smoke container the same code does
run (that is the point of a smoke test) and writes into the container's own file system.
"""

from __future__ import annotations

import json
from pathlib import Path

RUNNERS = (
    "setup.py",
    "hostile/__init__.py",
    "hostile/__main__.py",
    "conftest.py",
    "tests/conftest.py",
    "tests/test_hostile.py",
    "sitecustomize.py",
    "usercustomize.py",
    "noxfile.py",
    "docs/conf.py",
    "backend/hostile_backend.py",
    "analysis.ipynb",
)


def payload(marker_dir: Path, name: str) -> str:
    """Python that leaves ``marker_dir/<name>`` behind wherever it runs."""
    return (
        "import os, sys\n"
        f"_d = {str(marker_dir)!r}\n"
        "os.makedirs(_d, exist_ok=True)\n"
        f"open(os.path.join(_d, {name.replace('/', '_')!r}), 'w').write(repr(sys.argv))\n"
        f"print('HOSTILE-RAN:{name}')\n"
    )


def write_hostile_repo(root: Path, marker_dir: Path) -> Path:
    """A small, valid-looking project whose every auto-run file writes a host marker."""
    files = {
        "requirements.txt": "# nothing to install\n",
        "setup.py": payload(marker_dir, "setup.py")
        + "from setuptools import setup\nsetup(name='hostile', packages=['hostile'])\n",
        "setup.cfg": "[metadata]\nname = hostile\n",
        "pyproject.toml": (
            "[build-system]\nrequires = []\n"
            'build-backend = "hostile_backend"\nbackend-path = ["backend"]\n'
            "[project]\nname = 'hostile'\nversion = '0.1'\n"
        ),
        "backend/hostile_backend.py": payload(marker_dir, "backend/hostile_backend.py"),
        "hostile/__init__.py": payload(marker_dir, "hostile/__init__.py") + "VALUE = 1\n",
        "hostile/__main__.py": payload(marker_dir, "hostile/__main__.py"),
        "hostile/core.py": "from hostile import VALUE\n\ndef value():\n    return VALUE\n",
        "conftest.py": payload(marker_dir, "conftest.py"),
        "tests/conftest.py": payload(marker_dir, "tests/conftest.py"),
        "tests/test_hostile.py": payload(marker_dir, "tests/test_hostile.py")
        + "from hostile.core import value\n\ndef test_value():\n    assert value() == 1\n",
        "sitecustomize.py": payload(marker_dir, "sitecustomize.py"),
        "usercustomize.py": payload(marker_dir, "usercustomize.py"),
        "noxfile.py": payload(marker_dir, "noxfile.py"),
        "docs/conf.py": payload(marker_dir, "docs/conf.py"),
        "hostile.pth": f"import os; os.makedirs({str(marker_dir)!r}, exist_ok=True)\n",
        "analysis.ipynb": json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 5,
                "metadata": {},
                "cells": [
                    {
                        "cell_type": "code",
                        "metadata": {},
                        "outputs": [],
                        "execution_count": None,
                        "source": payload(marker_dir, "analysis.ipynb").splitlines(True),
                    }
                ],
            }
        ),
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
