"""Listing a remote wheel or sdist (repro/distfiles.py) and reading what it provides
(repro/toplevel.py), against an in-memory index."""

from __future__ import annotations

import json

import pytest

from repro import distfiles, httpget, retry, toplevel
from tests.unit.index_standin import StandinTransport, sdist_bytes, wheel_bytes


def test_wheel_listed_from_one_suffix_range_request() -> None:
    http = StandinTransport()
    body = wheel_bytes(
        {"serial/__init__.py": "", "serial/tools/list_ports.py": "", "x.dist-info/RECORD": ""},
        pad=500_000,
    )
    url = http.add("pyserial-3.5-py2.py3-none-any.whl", body)
    listing = distfiles.list_files(url, "pyserial-3.5-py2.py3-none-any.whl", transport=http)
    assert listing.kind == "wheel"
    assert "serial/tools/list_ports.py" in listing.files
    assert listing.requests == 1
    assert http.requests == [(url, f"bytes=-{distfiles.TAIL}")]
    # half a megabyte of wheel, but only its tail was fetched
    claimed = toplevel.claims(toplevel.importable_files(listing.files))
    assert set(claimed) == {"serial"}


def test_large_central_directory_costs_one_more_request() -> None:
    http = StandinTransport()
    files = {f"big/mod_{i:05d}_with_a_long_name.py": "" for i in range(3000)}
    files["big/__init__.py"] = ""
    url = http.add("big-1.0-py3-none-any.whl", wheel_bytes(files))
    listing = distfiles.list_files(url, "big-1.0-py3-none-any.whl", transport=http)
    assert len(listing.files) == 3001
    assert listing.requests == 2


def test_server_ignoring_ranges_still_lists() -> None:
    http = StandinTransport(ignore_range=True)
    url = http.add("tiny-1.0-py3-none-any.whl", wheel_bytes({"tiny.py": ""}))
    listing = distfiles.list_files(url, "tiny-1.0-py3-none-any.whl", transport=http)
    assert listing.files == ("tiny.py",)


def test_tar_sdist_members_and_top_level_txt() -> None:
    http = StandinTransport()
    body = sdist_bytes(
        {
            "PyFoo-0.3/setup.py": "",
            "PyFoo-0.3/src/foo/__init__.py": "",
            "PyFoo-0.3/src/PyFoo.egg-info/top_level.txt": "foo\n",
            "PyFoo-0.3/tests/test_foo.py": "",
        }
    )
    url = http.add("PyFoo-0.3.tar.gz", body)
    listing = distfiles.list_files(url, "PyFoo-0.3.tar.gz", transport=http)
    assert listing.kind == "sdist"
    assert listing.top_level == ("foo",)
    assert set(toplevel.claims(toplevel.sdist_files(listing.files))) == {"foo"}


def test_egg_top_level_is_read() -> None:
    http = StandinTransport()
    body = wheel_bytes({"bar.py": "", "EGG-INFO/top_level.txt": "bar\n", "EGG-INFO/PKG-INFO": ""})
    url = http.add("bar-0.1-py2.7.egg", body)
    listing = distfiles.list_files(url, "bar-0.1-py2.7.egg", transport=http)
    assert listing.kind == "egg"
    assert listing.top_level == ("bar",)
    assert set(toplevel.claims(toplevel.importable_files(listing.files))) == {"bar"}


def test_missing_file_and_unreachable_index_are_distinct_errors() -> None:
    http = StandinTransport()
    with pytest.raises(distfiles.ListingError, match="404"):
        distfiles.list_files(
            "https://files.example/gone.whl", "gone-1.0-py3-none-any.whl", transport=http
        )
    with pytest.raises(httpget.Unreachable):
        distfiles.list_files(
            "https://files.example/x.whl",
            "x-1.0-py3-none-any.whl",
            transport=StandinTransport(down=True),
        )


def test_oversized_and_unlistable_files_are_refused_without_download() -> None:
    http = StandinTransport()
    with pytest.raises(distfiles.ListingError, match="larger"):
        distfiles.list_files(
            "https://files.example/huge.tar.gz", "huge-1.0.tar.gz", transport=http, size=1 << 30
        )
    with pytest.raises(distfiles.ListingError, match="not a wheel"):
        distfiles.list_files("https://files.example/x.exe", "x-1.0.win32.exe", transport=http)
    assert http.requests == []


def test_garbage_is_a_listing_error_not_a_traceback() -> None:
    http = StandinTransport()
    url = http.add("junk-1.0-py3-none-any.whl", b"not a zip at all" * 100)
    with pytest.raises(distfiles.ListingError, match="zip"):
        distfiles.list_files(url, "junk-1.0-py3-none-any.whl", transport=http)
    url = http.add("junk-1.0.tar.gz", b"\x1f\x8bnot gzip")
    with pytest.raises(distfiles.ListingError, match="tar"):
        distfiles.list_files(url, "junk-1.0.tar.gz", transport=http)


def test_sdist_layouts() -> None:
    # root layout: build helpers at the root are not modules the project installs
    flat = toplevel.sdist_files(
        ["foo-1.0/setup.py", "foo-1.0/ez_setup.py", "foo-1.0/foo.py", "foo-1.0/docs/conf.py"]
    )
    assert set(toplevel.claims(flat)) == {"foo"}
    # lib/ beside the root (package_dir={"": "lib"})
    lib = toplevel.sdist_files(["b-2/setup.py", "b-2/lib/bee/__init__.py"])
    assert set(toplevel.claims(lib)) == {"bee"}


def test_provides_matches_namespace_paths_and_prefixes() -> None:
    claimed = toplevel.claims(
        toplevel.importable_files(
            ["google/cloud/storage/__init__.py", "google/cloud/storage/blob.py"]
        )
    )
    assert set(claimed) == {"google.cloud.storage"}
    assert toplevel.provides(claimed, "google.cloud.storage.blob") == "google.cloud.storage"
    assert toplevel.provides(claimed, "google.cloud.bigquery") is None
    assert toplevel.provides(claimed, "google") is None


# --------------------------------------------------------------------------- the real transport


def test_the_transport_tries_again_on_a_flaky_index_and_not_on_404() -> None:
    from tests.faulty_http import FaultyServer, json_document

    fast = httpget.UrllibTransport(policy=retry.Backoff(first=0.05, budget=10.0))
    with FaultyServer(["503", "reset", "ok"], json_document({"files": []})) as server:
        reply = fast.get(f"{server.url}/simple/x/", headers={}, limit=1 << 16)
    assert reply.status == 200 and json.loads(reply.body) == {"files": []}
    assert len(server.requests) == 3
    with FaultyServer(["404"], json_document({})) as server:
        assert fast.get(f"{server.url}/simple/nosuch/", headers={}, limit=100).status == 404
    assert len(server.requests) == 1
    with FaultyServer(["503"], json_document({})) as server, pytest.raises(httpget.Unreachable):
        fast.get(f"{server.url}/simple/down/", headers={}, limit=100)


def test_a_mirror_named_for_release_dates_serves_the_look_up_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from repro import projects

    monkeypatch.setenv("REPRO_PYPI_URL", "https://mirror.lab/pypi/")
    assert projects.default_simple_url() == "https://mirror.lab/simple/"
    monkeypatch.delenv("REPRO_PYPI_URL")
    assert projects.default_simple_url() == "https://pypi.org/simple/"
