"""The script corpus (fixtures/scripts): every case's expected.json is well formed and the
corpus keeps its shape, so the benchmark over it cannot rot.

This test does not run repro: the corpus is an independent measure, and what repro
answers on it is reported by benchmarks/script_corpus.py, not asserted here.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import InvalidSpecifier, SpecifierSet

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "scripts"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())

CATEGORIES = {
    "scraper", "bot", "sysadmin", "network", "gui", "datasci", "plotting", "cloud",
    "database", "hardware", "image", "audio", "nlp", "crypto", "markup", "host-app",
    "system-module", "web", "cli",
}  # fmt: skip
FIELDS = {
    "schema_version", "category", "year", "python_major", "python", "entry", "distributions",
    "optional", "system_packages", "host_application", "own_modules", "private_modules", "notes",
}  # fmt: skip
REQUIRED = FIELDS - {"python"}
# PEP 508's name grammar: what PyPI accepts as a project name
NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.I)
MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

# The corpus's shape: how big, how much Python 2, how much of each kind.
MIN_CASES = 170
MIN_PER_CATEGORY = 5
PYTHON2_SHARE = (0.28, 0.4)


def load(case: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / case / "expected.json").read_text())
    return data


def python_files(case: str) -> list[Path]:
    return sorted(p for p in (CORPUS / case).rglob("*.py") if p.is_file())


def parses_as_python3(path: Path) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError:
        return False
    return True


def check_items(case: str, field: str, items: object) -> None:
    """A list of names, each a distribution name or a non-empty list of alternatives."""
    assert isinstance(items, list), f"{case}: {field} must be a list"
    for item in items:
        alternatives = item if isinstance(item, list) else [item]
        assert alternatives, f"{case}: {field} has an empty list of alternatives"
        for name in alternatives:
            assert isinstance(name, str) and NAME.match(name), f"{case}: {field}: {name!r}"


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= MIN_CASES, f"{len(CASES)} cases, at least {MIN_CASES} wanted"


def test_the_readme_documents_every_field() -> None:
    readme = (CORPUS / "README.md").read_text()
    for field in FIELDS:
        assert f"`{field}`" in readme, field


@pytest.mark.parametrize("case", CASES)
def test_case_is_well_formed(case: str) -> None:
    data = load(case)
    assert set(data) <= FIELDS, f"{case}: unknown fields {set(data) - FIELDS}"
    assert set(data) >= REQUIRED, f"{case}: missing fields {REQUIRED - set(data)}"
    assert data["schema_version"] == 1
    assert data["category"] in CATEGORIES, data["category"]
    assert case.startswith(_prefix(data["category"])), f"{case}: named after another category"
    assert isinstance(data["year"], int) and 2009 <= data["year"] <= 2024
    assert data["python_major"] in (2, 3)
    if "python" in data:
        try:
            spec = SpecifierSet(data["python"])
        except InvalidSpecifier:
            pytest.fail(f"{case}: python {data['python']!r} is not a specifier")
        assert any(spec.contains(f"{data['python_major']}.{m}") for m in range(0, 15))
    check_items(case, "distributions", data["distributions"])
    check_items(case, "optional", data["optional"])
    assert isinstance(data["system_packages"], list)
    for item in data["system_packages"]:
        assert set(item) == {"module", "debian", "pip"}, f"{case}: {item}"
        assert MODULE.match(item["module"])
        assert item["debian"] and set(item["debian"]) <= {"2", "3"}, f"{case}: {item}"
        assert str(data["python_major"]) in item["debian"], f"{case}: no package for its Python"
        assert all(re.match(r"^[a-z0-9][a-z0-9.+-]+$", n) for n in item["debian"].values())
        check_items(case, "system_packages.pip", item["pip"])
    host = data["host_application"]
    assert host is None or (isinstance(host, str) and re.match(r"^[a-z][a-z0-9-]*$", host))
    assert (host is not None) == (data["category"] == "host-app"), case
    for field in ("own_modules", "private_modules"):
        assert isinstance(data[field], list)
        assert all(isinstance(m, str) and MODULE.match(m) for m in data[field]), field
    assert isinstance(data["notes"], str)


@pytest.mark.parametrize("case", CASES)
def test_case_files_match_what_it_says(case: str) -> None:
    data = load(case)
    folder = CORPUS / case
    assert (folder / data["entry"]).is_file(), f"{case}: entry {data['entry']} is missing"
    files = python_files(case)
    assert files, case
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in files)
    assert lines >= 20, f"{case}: {lines} lines, real scripts are longer"
    for module in data["own_modules"]:
        # at the root, or beside a script in a subfolder (whose folder is on sys.path)
        rel = module.replace(".", "/")
        found = [*folder.rglob(f"{rel}.py"), *folder.rglob(f"{rel}/__init__.py")]
        assert found, f"{case}: own module {module} has no file"
    for module in data["private_modules"]:
        path = folder / module.replace(".", "/")
        assert not path.with_suffix(".py").exists() and not path.exists(), module
    if data["python_major"] == 3:
        broken = [p.name for p in files if not parses_as_python3(p)]
        assert not broken, f"{case}: Python 3 case with files Python 3 cannot parse: {broken}"
    elif all(parses_as_python3(p) for p in files):
        # Python 2 by its imports or APIs alone: the notes must say which
        assert len(data["notes"]) > 20, f"{case}: parses as Python 3, notes must say why it is 2"


def _prefix(category: str) -> str:
    return {
        "plotting": "plot-", "database": "db-", "hardware": "hw-", "host-app": "host-",
        "system-module": "sys-",
    }.get(category, f"{category}-")  # fmt: skip


def test_corpus_shape() -> None:
    data = [load(case) for case in CASES]
    categories = Counter(d["category"] for d in data)
    thin = {c: categories.get(c, 0) for c in CATEGORIES if categories.get(c, 0) < MIN_PER_CATEGORY}
    assert not thin, f"categories below {MIN_PER_CATEGORY} cases: {thin}"
    share = sum(d["python_major"] == 2 for d in data) / len(data)
    low, high = PYTHON2_SHARE
    assert low <= share <= high, f"Python 2 share {share:.2f} outside {PYTHON2_SHARE}"
    # the decades the corpus stands for, early and late
    years = Counter(d["year"] for d in data)
    assert min(years) <= 2011 and max(years) >= 2021
