"""The deciding stages stay pure: none of them imports an edge module (git, Docker, the
network, the artifact on disk), so each is tested without a daemon and a change at an edge
cannot reach a decision unseen (docs/architecture.md, "Modules")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPRO = Path(__file__).resolve().parents[2] / "repro"

# The modules docs/architecture.md marks "pure" (a folder: every module in it).
DECIDING = (
    "mapping",
    "merge",
    "infer",
    "apirules",
    "scan/api",
    "scan/pyhints",
    "scan/pyera",
    "scan/py2",
    "scan/modules",
    "modpaths",
    "era",
    "versions",
    "toplevel",
    "lookup",
    "resolve",
    "system_modules",
    "base_image",
    "gpu_needs",
    "contents",
    "compat",
    "dockerfile",
    "build_stages",
    "manifest",
    "sbom",
    "buildlog",
    "planner",
    "planning",
    "repair",
)

# Modules that reach git, Docker, the network, a host command or the artifact on disk.
EDGES = (
    "docker",
    "git",
    "subprocess",
    "socket",
    "urllib",
    "http",
    "repro.engine",
    "repro.fetch",
    "repro.httpget",
    "repro.distfiles",
    "repro.projects",
    "repro.pypi",
    "repro.hostgpu",
    "repro.artifact",
    "repro.build",
    "repro.gather",
    "repro.verify",
    "repro.clean_engine",
    "repro.onboard",
    "repro.lab",
    "repro.publish",
)


def _modules(name: str) -> list[Path]:
    path = REPRO / name
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


def _imported(path: Path) -> list[tuple[int, str]]:
    """Every module name an import statement of ``path`` names, with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _is_edge(name: str) -> bool:
    return any(name == edge or name.startswith(edge + ".") for edge in EDGES)


@pytest.mark.parametrize("stage", DECIDING)
def test_a_deciding_stage_imports_no_edge_module(stage: str) -> None:
    paths = _modules(stage)
    assert all(p.is_file() for p in paths), f"{stage}: not in repro/ (renamed? update DECIDING)"
    crossings = [
        f"{p.relative_to(REPRO.parent)}:{line} imports {name}"
        for p in paths
        for line, name in _imported(p)
        if _is_edge(name)
    ]
    assert not crossings, "\n".join(crossings)


def test_the_check_sees_an_edge_import(tmp_path: Path) -> None:
    """The rule itself: each spelling of an import of an edge module is caught."""
    module = tmp_path / "m.py"
    module.write_text(
        "import json\nfrom repro import pypi\nimport docker.errors\nfrom repro.models import X\n"
    )
    assert [name for _, name in _imported(module) if _is_edge(name)] == [
        "repro.pypi",
        "docker.errors",
    ]
