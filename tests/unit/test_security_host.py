"""Repository code never runs on the host (docs/security.md, guarantee 1).

``repro inspect`` reads a hostile repository (tests/hostile.py) through every entry point
a user has, and not one of the files that would write a host marker runs. A static check
keeps the package from growing a way to run code it reads.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from repro.cli import cli
from tests.conftest import ROOT, FakeGitHub, make_repo
from tests.hostile import RUNNERS, write_hostile_repo


def _inspect(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["inspect", *args])
    return result.exit_code, result.stdout + result.stderr


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Path]:
    """(a plain folder holding the hostile project, the host marker folder)."""
    markers = tmp_path / "host-markers"
    return write_hostile_repo(tmp_path / "hostile-src", markers), markers


def test_payload_really_writes_the_marker_when_run(hostile: tuple[Path, Path]) -> None:
    # the control: these files do leave a marker when something runs them
    src, markers = hostile
    for argv in (["setup.py", "--name"], ["conftest.py"], ["hostile/__init__.py"]):
        subprocess.run([sys.executable, *argv], cwd=src, check=True, capture_output=True)
    assert sorted(p.name for p in markers.iterdir()) == [
        "conftest.py",
        "hostile___init__.py",
        "setup.py",
    ]


@pytest.mark.parametrize("form", ["plain-dir", "local-git", "github-url"])
@pytest.mark.parametrize("view", [[], ["--json"], ["--dockerfile"]])
def test_inspect_reads_a_hostile_repo_without_running_it(
    hostile: tuple[Path, Path], github: FakeGitHub, tmp_path: Path, form: str, view: list[str]
) -> None:
    src, markers = hostile
    if form == "plain-dir":
        spec = str(src)
    elif form == "local-git":
        spec = str(tmp_path / "local")
        make_repo(src, tmp_path / "local")
    else:
        spec, _ = github.publish(src, name="hostile")
    code, out = _inspect(spec, *view)
    assert code == 0, out
    assert not markers.exists(), f"repository code ran on the host: {sorted(markers.iterdir())}"
    assert "HOSTILE-RAN" not in out
    if view == ["--json"]:
        plan = json.loads(out[: out.rindex("}") + 1])
        # the plan was made from reading the files: the tests were found, not run
        assert plan["smoke"]["kind"] == "pytest"


def test_every_runner_file_is_in_the_fixture(hostile: tuple[Path, Path]) -> None:
    src, _ = hostile
    assert all((src / rel).is_file() for rel in RUNNERS)


# --------------------------------------------------------------------------- static guard

# Calls that would run text repro reads. repro/in_image/*.py are exempt: they run inside
# the built image, never on the host.
_FORBIDDEN_CALLS = {
    "exec",
    "eval",
    "compile",
    "__import__",
    "execfile",
    "run_path",
    "run_module",
    "import_module",
    "spec_from_file_location",
    "exec_module",
    "load_module",
    "system",
    "popen",
    "execv",
    "execve",
    "execvp",
    "spawnv",
    "startfile",
}
# Modules allowed to start processes, and the programs they start: git (fetch), the docker
# client (engine, and `repro shell` in cli), nvidia-smi (host GPU probe).
# stale.py runs only ``setpriv --pdeathsig TERM -- true``, to learn whether it may bind
# the build client and git to repro's life
_SUBPROCESS_ALLOWED = {
    "fetch/gitrepo.py", "engine.py", "hostgpu.py", "clean_engine.py", "stale.py"
}  # fmt: skip


def _package_files() -> list[Path]:
    return [
        p for p in (ROOT / "repro").rglob("*.py") if "in_image" not in p.relative_to(ROOT).parts
    ]


def test_no_module_can_run_code_it_reads() -> None:
    offenders = []
    for path in _package_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", "")
                if name in _FORBIDDEN_CALLS and not _is_regex_compile(f):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}()")
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "executable"
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} sys.executable")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                if "runpy" in names or "pty" in names:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports runpy/pty")
    assert offenders == []


def _is_regex_compile(func: ast.expr) -> bool:
    return isinstance(func, ast.Attribute) and getattr(func.value, "id", "") in ("re", "regex")


def test_only_the_edge_modules_start_processes() -> None:
    starting = set()
    for path in _package_files():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                if "subprocess" in names or "multiprocessing" in names:
                    starting.add(path.relative_to(ROOT / "repro").as_posix())
    assert starting <= _SUBPROCESS_ALLOWED
