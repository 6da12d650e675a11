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
    assert system_modules.packages(done) == (  # GLib's typelib comes with python3-gi
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


# --------------------------------------------------------------------------- repair

NOT_FOUND = """\
Traceback (most recent call last):
  File "/work/play.py", line 5, in <module>
    from gi.repository import Gst
ImportError: cannot import name Gst, introspection typelib not found
"""
NOT_AVAILABLE = """\
Traceback (most recent call last):
  File "/work/rename_dialog.py", line 3, in <module>
    gi.require_version("Gtk", "3.0")
  File "/usr/lib/python3/dist-packages/gi/__init__.py", line 126, in require_version
    raise ValueError('Namespace %s not available' % namespace)
ValueError: Namespace Gtk not available
"""


def test_a_missing_typelib_is_its_own_kind_not_a_too_new_package() -> None:
    from repro.repair import classify

    found = classify(NOT_FOUND)
    assert (found.kind, found.subject) == ("typelib", "Gst")
    gtk = classify(NOT_AVAILABLE)  # the version from the traceback's require_version line
    assert (gtk.kind, gtk.subject) == ("typelib", "Gtk-3.0")
    versioned = classify("ValueError: Namespace Notify not available for version 0.7")
    assert versioned.subject == "Notify-0.7"


def test_repair_proposes_the_typelib_package_of_the_images_release() -> None:
    from repro.repair import Context, classify, propose

    context = Context(python="3.11", os_codename="bookworm")
    (change,) = propose(classify(NOT_AVAILABLE), context).changes
    assert (change.action, change.target) == ("add-system-package", "gir1.2-gtk-3.0")
    assert change.reason == "Gtk-3.0 typelib is in gir1.2-gtk-3.0 on bookworm"
    (gst,) = propose(classify(NOT_FOUND), context).changes
    assert gst.target == "gir1.2-gstreamer-1.0"
    # installed and still failing: a diagnosis, not the same change again
    again = propose(classify(NOT_FOUND), Context(python="3.11", os_codename="bookworm",
                                                  previous=(gst,)))  # fmt: skip
    assert not again.changes and again.diagnosis is not None
    assert "did not provide it" in again.diagnosis.message
    unknown = propose(classify("ValueError: Namespace Nope not available"), context)
    assert not unknown.changes and unknown.diagnosis is not None
    assert "no package of bookworm ships the Nope (any version) typelib" in (
        unknown.diagnosis.message
    )


def test_an_attribute_of_gi_repository_is_a_diagnosis_not_a_version_bound() -> None:
    from repro.repair import Context, classify, propose

    failure = classify("AttributeError: module 'gi.repository' has no attribute 'Json'")
    assert (failure.kind, failure.subject) == ("typelib", "Json")
    proposal = propose(failure, Context(python="3.11", os_codename="bookworm"))
    assert not proposal.changes and proposal.diagnosis is not None
    assert "gi.repository loads Json only when it is imported" in proposal.diagnosis.message
