"""Interruptions and faults leave nothing behind (docs/security.md, guarantee 6).

``repro pack`` runs as its own process and gets Ctrl-C (SIGINT to its whole process
group, as a terminal sends it) or SIGTERM (to repro alone, as ``kill`` or a CI cancel
sends it) while it clones, fetches, builds, runs the smoke test and exports. After each:
the exit status says so, no container made by repro exists (found by its label), no
artifact or partial artifact exists, no temporary file or process of the run is left,
and the next run uses the clone cache. The Docker engine going away mid-build or
mid-smoke gives a one-line error. Two packs of one repository at once both succeed.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from repro import artifact, faults
from repro.engine import LABEL_MANAGED, DockerEngine
from tests.conftest import FakeGitHub, git, left_workspaces, make_repo, require_images
from tests.integration.security_support import (
    PACKAGE,
    EngineProxy,
    PrivateIndex,
    ReproProcess,
    appears,
    containers,
    env_processes,
    gone,
    host_processes,
    stop_at_container,
)

pytestmark = [pytest.mark.docker, pytest.mark.network, pytest.mark.slow]

EXIT = {"ctrl-c": 130, "term": 128 + signal.SIGTERM}
SAID = {"ctrl-c": "repro: interrupted", "term": "repro: interrupted by SIGTERM"}


@pytest.fixture
def run_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a repro run: its own TMPDIR, so leftovers can be seen."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return {**os.environ, "TMPDIR": str(tmp)}


@pytest.fixture
def cleanup(engine: DockerEngine) -> Iterator[list[str]]:
    tags: list[str] = []
    yield tags
    for tag in tags:
        for cid in containers(LABEL_MANAGED, ancestor=tag):  # only after a failed assertion
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        engine.remove_image(tag)


def tiny_src(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    src = tmp_path / f"src-{uuid.uuid4().hex[:6]}"
    for rel, text in (files or {"tiny.py": "import os\n"}).items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    return src


def assert_nothing_left(proc: ReproProcess, env: dict[str, str], out: Path, tag: str) -> None:
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    tmp = Path(env["TMPDIR"])
    deadline = time.monotonic() + 20  # processes the run started get a moment to exit
    while host_processes(str(tmp)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert host_processes(str(tmp)) == [], "a process of the run is still running"
    assert list(tmp.iterdir()) == [], "temporary files of the run are left"
    assert left_workspaces(env) == [], "the run's workspace is left"
    assert not out.exists() or list(out.iterdir()) == [], "an artifact (or part of one) is left"
    assert containers(LABEL_MANAGED, ancestor=tag) == []


def assert_cache_clean(cache: Path) -> None:
    git_dir = cache / "git"
    if git_dir.is_dir():
        names = [p.name for p in git_dir.iterdir() if not p.name.endswith(".lock")]
        assert all(n.endswith(".git") for n in names), names  # no half clone
        for mirror in git_dir.glob("*.git"):
            assert list(mirror.rglob("*.lock")) == [], "git lock files left in the mirror"


# --------------------------------------------------------------------------- clone and fetch


def slow_remote(github: FakeGitHub, tmp_path: Path) -> tuple[dict[str, str], Path]:
    """git config that reaches the fake GitHub through a server that waits 30 s first."""
    started = tmp_path / "upload-started"
    server = tmp_path / "slow-upload-pack.sh"
    server.write_text(f'#!/bin/sh\nsleep 30 &\necho $! > {started}\nwait\nexec "$1" "$2"\n')
    server.chmod(0o755)
    return {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": f"url.ext::{server} %S {github.root}/.insteadOf",
        "GIT_CONFIG_VALUE_0": "https://github.com/",
        "GIT_CONFIG_KEY_1": "protocol.ext.allow",
        "GIT_CONFIG_VALUE_1": "always",
    }, started


def stop_server(started: Path) -> None:
    """End the stand-in server's wait (it is the test's own process, not repro's)."""
    if started.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(started.read_text().strip()), signal.SIGKILL)


@pytest.mark.parametrize("how", ["ctrl-c", "term"])
def test_interrupted_clone_leaves_a_cache_the_next_run_uses(
    github: FakeGitHub, tmp_path: Path, run_env: dict[str, str], cleanup: list[str], how: str
) -> None:
    url, sha = github.publish(tiny_src(tmp_path), name=f"clone-{how}")
    tag = f"repro/acme-clone-{how}:{sha[:7]}"
    cleanup += [tag, f"{tag}-py3.11-cpu"]  # only if the interruption failed
    slow, started = slow_remote(github, tmp_path)
    out = tmp_path / "out"
    proc = ReproProcess(["pack", url, "--out", str(out)], {**run_env, **slow}, tmp_path)
    try:
        proc.wait_for(started.exists, "the clone to start")
        proc.interrupt(how)
        assert proc.finish() == EXIT[how], proc.stderr
    finally:
        stop_server(started)
    assert SAID[how] in proc.stderr.splitlines()
    assert_nothing_left(proc, run_env, out, tag)
    assert host_processes(f"clone --mirror -- {url}") == []
    cache = Path(os.environ["REPRO_CACHE_DIR"])
    assert_cache_clean(cache)
    assert not list((cache / "git").glob("*.git"))  # the clone never completed

    again = ReproProcess(["inspect", url], run_env, tmp_path)
    assert again.finish() == 0, again.stderr
    assert f"Commit     {sha}" in again.out
    assert len(list((cache / "git").glob("*.git"))) == 1


def test_interrupted_fetch_leaves_a_mirror_the_next_run_updates(
    github: FakeGitHub, tmp_path: Path, run_env: dict[str, str]
) -> None:
    url, first = github.publish(tiny_src(tmp_path), name="fetch-term")
    warm = ReproProcess(["inspect", url], run_env, tmp_path)
    assert warm.finish() == 0, warm.stderr
    work = github.work / "acme" / "fetch-term"
    (work / "more.py").write_text("import json\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "more", cwd=work)
    second = git("rev-parse", "HEAD", cwd=work)
    git("push", "-q", str(github.root / "acme" / "fetch-term"), "main", cwd=work)

    slow, started = slow_remote(github, tmp_path)
    proc = ReproProcess(["inspect", url], {**run_env, **slow}, tmp_path)
    try:
        proc.wait_for(started.exists, "the fetch to start")
        proc.interrupt("term")
        assert proc.finish() == EXIT["term"], proc.stderr
    finally:
        stop_server(started)
    assert_cache_clean(Path(os.environ["REPRO_CACHE_DIR"]))
    again = ReproProcess(["inspect", url], run_env, tmp_path)
    assert again.finish() == 0, again.stderr
    assert f"Commit     {second}" in again.out and first != second


# --------------------------------------------------------------------------- build


def private_repo(tmp_path: Path, name: str) -> tuple[Path, str, str]:
    """A repository needing a version of the private package no build has cached."""
    version = f"1.0.post{uuid.uuid4().int % 10**9}"
    src = tiny_src(tmp_path, {"requirements.txt": f"{PACKAGE}=={version}\n", "m.py": "import os\n"})
    repo = tmp_path / name
    return repo, make_repo(src, repo), version


@pytest.mark.parametrize("how", ["ctrl-c", "term"])
def test_interrupted_build_stops_the_build(
    engine: DockerEngine,
    tmp_path: Path,
    run_env: dict[str, str],
    cleanup: list[str],
    how: str,
) -> None:
    require_images(engine, "python:3.11-slim")
    repo, sha, version = private_repo(tmp_path, f"build-{how}")
    tag = f"repro/local-build-{how}:{sha[:7]}"
    cleanup += [tag, f"{tag}-py3.11-cpu"]
    out = tmp_path / "out"
    token = uuid.uuid4().hex
    with PrivateIndex("repro", token, slow=True, version=version) as index:
        proc = ReproProcess(
            ["pack", str(repo), "--python", "3.11", "--extra-index-url", index.url(),
             "--no-smoke", "--out", str(out)], run_env, tmp_path,
        )  # fmt: skip
        step = partial(env_processes, token)  # the install step's processes
        proc.wait_for(lambda: index.download_started.is_set() and bool(step()), "the download")
        proc.interrupt(how)
        assert proc.finish() == EXIT[how], proc.stderr
        # the engine cancelled the RUN step: none of its processes is left
        assert gone(step), "the build went on after repro stopped"
    assert SAID[how] in proc.stderr.splitlines()
    assert_nothing_left(proc, run_env, out, tag)
    assert engine.image_info(tag) is None


def test_engine_going_away_mid_build_is_a_clear_error(
    engine: DockerEngine, tmp_path: Path, run_env: dict[str, str], cleanup: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    repo, sha, version = private_repo(tmp_path, "engine-gone")
    tag = f"repro/local-engine-gone:{sha[:7]}"
    cleanup += [tag, f"{tag}-py3.11-cpu"]  # only if the build was not stopped
    proxy = EngineProxy(tmp_path / "docker.sock")
    token = uuid.uuid4().hex
    with PrivateIndex("repro", token, slow=True, version=version) as index:
        proc = ReproProcess(
            ["pack", str(repo), "--python", "3.11", "--extra-index-url", index.url(),
             "--no-smoke", "--out", str(tmp_path / "out")],
            {**run_env, "DOCKER_HOST": proxy.docker_host}, tmp_path,
        )  # fmt: skip
        step = partial(env_processes, token)
        proc.wait_for(lambda: index.download_started.is_set() and bool(step()), "the download")
        proxy.kill()
        assert proc.finish() == 1, proc.stderr
        assert gone(step), "the build went on without a client"
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("repro: error:")]
    assert errors == ["repro: error: the Docker engine went away during the build"], proc.stderr
    assert_nothing_left(proc, run_env, tmp_path / "out", tag)


# --------------------------------------------------------------------------- smoke and export


def hidden(marker: str) -> str:
    return f"sleep {marker[:2]}$(echo {marker[2:]})"


@pytest.fixture
def sleeper(tmp_path: Path) -> tuple[Path, str, str]:
    """A tiny repository whose smoke test sleeps (a marker length no other process has).

    The smoke command is ``sleep 43$(echo 21)``: the shell in the container runs
    ``sleep 4321``, a command line repro's own (``--smoke 'sleep 43$(echo 21)'``) lacks.
    """
    src = tiny_src(tmp_path)
    repo = tmp_path / "sleeper"
    sha = make_repo(src, repo)
    return repo, f"repro/local-sleeper:{sha[:7]}", str(3000 + uuid.uuid4().int % 6000)


@pytest.mark.parametrize("how", ["ctrl-c", "term"])
def test_interrupted_smoke_removes_its_container(
    engine: DockerEngine,
    tmp_path: Path,
    run_env: dict[str, str],
    cleanup: list[str],
    sleeper: tuple[Path, str, str],
    how: str,
) -> None:
    require_images(engine, "python:3.11-slim")
    repo, tag, marker = sleeper
    cleanup += [tag, f"{tag}-py3.11-cpu"]
    out = tmp_path / "out"
    proc = ReproProcess(
        ["pack", str(repo), "--python", "3.11", "--smoke", hidden(marker), "--out", str(out)],
        run_env,
        tmp_path,
    )
    proc.wait_for(lambda: bool(host_processes(f"sleep {marker}")), "the smoke container")
    assert containers(LABEL_MANAGED, ancestor=tag) != []
    proc.interrupt(how)
    assert proc.finish() == EXIT[how], proc.stderr
    assert SAID[how] in proc.stderr.splitlines()
    assert_nothing_left(proc, run_env, out, tag)
    assert host_processes(f"sleep {marker}") == []


def test_engine_going_away_mid_smoke_is_a_clear_error(
    engine: DockerEngine,
    tmp_path: Path,
    run_env: dict[str, str],
    cleanup: list[str],
    sleeper: tuple[Path, str, str],
) -> None:
    require_images(engine, "python:3.11-slim")
    repo, tag, marker = sleeper
    cleanup += [tag, f"{tag}-py3.11-cpu"]
    proxy = EngineProxy(tmp_path / "docker.sock")
    proc = ReproProcess(
        ["pack", str(repo), "--python", "3.11", "--smoke", hidden(marker),
         "--out", str(tmp_path / "out")],
        {**run_env, "DOCKER_HOST": proxy.docker_host}, tmp_path,
    )  # fmt: skip
    proc.wait_for(lambda: bool(host_processes(f"sleep {marker}")), "the smoke container")
    proxy.kill()
    assert proc.finish() == 1, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("repro: error:")]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith("repro: error: lost the Docker engine while the container ran")
    assert "Traceback" not in proc.stderr
    # An engine repro cannot reach keeps what it runs: repro could not remove this
    # container (docs/security.md); its label finds it. Here the engine is still up.
    left = containers(LABEL_MANAGED, ancestor=tag)
    assert len(left) == 1
    subprocess.run(["docker", "rm", "-f", *left], capture_output=True, check=True)


EXPORT_POINTS = ["export.start", "export.staged", "export.saving", "export.written"]


@pytest.mark.parametrize("point", EXPORT_POINTS)
def test_interrupted_export_leaves_no_partial_artifact(
    engine: DockerEngine,
    tmp_path: Path,
    run_env: dict[str, str],
    cleanup: list[str],
    sleeper: tuple[Path, str, str],
    point: str,
) -> None:
    """Ctrl-C at each step of the export: before the partial folder exists, once it
    exists, with the tarball half written, and with every file written (before the
    rename). The run stops at the fault point and the signal lands there, not at a time."""
    require_images(engine, "python:3.11-slim")
    repo, tag, _ = sleeper
    cleanup += [tag, f"{tag}-py3.11-cpu"]
    out = tmp_path / "out"
    proc = ReproProcess(
        ["pack", str(repo), "--python", "3.11", "--no-smoke", "--out", str(out)],
        {**run_env, faults.ENV: point},
        tmp_path,
    )
    proc.wait_point(point)
    partial = [p.name for p in out.iterdir()] if out.exists() else []
    if point != "export.start":  # the folder the clean-up must remove is there
        assert len(partial) == 1 and ".partial-" in partial[0], partial
    proc.interrupt("ctrl-c")
    assert proc.finish() == EXIT["ctrl-c"], proc.stderr
    assert_nothing_left(proc, run_env, out, tag)


# --------------------------------------------------------------------------- SIGKILL


def run_containers(pid: int) -> list[str]:
    """Containers made by the repro process ``pid`` (its run id names it)."""
    argv = ["docker", "ps", "-a", "--format", '{{.ID}} {{.Label "io.github.repro.run"}}']
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    found = [line.split() for line in out.splitlines()]
    return [f[0] for f in found if len(f) == 2 and f"-{pid}-" in f[1]]


@pytest.mark.parametrize("point", ["fetch.cloning", "container.running", "export.saving"])
def test_sigkill_leaves_only_what_the_next_run_removes(
    engine: DockerEngine,
    github: FakeGitHub,
    tmp_path: Path,
    run_env: dict[str, str],
    cleanup: list[str],
    point: str,
) -> None:
    """``kill -9`` of the whole job at a point: no clean-up code runs, so the clone, the
    smoke container or the half-written artifact stays; the next run removes it and
    succeeds, and leaves nothing of either run but its artifact."""
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish(tiny_src(tmp_path), name=f"killed-{point.replace('.', '-')}")
    tag = f"repro/acme-killed-{point.replace('.', '-')}:{sha[:7]}"
    cleanup += [tag, f"{tag}-py3.11-cpu"]
    out = tmp_path / "out"
    args = ["pack", url, "--python", "3.11", "--out", str(out)]
    marker = str(3000 + uuid.uuid4().int % 6000)
    smoke = ["--smoke", hidden(marker)] if point == "container.running" else ["--no-smoke"]
    killed = ReproProcess([*args, *smoke], {**run_env, faults.ENV: point}, tmp_path)
    if point == "container.running":
        stop_at_container(killed, hidden(marker))  # the smoke test's container
    else:
        killed.wait_point(point)
    killed.interrupt("kill")
    assert killed.finish() == -signal.SIGKILL
    tmp = Path(run_env["TMPDIR"])
    cache = Path(os.environ["REPRO_CACHE_DIR"])
    if point != "export.saving":  # (the workspace is gone by the export)
        assert left_workspaces(run_env) != []  # the killed run's workspace
    if point == "fetch.cloning":
        assert any(".partial-" in p.name for p in (cache / "git").iterdir())
    if point == "container.running":
        assert len(run_containers(killed.proc.pid)) == 1
        # the container goes on without repro: its sleep starts (if it had not yet)
        assert appears(lambda: host_processes(f"sleep {marker}"))
    if point == "export.saving":
        assert any(".partial-" in p.name for p in out.iterdir())

    again = ReproProcess([*args, "--no-smoke"], run_env, tmp_path)
    assert again.finish(timeout=600) == 0, again.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        f"acme-killed-{point.replace('.', '-')}-{sha[:7]}"
    ]
    assert list(tmp.iterdir()) == [], "the killed run's temporary files are left"
    assert left_workspaces(run_env) == [], "the killed run's workspace is left"
    assert_cache_clean(cache)
    assert [p.name for p in (cache / "git").iterdir() if not p.name.endswith(".lock")] == [
        p.name for p in (cache / "git").glob("*.git")
    ]
    assert run_containers(killed.proc.pid) == []
    assert gone(lambda: host_processes(f"sleep {marker}"))


def test_a_pack_killed_mid_build_frees_the_shared_caches_for_the_others(
    engine: DockerEngine, tmp_path: Path, run_env: dict[str, str], cleanup: list[str]
) -> None:
    """Two packs of different repositories share the package cache (a BuildKit cache
    mount that one install step at a time holds); A is killed with SIGKILL while its
    install downloads. The kernel stops A's build client (it is bound to repro's life),
    the engine cancels A's step, B gets the cache and succeeds, and so does A's next run."""
    require_images(engine, "python:3.11-slim")
    repo_a, sha_a, version_a = private_repo(tmp_path, "shared-a")
    repo_b, sha_b, version_b = private_repo(tmp_path, "shared-b")
    tags = [f"repro/local-shared-{n}:{sha[:7]}" for n, sha in (("a", sha_a), ("b", sha_b))]
    cleanup += [*tags, *(f"{t}-py3.11-cpu" for t in tags)]
    out = tmp_path / "out"
    token_a, token_b = uuid.uuid4().hex, uuid.uuid4().hex

    def pack(repo: Path, index: PrivateIndex, point: str = "") -> ReproProcess:
        argv = ["pack", str(repo), "--python", "3.11", "--extra-index-url", index.url(),
                "--no-smoke", "--out", str(out)]  # fmt: skip
        return ReproProcess(argv, {**run_env, faults.ENV: point}, tmp_path)

    with (
        PrivateIndex("repro", token_a, slow=True, version=version_a) as index_a,
        PrivateIndex("repro", token_b, version=version_b) as index_b,
    ):
        a = pack(repo_a, index_a)
        step_a = partial(env_processes, token_a)  # A's install step's processes
        a.wait_for(lambda: index_a.download_started.is_set() and bool(step_a()), "A's download")
        b = pack(repo_b, index_b, point="build.started")
        b.wait_point("build.started")
        b.resume()  # B's build runs now; its install step waits for the cache A holds
        a.interrupt("kill")
        assert a.finish() == -signal.SIGKILL
        assert gone(step_a), "A's build went on after A was killed"
        assert b.finish(timeout=600) == 0, b.stderr
        index_a.release.set()  # A's next run downloads at full speed
        again = pack(repo_a, index_a)
        assert again.finish(timeout=600) == 0, again.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        f"local-shared-a-{sha_a[:7]}",
        f"local-shared-b-{sha_b[:7]}",
    ]
    for name in out.iterdir():
        sums = artifact.read_checksums(name)
        assert all(artifact.sha256_file(name / f) == d for f, d in sums.items())
    assert list(Path(run_env["TMPDIR"]).iterdir()) == [], "A's temporary files are left"
    assert left_workspaces(run_env) == [], "A's workspace is left"
    assert containers(LABEL_MANAGED, ancestor=tags[0]) == []


# --------------------------------------------------------------------------- concurrency


def test_two_packs_of_one_repository_at_once_both_succeed(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    url, sha = github.publish(tiny_src(tmp_path), name="twice")
    tag = f"repro/acme-twice:{sha[:7]}"
    cleanup += [tag, f"{tag}-py3.11-cpu"]
    out = tmp_path / "out"
    env = dict(os.environ)
    runs = [
        ReproProcess(["pack", url, "--python", "3.11", "--out", str(out)], env, tmp_path)
        for _ in range(2)
    ]
    codes = [run.finish(timeout=1200) for run in runs]
    assert codes == [0, 0], "\n\n".join(run.stderr for run in runs)
    assert any("waiting for another repro run" in run.stderr for run in runs)
    dest = out / f"acme-twice-{sha[:7]}"
    assert sorted(p.name for p in out.iterdir()) == [dest.name]
    sums = artifact.read_checksums(dest)
    assert set(sums) == {p.name for p in dest.iterdir()} - {artifact.CHECKSUMS}
    for name, digest in sums.items():
        assert artifact.sha256_file(dest / name) == digest
    manifest = json.loads((dest / artifact.MANIFEST).read_text())
    with gzip.open(dest / artifact.IMAGE_TARBALL) as gz, tarfile.open(fileobj=gz) as tar:
        index = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    # the tarball holds the very image the manifest describes
    assert index[0]["Config"].removesuffix(".json") in manifest["image"]["id"]
