"""Binder repositories packed for real (docs/binder.md): apt.txt's package is in the image,
postBuild ran as the image's user, the Python is runtime.txt's (or environment.yml's), start
wraps `repro run`, the root's files a binder/ folder shadows did nothing, and a
postBuild that runs npm finds node, npm and a global prefix of its own, as on Binder."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from repro import build
from repro import dockerfile as df
from repro.engine import DockerEngine, RunLimits
from repro.models import BuildSettings
from repro.scan import scan
from tests.conftest import FIXTURES, FakeGitHub, require_images
from tests.unit.recipes import CPU

pytestmark = [pytest.mark.docker, pytest.mark.network]


def repro(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "repro", *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_a_binder_folder_is_honoured_and_the_roots_files_are_not(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.9-slim")
    url, sha = github.publish("binder-folder")
    tag = f"repro/acme-binder-folder:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.9-cpu"]
    out = tmp_path / "out"
    # the root's apt.txt names a package that does not exist and its postBuild exits 1:
    # either would fail this build if repro read them
    packed = repro("pack", url, "--out", str(out))
    assert packed.returncode == 0, packed.stderr
    assert "Binder configuration in binder/" in packed.stderr
    manifest = json.loads((out / f"acme-binder-folder-{sha[:7]}" / "repro.json").read_text())
    assert manifest["python"]["version"] == "3.9"  # binder/runtime.txt, not the root's 3.13
    assert manifest["binder"]["post_build"]["path"] == "binder/postBuild"
    assert manifest["smoke"]["passed"] is True
    # postBuild installed `first` as the image's user: the lock taken after it has it
    assert "first==2.0.2" in manifest["lock"]
    assert any(p["name"] == "tree" for p in manifest["system"]["packages"])
    assert not any(line.lower().startswith("colorama==") for line in manifest["lock"])

    check = (
        'set -e; echo "$ANALYSIS_STARTED_BY"; cat "$HOME/postbuild.txt"; '
        'python -c "import sys; print(sys.version_info[:2])"; tree --version | head -c 9; echo; '
        "python analysis.py binder"
    )
    ran = repro("run", tag, "--", "bash", "-c", check)
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[:3] == [
        "binder-start",  # start wrapped the command
        "postBuild ran as repro in /app",
        "(3, 9)",
    ], ran.stdout
    assert lines[3].startswith("tree v")  # apt.txt's package
    assert lines[4] == "0"  # the analysis runs: binder/ has no sub-folders


def test_binder_files_at_the_root_environment_yml_first(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.9-slim")
    url, sha = github.publish("binder-root")
    tag = f"repro/acme-binder-root:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.9-cpu"]
    out = tmp_path / "out"
    packed = repro("pack", url, "--out", str(out))
    assert packed.returncode == 0, packed.stderr
    manifest = json.loads((out / f"acme-binder-root-{sha[:7]}" / "repro.json").read_text())
    assert manifest["python"]["version"] == "3.9"  # environment.yml's python=3.9
    assert manifest["binder"]["environment"] == "conda"
    names = {line.split("==")[0].lower() for line in manifest["lock"]}
    assert "six" in names and "colorama" not in names  # requirements.txt is only a hint
    ran = repro("run", tag, "--", "bash", "-c", 'cat "$HOME/mean-length.txt"; ls /usr/share/dict')
    assert ran.returncode == 0, ran.stderr
    mean, *dicts = ran.stdout.split()
    assert 5 < float(mean) < 12 and "words" in dicts  # postBuild read apt.txt's wamerican


def test_a_post_build_that_runs_npm_works_as_on_binder(
    engine: DockerEngine, tmp_path: Path, cleanup_images: list[str]
) -> None:
    """Only the build (no smoke test, no export: the pack around it is the tests above)."""
    require_images(engine, "python:3.11-slim")
    config = scan(FIXTURES / "binder-node").binder
    assert config is not None and config.node == "binder/postBuild runs npm (line 5)"
    recipe = df.Recipe(base=CPU, source_url="https://github.com/acme/binder-node", commit="0" * 40)
    rendered = df.render(
        df.with_binder(dataclasses.replace(recipe, buildkit=engine.buildkit), config)
    )
    shutil.copytree(FIXTURES / "binder-node", tmp_path / "ctx" / "src")
    context = build.prepare_context(tmp_path / "ctx", rendered.dockerfile, rendered.files, [])
    tag = f"repro-test/binder-node:{uuid.uuid4().hex[:8]}"
    cleanup_images.append(tag)
    # postBuild runs `npm install --global semver` as the image's user: without node, npm,
    # a prefix that user owns and npm trusting the build's CA bundle, the build fails
    build.build(
        engine, context, tags=[tag], labels={}, settings=BuildSettings(), on_line=lambda _: None
    )
    ran = engine.run(
        tag, ["bash", "-c", "command -v semver; semver -i patch 1.2.3"], RunLimits(timeout=60)
    )
    assert ran.exit_code == 0, ran.output
    assert ran.output.split() == ["/opt/npm/bin/semver", "1.2.4"]
