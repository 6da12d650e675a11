"""Patterns found by pointing repro at real research repositories (docs/benchmarks.md,
"Real repositories"): each test is a small case written here that reproduces one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from repro import versions
from repro.infer import infer
from repro.models import Options
from repro.scan import scan


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# CompVis/taming-transformers: environment.yaml says python=3.8.5


def test_a_patch_level_python_pin_allows_its_minor() -> None:
    assert versions.python_allows("3.8", "==3.8.5")
    assert versions.python_allows("3.7", "==3.7.4")
    assert not versions.python_allows("3.9", "==3.8.5")
    assert versions.python_allows("3.8", ">=3.8.5,<3.9")
    assert not versions.python_allows("3.8", "!=3.8.*")


def test_a_conda_python_patch_pin_is_obeyed_not_ignored(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "environment.yaml": "name: x\ndependencies:\n  - python=3.8.5\n  - numpy\n",
            "main.py": "import numpy\n",
        },
    )
    env = infer(scan(root), Options(), commit_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    assert env.python.version == "3.8"
    assert not any("python=3.8.5" in c for c in env.conflicts)


# google-research/vision_transformer: requirements-tpu.txt beside requirements.txt

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"


def test_a_platform_variant_file_adds_no_extras_and_no_index() -> None:
    env = infer(
        scan(CORPUS / "platform-requirement-variants"),
        Options(),
        commit_date=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
    )
    jax = next(r for r in env.requirements if r.name == "jax")
    assert jax.extras == () and "tpu" not in jax.pip_line()
    assert env.index_urls == ()
