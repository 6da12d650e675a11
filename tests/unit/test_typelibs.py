"""GObject-introspection typelibs: ``gi`` (python3-gi) brings GLib/GObject/Gio only;
``from gi.repository import Gst`` needs the release's gir1.2 package (data, query,
scanner, inference)."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

from repro import contents, system_modules
from repro.infer import infer
from repro.models import BaseImage, Evidence, InferSettings
from repro.scan.imports import scan_source
from tests.unit.test_contents import _generator

WHEN = dt.datetime(2022, 3, 1, tzinfo=dt.timezone.utc)


def test_generator_keys_typelibs_by_namespace_and_version(tmp_path: Path) -> None:
    index = tmp_path / "Contents-amd64.gz"
    with gzip.open(index, "wt") as out:
        out.write(
            "usr/lib/x86_64-linux-gnu/girepository-1.0/Gst-1.0.typelib  "
            "introspection/gir1.2-gstreamer-1.0\n"
            "usr/lib/girepository-1.0/Notify-0.7.typelib                "
            "introspection/gir1.2-notify-0.7\n"
            "usr/share/gir-1.0/Gst-1.0.gir  libdevel/libgstreamer1.0-dev\n"
            "usr/lib/x86_64-linux-gnu/girepository-1.0/sub/X-1.0.typelib misc/not-a-typelib\n"
        )
    tables = _generator().read_release([index])
    assert tables.typelibs == {
        "Gst-1.0": ("gir1.2-gstreamer-1.0",),
        "Notify-0.7": ("gir1.2-notify-0.7",),
    }


def test_typelib_query_by_version_or_the_newest() -> None:
    found = contents.typelib("Gst", "1.0", "bookworm")
    assert found is not None and found.package == "gir1.2-gstreamer-1.0"
    gtk3 = contents.typelib("Gtk", "3.0", "jammy")
    assert gtk3 is not None and gtk3.package == "gir1.2-gtk-3.0"
    newest = contents.typelib("Gtk", "", "bookworm")  # bookworm has Gtk 3.0 and 4.0
    assert newest is not None and (newest.path, newest.package) == ("Gtk-4.0", "gir1.2-gtk-4.0")
    assert contents.typelib("Gtk", "9.0", "bookworm") is None
    assert contents.typelib("NoSuchNamespace", "", "bookworm") is None
    old = contents.typelib("Notify", "0.7", "buster")  # gone from the archive: bullseye's
    assert old is not None and old.derived and old.release == "bullseye"


SCRIPT = """\
import gi
# gi.require_version("Gtk", "2.0") -- a comment does not count
gi.require_version("Gst", "1.0")
from gi.repository import Gst, GLib


def notify():
    gi.require_version('Notify', '0.7')
    from gi.repository import Notify
    from gi.repository import Gtk
"""


def test_scanner_reads_require_version_and_from_gi_repository() -> None:
    sites = scan_source(SCRIPT, "play.py").sites
    required = {(s.module, s.origin.line, s.origin.detail) for s in sites if s.origin.detail}
    assert required == {
        ("gi.repository.Gst", 3, "require_version 1.0"),
        ("gi.repository.Notify", 8, "require_version 0.7"),
    }
    assert {s.module for s in sites} >= {"gi.repository.GLib", "gi.repository.Gtk"}


def _base(python: str) -> BaseImage:
    return BaseImage(
        name=f"python:{python}-slim", python=python, python_source="image", gpu=False,
        cuda=None, reasons=(), variant=f"py{python}-cpu",
    )  # fmt: skip


def test_typelib_packages_of_the_base_images_release_with_reasons() -> None:
    evidence = Evidence(imports=tuple(scan_source(SCRIPT, "play.py").sites))
    env = infer(evidence, InferSettings(python="3.11"), commit_date=WHEN)
    done = system_modules.apply(env, _base("3.11"), evidence)
    assert system_modules.packages(done) == (
        "gir1.2-glib-2.0",
        "gir1.2-gstreamer-1.0",
        "gir1.2-gtk-4.0",  # no require_version: the newest bookworm ships
        "gir1.2-notify-0.7",
        "python3-gi",
    )
    how = {i.module: i.how for i in done.imports if i.module.startswith("gi.repository.")}
    assert how["gi.repository.Gst"].startswith(
        "Gst-1.0 typelib (play.py:3) is in gir1.2-gstreamer-1.0 on bookworm"
    )
    assert "no gi.require_version" in how["gi.repository.Gtk"]
    # without the scan's evidence (older callers): python3-gi alone, as before
    assert system_modules.packages(system_modules.apply(env, _base("3.11"))) == ("python3-gi",)


def test_no_typelib_where_gi_is_not_the_distributions() -> None:
    evidence = Evidence(imports=tuple(scan_source(SCRIPT, "play.py").sites))
    env = infer(evidence, InferSettings(python="3.12"), commit_date=WHEN)
    done = system_modules.apply(env, _base("3.12"), evidence)  # no release's own Python
    assert system_modules.packages(done) == ()


def test_a_typelib_the_release_lacks_is_a_warning() -> None:
    source = 'import gi\ngi.require_version("Gtk", "9.0")\nfrom gi.repository import Gtk\n'
    evidence = Evidence(imports=tuple(scan_source(source, "old.py").sites))
    env = infer(evidence, InferSettings(python="3.11"), commit_date=WHEN)
    done = system_modules.apply(env, _base("3.11"), evidence)
    assert system_modules.packages(done) == ("python3-gi",)
    assert any(
        w.startswith("Gtk-9.0 typelib (old.py:2): no package of bookworm") for w in done.warnings
    )
