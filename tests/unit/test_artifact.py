from __future__ import annotations

from pathlib import Path

import pytest

from repro import artifact
from tests.fakes import FakeEngine


def test_artifact_is_complete_with_checksums(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "acme-paper-abc1234"
    artifact.write(
        dest,
        engine=FakeEngine(images=()),
        refs=["repro/x:1"],
        dockerfile="FROM x\n",  # type: ignore[arg-type]
        manifest_for=lambda a: {"artifacts": dict(a)},
    )
    names = sorted(p.name for p in dest.iterdir())
    assert names == ["Dockerfile", "SHA256SUMS", "image.tar.gz", "repro.json"]
    sums = artifact.read_checksums(dest)
    assert set(sums) == {"Dockerfile", "image.tar.gz", "repro.json"}
    for name, digest in sums.items():
        assert artifact.sha256_file(dest / name) == digest
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".")]


def test_failure_leaves_nothing_behind(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "acme-paper-abc1234"
    with pytest.raises(RuntimeError):
        artifact.write(
            dest,
            engine=FakeEngine(images=(), save_error=RuntimeError("engine went away")),
            refs=["r"],
            dockerfile="",  # type: ignore[arg-type]
            manifest_for=lambda a: {},
        )
    assert list((tmp_path / "out").iterdir()) == []


def test_rewrite_replaces_the_old_artifact_atomically(tmp_path: Path) -> None:
    dest = tmp_path / "a"
    for text in ("FROM one\n", "FROM two\n"):
        artifact.write(
            dest,
            engine=FakeEngine(images=()),
            refs=["r"],
            dockerfile=text,  # type: ignore[arg-type]
            manifest_for=lambda a: {},
        )
    assert (dest / "Dockerfile").read_text() == "FROM two\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
