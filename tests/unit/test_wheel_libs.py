"""System libraries that wheels link and slim images lack (repro/data/wheel_libs.json, made
by scripts/gen_wheel_libs.py): installed before the first build, said in inspect and in
the Dockerfile, instead of one smoke-test repair round per missing library."""

from __future__ import annotations

import _ssl
import datetime as dt
import importlib.util
import json
from pathlib import Path

from repro import datafiles, dockerfile, planning, system_modules
from repro.infer import infer
from repro.models import BaseImage, Evidence, ImportSite, InferSettings, Origin

ROOT = Path(__file__).resolve().parents[2]
WHEN = dt.datetime(2021, 1, 15, tzinfo=dt.timezone.utc)


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen_wheel_libs", ROOT / "scripts/gen_wheel_libs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _base(python: str) -> BaseImage:
    return BaseImage(
        name=f"python:{python}-slim", python=python, python_source="image", gpu=False,
        cuda=None, reasons=(), variant=f"py{python}-cpu",
    )  # fmt: skip


def _env(module: str, python: str = "3.11"):  # type: ignore[no-untyped-def]
    site = ImportSite(module=module, origin=Origin(kind="import", path="demo.py", line=1))
    return infer(Evidence(imports=(site,)), InferSettings(python=python), commit_date=WHEN)


def test_the_elf_reader_reads_what_readelf_reads() -> None:
    # the interpreter's own _ssl module: libssl, libcrypto, libc (readelf -d says the same)
    found = list(_generator().needed(Path(_ssl.__file__).read_bytes()))
    assert any(n.startswith("libssl.so") for n in found)
    assert any(n.startswith("libcrypto.so") for n in found) and "libc.so.6" in found
    assert list(_generator().needed(b"#!/bin/sh\n")) == []  # not an ELF file


def test_every_library_in_the_data_is_one_repro_can_install() -> None:
    data = datafiles.load("wheel_libs.json")
    known = set(json.loads((ROOT / "repro/data/shared_libs.json").read_text())["libraries"])
    assert data["generated_by"] == "scripts/gen_wheel_libs.py"
    for name, entry in data["distributions"].items():
        assert set(entry["needs"]) <= known, name
    assert "libGL.so.1" in data["distributions"]["opencv-python"]["needs"]
    assert data["distributions"]["opencv-python-headless"]["needs"] == []  # checked: none


def test_opencv_gets_its_libraries_by_the_base_images_release() -> None:
    packages, why = system_modules.library_packages(_env("cv2"), _base("3.11"))
    assert {"libgl1", "libglib2.0-0"} <= set(packages)
    assert why.startswith("opencv-python links libGL.so.1") and "wheel_libs.json" in why
    trixie, _ = system_modules.library_packages(_env("cv2", "3.13"), _base("3.13"))
    assert "libglib2.0-0t64" in trixie and "libglib2.0-0" not in trixie
    assert system_modules.library_packages(_env("yaml"), _base("3.11")) == ((), "")


def test_the_libraries_are_in_the_system_layer_before_the_environment() -> None:
    env = _env("cv2")
    recipe = planning.recipe(
        "https://github.com/o/r", "0" * 40, env, _base("3.11"), frozenset(), False, True, False
    )
    text = dockerfile.render(recipe).dockerfile
    apt = text.index("apt-get install -y --no-install-recommends libgl1")
    assert apt < text.index("-r /opt/repro/requirements.txt")  # opencv-python's install
    assert "# Libraries wheels link that slim images lack: opencv-python links libGL.so.1" in text
