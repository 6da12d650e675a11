"""Shared fixtures: fixture repositories as git remotes, GitHub URL rewriting, the engine."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path

import pytest

from tests import fault_report

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "repos"
FIXED_DATE = "2024-03-01T12:00:00+00:00"


_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep the call phase's report on the item, for fixtures that clean up only after a pass."""
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report


@pytest.fixture(autouse=True)
def _fault_report(request: pytest.FixtureRequest, _isolated_cache: None) -> Iterator[None]:
    """With ``$REPRO_FAULT_REPORT``: one line per test for docs/security.md's faults table
    (tests/fault_report.py)."""
    if not os.environ.get(fault_report.ENV):
        yield
        return
    tmp = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    fault_report.reset()
    yield
    cache = os.environ.get("REPRO_CACHE_DIR")
    fault_report.write(request.node.nodeid, tmp, Path(cache) if cache else None)


@pytest.fixture(autouse=True)
def _signal_state_kept() -> Iterator[None]:
    """A test leaves the test process's signal mask and handlers as it found them: a signal
    left blocked is inherited by every child process later tests start (a repro run that
    then never sees its SIGTERM), a handler left behind fires in the wrong test."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    watched = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    handlers = {sig: signal.getsignal(sig) for sig in watched}
    yield
    after = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    changed = {sig: h for sig, h in handlers.items() if signal.getsignal(sig) != h}
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    for sig, handler in changed.items():
        signal.signal(sig, handler)
    assert after == mask, f"the test left signals blocked: {sorted(s.name for s in after - mask)}"
    assert not changed, f"the test left handlers set for {sorted(s.name for s in changed)}"


@pytest.fixture(autouse=True)
def _isolated_cache(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[None]:
    """Every test gets its own repro cache (clones, PyPI answers, export blobs), removed
    after a test that passed, as pytest removes its tmp_path (pyproject.toml)."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("REPRO_CACHE_DIR", str(cache))
    yield
    report = request.node.stash.get(_CALL_REPORT, None)
    if report is not None and report.passed:
        shutil.rmtree(cache, ignore_errors=True)


def git(*args: str, cwd: Path, date: str = FIXED_DATE) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Fixture Author",
        "GIT_AUTHOR_EMAIL": "author@example.org",
        "GIT_COMMITTER_NAME": "Fixture Author",
        "GIT_COMMITTER_EMAIL": "author@example.org",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
    }
    out = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def write_files(root: Path, files: dict[str, str] | dict[str, str | bytes]) -> Path:
    """Write each relative path's text (or bytes) under ``root``, making folders; ``root``."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data)
    return root


def left_workspaces(env: Mapping[str, str] | None = None) -> list[str]:
    """The build contexts that runs left in the repro cache (``<cache>/contexts``: a pack's
    workspace, repro/scratch.py): none once every run has ended, even on a signal."""
    cache = Path((env or os.environ)["REPRO_CACHE_DIR"]) / "contexts"
    return sorted(p.name for p in cache.iterdir()) if cache.is_dir() else []


def commit_all(root: Path, *, date: str = FIXED_DATE, message: str = "x") -> str:
    """Commit everything under ``root`` (made a repository first if it is not one) at
    ``date``; return the commit sha."""
    if not (root / ".git").exists():
        git("init", "-q", "-b", "main", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", message, cwd=root, date=date)
    return git("rev-parse", "HEAD", cwd=root)


def make_repo(src: Path, dest: Path, *, date: str = FIXED_DATE) -> str:
    """Copy ``src`` into a new git repository at ``dest``; return the commit sha."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("expected.json", "__pycache__"))
    return commit_all(dest, date=date, message="initial")


class FakeGitHub:
    """Local bare repositories answering for https://github.com/OWNER/NAME.

    git's ``url.<base>.insteadOf`` (set through GIT_CONFIG_COUNT/KEY/VALUE) rewrites the
    URL, so repro runs the exact code path of a real GitHub URL.
    """

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.work = root / "_work"
        monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
        monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.file://{root}/.insteadOf")
        monkeypatch.setenv("GIT_CONFIG_VALUE_0", "https://github.com/")

    def publish(
        self,
        case: str | Path,
        owner: str = "acme",
        name: str | None = None,
        *,
        date: str = FIXED_DATE,
    ) -> tuple[str, str]:
        """Push a fixture (a case name or a folder) as OWNER/NAME; return (url, sha)."""
        src = FIXTURES / case if isinstance(case, str) else case
        name = name or src.name
        work = self.work / owner / name
        sha = make_repo(src, work, date=date)
        bare = self.root / owner / name
        bare.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
        return f"https://github.com/{owner}/{name}", sha

    def commit_change(self, name: str, path: str, text: str, owner: str = "acme") -> str:
        """Add ``text`` to ``path`` of the published OWNER/NAME, commit it (the fixtures'
        date: the same day, so the lock cutoff stays) and push it; the new commit's sha."""
        work = self.work / owner / name
        target = work / path
        target.write_text(target.read_text() + text)
        git("commit", "-q", "-am", "a one-line change", cwd=work)
        git("push", "-q", str(self.root / owner / name), "HEAD:main", cwd=work)
        return git("rev-parse", "HEAD", cwd=work)


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    return FakeGitHub(tmp_path / "github", monkeypatch)


def _engine_or_fail() -> object:
    from repro.engine import DockerEngine
    from repro.errors import EngineError

    try:
        return DockerEngine()
    except EngineError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and no Docker engine: {exc.message}")
        pytest.skip(f"no Docker engine: {exc.message}")


@pytest.fixture(scope="session")
def engine() -> object:
    return _engine_or_fail()


def require_images(engine: object, *names: str) -> None:
    """Base images must be present (scripts/standin-images.sh makes them)."""
    missing = [n for n in names if engine.image_info(n) is None]  # type: ignore[attr-defined]
    if missing:
        msg = f"base images missing: {', '.join(missing)} (run scripts/standin-images.sh)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
