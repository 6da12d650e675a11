"""The Docker engine restarts while repro builds, runs the smoke test or exports; its
disk fills up during a build.

The engine is a dockerd of the test's own (tests/integration/private_engine.py), stopped
and started again as ``systemctl restart docker`` would; the shared engine is never
touched. Each time: one clear error line within seconds (no hang), no artifact and no
partial one, no temporary file; the next run, on the restarted engine, succeeds without
any clean-up by hand.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from repro import faults
from repro.engine import LABEL_MANAGED
from tests.conftest import left_workspaces, make_repo, write_files
from tests.integration.private_engine import CLI, PrivateEngine
from tests.integration.security_support import (
    PACKAGE,
    PrivateIndex,
    ReproProcess,
    env_processes,
    host_processes,
    stop_at_container,
)

pytestmark = [pytest.mark.docker, pytest.mark.network, pytest.mark.slow]

SOON = 60  # seconds: "within seconds", with room for a loaded machine


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateEngine]:
    engine = PrivateEngine(
        tmp_path_factory.mktemp("engine") / "e", ["python:3.11-slim"], storage="1500m"
    )
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture
def run_env(tmp_path: Path, private: PrivateEngine) -> dict[str, str]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return {**os.environ, "TMPDIR": str(tmp), "DOCKER_HOST": private.host}


def repo(tmp_path: Path, files: dict[str, str | bytes]) -> tuple[Path, str]:
    """A repository of ``files`` and the name of its artifact folder."""
    sha = make_repo(write_files(tmp_path / "src", files), tmp_path / "repo")
    return tmp_path / "repo", f"local-repo-{sha[:7]}"


def managed_containers(private: PrivateEngine) -> list[str]:
    argv = [CLI, "ps", "-aq", "--filter", f"label={LABEL_MANAGED}"]
    env = {**os.environ, "DOCKER_HOST": private.host}
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout.split()


def ends_soon(proc: ReproProcess) -> tuple[int, float]:
    """The run's exit status, and how long after now it came."""
    start = time.monotonic()
    code = proc.finish(timeout=SOON)
    return code, time.monotonic() - start


def one_error(proc: ReproProcess) -> str:
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("repro: error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def nothing_left(env: dict[str, str], out: Path) -> None:
    assert list(Path(env["TMPDIR"]).iterdir()) == [], "temporary files of the run are left"
    assert left_workspaces(env) == [], "the run's workspace is left"
    assert not out.exists() or list(out.iterdir()) == [], "an artifact (or part of one) is left"


def test_a_restart_mid_build_is_one_line_and_the_next_build_works(
    private: PrivateEngine, tmp_path: Path, run_env: dict[str, str]
) -> None:
    """The engine restarts while an install step downloads. repro stops where the build
    client has exited, so that it says why only once the engine answers again: the client's
    own words, not a ping, tell a restart from a failed step."""
    version = f"1.0.post{uuid.uuid4().int % 10**9}"
    files = {"requirements.txt": f"{PACKAGE}=={version}\n", "m.py": "import os\n"}
    source, name = repo(tmp_path, files)
    out = tmp_path / "out"
    token = uuid.uuid4().hex
    with PrivateIndex("repro", token, slow=True, version=version) as index:
        argv = ["pack", str(source), "--python", "3.11", "--extra-index-url", index.url(),
                "--no-smoke", "--out", str(out)]  # fmt: skip
        proc = ReproProcess(argv, {**run_env, faults.ENV: "build.ended"}, tmp_path)
        proc.wait_for(
            lambda: index.download_started.is_set() and bool(env_processes(token)),
            "the install step's download",
        )
        private.restart()
        proc.wait_point("build.ended")
        assert private.answers()  # the engine is back before repro says anything
        proc.resume()
        code, seconds = ends_soon(proc)
        assert code == 1, proc.stderr
        assert one_error(proc) == "repro: error: the Docker engine restarted during the build"
        print(f"build: the error came {seconds:.1f} s after the run went on")
        nothing_left(run_env, out)

        index.release.set()
        again = ReproProcess(argv, run_env, tmp_path)
        assert again.finish(timeout=900) == 0, again.stderr
    assert [p.name for p in out.iterdir()] == [name]


def test_a_restart_during_the_smoke_test_is_one_line_and_leaves_no_container(
    private: PrivateEngine, tmp_path: Path, run_env: dict[str, str]
) -> None:
    """repro waits on the smoke container when the engine restarts: the wait breaks before
    its time, which says the engine went, even though it answers again."""
    source, name = repo(tmp_path, {"tiny.py": "import os\n"})
    out = tmp_path / "out"
    marker = str(3000 + uuid.uuid4().int % 6000)
    argv = ["pack", str(source), "--python", "3.11", "--smoke", f"sleep {marker[:2]}$(echo "
            f"{marker[2:]})", "--out", str(out)]  # fmt: skip
    proc = ReproProcess(argv, {**run_env, faults.ENV: "container.running"}, tmp_path)
    stop_at_container(proc, f"sleep {marker[:2]}$(echo {marker[2:]})", private.host)
    proc.resume()  # into the wait on the smoke container
    private.restart()
    code, seconds = ends_soon(proc)
    assert code == 1, proc.stderr
    assert one_error(proc).startswith(
        "repro: error: lost the Docker engine while the container ran"
    )
    print(f"smoke: the error came {seconds:.1f} s after the restart")
    nothing_left(run_env, out)
    assert host_processes(f"sleep {marker}") == []

    again = ReproProcess([*argv[:4], "--no-smoke", "--out", str(out)], run_env, tmp_path)
    assert again.finish(timeout=900) == 0, again.stderr
    assert managed_containers(private) == []  # the next run removed what the restart left
    assert [p.name for p in out.iterdir()] == [name]


def test_a_restart_during_the_export_leaves_no_partial_artifact(
    private: PrivateEngine, tmp_path: Path, run_env: dict[str, str]
) -> None:
    """``docker save`` streams the image when the engine restarts: the stream breaks, the
    half-written tarball goes with its partial folder."""
    source, name = repo(tmp_path, {"tiny.py": "import json\n"})
    out = tmp_path / "out"
    argv = ["pack", str(source), "--python", "3.11", "--no-smoke", "--out", str(out)]
    proc = ReproProcess(argv, {**run_env, faults.ENV: "export.saving"}, tmp_path)
    proc.wait_point("export.saving")
    assert next(p.name for p in out.iterdir()).startswith(f".{name}.partial-")  # half written
    private.restart()
    proc.resume()
    code, seconds = ends_soon(proc)
    assert code == 1, proc.stderr
    assert one_error(proc).startswith("repro: error: lost the Docker engine while saving the image")
    print(f"export: the error came {seconds:.1f} s after the run went on")
    nothing_left(run_env, out)

    again = ReproProcess(argv, run_env, tmp_path)
    assert again.finish(timeout=900) == 0, again.stderr
    assert [p.name for p in out.iterdir()] == [name]


def test_the_engines_disk_filling_up_during_a_build_is_one_line_naming_it(
    private: PrivateEngine, tmp_path: Path, run_env: dict[str, str]
) -> None:
    """The engine's storage has 10 MB left and the build context needs 30 MB: the error
    names the engine's data root and what is free there; no repair is tried (none can
    help); once there is room, the same pack succeeds."""
    # 30 MB that do not compress, in a file the build context keeps
    source, name = repo(tmp_path, {"m.py": "import json\n", "assets.txt": os.urandom(30_000_000)})
    out = tmp_path / "out"
    argv = ["pack", str(source), "--python", "3.11", "--no-smoke", "--out", str(out)]
    filler = private.fill(leave=10_000_000)
    try:
        proc = ReproProcess(argv, run_env, tmp_path)
        code, _ = ends_soon(proc)
    finally:
        filler.unlink()
    assert code == 1, proc.stderr
    error = one_error(proc)
    assert error.startswith(f"repro: error: the Docker engine's disk is full ({private.data}; ")
    assert "free on " in error and error.endswith("no space left on device"), error
    assert "==> repair" not in proc.stderr
    nothing_left(run_env, out)

    again = ReproProcess(argv, run_env, tmp_path)
    assert again.finish(timeout=900) == 0, again.stderr
    assert [p.name for p in out.iterdir()] == [name]
