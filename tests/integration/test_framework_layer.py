"""The framework layer keeps the frameworks in place, not every package it pulled in.

karpathy/nanoGPT packed with torch and datasets: the framework layer installed torch and,
with it, the newest fsspec; freezing all of that as constraints for the other
requirements made the resolver fall back to datasets 2.14.4 (the newest that did not cap
fsspec), which then broke on a newer pyarrow. Here: a stand-in "torch" wheel that needs
six (the newest, 1.17.0, is installed with it), and a repository that needs six<1.16.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from repro.cli import cli
from repro.engine import DockerEngine
from tests.conftest import commit_all, require_images

pytestmark = [pytest.mark.docker, pytest.mark.network]


def _stand_in_torch(out: Path) -> Path:
    """``torch-9.9.9`` (py3-none-any): a module ``torch`` that imports six, and needs it."""
    info = "torch-9.9.9.dist-info"
    files = {
        "torch/__init__.py": b"import six\n__version__ = '9.9.9'\n",
        f"{info}/METADATA": b"Metadata-Version: 2.1\nName: torch\nVersion: 9.9.9\n"
        b"Requires-Dist: six\n",
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: repro-tests\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/top_level.txt": b"torch\n",
    }
    record = []
    for rel, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{rel},sha256={digest},{len(data)}")
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    out.mkdir(parents=True)
    wheel = out / "torch-9.9.9-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for rel, data in files.items():
            zf.writestr(zipfile.ZipInfo(rel, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return out


def _repo(root: Path) -> Path:
    root.mkdir()
    (root / "requirements.txt").write_text("torch\nsix<1.16\n")
    (root / "main.py").write_text("import six\nimport torch\n")
    commit_all(root, date="2025-06-01T12:00:00Z", message="paper")
    return root


def test_the_rest_may_move_a_framework_dependency_but_not_the_framework(
    engine: DockerEngine, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    repo = _repo(tmp_path / "paper")
    wheels = _stand_in_torch(tmp_path / "wheels")
    out = tmp_path / "out"
    check = (
        "python -c \"import six, torch; assert six.__version__ == '1.15.0', six.__version__; "
        "assert torch.__version__ == '9.9.9'\""
    )
    result = CliRunner().invoke(
        cli,
        [
            "pack", str(repo), "--cpu", "--python", "3.11", "--find-links", str(wheels),
            "--smoke", check, "--max-repairs", "0", "--out", str(out),
        ],
    )  # fmt: skip
    (manifest_path,) = out.glob("*/repro.json") if out.exists() else [None]  # type: ignore[list-item]
    if manifest_path is not None:
        manifest = json.loads(manifest_path.read_text())
        cleanup_images.extend(manifest["image"].get("tags", []))
    assert result.exit_code == 0, result.stderr
    lock = set(manifest["lock"])
    assert "six==1.15.0" in lock and "torch==9.9.9" in lock
