"""The package contents data answers which package ships a header, program, pkg-config
module or Python module, per release; the generator reads real Contents indexes."""

from __future__ import annotations

import gzip
import importlib.util
import json
import lzma
import sys
from pathlib import Path
from types import ModuleType

import pytest

from repro import contents

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "repro" / "data"
DEBIAN = ("bullseye", "bookworm", "trixie")
UBUNTU = ("xenial", "bionic", "focal", "jammy", "noble")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_contents", ROOT / "scripts" / "gen_contents.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


# --------------------------------------------------------------------------- the data


def test_every_table_is_versioned_sourced_and_small() -> None:
    index = json.loads((DATA / contents.INDEX).read_text())
    total = 0
    for doc in [index] + [
        json.loads(lzma.decompress((DATA / name).read_bytes())) for name in index["tables"].values()
    ]:
        assert doc["schema_version"] == 1
        assert doc["generated"] and doc["generated_by"] == "scripts/gen_contents.py"
        assert "deb.debian.org" in doc["source"]
    for name in [contents.INDEX, *index["tables"].values()]:
        total += (DATA / name).stat().st_size
    assert total < 3_000_000, "the contents data should stay a few MB at most"


def test_releases_of_the_base_images_are_known() -> None:
    known = {r.codename: r for r in contents.releases()}
    assert set(DEBIAN) | set(UBUNTU) <= set(known)
    assert known["bookworm"].python["3"] == "3.11"
    assert known["jammy"].distribution == "ubuntu" and known["jammy"].version == "22.04"
    assert contents.codename_of("ubuntu", "22.04") == "jammy"
    assert contents.codename_of("debian", "12") == "bookworm"
    assert contents.codename_of("fedora", "40") == ""


@pytest.mark.parametrize(
    ("name", "release", "package"),
    [
        ("libpq-fe.h", "bookworm", "libpq-dev"),
        ("ffi.h", "bullseye", "libffi-dev"),
        ("openssl/ssl.h", "trixie", "libssl-dev"),
        ("gdal.h", "bookworm", "libgdal-dev"),
        ("mysql.h", "bookworm", "libmariadb-dev"),
        ("mysql.h", "jammy", "libmysqlclient-dev"),
        ("hdf5.h", "bookworm", "libhdf5-dev"),  # below hdf5/serial/, not flann's hdf5.h
        ("tiffio.h", "bookworm", "libtiff-dev"),  # the top-level one, not TIFF/tiffio.h
        ("Eigen/Core", "bookworm", "libeigen3-dev"),  # an architecture-independent package
        ("boost/python/numpy.hpp", "bookworm", "libboost1.74-dev"),
    ],
)
def test_header_names_the_package_that_ships_it(name: str, release: str, package: str) -> None:
    found = contents.header(name, release)
    assert found is not None and found.package == package
    assert found.release == release and not found.derived


def test_a_header_below_the_images_python_beats_pypys() -> None:
    # Python 3.11 moved longintrepr.h into cpython/; PyPy's sits higher up
    found = contents.header("longintrepr.h", "bookworm", python="3.11")
    assert found is not None and found.package == "libpython3.11-dev"


def test_python_h_follows_the_images_python() -> None:
    for release in ("bullseye", "trixie", "bionic"):  # bionic's is python3.6m/Python.h
        python = contents.system_python(release)
        found = contents.header("Python.h", release, python=python)
        assert found is not None and found.package == f"libpython{python}-dev", release


@pytest.mark.parametrize(
    ("program", "release", "package"),
    [
        ("gcc", "bookworm", "gcc"),
        ("g++", "bullseye", "g++"),
        ("gfortran", "trixie", "gfortran"),
        ("make", "bookworm", "make"),  # not make-guile
        ("cmake", "jammy", "cmake"),
        ("cargo", "bookworm", "cargo"),
        ("rustc", "noble", "rustc"),
        ("pg_config", "bookworm", "libpq-dev"),
        ("gdal-config", "bullseye", "libgdal-dev"),
        ("mysql_config", "bookworm", "libmariadb-dev-compat"),
        ("pkg-config", "trixie", "pkgconf"),
        ("x86_64-linux-gnu-gcc", "bookworm", "gcc"),
    ],
)
def test_program_names_the_package_that_puts_it_on_path(
    program: str, release: str, package: str
) -> None:
    found = contents.program(program, release)
    assert found is not None and found.package == package


def test_programs_made_by_update_alternatives_are_known_and_say_so() -> None:
    found = contents.program("cc", "bookworm")
    assert found is not None and found.package == "gcc"
    assert "update-alternatives" in found.note
    swig = contents.program("swig", "bookworm")  # bookworm's index has only swig4.0
    assert swig is not None and swig.package == "swig"


def test_pkgconfig_module() -> None:
    found = contents.pkgconfig("libffi", "bookworm")
    assert found is not None and found.package == "libffi-dev"
    assert contents.pkgconfig("libffi.pc", "bookworm") == found
    assert contents.pkgconfig("no-such-module-here", "bookworm") is None


@pytest.mark.parametrize(
    ("module", "package"),
    [
        ("gi", "python3-gi"),  # not one of the gir1.2 packages adding overrides into gi/
        ("dbus", "python3-dbus"),
        ("apt", "python3-apt"),
        ("apt_pkg", "python3-apt"),
        ("cairo", "python3-cairo"),
        ("libvirt", "python3-libvirt"),
        ("rpm", "python3-rpm"),
        ("selinux", "python3-selinux"),
        ("PyQt5.QtCore", "python3-pyqt5"),  # the longest known prefix answers
        ("requests", "python3-requests"),  # a pure-Python package (Contents-all)
    ],
)
def test_python_modules_of_the_distribution(module: str, package: str) -> None:
    for release in DEBIAN:
        found = contents.python_module(module, release)
        assert found is not None and found.package == package, release


def test_python_2_modules_where_the_release_has_python_2() -> None:
    found = contents.python_module("dbus", "bionic", major=2)
    assert found is not None and found.package == "python-dbus"
    assert contents.system_python("bionic", 2) == "2.7"
    assert contents.python_module("dbus", "bookworm", major=2) is None  # no Python 2
    assert contents.system_python("bookworm", 2) == ""


def test_a_namespace_shared_by_packages_is_split_by_submodule() -> None:
    found = contents.python_module("google.protobuf", "jammy")
    assert found is not None and found.package == "python3-protobuf"
    assert found.path == "google.protobuf"


def test_a_release_gone_from_the_archive_answers_from_the_nearest_one() -> None:
    found = contents.program("gcc", "buster")
    assert found is not None and found.package == "gcc"
    assert found.derived and found.release == "bullseye" and found.asked == "buster"
    assert "buster" in found.note and "bullseye" in found.note
    assert contents.system_python("buster") == "3.9"


def test_unknown_release_and_unknown_files_answer_none() -> None:
    assert contents.header("ffi.h", "no-such-release") is None
    assert contents.program("gcc", "") is None
    assert contents.header("certainly/not-a-header-anywhere.h", "bookworm") is None
    assert contents.program("usr/bin/gcc", "bookworm") is None
    assert contents.python_module("surely_no_such_module_xyz", "bookworm") is None


# --------------------------------------------------------------------------- generator


def _contents_file(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt") as out:
        out.write("\n".join(lines) + "\n")
    return path


def test_generator_reads_a_contents_index(tmp_path: Path) -> None:
    gen = _generator()
    index = _contents_file(
        tmp_path / "Contents-amd64.gz",
        [
            "This file maps each file available in the Ubuntu",  # Ubuntu's old prose header
            "FILE                                                    LOCATION",
            "usr/bin/pg_config                                       libdevel/libpq-dev",
            "usr/include/postgresql/libpq-fe.h                       libdevel/libpq-dev",
            "usr/include/x86_64-linux-gnu/ffi.h                      libdevel/libffi-dev",
            "usr/lib/x86_64-linux-gnu/pkgconfig/libffi.pc            libdevel/libffi-dev",
            "usr/lib/python3/dist-packages/gi/__init__.py            python/python3-gi",
            "usr/lib/python3/dist-packages/gi/overrides/Foo.py       python/python3-gi,"
            "introspection/gir1.2-foo-1.0",
            "usr/lib/python3/dist-packages/_cffi_backend.cpython-311-x86_64-linux-gnu.so "
            "python/python3-cffi-backend",
            "usr/lib/python3/dist-packages/gi-3.42.egg-info/PKG-INFO python/python3-gi",
            "usr/share/doc/with space/file                           doc/ignored",
        ],
    )
    tables = gen.read_release([index])
    assert tables.programs == {"pg_config": ("libpq-dev",)}
    assert tables.headers == {"postgresql/libpq-fe.h": ("libpq-dev",), "ffi.h": ("libffi-dev",)}
    assert tables.pkgconfig == {"libffi": ("libffi-dev",)}
    assert tables.python["3"]["gi"] == ("python3-gi",)
    assert tables.python["3"]["_cffi_backend"] == ("python3-cffi-backend",)
    assert tables.python_versions == {"3": "3.11"}


def test_generator_folds_large_single_package_directories() -> None:
    gen = _generator()
    headers = {f"big/sub{i}/h{j}.h": ("libbig-dev",) for i in range(3) for j in range(30)}
    headers |= {f"big/top{j}.h": ("libbig-dev",) for j in range(5)}
    headers["a/b/c/deep.h"] = ("libdeep-dev",)
    headers["Python.h"] = ("libpython3-dev",)
    folded = gen.collapse(headers)
    assert folded["big/sub0/"] == ("libbig-dev",)  # below a directory of many files
    assert folded["big/top0.h"] == ("libbig-dev",)  # direct files are kept
    assert folded["a/b/c/"] == ("libdeep-dev",)  # deeper than an include names
    assert folded["Python.h"] == ("libpython3-dev",)
