"""The weighing rules of repro/merge.py and the readers behind them, one rule at a time.

The corpus (test_corpus.py) checks whole repositories; these tests pin down each rule a
user relies on when reading `repro inspect`: which declaration wins, what a hint may
change, what an import corroborates, how commands in prose are read.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from repro.infer import infer
from repro.merge import compatible, url_name
from repro.models import Environment, InferSettings, Requirement
from repro.scan import scan
from repro.scan.commands import find_commands
from tests.conftest import write_files

WHEN = dt.datetime(2021, 6, 1, tzinfo=dt.timezone.utc)


def env_of(root: Path) -> Environment:
    return infer(scan(root), InferSettings(), commit_date=WHEN)


def by_name(env: Environment) -> dict[str, Requirement]:
    return {r.name.lower(): r for r in env.requirements}


def test_stronger_declaration_wins_a_conflict_and_the_conflict_is_shown(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "requirements.txt": "scipy==1.4.1\n",
            "setup.py": "from setuptools import setup\nsetup(install_requires=['scipy>=1.6'])\n",
            "main.py": "import scipy\n",
        },
    )
    env = env_of(tmp_path)
    assert by_name(env)["scipy"].specifier == "==1.4.1"
    (conflict,) = [c for c in env.conflicts if c.startswith("scipy:")]
    assert "setup.py:2" in conflict and "requirements.txt:1" in conflict


def test_a_hint_gives_a_version_only_where_the_declaration_leaves_it_open(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "requirements.txt": "scipy\nnumpy==1.19.5\n",
            "README.md": "```\npip install scipy==1.5.4 numpy==1.16.0\n```\n",
            "main.py": "import scipy\nimport numpy\n",
        },
    )
    env = env_of(tmp_path)
    reqs = by_name(env)
    assert reqs["scipy"].specifier == "==1.5.4"
    assert any("README.md:2" in r for r in reqs["scipy"].reasons)
    assert reqs["numpy"].specifier == "==1.19.5"
    assert any(c.startswith("numpy:") and "declared" in c for c in env.conflicts)


def test_an_uncorroborated_hint_is_listed_not_installed(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "Dockerfile": "FROM python:3.7\nRUN pip install jupyterlab gunicorn\n",
            "app.py": "import flask\n",
        },
    )
    reqs = by_name(env_of(tmp_path))
    assert not reqs["flask"].optional
    assert reqs["gunicorn"].optional and reqs["jupyterlab"].optional
    assert any("Dockerfile:2" in r for r in reqs["gunicorn"].reasons)


def test_an_import_corroborates_the_declared_provider_instead_of_adding_one(
    tmp_path: Path,
) -> None:
    write_files(
        tmp_path,
        {
            "requirements.txt": "opencv-python-headless==4.5.1.48\n",
            "vision.py": "import cv2\n",
        },
    )
    reqs = by_name(env_of(tmp_path))
    assert set(reqs) == {"opencv-python-headless"}
    assert [o.kind for o in reqs["opencv-python-headless"].origins] == ["requirements", "import"]


def test_lock_pins_only_what_was_found_elsewhere(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "pyproject.toml": "[project]\nname='x'\ndependencies=['requests']\n",
            "uv.lock": (
                'version = 1\n[[package]]\nname = "requests"\nversion = "2.25.1"\n'
                'source = { registry = "x" }\n'
                '[[package]]\nname = "idna"\nversion = "2.10"\nsource = { registry = "x" }\n'
            ),
            "x.py": "import requests\n",
        },
    )
    reqs = by_name(env_of(tmp_path))
    assert set(reqs) == {"requests"}
    assert "==2.25.1" in reqs["requests"].specifier


def test_url_requirements_name_the_project_they_point_at() -> None:
    assert url_name("git+https://github.com/openai/CLIP.git@main") == "clip"
    assert url_name("git+https://x/y.git#egg=pycocotools&subdirectory=PythonAPI") == "pycocotools"


def test_versions_that_cannot_both_hold() -> None:
    assert not compatible(["==1.4.0", ">=1.6"])
    assert not compatible(["<1.0", ">=1.2"])
    assert compatible(["<1.20"])
    assert compatible([">=1.0", "<2.0", "!=1.5"])
    assert compatible(["==1.4.*", ">=1.4.2"])


def test_install_commands_in_prose_and_scripts() -> None:
    (cmd,) = find_commands("sudo -H python3 -m pip install -U 'torch>=1.4' -r req.txt && ls")
    assert cmd.tool == "pip" and cmd.requirements == ["torch>=1.4"] and cmd.files == ["req.txt"]
    (cmd,) = find_commands("RUN conda install -y -c pytorch pytorch=1.4 cudatoolkit=10.1")
    assert cmd.tool == "conda" and cmd.channels == ["pytorch"]
    assert cmd.requirements == ["pytorch=1.4", "cudatoolkit=10.1"]
    cmds = find_commands("pip install numpy \\\n    scipy; apt-get install -y ffmpeg", 7)
    assert [(c.tool, c.line, c.requirements) for c in cmds] == [
        ("pip", 7, ["numpy", "scipy"]),
        ("apt", 7, ["ffmpeg"]),
    ]
    assert find_commands("we recommend you pip install the latest version") != []  # prose...
    # ...which is why READMEs are read only inside code: see test below


def test_readme_prose_is_not_read_but_code_is(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "README.md": (
                "Please pip install the latest version of everything.\n\n"
                "    pip install einops\n\nor `pip install rich`\n"
            ),
            "m.py": "import einops\nimport rich\n",
        },
    )
    declared = {d.name for d in scan(tmp_path).declared}
    assert declared == {"einops", "rich"}


def test_dockerfile_base_image_names_the_framework_and_python(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "Dockerfile": "FROM tensorflow/tensorflow:1.12.0-gpu-py3\n",
            "m.py": "import tensorflow\n",
        },
    )
    evidence = scan(tmp_path)
    (req,) = [d for d in evidence.declared if d.origin.kind == "dockerfile"]
    assert req.requirement == "tensorflow-gpu==1.12.0"
    assert [h.specifier for h in evidence.python_hints if h.origin.kind == "dockerfile"] == [">=3"]
    reqs = by_name(env_of(tmp_path))
    assert set(reqs) == {"tensorflow-gpu"} and not reqs["tensorflow-gpu"].optional
