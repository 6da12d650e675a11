"""What provides each import (repro/resolve.py, through infer and inspect): host
applications, Python 2's standard library, own modules, and the inspect view."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from repro import mapping
from repro.infer import infer
from repro.models import (
    BaseImage,
    Evidence,
    ImportSite,
    InferSettings,
    Origin,
    PythonHint,
    SmokeSettings,
)
from repro.report import _imports
from repro.smoke import discover, first_command
from tests.conftest import write_files

WHEN = dt.datetime(2016, 3, 1, tzinfo=dt.timezone.utc)


def imp(module: str, path: str = "main.py", line: int = 1, optional: bool = False) -> ImportSite:
    return ImportSite(
        module=module, origin=Origin(kind="import", path=path, line=line), optional=optional
    )


def kinds(env_imports: tuple[object, ...]) -> dict[str, tuple[str, str]]:
    return {i.module: (i.kind, i.provider) for i in env_imports}  # type: ignore[attr-defined]


def test_host_application_modules_name_the_application() -> None:
    ev = Evidence(
        imports=(
            imp("bpy"),
            imp("bmesh", line=2),
            imp("idaapi", "ida.py"),
            imp("ida_bytes", "ida.py"),
        ),
        python_paths=("main.py", "ida.py"),
    )
    env = infer(ev, InferSettings(), commit_date=WHEN)
    assert env.unresolved == () and env.requirements == ()
    found = kinds(env.imports)
    assert found["bpy"] == ("host", "Blender") and found["bmesh"] == ("host", "Blender")
    assert found["idaapi"] == ("host", "IDA Pro") and found["ida_bytes"] == ("host", "IDA Pro")
    # the smoke test does not run what only an application can run, and says why
    hosted = {i.module: i.provider for i in env.imports if i.kind == "host"}
    plan = discover(ev, SmokeSettings(), env.python.version, hosted=hosted)
    assert plan.candidates == ()
    command = first_command(plan)
    assert command.kind == "none"
    assert "every Python file runs inside Blender or IDA Pro" in command.reason
    assert "not runnable outside it" in command.reason


def test_a_script_inside_an_application_is_left_out_of_the_others_smoke_test() -> None:
    ev = Evidence(
        imports=(imp("bpy", "blender_export.py"), imp("numpy", "train.py")),
        python_paths=("blender_export.py", "train.py"),
    )
    plan = discover(ev, SmokeSettings(), "3.8", hosted={"bpy": "Blender"})
    (check,) = plan.candidates
    assert check.argv[-1] == "script:train.py"
    assert "blender_export.py (bpy: runs inside Blender)" in check.reason


def test_a_pip_installable_module_is_no_host_module() -> None:
    # 'slicer' is a PyPI library (shap's dependency), not 3D Slicer's module
    assert mapping.lookup("slicer").kind == "dist"
    assert mapping.lookup("bpy.types").kind == "host"


def test_python2_standard_modules_are_evidence_never_unresolved() -> None:
    ev = Evidence(imports=(imp("urllib2"), imp("cPickle", line=2), imp("StringIO", line=3)))
    # Python 3 forced: the imports stay standard library (Python 2), with a warning
    env = infer(ev, InferSettings(python="3.8"), commit_date=WHEN)
    assert env.unresolved == ()
    found = kinds(env.imports)
    assert found["urllib2"] == ("stdlib", "Python 2")
    assert found["cPickle"] == ("stdlib", "Python 2")
    assert any("urllib2 (main.py:1) is Python 2's standard library" in c for c in env.conflicts)
    # Python 2 code: the same imports are its standard library, nothing to report
    hinted = Evidence(
        imports=ev.imports,
        python_hints=(PythonHint(specifier="<3", origin=Origin(kind="syntax"), strength="syntax"),),
    )
    env2 = infer(hinted, InferSettings(), commit_date=WHEN)
    assert env2.python.major == 2
    assert kinds(env2.imports)["urllib2"] == ("stdlib", "Python 2")
    assert env2.unresolved == () and not any("urllib2" in c for c in env2.conflicts)


def test_optional_python2_fallback_adds_no_warning() -> None:
    ev = Evidence(imports=(imp("cPickle", optional=True), imp("pickle", line=3)))
    env = infer(ev, InferSettings(python="3.8"), commit_date=WHEN)
    assert env.unresolved == () and env.conflicts == ()
    assert kinds(env.imports)["cPickle"] == ("stdlib", "Python 2")


def test_inspect_shows_every_kind_with_how_it_was_found() -> None:
    ev = Evidence(
        imports=(
            imp("cv2"),
            imp("bpy", line=2),
            imp("os", line=3),
            imp("helpers", line=4),
            imp("nosuchthing_xyz", line=5),
        ),
        local_modules=frozenset({"helpers"}),
    )
    env = infer(ev, InferSettings(python="3.8"), commit_date=WHEN)
    text = "\n".join(_imports(env.imports))
    assert "distribution  cv2" in text and "opencv-python" in text
    assert "repro's curated import overrides" in text
    assert "[also: opencv-python-headless" in text
    assert "runs inside   bpy" in text and "Blender" in text
    assert "unresolved    nosuchthing_xyz" in text
    assert "standard library (Python 3): os" in text
    assert "the repository's own: helpers" in text


def test_light_optional_imports_go_to_the_best_effort_layer() -> None:
    ev = Evidence(
        imports=(
            imp("simplejson", optional=True),  # try: import simplejson except ImportError
            imp("yaml", "tests/test_cfg.py"),  # test code only: listed, not installed
            imp("torch", line=5, optional=True),  # a lazy framework: the planner's, not here
            imp("requests", line=6, optional=True),
            imp("requests", "other.py", line=2),  # required elsewhere: installed as usual
        )
    )
    env = infer(ev, InferSettings(python="3.8"), commit_date=WHEN)
    reqs = {r.name: r for r in env.requirements}
    assert (reqs["simplejson"].optional, reqs["simplejson"].layer) == (True, "optional")
    assert (reqs["PyYAML"].optional, reqs["PyYAML"].layer) == (True, "main")
    assert reqs["torch"].layer == "framework" and reqs["torch"].optional
    assert (reqs["requests"].optional, reqs["requests"].layer) == (False, "main")


def test_manifest_says_which_optional_requirements_were_dropped() -> None:
    from repro.manifest import best_effort, dropped

    ev = Evidence(imports=(imp("simplejson", optional=True), imp("ujson", line=2, optional=True)))
    env = infer(ev, InferSettings(python="3.8"), commit_date=WHEN)
    assert [i["installed"] for i in best_effort(env, None)] == [None, None]
    lock = ("simplejson==3.13.2", "pip==9.0.1")
    assert {i["name"]: i["installed"] for i in best_effort(env, lock)} == {
        "simplejson": True,
        "ujson": False,
    }
    (note,) = dropped(env, lock)
    assert note.startswith("optional ujson did not install and was dropped")
    assert "main.py:2" in note


# --------------------------------------------------------------------------- system modules


def _base(python: str, name: str = "") -> BaseImage:
    return BaseImage(
        name=name or f"python:{python}-slim",
        python=python,
        python_source="image",
        gpu=False,
        cuda=None,
        reasons=(),
        variant=f"py{python}-cpu",
    )


def test_system_modules_come_from_the_base_images_distribution() -> None:
    from repro import system_modules
    from repro.resolve import to_look_up

    ev = Evidence(imports=(imp("gi"), imp("gi.repository.Gtk", line=2), imp("wx", line=3)))
    # never asked of PyPI: a same-named project there is not Debian's module
    assert to_look_up(Evidence(imports=(imp("apt"), imp("gi")))) == ([], 0)
    env = infer(ev, InferSettings(python="3.11"), commit_date=WHEN)
    assert {u.module for u in env.unresolved} == {"gi"}
    assert [r.name for r in env.requirements] == ["wxPython"]
    done = system_modules.apply(env, _base("3.11"))
    assert done.unresolved == () and done.requirements == ()
    found = kinds(done.imports)
    assert found["gi"] == ("system", "python3-gi") and found["wx"] == ("system", "python3-wxgtk4.0")
    gi = next(i for i in done.imports if i.module == "gi")
    assert "python3-gi ships gi in bookworm's dist-packages for Python 3.11" in gi.how
    assert system_modules.packages(done) == ("python3-gi", "python3-wxgtk4.0")
    assert system_modules.site_dir("3.11") == "/usr/lib/python3/dist-packages"


def test_a_declared_pip_provider_is_kept() -> None:
    from repro import system_modules
    from repro.models import DeclaredRequirement

    ev = Evidence(
        imports=(imp("wx"),),
        declared=(
            DeclaredRequirement(
                requirement="wxPython==4.0.7",
                name="wxPython",
                origin=Origin(kind="requirements", path="requirements.txt", line=1),
            ),
        ),
    )
    env = system_modules.apply(
        infer(ev, InferSettings(python="3.11"), commit_date=WHEN), _base("3.11")
    )
    assert [r.name for r in env.requirements] == ["wxPython"]
    assert kinds(env.imports)["wx"] == ("distribution", "wxPython")


def test_a_system_module_needs_the_releases_own_python() -> None:
    from repro import system_modules

    env = infer(Evidence(imports=(imp("gi"),)), InferSettings(python="3.12"), commit_date=WHEN)
    done = system_modules.apply(env, _base("3.12"))
    (gi,) = done.unresolved
    # python:3.12 is no Debian release's own Python: nothing to install, and the reason says
    # which Python would do
    assert "python3-gi in bookworm (--python 3.11)" in gi.reason
    assert kinds(done.imports)["gi"][0] == "unresolved"


def test_python_choice_leans_to_a_release_that_ships_the_system_module() -> None:
    ev = Evidence(imports=(imp("gi"), imp("os", line=2)))
    late = infer(ev, InferSettings(), commit_date=dt.datetime(2023, 6, 1, tzinfo=dt.timezone.utc))
    assert late.python.version == "3.11"
    assert "gi comes from the distribution (python3-gi)" in late.python.reasons[-1]
    # Python 3.11 was not out in 2021: the newest system Python then was 3.9 (bullseye)
    early = infer(ev, InferSettings(), commit_date=dt.datetime(2021, 5, 1, tzinfo=dt.timezone.utc))
    assert early.python.version == "3.9"


def test_dockerfile_links_the_distributions_modules_into_the_environment() -> None:
    from repro.dockerfile import Recipe, render

    text = render(
        Recipe(
            base=_base("3.11"),
            source_url="https://github.com/acme/notify",
            commit="1" * 40,
            system_packages=("python3-gi",),
            system_site="/usr/lib/python3/dist-packages",
        )
    ).dockerfile
    assert "apt-get install -y --no-install-recommends python3-gi" in text
    assert 'echo /usr/lib/python3/dist-packages > "$site/repro-system.pth"' in text
    assert text.index("-m venv") < text.index("repro-system.pth")


def test_python3_only_standard_modules_are_backports_in_python2_code() -> None:
    sites = (imp("ipaddress"), imp("enum", line=2), imp("typing", line=3), imp("html", line=4))
    py2 = infer(Evidence(imports=sites), InferSettings(python="2.7"), commit_date=WHEN)
    assert {r.name for r in py2.requirements} == {"ipaddress", "enum34", "typing", "future"}
    assert py2.unresolved == ()
    py3 = infer(Evidence(imports=sites), InferSettings(python="3.8"), commit_date=WHEN)
    assert py3.requirements == ()
    assert {i.kind for i in py3.imports} == {"stdlib"}


def test_flask_ext_imports_are_the_extensions_they_redirect_to(tmp_path: Path) -> None:
    from repro.scan import scan

    write_files(
        tmp_path,
        {
            "app.py": "from flask import Flask\n"
            "from flask.ext.sqlalchemy import SQLAlchemy\n"
            "from flask.ext.wtf import Form\n"
        },
    )
    env = infer(scan(tmp_path), InferSettings(python="3.6"), commit_date=WHEN)
    reqs = {r.name: r for r in env.requirements}
    assert set(reqs) == {"Flask", "Flask-SQLAlchemy", "Flask-WTF"}
    # the redirect itself was removed in Flask 1.0 (data/api_rules.json)
    assert "<1.0" in reqs["Flask"].specifier


def test_a_module_an_application_shares_is_the_applications_only_beside_it() -> None:
    with_blender = infer(
        Evidence(imports=(imp("bpy"), imp("mathutils", line=2))), InferSettings(), commit_date=WHEN
    )
    assert kinds(with_blender.imports)["mathutils"] == ("host", "Blender")
    assert with_blender.requirements == ()
    alone = infer(Evidence(imports=(imp("mathutils"),)), InferSettings(), commit_date=WHEN)
    assert kinds(alone.imports)["mathutils"][0] != "host"


def test_a_declared_bs4_is_beautifulsoup4_and_not_installed_twice() -> None:
    from repro.models import DeclaredRequirement

    ev = Evidence(
        imports=(imp("bs4"),),
        declared=(
            DeclaredRequirement(
                requirement="bs4",
                name="bs4",
                origin=Origin(kind="requirements", path="requirements.txt", line=1),
            ),
        ),
    )
    env = infer(ev, InferSettings(python="3.8"), commit_date=WHEN)
    assert [r.name for r in env.requirements] == ["beautifulsoup4"]
    assert any("names the import 'bs4'" in c for c in env.conflicts)


def test_of_several_providers_of_a_module_one_is_installed_and_the_others_listed() -> None:
    from repro.models import DeclaredRequirement

    def declared(name: str) -> DeclaredRequirement:
        return DeclaredRequirement(
            requirement=name,
            name=name,
            origin=Origin(kind="requirements", path="requirements.txt", line=1),
        )

    alone = infer(
        Evidence(imports=(imp("progressbar"),)), InferSettings(python="3.8"), commit_date=WHEN
    )
    assert [r.name for r in alone.requirements] == ["progressbar2"]
    text = "\n".join(_imports(alone.imports))
    assert "[also: progressbar, progressbar33]" in text
    # a declared provider is the one installed, never a second package into the same folder
    for module, name in (
        ("progressbar", "progressbar33"),
        ("Crypto.Cipher", "pycrypto"),
        ("MySQLdb", "MySQL-python"),
        ("tensorflow", "tensorflow-gpu"),
        ("psycopg2", "psycopg2"),
    ):
        ev = Evidence(imports=(imp(module),), declared=(declared(name),))
        env = infer(ev, InferSettings(python="3.8"), commit_date=WHEN)
        assert [r.name for r in env.requirements] == [name], module


def test_a_windows_only_module_is_said_so_and_never_installed() -> None:
    from repro.models import DeclaredRequirement

    ev = Evidence(
        imports=(
            imp("win32api", "tray.py"),
            imp("win32com.client", "tray.py", line=2),
            imp("winreg", "tray.py", line=3),
            imp("requests", "fetch.py"),
        ),
        declared=(
            DeclaredRequirement(
                requirement="pywin32==224",
                name="pywin32",
                origin=Origin(kind="requirements", path="requirements.txt", line=1),
            ),
        ),
        python_paths=("tray.py", "fetch.py"),
    )
    env = infer(ev, InferSettings(python="3.8"), commit_date=WHEN)
    # nothing the Linux image cannot install is required, and nothing fails for it
    assert [r.name for r in env.requirements] == ["requests"]
    assert env.unresolved == ()
    found = kinds(env.imports)
    for module in ("win32api", "win32com", "winreg"):
        assert found[module] == ("platform", "Windows"), module
    text = "\n".join(_imports(env.imports))
    row = next(line.split() for line in text.splitlines() if "win32api" in line)
    assert row[:5] == ["only", "on", "win32api", "Windows", "'win32api'"]
    assert "exists only on Windows, never in a Linux image" in text
    assert any(
        c.startswith("pywin32: declared in requirements.txt:1, but it installs on Windows only")
        for c in env.conflicts
    )
    # the smoke test runs what Linux can run, and names what it left out and why
    platforms = {i.module: i.provider for i in env.imports if i.kind == "platform"}
    plan = discover(ev, SmokeSettings(), "3.8", platforms=platforms)
    (check,) = plan.candidates
    assert check.argv[-1] == "script:fetch.py"
    assert "tray.py (win32api: Windows only)" in check.reason
    alone = Evidence(imports=(imp("win32gui", "tray.py"),), python_paths=("tray.py",))
    command = first_command(
        discover(alone, SmokeSettings(), "3.8", platforms={"win32gui": "Windows"})
    )
    assert command.kind == "none" and "not runnable in a Linux image" in command.reason


def test_a_library_whose_installer_refuses_any_machine_but_its_board_is_left_out() -> None:
    """picamera's installer stops off a Raspberry Pi: the image is built elsewhere, so it is
    never installed, and the rest of the repository (imutils' demos) still packs."""
    from repro.models import DeclaredRequirement

    ev = Evidence(
        imports=(imp("picamera.array", "pi_stream.py"), imp("numpy", "resize.py")),
        declared=(
            DeclaredRequirement(
                requirement="picamera",
                name="picamera",
                origin=Origin(kind="requirements", path="requirements.txt", line=2),
            ),
        ),
        python_paths=("pi_stream.py", "resize.py"),
    )
    env = infer(ev, InferSettings(python="3.8"), commit_date=WHEN)
    assert [r.name for r in env.requirements] == ["numpy"]
    assert kinds(env.imports)["picamera"] == ("platform", "a Raspberry Pi")
    text = "\n".join(_imports(env.imports))
    assert "'picamera' installs only on a Raspberry Pi, never in an image built on another" in text
    assert any(
        c.startswith("picamera: declared in requirements.txt:2, but it installs on a Raspberry")
        and "left out of the image;" in c
        for c in env.conflicts
    )
    platforms = {i.module: i.provider for i in env.imports if i.kind == "platform"}
    (check,) = discover(ev, SmokeSettings(), "3.8", platforms=platforms).candidates
    assert check.argv[-1] == "script:resize.py"
    assert "pi_stream.py (picamera: a Raspberry Pi only)" in check.reason
    alone = Evidence(imports=(imp("picamera", "cam.py"),), python_paths=("cam.py",))
    command = first_command(
        discover(alone, SmokeSettings(), "3.8", platforms={"picamera": "a Raspberry Pi"})
    )
    assert command.kind == "none"
    assert command.reason.endswith("not runnable in an image built on another machine")


def test_a_declared_windows_only_distribution_with_a_marker_is_left_to_pip() -> None:
    from repro.models import DeclaredRequirement

    ev = Evidence(
        declared=(
            DeclaredRequirement(
                requirement='pywin32; sys_platform == "win32"',
                name="pywin32",
                origin=Origin(kind="requirements", path="requirements.txt", line=1),
            ),
        ),
    )
    env = infer(ev, InferSettings(python="3.8"), commit_date=WHEN)
    assert [r.name for r in env.requirements] == ["pywin32"]
    assert not any("installs on Windows only" in c for c in env.conflicts)


def test_a_same_named_project_is_not_taken_where_another_provides_the_module() -> None:
    # the look-up would find only the same-named project, which ships the module too
    py3 = infer(
        Evidence(imports=(imp("newspaper"), imp("hid"))),
        InferSettings(python="3.8"),
        commit_date=WHEN,
    )
    assert sorted(r.name for r in py3.requirements) == ["hidapi", "newspaper3k"]
    assert "[also: hid]" in "\n".join(_imports(py3.imports))
    # newspaper (the Python 2 library) is what Python 2 code imported
    py2 = infer(
        Evidence(imports=(imp("newspaper"),)), InferSettings(python="2.7"), commit_date=WHEN
    )
    assert [r.name for r in py2.requirements] == ["newspaper"]
