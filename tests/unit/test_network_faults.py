"""The package index and the git host fail: repro tries again, a bounded number of times,
then says which host, and which proxy and CA settings apply (repro/retry.py).

Both are a server on loopback (tests/faulty_http.py) that resets connections, answers
5xx, or takes its time, on cue: what the test asserts is what the server saw.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from repro import pypi, retry
from repro.pypi import PyPIIndex
from tests import fault_report
from tests.conftest import FakeGitHub, write_files
from tests.faulty_http import FaultyServer, git_backend, json_document

DOC = {
    "info": {"name": "tinypkg", "requires_python": None},
    "last_serial": 7,
    "releases": {"1.0": [{"upload_time_iso_8601": "2020-01-01T00:00:00Z", "yanked": False}]},
}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy is set (as on a lab's machines) that loopback bypasses: the message says so."""
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, "http://proxy.invalid:3128")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


# --------------------------------------------------------------------------- the policy


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_back_off_is_bounded_by_tries_and_by_time() -> None:
    clock = Clock()
    tries: list[float] = []

    def failing(left: float) -> None:
        tries.append(left)
        clock.now += 1.0  # each try takes a second
        raise retry.Transient("HTTP 503")

    with pytest.raises(retry.GaveUp) as info:
        retry.run(failing, retry.DEFAULT, sleep=clock.sleep, clock=lambda: clock.now)
    assert len(tries) == 3 and clock.waits == [0.5, 1.5]
    assert str(info.value) == "HTTP 503 (3 attempts over 5.0 s)"  # 3 tries, 2 waits

    clock, tries = Clock(), []
    slow = retry.Backoff(attempts=10, first=1.0, factor=2.0, cap=4.0, budget=12.0)
    with pytest.raises(retry.GaveUp):
        retry.run(failing, slow, sleep=clock.sleep, clock=lambda: clock.now)
    assert clock.waits == [1.0, 2.0, 4.0] and clock.now <= 12.0  # the budget ends it


def test_retry_after_is_honoured_up_to_the_cap_and_permanent_errors_go_up_at_once() -> None:
    clock = Clock()
    calls = 0

    def busy(left: float) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise retry.Transient("HTTP 429", retry_after=retry.retry_after("30"))
        return "answer"

    assert retry.run(busy, sleep=clock.sleep, clock=lambda: clock.now) == "answer"
    assert clock.waits == [8.0]  # asked for 30, capped

    def refused(left: float) -> None:
        raise PermissionError("no")

    with pytest.raises(PermissionError):
        retry.run(refused, sleep=clock.sleep, clock=lambda: clock.now)


@pytest.mark.parametrize(
    ("stderr", "transient"),
    [
        ("fatal: unable to access 'https://h/x/': The requested URL returned error: 503", True),
        ("error: RPC failed; curl 56 Recv failure: Connection reset by peer", True),
        ("fatal: unable to access 'https://h/': Failed to connect to h port 443: Timed out", True),
        ("fatal: the remote end hung up unexpectedly\nfatal: early EOF", True),
        ("fatal: unable to access 'https://h/': Could not resolve host: h", True),
        ("remote: Repository not found.\nfatal: repository 'https://h/x/' not found", False),
        ("fatal: Authentication failed for 'https://h/x/'", False),
        ("fatal: unable to access 'https://h/': The requested URL returned error: 403", False),
        ("fatal: unable to access 'https://h/': server certificate verification failed", False),
    ],
)
def test_git_failures_worth_another_try(stderr: str, transient: bool) -> None:
    assert retry.git_transient(stderr) is transient


def test_the_settings_named_are_those_that_apply_without_credentials() -> None:
    env = {"HTTPS_PROXY": "http://user:secret@proxy.lab:3128", "NO_PROXY": "internal.lab"}
    assert retry.proxy_for("https://pypi.org/x", env) == "$HTTPS_PROXY=http://***@proxy.lab:3128"
    assert retry.proxy_for("https://git.internal.lab/x", env) == (
        "none ($NO_PROXY covers git.internal.lab)"
    )
    assert retry.proxy_for("http://127.0.0.1:80/x", {}) == "none set"
    assert retry.ca_for({"PIP_CERT": "/nonexistent"}) == "the system's CA store"
    config = {"http.proxy": "http://u:p@gw:8080", "http.sslcainfo": "/etc/lab-ca.pem"}
    assert retry.settings("https://github.com/a/b", git_config=config) == (
        "proxy: git http.proxy=http://***@gw:8080; CA: git http.sslCAInfo=/etc/lab-ca.pem"
    )


# --------------------------------------------------------------------------- the package index


@pytest.mark.parametrize(
    ("script", "requests"),
    [
        (["503", "502", "ok"], 3),  # 5xx twice, then the answer
        (["reset", "ok"], 2),  # the connection cut without a word
        (["delay:2", "ok"], 1),  # slow, but within the time: no second request
    ],
)
def test_a_flaky_index_answers_in_the_end(script: list[str], requests: int) -> None:
    with FaultyServer(script, json_document(DOC)) as server:
        fault_report.run()
        found = pypi.fetch_json(f"{server.url}/pypi/tinypkg/json")
    assert found is not None and found[0]["info"]["name"] == "tinypkg" and found[1] == 7
    assert len(server.requests) == requests


def test_a_missing_package_is_asked_once() -> None:
    with FaultyServer(["404"], json_document(DOC)) as server:
        fault_report.run()
        assert pypi.fetch_json(f"{server.url}/pypi/nosuch/json") is None
    assert len(server.requests) == 1


def test_an_index_that_keeps_failing_is_one_warning_naming_host_proxy_and_ca(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REPRO_OFFLINE", raising=False)
    with FaultyServer(["503"], json_document(DOC)) as server:
        monkeypatch.setenv(pypi.URL_ENV, f"{server.url}/pypi")
        index = PyPIIndex(as_of=pypi.dt.date(2021, 1, 1))
        fault_report.run()
        start = time.monotonic()
        assert index.get("tinypkg") is None
        assert index.get("otherpkg") is None  # offline by then: not asked
        seconds = time.monotonic() - start
    assert server.actions() == ["503", "503", "503"]
    assert seconds < 10  # two waits, 0.5 s and 1.5 s, not the 20 s timeout each
    [warning] = index.warnings
    assert warning.startswith(
        f"the package index {server.host} did not answer: HTTP 503 (3 attempts over "
    ), warning
    assert "(proxy: none ($NO_PROXY covers 127.0.0.1); CA: " in warning


# --------------------------------------------------------------------------- the git host


@pytest.fixture
def git_host(github: FakeGitHub, tmp_path: Path) -> Iterator[tuple[str, str, FakeGitHub]]:
    url, sha = github.publish(write_files(tmp_path / "src", {"tiny.py": "import os\n"}), name="x")
    yield url, sha, github


def inspect(url: str, server: FaultyServer, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    fault_report.run()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{server.url}/.insteadOf",
        "GIT_CONFIG_VALUE_0": "https://github.com/",
        "REPRO_OFFLINE": "1",
    }
    return subprocess.run([sys.executable, "-m", "repro", "inspect", url], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


@pytest.mark.parametrize("first", ["503", "reset", "delay:2"], ids=["503", "reset", "slow"])
def test_a_clone_from_a_flaky_git_host_succeeds(
    git_host: tuple[str, str, FakeGitHub], tmp_path: Path, first: str
) -> None:
    url, sha, github = git_host
    with FaultyServer([first, "ok"], git_backend(github.root)) as server:
        done = inspect(url, server, tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"Commit     {sha}" in done.stdout
    assert (
        server.actions()[0] == first
        and server.actions()[1:]
        and set(server.actions()[1:]) == {"ok"}
    )


def test_a_git_host_that_keeps_failing_is_one_line_after_three_tries(
    git_host: tuple[str, str, FakeGitHub], tmp_path: Path
) -> None:
    url, _, github = git_host
    with FaultyServer(["502"], git_backend(github.root)) as server:
        start = time.monotonic()
        done = inspect(url, server, tmp_path)
        seconds = time.monotonic() - start
    assert done.returncode == 1, done.stderr
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("repro: error:")]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert errors[0].startswith(
        f"repro: error: cannot reach the git host {server.host} for {url}: "
    ), errors[0]
    assert "returned error: 502 (3 attempts over " in errors[0]
    assert "; proxy: none ($NO_PROXY covers 127.0.0.1); CA: " in errors[0]
    assert server.actions() == ["502", "502", "502"]  # one request per try
    assert seconds < 60
    cache = Path(os.environ["REPRO_CACHE_DIR"]) / "git"
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []


def test_an_unknown_repository_is_not_asked_again(
    git_host: tuple[str, str, FakeGitHub], tmp_path: Path
) -> None:
    _, _, github = git_host
    with FaultyServer(["ok"], git_backend(github.root)) as server:
        done = inspect("https://github.com/acme/nosuch", server, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "repro: error: cannot read https://github.com/acme/nosuch: " in done.stderr
    assert len(server.requests) == 1
