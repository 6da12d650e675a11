"""Module paths by version (repro/modpaths.py, data made by scripts/gen_module_paths.py):
an import of a module some releases ship bounds the library, citing the file lists."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

from packaging.specifiers import SpecifierSet

from repro import datafiles, modpaths, toplevel
from repro.infer import infer
from repro.models import InferSettings
from repro.scan import scan
from tests.conftest import write_files

ROOT = Path(__file__).resolve().parents[2]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_module_paths", ROOT / "scripts" / "gen_module_paths.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_data_is_versioned_sourced_and_covers_the_named_libraries() -> None:
    with zipfile.ZipFile(ROOT / "repro" / "data" / modpaths.DATA) as zf:
        index = json.loads(zf.read("index.json"))
        entries = {n: json.loads(zf.read(f"libraries/{n}.json")) for n in index["libraries"]}
    assert index["schema_version"] == 1
    assert index["generated_by"] == "scripts/gen_module_paths.py" and index["source"]
    named = generator().libraries()
    assert 100 <= len(named) <= 300
    assert len(entries) >= 0.9 * len(named), sorted(set(named) - set(entries))
    for name, entry in entries.items():
        releases = entry["releases"]
        assert releases, name
        for _version, date, filename in releases:
            dt.date.fromisoformat(date)
            assert toplevel.kind_of(filename), (name, filename)
        for path, spans in entry["paths"].items():
            for start, stop in spans:
                assert 0 <= start < len(releases), (name, path)
                assert stop is None or start < stop < len(releases), (name, path)


def test_an_import_of_a_removed_module_bounds_the_library_with_a_source() -> None:
    bound = modpaths.lookup("scikit-learn", "sklearn.cross_validation")
    assert bound is not None and bound.specifier == "<0.20"
    assert "scikit_learn-0.19.2" in bound.why and "scikit_learn-0.20" in bound.why
    assert bound.source.startswith("https://pypi.org/project/scikit-learn/0.20")
    # a name inside the module: the module's bound
    inner = modpaths.lookup("scikit-learn", "sklearn.cross_validation.train_test_split")
    assert inner is not None and inner.path == "sklearn.cross_validation"
    added = modpaths.lookup("scikit-learn", "sklearn.model_selection")
    assert added is not None and added.specifier == ">=0.18"
    assert modpaths.lookup("scikit-learn", "sklearn.linear_model") is None  # always shipped
    assert modpaths.lookup("not-a-library", "x.y") is None


def test_module_path_bounds_reach_the_version_choice(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "density.py": "from sklearn.neighbors.kde import KernelDensity\n",
            "compat.py": "try:\n    from sklearn.utils.testing import x\nexcept ImportError:\n"
            "    pass\n",
        },
    )
    ev = scan(tmp_path)
    (use,) = [u for u in ev.api_uses if u.package == "scikit-learn"]
    assert use.rule == "module-path:scikit-learn:sklearn.neighbors.kde"
    assert (use.bound, use.origin.path, use.origin.line) == (">=0.14,<0.24", "density.py", 1)
    env = infer(ev, InferSettings(), commit_date=dt.datetime(2021, 6, 1, tzinfo=dt.timezone.utc))
    (choice,) = [c for c in env.choices if c.name == "scikit-learn"]
    assert choice.version is not None and SpecifierSet("<0.24").contains(choice.version)
    assert choice.chain[0].startswith("code imports sklearn.neighbors.kde (density.py:1) → ")
    assert "https://pypi.org/project/scikit-learn/0.24" in choice.chain[0]


def test_an_api_rule_on_the_same_line_is_not_repeated(tmp_path: Path) -> None:
    write_files(tmp_path, {"cv.py": "from sklearn.cross_validation import KFold\n"})
    rules = [u.rule for u in scan(tmp_path).api_uses]
    assert rules == ["sklearn-old-modules"]


# --------------------------------------------------------------------------- the generator


def test_ranges_skip_unknown_releases() -> None:
    ranges = generator().ranges
    assert ranges(["present", "present", "absent"]) == [[0, 2]]
    assert ranges(["absent", "present", "present"]) == [[1, None]]
    assert ranges(["present", "unknown", "present", "absent"]) == [[0, 3]]
    assert ranges(["present", "absent", "present"]) == [[0, 1], [2, None]]


def test_minors_take_the_newest_final_release_and_the_best_file() -> None:
    def file(name: str, date: str, size: int = 1000) -> dict[str, Any]:
        return {"filename": name, "url": name, "size": size, "upload_time_iso_8601": date}

    doc = {
        "releases": {
            "0.19.1": [file("pkg-0.19.1.tar.gz", "2017-10-23T00:00:00Z")],
            "0.19.2": [
                file("pkg-0.19.2-cp36-cp36m-win_amd64.whl", "2018-07-16T00:00:00Z"),
                file("pkg-0.19.2-cp36-cp36m-manylinux1_x86_64.whl", "2018-07-15T00:00:00Z"),
            ],
            "0.20rc1": [file("pkg-0.20rc1.tar.gz", "2018-09-01T00:00:00Z")],
            "0.20.0": [file("pkg-0.20.0.tar.gz", "2018-09-25T00:00:00Z", size=10**9)],
        }
    }
    found = generator().minors(doc)
    assert [(v, d.isoformat(), f["filename"]) for v, d, f in found] == [
        ("0.19.2", "2018-07-15", "pkg-0.19.2-cp36-cp36m-manylinux1_x86_64.whl")
    ]  # 0.20.0's only file is too large to list; rc releases are not minors


def test_paths_of_a_wheel_and_of_an_sdist() -> None:
    paths_of = generator().paths_of
    wheel = toplevel.Listing(
        filename="pkg-1.0-py3-none-any.whl",
        kind="wheel",
        files=(
            "pkg/__init__.py",
            "pkg/core/__init__.py",
            "pkg/core/_speed.cpython-38-x86_64-linux-gnu.so",
            "pkg/tests/test_core.py",
            "pkg-1.0.dist-info/RECORD",
        ),
    )
    assert paths_of(wheel) == {"pkg": False, "pkg.core": False, "pkg.core._speed": True}
    sdist = toplevel.Listing(
        filename="pkg-0.9.tar.gz",
        kind="sdist",
        files=("pkg-0.9/setup.py", "pkg-0.9/pkg/__init__.py", "pkg-0.9/pkg/core/_speed.c"),
    )
    assert paths_of(sdist) == {"pkg": False}


def test_the_named_list_is_what_the_rules_data_cover_too() -> None:
    names = set(generator().libraries())
    # (a "needs" rule adds a package and bounds no version: not a library whose paths move)
    rules = {
        r["package"] for r in datafiles.load("api_rules.json")["rules"] if not r.get("needs")
    } - {"python", "pyyaml"}
    assert rules <= names | {"tensorflow-gpu"}, sorted(rules - names)
