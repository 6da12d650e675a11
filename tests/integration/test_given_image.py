"""``--base-image`` is probed on the real engine: images of Python 2.7, 3.9, 3.11 and 3.13
that say nothing of their Python (no PYTHON_VERSION, no labels: the probe container
decides), and one with no Python at all (one clear error)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from repro.cli import cli
from repro.engine import DockerEngine
from tests.conftest import commit_all, require_images, write_files

pytestmark = [pytest.mark.docker]

# copies of the stand-ins under names that say nothing of their Python (the stand-ins set
# no PYTHON_VERSION); the Python 2.7 one is bullseye's, which has a python3 too: its copy
# loses python3, to be the Python-2-only image old code comes with
COPIES = {
    "python:3.9-slim": "repro-probe/lab-b:1",
    "python:3.11-slim": "repro-probe/lab-c:1",
    "python:3.13-slim": "repro-probe/lab-d:1",
}
PY27 = "repro-probe/lab-a:1"
NO_PYTHON = "repro-probe/no-python:1"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _docker(*args: str, stdin: str | None = None) -> None:
    subprocess.run(
        ["/usr/bin/docker", *args], input=stdin, text=True, check=True, capture_output=True
    )


@pytest.fixture(scope="module")
def probed_images(engine: DockerEngine) -> Iterator[dict[str, str]]:
    require_images(engine, *COPIES, "python:2.7-slim")
    for source, copy in COPIES.items():
        _docker("tag", source, copy)
    only2 = "FROM python:2.7-slim\nRUN rm -f /usr/bin/python3* /usr/local/bin/python3\n"
    _docker("build", "-q", "-t", PY27, "-", stdin=only2)
    # the interpreters removed: what is left of Python is no use to anyone
    dockerfile = (
        "FROM python:3.11-slim\n"
        "RUN rm -f /usr/bin/python* /usr/local/bin/python* /usr/local/bin/pip*\n"
    )
    _docker("build", "-q", "-t", NO_PYTHON, "-", stdin=dockerfile)
    try:
        yield {**COPIES, "python:2.7-slim": PY27}
    finally:
        for name in [*COPIES.values(), PY27, NO_PYTHON]:
            subprocess.run(["/usr/bin/docker", "rmi", name], capture_output=True, check=False)


def _repo(tmp_path: Path, files: dict[str, str]) -> str:
    root = tmp_path / "paper"
    write_files(root, files)
    commit_all(root, date="2025-06-01T12:00:00+00:00")
    return str(root)


PY3 = {"main.py": "import json\n\n\ndef main() -> None:\n    print(json.dumps({'ok': 1}))\n"}


@pytest.mark.parametrize(
    ("source", "python"),
    [("python:3.9-slim", "3.9"), ("python:3.11-slim", "3.11"), ("python:3.13-slim", "3.13")],
)
def test_the_probe_finds_the_python_the_config_does_not_name(
    probed_images: dict[str, str], engine: DockerEngine, tmp_path: Path, source: str, python: str
) -> None:
    image = probed_images[source]
    info = engine.image_info(image)
    assert info is not None and "PYTHON_VERSION" not in info.env and not info.labels
    code, out, err = run("inspect", _repo(tmp_path, PY3), "--base-image", image, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["python"]["version"] == python
    assert doc["base_image"]["name"] == image and doc["base_image"]["python_source"] == "image"
    assert doc["plan"]["step"] == "base-image"
    facts = doc["plan"]["image"]
    assert facts["probed"] and facts["python"] == python and facts["pip"]
    assert f"probe: python3 -> Python {python}" in facts["evidence"]


def test_python_2_only_for_python_3_code_is_one_clear_error(
    probed_images: dict[str, str], tmp_path: Path
) -> None:
    image = probed_images["python:2.7-slim"]
    code, _, err = run("inspect", _repo(tmp_path, PY3), "--base-image", image)
    assert code == 2
    (line,) = [ln for ln in err.splitlines() if ln.startswith("repro: error:")]
    assert f"--base-image {image} has Python 2.7; the code is Python 3" in line


def test_python_2_code_is_planned_on_the_python_2_image(
    probed_images: dict[str, str], tmp_path: Path
) -> None:
    image = probed_images["python:2.7-slim"]
    repo = _repo(tmp_path, {"old.py": 'import os\nprint "hello", os.getcwd()\n'})
    code, out, err = run("inspect", repo, "--base-image", image, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["python"]["version"] == "2.7" and doc["plan"]["image"]["python"] == "2.7"


def test_an_image_without_python_is_one_clear_error(
    probed_images: dict[str, str], tmp_path: Path
) -> None:
    code, _, err = run("inspect", _repo(tmp_path, PY3), "--base-image", NO_PYTHON)
    assert code == 2
    assert f"repro: error: --base-image {NO_PYTHON} has no Python (the probe found no" in err
    assert "repro: hint: use an image with Python" in err


def test_a_pack_on_a_probed_image_builds_and_passes(
    probed_images: dict[str, str], tmp_path: Path, cleanup_images: list[str]
) -> None:
    image = probed_images["python:3.11-slim"]
    repo = _repo(tmp_path, PY3)
    out = tmp_path / "out"
    code, _, err = run("pack", repo, "--base-image", image, "--out", str(out), "--smoke",
                       "python -c 'import main; main.main()'")  # fmt: skip
    manifest = json.loads(next(out.glob("*/repro.json")).read_text()) if code == 0 else {}
    cleanup_images += list(manifest.get("tags", []))
    assert code == 0, err
    assert manifest["smoke"]["passed"] and manifest["base_image"]["name"] == image
    assert manifest["plan"]["image"]["interpreter"] == "python3"
