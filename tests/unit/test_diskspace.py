"""A full disk becomes one line naming the folder, the space needed and what is free."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from repro import artifact, diskspace, locks
from repro.errors import DiskFullError
from tests.docker_archive import image_archive, tar_of
from tests.fakes import FakeEngine


def test_sizes_and_full_disks_in_words(tmp_path: Path) -> None:
    assert [diskspace.human(n) for n in (512, 12_345, 201_000_000, 3.2e12)] == [
        "512 B", "12.3 kB", "201.0 MB", "3.2 TB",
    ]  # fmt: skip
    full = OSError(errno.ENOSPC, "No space left on device")
    try:
        try:
            raise full
        except OSError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert diskspace.is_full(wrapped)
    assert not diskspace.is_full(OSError(errno.EACCES, "Permission denied"))
    assert diskspace.says_full("error: unable to write file: No space left on device")
    assert diskspace.where(tmp_path / "not" / "yet").endswith(
        f"free on {diskspace.mount_point(tmp_path)}"
    )


def _full_engine(refs: list[str]) -> FakeEngine:
    """Saves 3 chunks of a layer on its way, then the disk is full."""
    archive = image_archive(refs, [tar_of({"big.bin": os.urandom(8000)})])
    return FakeEngine(
        image_size=201_000_000,
        save_chunks=[archive[start : start + 1000] for start in range(0, 3000, 1000)],
        save_error=OSError(errno.ENOSPC, "No space left on device"),
    )


def test_a_full_out_disk_is_one_line_and_leaves_no_partial(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "acme-paper-abc1234"
    with pytest.raises(DiskFullError) as info:
        artifact.write(
            dest,
            engine=_full_engine(["repro/acme-paper:abc1234"]),  # type: ignore[arg-type]
            refs=["repro/acme-paper:abc1234"],
            dockerfile="FROM x\n",
            manifest_for=lambda a: {},
        )
    assert info.value.message.startswith(
        f"no space left on device writing {dest}: the artifact needs up to 201.0 MB "
        "(the image before compression); "
    )
    assert "--out" in info.value.hint
    assert list((tmp_path / "out").iterdir()) == []


def test_a_cache_that_cannot_be_written_is_a_warning_not_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locks, "_unwritable", {})
    real_fdopen = os.fdopen

    def full_fdopen(fd: int, *args: object, **kwargs: object) -> object:
        handle = real_fdopen(fd, *args, **kwargs)  # type: ignore[call-overload]

        def write(text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        handle.write = write
        return handle

    monkeypatch.setattr(os, "fdopen", full_fdopen)
    folder = tmp_path / "pypi"
    assert not locks.write_cache_entry(folder / "numpy.json", "{}")
    assert not locks.write_cache_entry(folder / "scipy.json", "{}")
    [line] = locks.cache_problems()
    assert line.startswith(f"cannot write the cache in {folder} (No space left on device, ")
    assert line.endswith("): repro went on without caching there")
    assert list(folder.iterdir()) == []  # no temporary file left
