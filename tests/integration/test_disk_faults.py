"""A disk fills up under ``--out`` or under the cache (docs/security.md, "A full disk").

Each folder is a size-limited tmpfs the test mounts (root only, as CI runs). The run says
which folder, what it needed and what is free, in one line, and leaves nothing half
written: no partial artifact, no half clone, no cache entry the next run could not read.
Once there is room, the same command succeeds. (The engine's own disk filling up during a
build: tests/integration/test_engine_faults.py.)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from repro.engine import DockerEngine
from tests import fault_report
from tests.conftest import FakeGitHub, left_workspaces, make_repo, require_images, write_files
from tests.integration.security_support import ReproProcess

pytestmark = [pytest.mark.slow]


class SmallDisk:
    """A tmpfs of ``size`` at ``path``, unmounted at the end."""

    def __init__(self, path: Path, size: str) -> None:
        if os.geteuid() != 0:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail("mounting a small file system needs root")
            pytest.skip("mounting a small file system needs root")
        path.mkdir(parents=True)
        self.path = path
        self.resize(size)
        fault_report.fault("disk full")

    def resize(self, size: str) -> None:
        verb = "remount," if os.path.ismount(self.path) else ""
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"{verb}size={size}", "repro-test",
                        str(self.path)], check=True, capture_output=True)  # fmt: skip

    def fill(self) -> None:
        """Leave no byte free (tmpfs hands out whole pages: a page-sized write fails)."""
        with open(self.path / "filler", "wb") as fh:
            block = b"\0" * 65536
            try:
                while True:
                    fh.write(block)
                    fh.flush()
            except OSError:
                pass

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True, check=False)


@pytest.fixture
def small_disks() -> Iterator[list[SmallDisk]]:
    disks: list[SmallDisk] = []
    yield disks
    for disk in disks:
        disk.close()


def one_error(proc: ReproProcess) -> str:
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("repro: error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


@pytest.mark.docker
def test_a_full_out_disk_names_the_folder_and_the_space_the_image_needs(
    engine: DockerEngine, tmp_path: Path, small_disks: list[SmallDisk], cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    sha = make_repo(write_files(tmp_path / "src", {"tiny.py": "import os\n"}), tmp_path / "tiny")
    tag = f"repro/local-tiny:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    out = SmallDisk(tmp_path / "out", "4m")
    small_disks.append(out)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    argv = [
        "pack",
        str(tmp_path / "tiny"),
        "--python",
        "3.11",
        "--no-smoke",
        "--out",
        str(out.path),
    ]

    proc = ReproProcess(argv, env, tmp_path)
    assert proc.finish(timeout=900) == 1, proc.stderr
    error = one_error(proc)
    dest = out.path / f"local-tiny-{sha[:7]}"
    assert error.startswith(
        f"repro: error: no space left on device writing {dest}: the artifact needs up to "
    ), error
    assert "(the image before compression); " in error and error.endswith(f"free on {out.path}")
    assert list(out.path.iterdir()) == []  # the partial folder went
    assert list(tmp.iterdir()) == []
    assert left_workspaces(env) == []

    out.resize("1g")
    again = ReproProcess(argv, env, tmp_path)
    assert again.finish(timeout=900) == 0, again.stderr
    assert [p.name for p in out.path.iterdir()] == [dest.name]


def test_a_full_clone_cache_names_it_and_keeps_no_half_clone(
    github: FakeGitHub,
    tmp_path: Path,
    small_disks: list[SmallDisk],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, sha = github.publish(write_files(tmp_path / "src", {"tiny.py": "import os\n"}), name="x")
    cache = SmallDisk(tmp_path / "cache", "16k")  # a bare clone takes more: git's hooks alone
    small_disks.append(cache)
    monkeypatch.setenv("REPRO_CACHE_DIR", str(cache.path))
    proc = ReproProcess(["inspect", url], dict(os.environ), tmp_path)
    assert proc.finish(timeout=300) == 1, proc.stderr
    error = one_error(proc)
    folder = cache.path / "git"
    assert error.startswith(
        f"repro: error: no space left on device cloning {url} into the clone cache {folder}: "
    ), error
    assert error.endswith(f"free on {cache.path}")
    assert [p.name for p in folder.iterdir() if not p.name.endswith(".lock")] == []

    cache.resize("64m")
    again = ReproProcess(["inspect", url], dict(os.environ), tmp_path)
    assert again.finish(timeout=300) == 0, again.stderr
    assert f"Commit     {sha}" in again.out


@pytest.mark.network
def test_a_full_pypi_cache_is_a_warning_and_no_entry_is_corrupt(
    tmp_path: Path, small_disks: list[SmallDisk], monkeypatch: pytest.MonkeyPatch
) -> None:
    """repro's look-ups on PyPI go on without their cache (one warning); no entry is half
    written, and the next run, with room, caches them."""
    src = write_files(tmp_path / "src", {"app.py": "import requests\nimport yaml\n"})
    # code of today: the release histories repro ships are older, so it asks PyPI
    make_repo(src, tmp_path / "repo", date=dt.datetime.now(dt.timezone.utc).isoformat())
    cache = SmallDisk(tmp_path / "cache", "1m")
    small_disks.append(cache)
    (cache.path / "pypi").mkdir()
    cache.fill()
    monkeypatch.setenv("REPRO_CACHE_DIR", str(cache.path))
    proc = ReproProcess(["inspect", str(tmp_path / "repo")], dict(os.environ), tmp_path)
    assert proc.finish(timeout=300) == 0, proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("repro: warning:")]
    assert f"repro: warning: cannot write the cache in {cache.path / 'pypi'} (No space left " \
        "on device, " in "\n".join(warnings), proc.stderr  # fmt: skip
    assert list((cache.path / "pypi").iterdir()) == []  # nothing half written

    (cache.path / "filler").unlink()
    again = ReproProcess(["inspect", str(tmp_path / "repo")], dict(os.environ), tmp_path)
    assert again.finish(timeout=300) == 0, again.stderr
    entries = list((cache.path / "pypi").iterdir())
    assert entries and all(p.suffix == ".json" for p in entries), entries
    for entry in entries:
        json.loads(entry.read_text())  # every one whole
