"""Old code on the Python of its time, on the real engine: a 2018 script that needs pandas
before 0.25 (``pd.Panel``) is planned on a Python of 2018 and runs there. The base image is
a stand-in made from pyenv's build of that Python (scripts/standin-images.sh, "pyenv")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from packaging.version import Version

from repro.cli import cli
from repro.engine import DockerEngine, RunLimits
from tests.conftest import commit_all, require_images, write_files

pytestmark = [pytest.mark.docker, pytest.mark.network]


def test_a_2018_script_runs_on_the_python_of_2018(
    engine: DockerEngine, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.6-slim", "python:3.7-slim")
    repo = write_files(
        tmp_path / "panel",
        {
            "panel.py": (
                "import numpy as np\n"
                "import pandas as pd\n"
                "\n"
                "cube = pd.Panel(np.zeros((2, 3, 4)))\n"
                "print('shape', cube.shape)\n"
            )
        },
    )
    sha = commit_all(repo, date="2018-04-02T12:00:00+00:00")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["pack", str(repo), "--out", str(out)])
    tag = f"repro/local-panel:{sha[:7]}"
    cleanup_images += [tag, *(f"{tag}-py{v}-cpu" for v in ("3.6", "3.7"))]
    assert result.exit_code == 0, result.stdout + result.stderr
    (manifest_path,) = out.glob("*/repro.json")
    manifest = json.loads(manifest_path.read_text())

    # nothing pinned: the code's date and pd.Panel (gone in pandas 0.25) decide
    python = manifest["python"]["version"]
    assert python in {"3.6", "3.7"}, python
    assert manifest["base_image"]["name"] == f"python:{python}-slim"
    pandas = next(line for line in manifest["lock"] if line.lower().startswith("pandas=="))
    assert Version(pandas.split("==")[1]) < Version("0.25"), pandas
    run = engine.run(tag, ["python", "panel.py"], limits=RunLimits(timeout=120))
    assert run.exit_code == 0, run.output
    assert "shape (2, 3, 4)" in run.output
