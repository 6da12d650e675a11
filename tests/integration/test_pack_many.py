"""`repro pack-many`: several sources at once; a failure is reported and stops nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from repro.cli import cli
from repro.engine import DockerEngine
from tests.conftest import FakeGitHub, require_images

pytestmark = [pytest.mark.docker, pytest.mark.network]


def test_packed_repaired_and_failed_side_by_side(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    tool, tool_sha = github.publish("cli-tool")
    runtime, runtime_sha = github.publish("runtime-import")  # repaired: PyYAML added
    broken, broken_sha = github.publish("unrepairable")  # its smoke test cannot be fixed
    for slug, sha in (
        ("acme-cli-tool", tool_sha),
        ("acme-runtime-import", runtime_sha),
        ("acme-unrepairable", broken_sha),
    ):
        cleanup_images += [f"repro/{slug}:{sha[:7]}", f"repro/{slug}:{sha[:7]}-py3.11-cpu"]
    listing = tmp_path / "sources.txt"
    listing.write_text(
        "# a lab's papers\n"
        f"{tool}\n"
        "\n"
        f"{runtime}   # needs a repair\n"
        "acme/does-not-exist\n"
        f"{broken}\n"
        f"{tool}\n"  # a repeat is packed once
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["pack-many", str(listing), "--jobs", "2", "--out", str(out), "--max-repairs", "2"]
    )
    assert result.exit_code == 1, result.stderr  # some failed
    stdout, stderr = result.stdout, result.stderr

    report = json.loads((out / "pack-many.json").read_text())
    by_source = {r["source"]: r for r in report["results"]}
    assert list(by_source) == [tool, runtime, "acme/does-not-exist", broken]
    assert report["counts"] == {"packed": 1, "repaired": 1, "failed": 2, "cancelled": 0}
    assert by_source[tool]["status"] == "packed"
    assert by_source[tool]["artifact"] == str(out / f"acme-cli-tool-{tool_sha[:7]}")
    assert by_source[runtime]["status"] == "repaired"
    assert "add-requirement PyYAML" in by_source[runtime]["repairs"][0]
    missing = by_source["acme/does-not-exist"]
    assert missing["status"] == "failed" and missing["exit_status"] == 2
    assert "does-not-exist" in missing["error"]
    assert by_source[broken]["status"] == "failed" and by_source[broken]["exit_status"] == 1
    assert by_source[broken]["error"].startswith("smoke test failed")
    for r in report["results"]:
        if r["status"] != "failed":
            assert (Path(r["artifact"]) / "repro.json").is_file()

    # the summary table and the progress lines
    table = stdout.splitlines()
    assert table[0].split() == ["source", "status", "time", "result"]
    assert any(line.startswith(tool) and " packed " in line for line in table)
    assert any(line.startswith(runtime) and " repaired " in line for line in table)
    assert any(line.startswith("acme/does-not-exist") and " failed " in line for line in table)
    assert stdout.rstrip().endswith(
        f"1 packed, 1 repaired, 2 failed — report: {out / 'pack-many.json'}"
    )
    assert "packing 4 source(s), 2 at a time" in stderr
    assert f"[1/4] {tool}: build" in stderr
    assert "[4/4 done, 2 failed]" in stderr
