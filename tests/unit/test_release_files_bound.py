"""A submodule gone from the installed release: the bound comes from the older releases'
file lists (the newest release that still ships it), read from a stand-in index, instead
of stepping back one series per build."""

from __future__ import annotations

import datetime as dt

from repro import projects
from repro.repair import Change, Context, Failure, KnownRelease, propose
from tests.unit.index_standin import SIMPLE, StandinTransport, sdist_bytes, wheel_bytes

# urllib3's shape: contrib/appengine.py from 1.17 to 1.26.x, gone in 2.0
VERSIONS = ["1.16", "1.17", "1.20", "1.24.3", "1.25.11", "1.26.0", "1.26.18", "2.0.0", "2.1.0"]


def _ships(version: str) -> bool:
    return (1, 17) <= tuple(int(x) for x in version.split(".")[:2]) < (2, 0)


def _urllib3_index() -> StandinTransport:
    http = StandinTransport()
    files: list[dict[str, object]] = []
    for v in VERSIONS:
        members = {"urllib3/__init__.py": "", "urllib3/contrib/__init__.py": ""}
        if _ships(v):
            members["urllib3/contrib/appengine.py"] = ""
        if v == "1.16":  # an sdist only
            body = sdist_bytes({f"urllib3-{v}/{k}": t for k, t in members.items()})
            name = f"urllib3-{v}.tar.gz"
        else:
            body = wheel_bytes(members)
            name = f"urllib3-{v}-py2.py3-none-any.whl"
        url = http.add(name, body)
        files.append({"filename": name, "url": url, "size": len(body)})
    http.add_project("urllib3", files)
    return http


FAILURE = Failure(
    kind="missing-module",
    line="ModuleNotFoundError: No module named 'urllib3.contrib.appengine'",
    module="urllib3.contrib.appengine",
    subject="urllib3.contrib.appengine",
)


def _context(ships: object, **kw: object) -> Context:
    return Context(  # type: ignore[arg-type]
        python="3.12",
        installed={"urllib3": "2.1.0"},
        module_dists={"urllib3": "urllib3"},
        releases=lambda name: [KnownRelease(version=v) for v in VERSIONS],
        ships=ships,
        **kw,
    )


def test_the_newest_release_that_still_ships_the_submodule_bounds_it() -> None:
    http = _urllib3_index()
    index = projects.PyPIProjects(
        as_of=dt.date(2024, 1, 1), transport=http, simple_url=SIMPLE, offline=False
    )
    (change,) = propose(
        FAILURE, _context(projects.release_ships(dt.date(2024, 1, 1), index))
    ).changes
    assert (change.action, change.target, change.specifier) == (
        "bound-requirement",
        "urllib3",
        "<2.0.0",
    )
    assert change.basis == "release-files"
    assert "urllib3 1.26.18 still ships it and 2.0.0 does not" in change.reason


def test_a_module_added_late_is_still_found_from_above() -> None:
    asked: list[str] = []

    def ships(dist: str, version: str, module: str) -> bool:
        asked.append(version)
        return _ships(version)

    (change,) = propose(FAILURE, _context(ships)).changes
    assert change.specifier == "<2.0.0"
    assert len(asked) <= 4  # 2.0.0, then 1.26.18: found; nothing between


def test_when_the_lists_cannot_tell_the_series_are_stepped_as_before() -> None:
    (offline,) = propose(FAILURE, _context(lambda d, v, m: None)).changes
    assert offline.basis == "release-history" and offline.specifier == "<2.1.0"
    (no_index,) = propose(FAILURE, _context(None)).changes
    assert no_index.basis == "release-history"
    # tried once by the file lists: the next round steps back the series
    tried = Change(action="bound-requirement", target="urllib3", basis="release-files")
    (again,) = propose(FAILURE, _context(lambda d, v, m: True, previous=(tried,))).changes
    assert again.basis == "release-history"


def test_no_release_shipping_it_leaves_the_series_steps() -> None:
    (change,) = propose(FAILURE, _context(lambda d, v, m: False)).changes
    assert change.basis == "release-history"


def test_a_release_file_holds_a_module_as_a_file_a_package_or_an_extension() -> None:
    from repro import toplevel

    wheel = toplevel.Listing(
        filename="x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        kind="wheel",
        files=("x/__init__.py", "x/fast.cpython-312-x86_64-linux-gnu.so", "x/sub/__init__.py"),
    )
    assert toplevel.holds_module(wheel, "x.fast") and toplevel.holds_module(wheel, "x.sub")
    assert not toplevel.holds_module(wheel, "x.gone")
    sdist = toplevel.Listing(
        filename="x-0.9.tar.gz", kind="sdist", files=("x-0.9/setup.py", "x-0.9/src/x/old.py")
    )
    assert toplevel.holds_module(sdist, "x.old") and not toplevel.holds_module(sdist, "setup.x")
    assert toplevel.release_of("x-1.0-py3-none-any.whl")[0] == 0
    assert toplevel.release_of(wheel.filename)[0] == 1
    assert str(toplevel.release_of("x-0.9.tar.gz")[1]) == "0.9"
    assert toplevel.release_of("x-0.9.win32.exe") == (9, None)


def test_a_top_level_module_a_newer_release_dropped_is_bounded_only_by_the_lists() -> None:
    # setuptools 81 dropped pkg_resources; python-telegram-bot 13 imports it
    failure = Failure(
        kind="missing-module",
        line="ModuleNotFoundError: No module named 'pkg_resources'",
        module="pkg_resources",
        subject="pkg_resources",
    )
    history = ["78.1.1", "79.0.1", "80.9.0", "81.0.0"]
    base = {
        "python": "3.12",
        "installed": {"setuptools": "81.0.0"},
        "releases": lambda name: [KnownRelease(version=v) for v in history],
    }

    def ships(dist: str, version: str, module: str) -> bool:
        return version != "81.0.0"

    (change,) = propose(failure, Context(**base, ships=ships)).changes  # type: ignore[arg-type]
    assert (change.target, change.specifier, change.basis) == (
        "setuptools",
        "<81.0.0",
        "release-files",
    )
    # no list to read: said, not guessed by stepping back series
    said = propose(failure, Context(**base, ships=None))  # type: ignore[arg-type]
    assert not said.changes and said.diagnosis is not None
    assert "setuptools is installed but does not provide 'pkg_resources'" in said.diagnosis.message
