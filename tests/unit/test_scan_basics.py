"""Scan: requirement files, packaging files, imports, notebooks, local modules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repro.errors import NothingToPackError
from repro.scan import scan
from repro.scan.imports import scan_source
from tests.conftest import write_files


def declared(root: Path) -> dict[str, str]:
    return {d.name: d.requirement for d in scan(root).declared if not d.optional}


def test_requirements_includes_markers_hashes_and_urls(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "requirements.txt": (
                "-r requirements/base.txt\n"
                "numpy>=1.16,<1.20  # pinned for the paper\n"
                "torch==1.4.0 ; python_version < '3.8'\n"
                "scipy==1.2.1 \\\n    --hash=sha256:abc\n"
                "git+https://github.com/acme/lib.git@v1#egg=acmelib\n"
                "--extra-index-url https://download.pytorch.org/whl/cu101\n"
                "this is not a requirement\n"
            ),
            "requirements/base.txt": "pandas\n-c ../constraints.txt\n",
            "constraints.txt": "pandas<1.0\n",
            "main.py": "import numpy\n",
        },
    )
    ev = scan(tmp_path)
    reqs = {d.name: d for d in ev.declared if d.group != "constraint"}
    assert reqs["numpy"].requirement == "numpy<1.20,>=1.16"
    assert reqs["numpy"].origin.line == 2
    assert reqs["torch"].requirement == 'torch==1.4.0; python_version < "3.8"'
    assert reqs["scipy"].requirement == "scipy==1.2.1"
    assert reqs["acmelib"].requirement.startswith("git+https://github.com/acme/lib.git")
    assert reqs["pandas"].origin.path == "requirements/base.txt"
    assert [d.group for d in ev.declared if d.name == "pandas"] == ["", "constraint"]
    assert any(h.topic == "index-url" and "cu101" in h.value for h in ev.hints)
    assert any("requirements.txt:8" in w and "cannot parse" in w for w in ev.warnings)


def test_dev_requirement_files_are_optional(tmp_path: Path) -> None:
    write_files(
        tmp_path, {"requirements-dev.txt": "pytest\n", "requirements.txt": "numpy\n", "a.py": ""}
    )
    ev = scan(tmp_path)
    assert {d.name: d.optional for d in ev.declared} == {"numpy": False, "pytest": True}


def test_setup_py_read_statically_from_names_and_files(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "setup.py": (
                "import os\nfrom setuptools import setup\n"
                "open('/tmp/should-not-exist', 'w')\n"
                "BASE = ['numpy>=1.0']\n"
                "setup(name='x', install_requires=BASE + ['scipy'],\n"
                "      extras_require={'viz': ['matplotlib']}, python_requires='>=3.6')\n"
            ),
            "x/__init__.py": "",
        },
    )
    ev = scan(tmp_path)
    assert declared(tmp_path) == {"numpy": "numpy>=1.0", "scipy": "scipy"}
    assert [d.name for d in ev.declared if d.optional] == ["matplotlib"]
    assert [h.specifier for h in ev.python_hints if h.origin.kind == "setup.py"] == [">=3.6"]
    assert not Path("/tmp/should-not-exist").exists()


def test_setup_py_reading_a_requirements_file(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "setup.py": (
                "from setuptools import setup\n"
                "with open('requirements.txt') as f:\n    reqs = f.read().splitlines()\n"
                "setup(name='x', install_requires=reqs)\n"
            ),
            "requirements.txt": "h5py\n",
        },
    )
    assert "h5py" in declared(tmp_path)


def test_pyproject_pep621_and_poetry(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "pyproject.toml": (
                "[project]\nname='x'\nrequires-python='>=3.8'\ndependencies=['rich>=10']\n"
                "[tool.poetry.dependencies]\npython='^3.8'\nrequests='^2.25'\n"
                "torch={version='1.10.0', optional=true}\n"
            ),
            "x.py": "",
        },
    )
    ev = scan(tmp_path)
    reqs = {d.name: d for d in ev.declared}
    assert reqs["rich"].requirement == "rich>=10"
    assert reqs["requests"].requirement == "requests<3,>=2.25"
    assert reqs["torch"].optional
    assert sorted(h.specifier for h in ev.python_hints) == [">=3.8", ">=3.8,<4"]


def test_invalid_toml_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    write_files(tmp_path, {"pyproject.toml": "[project\nname=", "a.py": "import numpy\n"})
    ev = scan(tmp_path)
    assert any("invalid TOML" in w for w in ev.warnings)


def test_conda_environment(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "environment.yml": (
                "name: paper\nchannels: [pytorch]\ndependencies:\n"
                "  - python=3.7\n  - pytorch=1.4\n  - cudatoolkit=10.1\n  - opencv\n"
                "  - libgcc-ng=9.1.0=hdf63c60_0\n  - pip\n  - pip:\n    - tqdm==4.40\n"
            ),
            "a.py": "",
        },
    )
    ev = scan(tmp_path)
    assert declared(tmp_path) == {
        "torch": "torch==1.4.*",
        "opencv-python": "opencv-python",
        "tqdm": "tqdm==4.40",
    }
    assert [h.specifier for h in ev.python_hints] == ["==3.7.*"]
    assert [(h.topic, h.value) for h in ev.hints] == [("cuda", "10.1")]


def test_python2_file_keeps_its_imports() -> None:
    src = (
        "import os, urllib2\nfrom scipy import misc\nprint 'hello'\n"
        "try:\n    import cPickle as pickle\nexcept ImportError, e:\n    import pickle\n"
    )
    found = scan_source(src, "old.py")
    assert found.python2
    modules = {s.module: s.optional for s in found.sites}
    assert modules["urllib2"] is False and modules["scipy"] is False
    assert modules["cPickle"] is True


def test_optional_and_type_checking_imports() -> None:
    src = (
        "from typing import TYPE_CHECKING\nimport numpy\n"
        "try:\n    import ujson as json\nexcept ImportError:\n    import json\n"
        "if TYPE_CHECKING:\n    import pandas\n"
        "from google.cloud import storage\n"
    )
    sites = {s.module: s.optional for s in scan_source(src, "m.py").sites}
    assert sites["numpy"] is False and sites["ujson"] is True
    assert "pandas" not in sites
    assert sites["google.cloud.storage"] is False


def test_notebook_imports_and_pip_lines(tmp_path: Path) -> None:
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": ["import nothing"]},
            {
                "cell_type": "code",
                "source": [
                    "!pip install einops==0.3.0\n",
                    "%matplotlib inline\n",
                    "import einops\n",
                ],
            },
            {"cell_type": "code", "source": "import seaborn as sns\nsns?"},
        ],
        "nbformat": 4,
    }
    write_files(tmp_path, {"analysis.ipynb": json.dumps(nb), "broken.ipynb": "{not json"})
    ev = scan(tmp_path)
    assert {s.module for s in ev.imports} == {"einops", "seaborn"}
    assert declared(tmp_path) == {"einops": "einops==0.3.0"}
    assert any("broken.ipynb" in w for w in ev.warnings)


def test_local_modules_include_script_folders_not_package_internals(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "train.py": "import utils\nimport models\n",
            "utils.py": "",
            "models/__init__.py": "",
            "models/yaml.py": "",
            "experiments/run.py": "import helpers\n",
            "experiments/helpers.py": "",
            "src/mypkg/__init__.py": "",
        },
    )
    local = scan(tmp_path).local_modules
    assert {"train", "utils", "models", "helpers", "run", "mypkg"} <= local
    assert "yaml" not in local  # models/yaml.py is models.yaml, not a top-level yaml


def test_binary_py_file_is_skipped_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "blob.py").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "ok.py").write_text("import numpy\n")
    ev = scan(tmp_path)
    assert any("blob.py" in w for w in ev.warnings)
    assert [s.module for s in ev.imports] == ["numpy"]


def test_repo_without_python_is_refused(tmp_path: Path) -> None:
    write_files(tmp_path, {"README.md": "# nothing here", "data.csv": "a,b\n"})
    with pytest.raises(NothingToPackError):
        scan(tmp_path)


def test_syntax_floors_become_python_hints(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.py": "x = f'{1}'\nif (n := 3):\n    pass\n"})
    specs = sorted(h.specifier for h in scan(tmp_path).python_hints)
    assert specs == [">=3.6", ">=3.8"]
