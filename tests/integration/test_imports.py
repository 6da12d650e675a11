"""What provides each import, on the real engine: a module found by the verified PyPI
look-up, the best-effort layer of optional imports, a script that runs inside Blender."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from repro.cli import cli
from repro.engine import DockerEngine, RunLimits
from tests.conftest import commit_all, require_images, write_files

pytestmark = [pytest.mark.docker, pytest.mark.network]

WHEN = "2021-05-01T12:00:00+00:00"


def pack(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["pack", *args])
    return result.exit_code, result.stdout, result.stderr


def manifest_of(out: Path) -> dict[str, Any]:
    (path,) = out.glob("*/repro.json")
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def test_looked_up_import_and_best_effort_optional_imports(
    engine: DockerEngine, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    repo = write_files(
        tmp_path / "moo",
        {
            "moo.py": (
                '"""Say it with a cow."""\n'
                "import sys\n"
                "import cowsay\n"  # no data maps it: found on PyPI and verified
                "try:\n"
                "    import simplejson as json\n"  # installs: kept
                "except ImportError:\n"
                "    import json\n"
                "try:\n"
                "    import MySQLdb\n"  # mysqlclient needs mysql_config to build: dropped
                "except ImportError:\n"
                "    MySQLdb = None\n"
                "\n"
                "if __name__ == '__main__':\n"
                "    cowsay.cow(json.dumps(sys.argv[1:]))\n"
            )
        },
    )
    sha = commit_all(repo, date=WHEN)
    out = tmp_path / "out"
    code, stdout, stderr = pack(str(repo), "--python", "3.11", "--out", str(out))
    tag = f"repro/local-moo:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    assert code == 0, stderr
    assert "optional mysqlclient did not install and was dropped" in stdout + stderr

    manifest = manifest_of(out)
    cowsay = next(r for r in manifest["requirements"] if r["name"].lower() == "cowsay")
    assert not cowsay["optional"]
    assert any(
        r.startswith("PyPI project cowsay ships top-level module cowsay") for r in cowsay["reasons"]
    )
    assert any(line.lower().startswith("cowsay==") for line in manifest["lock"])
    kinds = {i["module"]: i["kind"] for i in manifest["imports"]}
    assert kinds["cowsay"] == "distribution" and kinds["sys"] == "stdlib"
    assert {b["name"].lower(): b["installed"] for b in manifest["best_effort"]} == {
        "simplejson": True,
        "mysqlclient": False,
    }
    assert manifest["smoke"]["passed"] is True
    run = engine.run(tag, ["cat", "/opt/repro/optional-dropped.txt"], limits=RunLimits(timeout=60))
    assert run.exit_code == 0 and run.output.strip() == "mysqlclient"


def test_a_script_that_runs_inside_blender_is_packed_and_not_run(
    engine: DockerEngine, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    repo = write_files(
        tmp_path / "blendexport",
        {"export_obj.py": "import bpy\n\nfor ob in bpy.data.objects:\n    print(ob.name)\n"},
    )
    sha = commit_all(repo, date=WHEN)
    out = tmp_path / "out"
    code, _, stderr = pack(str(repo), "--python", "3.11", "--out", str(out))
    tag = f"repro/local-blendexport:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    assert code == 0, stderr
    manifest = manifest_of(out)
    assert manifest["smoke"]["kind"] == "none"
    assert "runs inside Blender" in manifest["smoke"]["reason"]
    assert manifest["unresolved"] == []
    (bpy,) = [i for i in manifest["imports"] if i["module"] == "bpy"]
    assert (bpy["kind"], bpy["provider"]) == ("host", "Blender")


def test_a_system_module_is_installed_from_the_distribution_and_imports(
    engine: DockerEngine, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    repo = write_files(
        tmp_path / "busnotes",
        {
            "busnotes.py": (
                '"""List the names on the session bus."""\n'
                "import dbus\n\n"
                "if __name__ == '__main__':\n"
                "    print(dbus.SessionBus().list_names())\n"
            )
        },
    )
    sha = commit_all(repo, date=WHEN)
    out = tmp_path / "out"
    code, _, stderr = pack(str(repo), "--python", "3.11", "--out", str(out))
    tag = f"repro/local-busnotes:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    assert code == 0, stderr
    manifest = manifest_of(out)
    (dbus,) = [i for i in manifest["imports"] if i["module"] == "dbus"]
    assert (dbus["kind"], dbus["provider"]) == ("system", "python3-dbus")
    assert manifest["smoke"]["passed"] is True and manifest["smoke"]["kind"] == "import"
    assert not any(r["name"] == "dbus-python" for r in manifest["requirements"])


def test_a_gi_namespace_gets_its_typelib_package_and_imports(
    engine: DockerEngine, tmp_path: Path, cleanup_images: list[str]
) -> None:
    # Json: the lightest typelib that proves it (gir1.2-json-1.0 and json-glib, ~0.3 MB);
    # python3-gi alone brings GLib/GObject/Gio, so without it the import fails
    require_images(engine, "python:3.11-slim")
    repo = write_files(
        tmp_path / "jsonpeek",
        {
            "jsonpeek.py": (
                '"""Pretty-print JSON with json-glib."""\n'
                "import gi\n"
                "gi.require_version('Json', '1.0')\n"
                "from gi.repository import Json\n\n"
                "if __name__ == '__main__':\n"
                "    parser = Json.Parser()\n"
                "    parser.load_from_data('{\"a\": 1}', -1)\n"
                "    print(Json.to_string(parser.get_root(), True))\n"
            )
        },
    )
    sha = commit_all(repo, date=WHEN)
    out = tmp_path / "out"
    code, _, stderr = pack(str(repo), "--python", "3.11", "--out", str(out))
    tag = f"repro/local-jsonpeek:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    assert code == 0, stderr
    manifest = manifest_of(out)
    (json_ns,) = [i for i in manifest["imports"] if i["module"] == "gi.repository.Json"]
    assert (json_ns["kind"], json_ns["provider"]) == ("system", "gir1.2-json-1.0")
    assert json_ns["how"].startswith("Json-1.0 typelib (jsonpeek.py:3) is in gir1.2-json-1.0")
    assert manifest["smoke"]["passed"] is True and manifest["repairs"] == []
    run = engine.run(
        tag,
        ["python", "-c", "import gi; gi.require_version('Json', '1.0');"
         "from gi.repository import Json; print(Json.Parser.__name__)"],
        limits=RunLimits(timeout=60),
    )  # fmt: skip
    assert run.exit_code == 0 and "Parser" in run.output, run.output


def test_a_namespace_picked_at_run_time_is_repaired_with_its_typelib(
    engine: DockerEngine, tmp_path: Path, cleanup_images: list[str]
) -> None:
    # no scan can see the namespace: the smoke run fails, and the repair installs it
    require_images(engine, "python:3.11-slim")
    repo = write_files(
        tmp_path / "jsonrt",
        {
            "jsonrt.py": (
                "import importlib\n\n"
                "import gi\n\n"
                "NAMESPACE = ''.join(['J', 'son'])\n"
                "gi.require_version(NAMESPACE, '1.0')\n"
                "Json = importlib.import_module('gi.repository.' + NAMESPACE)\n"
                "print(Json.Parser.__name__)\n"
            )
        },
    )
    sha = commit_all(repo, date=WHEN)
    out = tmp_path / "out"
    code, _, stderr = pack(
        str(repo), "--python", "3.11", "--smoke", "python jsonrt.py", "--out", str(out)
    )
    tag = f"repro/local-jsonrt:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    assert code == 0, stderr
    manifest = manifest_of(out)
    (repair,) = manifest["repairs"]
    assert repair["failure"]["kind"] == "typelib"
    assert [(c["action"], c["target"]) for c in repair["changes"]] == [
        ("add-system-package", "gir1.2-json-1.0")
    ]
    assert manifest["smoke"]["passed"] is True
