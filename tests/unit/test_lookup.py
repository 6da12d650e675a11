"""The verified PyPI look-up of unmapped imports (repro/lookup.py, repro/projects.py),
against a stand-in index: project pages and release files served from memory."""

from __future__ import annotations

import datetime as dt

import pytest

from repro import lookup, projects
from repro.infer import infer
from repro.models import Evidence, Hint, ImportSite, InferSettings, Origin
from tests.unit.index_standin import SIMPLE, StandinTransport, sdist_bytes, wheel_bytes

CODE_DATE = dt.date(2019, 6, 1)
WHEN = dt.datetime(2019, 6, 1, tzinfo=dt.timezone.utc)


def _file(http: StandinTransport, filename: str, body: bytes, uploaded: str) -> dict[str, object]:
    url = http.add(filename, body)
    return {"filename": filename, "url": url, "size": len(body), "upload-time": uploaded}


def _index(http: StandinTransport, *, as_of: dt.date = CODE_DATE) -> projects.PyPIProjects:
    return projects.PyPIProjects(as_of=as_of, transport=http, simple_url=SIMPLE, offline=False)


def _imp(module: str, path: str = "run.py", optional: bool = False) -> ImportSite:
    return ImportSite(
        module=module, origin=Origin(kind="import", path=path, line=1), optional=optional
    )


@pytest.fixture
def http() -> StandinTransport:
    """An index where ``blinkstick`` ships ``blinkstick`` in a wheel, ``pyblinkstick`` is
    an older project whose wheel ships something else, and ``blinkstick-python`` was
    registered after the code's date (and ships the module: a confusion attack)."""
    index = StandinTransport()
    index.add_project(
        "blinkstick",
        [
            _file(
                index,
                "BlinkStick-1.1.8.tar.gz",
                sdist_bytes({"BlinkStick-1.1.8/blinkstick/__init__.py": ""}),
                "2015-02-01T10:00:00Z",
            ),
            _file(
                index,
                "BlinkStick-1.2.0-py2.py3-none-any.whl",
                wheel_bytes({"blinkstick/__init__.py": "", "blinkstick/blinkstick.py": ""}),
                "2018-03-01T10:00:00Z",
            ),
            # a later release the code cannot have used: never listed
            _file(
                index,
                "BlinkStick-9.0.0-py3-none-any.whl",
                wheel_bytes({"other/__init__.py": ""}),
                "2023-01-01T10:00:00Z",
            ),
        ],
    )
    index.add_project(
        "pyblinkstick",
        [
            _file(
                index,
                "pyblinkstick-0.3-py3-none-any.whl",
                wheel_bytes({"pybs/__init__.py": "", "pybs/usb.py": ""}),
                "2016-05-01T10:00:00Z",
            )
        ],
    )
    index.add_project(
        "blinkstick-python",
        [
            _file(
                index,
                "blinkstick_python-0.1-py3-none-any.whl",
                wheel_bytes({"blinkstick/__init__.py": ""}),
                "2022-09-09T10:00:00Z",
            )
        ],
    )
    return index


def test_accepted_only_where_a_real_file_ships_the_module(http: StandinTransport) -> None:
    found = lookup.resolve(["blinkstick"], as_of=CODE_DATE, index=_index(http))["blinkstick"]
    assert found.dist == "BlinkStick"  # as its files spell it (the index says blinkstick)
    assert found.evidence == (
        "PyPI project BlinkStick ships top-level module blinkstick in BlinkStick-1.2.0 wheel "
        "(BlinkStick-1.2.0-py2.py3-none-any.whl)"
    )
    why = {t.project: t for t in found.tried}
    # a candidate whose wheel lacks the module is refused, saying what it ships instead
    assert why["pyblinkstick"].outcome == "refused"
    assert "ships pybs, not blinkstick" in why["pyblinkstick"].why
    # a project first uploaded after the code's date is refused, even though it ships it
    assert why["blinkstick-python"].outcome == "refused"
    assert (
        "first uploaded 2022-09-09, after the code's date 2019-06-01"
        in why["blinkstick-python"].why
    )
    assert why["python-blinkstick"].why == "no such project on PyPI"
    assert found.alternatives == ()


def test_name_registered_after_the_code_is_refused_even_alone() -> None:
    http = StandinTransport()
    http.add_project(
        "labtools",
        [
            _file(
                http,
                "labtools-99.0-py3-none-any.whl",
                wheel_bytes({"labtools/__init__.py": "import os  # payload"}),
                "2021-01-01T00:00:00Z",
            )
        ],
    )
    found = lookup.resolve(["labtools"], as_of=CODE_DATE, index=_index(http))["labtools"]
    assert not found.resolved
    assert "after the code's date" in found.refusals()[0]


def test_wheel_less_project_is_checked_through_its_sdist() -> None:
    http = StandinTransport()
    http.add_project(
        "termcolor",
        [
            _file(
                http,
                "termcolor-1.1.0.tar.gz",
                sdist_bytes(
                    {
                        "termcolor-1.1.0/setup.py": "",
                        "termcolor-1.1.0/termcolor.py": "",
                        "termcolor-1.1.0/PKG-INFO": "",
                    }
                ),
                "2011-01-13T00:00:00Z",
            )
        ],
    )
    found = lookup.resolve(["termcolor"], as_of=CODE_DATE, index=_index(http))["termcolor"]
    assert found.dist == "termcolor"
    assert "termcolor-1.1.0 sdist (termcolor-1.1.0.tar.gz)" in found.evidence
    # the sdist's build helper is no module of the project
    assert lookup.resolve(["setup"], as_of=CODE_DATE, index=_index(http))["setup"].dist == ""


def test_network_off_gives_the_offline_note_not_a_traceback(http: StandinTransport) -> None:
    http.down = True
    found = lookup.resolve(["blinkstick"], as_of=CODE_DATE, index=_index(http))["blinkstick"]
    assert not found.resolved
    assert found.note.startswith("PyPI could not be asked (network is unreachable)")
    assert {t.outcome for t in found.tried} == {"unchecked"}


def test_offline_setting_asks_nothing_and_says_so(http: StandinTransport) -> None:
    index = projects.PyPIProjects(as_of=CODE_DATE, transport=http, simple_url=SIMPLE, offline=True)
    found = lookup.resolve(["blinkstick"], as_of=CODE_DATE, index=index)["blinkstick"]
    assert http.requests == []
    assert "REPRO_OFFLINE=1" in found.note


def test_second_run_is_answered_from_the_cache(http: StandinTransport) -> None:
    first = lookup.resolve(["blinkstick"], as_of=CODE_DATE, index=_index(http))
    asked = len(http.requests)
    assert 0 < asked <= 12  # a handful per name: 7 project pages, a few listings
    http.down = True  # nothing may be asked again
    again = lookup.resolve(["blinkstick"], as_of=CODE_DATE, index=_index(http))
    assert again == first
    assert len(http.requests) == asked


def test_most_used_provider_wins_and_the_others_are_listed() -> None:
    http = StandinTransport()
    wheel = wheel_bytes({"serial/__init__.py": ""})
    for name in ("serial", "pyserial"):
        http.add_project(
            name,
            [_file(http, f"{name}-1.0-py3-none-any.whl", wheel, "2014-01-01T00:00:00Z")],
        )
    found = lookup.resolve(["serial"], as_of=CODE_DATE, index=_index(http))["serial"]
    assert found.dist == "pyserial"  # ranked far above the same-named project
    assert found.alternatives == ("serial",)


def test_namespace_paths_need_the_full_path_shipped() -> None:
    http = StandinTransport()
    http.add_project(
        "acme-tools-core",
        [
            _file(
                http,
                "acme_tools_core-2.0-py3-none-any.whl",
                wheel_bytes({"acme/tools/core/__init__.py": ""}),
                "2018-01-01T00:00:00Z",
            )
        ],
    )
    assert lookup.candidates("acme.tools.core.x") == (
        "acme-tools-core-x",
        "acme-tools-core",
        "acme-tools",
    )
    found = lookup.resolve(["acme.tools.core"], as_of=CODE_DATE, index=_index(http))
    assert found["acme.tools.core"].dist == "acme-tools-core"


# --------------------------------------------------------------------------- through infer


def test_found_import_becomes_a_requirement_with_its_provenance(http: StandinTransport) -> None:
    ev = Evidence(imports=(_imp("blinkstick.blinkstick"),))
    lookups, notes = projects.look_up(ev, as_of=CODE_DATE, index=_index(http))
    env = infer(ev, InferSettings(), commit_date=WHEN, lookups=lookups)
    (req,) = env.requirements
    assert req.name == "BlinkStick" and not req.optional
    assert any(r.startswith("PyPI project BlinkStick ships") for r in req.reasons)
    (record,) = env.imports
    assert (record.kind, record.provider) == ("distribution", "BlinkStick")
    assert record.how.startswith("PyPI project BlinkStick ships top-level module blinkstick")
    assert env.unresolved == () and notes == []


def test_unfound_import_lists_every_candidate_and_why(http: StandinTransport) -> None:
    ev = Evidence(imports=(_imp("pybs_missing"),))
    lookups, _ = projects.look_up(ev, as_of=CODE_DATE, index=_index(http))
    env = infer(ev, InferSettings(), commit_date=WHEN, lookups=lookups)
    (unresolved,) = env.unresolved
    assert "none of the 8 PyPI projects named like it ships it" in unresolved.reason
    assert unresolved.tried[0] == "pybs-missing: no such project on PyPI"
    (record,) = env.imports
    assert record.kind == "unresolved" and len(record.tried) == 8


def test_own_modules_and_project_name_are_never_looked_up(http: StandinTransport) -> None:
    ev = Evidence(
        imports=(_imp("blinkstick"), _imp("helpers"), _imp("labkit"), _imp("utils"), _imp("os")),
        local_modules=frozenset({"blinkstick", "helpers"}),
        hints=(Hint(topic="project-name", value="LabKit", origin=Origin(kind="setup.py")),),
    )
    names, _ = lookup_names(ev)
    assert names == []
    lookups, _ = projects.look_up(ev, as_of=CODE_DATE, index=_index(http))
    assert http.requests == [] and lookups == {}
    env = infer(ev, InferSettings(), commit_date=WHEN, lookups=lookups)
    kinds = {i.module: i.kind for i in env.imports}
    # the repository's own blinkstick wins over the PyPI project of that name
    assert kinds["blinkstick"] == "own" and kinds["helpers"] == "own"
    assert kinds["os"] == "stdlib"
    assert env.requirements == ()


def lookup_names(ev: Evidence) -> tuple[list[str], int]:
    from repro.resolve import to_look_up

    return to_look_up(ev)


def test_a_declared_provider_is_not_looked_up(http: StandinTransport) -> None:
    from repro.models import DeclaredRequirement

    ev = Evidence(
        imports=(_imp("blinkstick"),),
        declared=(
            DeclaredRequirement(
                requirement="python-blinkstick==1.0",
                name="python-blinkstick",
                origin=Origin(kind="requirements", path="requirements.txt", line=1),
            ),
        ),
    )
    assert lookup_names(ev) == ([], 0)


def test_a_project_named_after_the_dotted_path_is_found() -> None:
    http = StandinTransport()
    http.add_project(
        "rpi-gpio",
        [
            _file(
                http,
                "RPi.GPIO-0.6.3.tar.gz",
                sdist_bytes(
                    {
                        "RPi.GPIO-0.6.3/setup.py": "",
                        "RPi.GPIO-0.6.3/RPi/__init__.py": "",
                        "RPi.GPIO-0.6.3/RPi/GPIO/__init__.py": "",
                        "RPi.GPIO-0.6.3/source/py_gpio.c": "",
                    }
                ),
                "2016-10-01T00:00:00Z",
            )
        ],
    )
    ev = Evidence(imports=(_imp("RPi.GPIO"),))
    lookups, _ = projects.look_up(ev, as_of=CODE_DATE, index=_index(http))
    assert lookups["RPi"].dist == "RPi.GPIO"
    assert lookups["RPi"].tried[1].project == "RPi.GPIO"  # right after the name itself
    env = infer(ev, InferSettings(python="2.7"), commit_date=WHEN, lookups=lookups)
    assert [r.name for r in env.requirements] == ["RPi.GPIO"]


def test_modules_beside_the_importing_file_are_its_own_inside_a_package_too(
    http: StandinTransport,
) -> None:
    # tool/tool.py is run as a script: its folder is on sys.path, so `import blinkstick`
    # there is tool/blinkstick.py, never the PyPI project, though tool/ is a package
    ev = Evidence(
        imports=(_imp("blinkstick", "tool/tool.py"), _imp("helpers", "tool/tool.py")),
        python_paths=(
            "tool/__init__.py",
            "tool/tool.py",
            "tool/blinkstick.py",
            "tool/helpers/__init__.py",
        ),
        local_modules=frozenset({"tool"}),
    )
    assert lookup_names(ev) == ([], 0)
    lookups, _ = projects.look_up(ev, as_of=CODE_DATE, index=_index(http))
    assert http.requests == []
    env = infer(ev, InferSettings(), commit_date=WHEN, lookups=lookups)
    assert env.requirements == ()
    assert {i.module: i.kind for i in env.imports} == {"blinkstick": "own", "helpers": "own"}
    # the same name imported from elsewhere is no sibling there
    other = Evidence(imports=(_imp("blinkstick", "run.py"),), python_paths=ev.python_paths)
    assert lookup_names(other) == (["blinkstick"], 0)


def test_a_module_dropped_by_a_new_major_is_taken_from_the_last_release_before_it() -> None:
    http = StandinTransport()
    http.add_project(
        "slackclient",
        [
            _file(
                http,
                "slackclient-1.3.2-py2.py3-none-any.whl",
                wheel_bytes({"slackclient/__init__.py": "", "slackclient/client.py": ""}),
                "2019-06-01T00:00:00Z",
            ),
            _file(
                http,
                "slackclient-2.9.4-py2.py3-none-any.whl",
                wheel_bytes({"slack/__init__.py": "", "slack/web/client.py": ""}),
                "2019-12-01T00:00:00Z",
            ),
        ],
    )
    as_of = dt.date(2020, 1, 1)
    found = lookup.resolve(["slackclient"], as_of=as_of, index=_index(http, as_of=as_of))
    hit = found["slackclient"]
    assert (hit.dist, hit.specifier) == ("slackclient", "<2")
    assert hit.evidence.endswith("slackclient 2.9.4 no longer ships it, so slackclient<2")
    ev = Evidence(imports=(_imp("slackclient"),))
    env = infer(ev, InferSettings(python="2.7"), commit_date=WHEN, lookups=found)
    (req,) = env.requirements
    assert req.pip_line() == "slackclient<2"


def test_a_repair_asks_the_same_verified_look_up(http: StandinTransport) -> None:
    """A module a package imports without declaring it (the smoke test's
    ModuleNotFoundError; the code's own scan never saw it) is looked up the same way: the
    project whose release of the code's time ships it, with that evidence, or None."""
    provider = projects.module_provider(CODE_DATE, index=_index(http))
    found = provider("blinkstick")
    assert found is not None
    dist, evidence = found
    assert dist.lower() == "blinkstick" and "blinkstick" in evidence and "1.2.0" in evidence
    assert provider("pybs_not_anywhere") is None
