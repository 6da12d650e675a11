"""A base image the engine lacks and cannot pull: one line before any build step."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from repro.cli import cli
from repro.engine import DockerEngine

pytestmark = [pytest.mark.docker]

ABSENT = "registry.invalid/repro-tests/absent:1"  # .invalid never resolves (RFC 2606)


def test_an_unpullable_base_is_named_with_the_engines_reason(
    engine: DockerEngine, tmp_path: Path
) -> None:
    repo = tmp_path / "paper"
    repo.mkdir()
    (repo / "main.py").write_text("import json\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["pack", str(repo), "--base-image", ABSENT, "--python", "3.11", "--out", str(out)]
    )
    assert result.exit_code == 1
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("repro: error:")]
    assert len(errors) == 1
    assert errors[0].startswith(
        f"repro: error: base image {ABSENT} is not on this engine and cannot be pulled: "
    )
    assert "no registry is reachable" in errors[0] or "no such image" in errors[0]
    assert "unknown step" not in result.stderr and "==> build" not in result.stderr
    assert "repro: hint:" in result.stderr and "--base-image" in result.stderr
    assert not out.exists()
