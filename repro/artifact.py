"""Write the artifact directory: image tarball, Dockerfile, manifest, checksums.

Everything is written into a hidden temporary directory next to the destination and
renamed into place only when complete, so a failure or Ctrl-C never leaves a
half-written artifact behind.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from repro import locks, signals
from repro.engine import Engine
from repro.errors import ReproError

IMAGE_TARBALL = "image.tar.gz"
MANIFEST = "repro.json"
DOCKERFILE = "Dockerfile"
CHECKSUMS = "SHA256SUMS"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def staging(dest: Path) -> Iterator[Path]:
    """A temporary directory that becomes ``dest`` only if the block succeeds."""
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; the artifact is for sharing
    try:
        yield tmp
    except BaseException:
        with signals.deferred():
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    # the swap takes a lock: two runs finishing at once each put a whole artifact in place
    with locks.run_lock(f"artifact:{dest}"), signals.deferred():
        old = None
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            dest.rename(old)
        try:
            tmp.rename(dest)
        except OSError as exc:
            if old is not None:
                old.rename(dest)
            shutil.rmtree(tmp, ignore_errors=True)
            raise ReproError(f"cannot write {dest}: {exc.strerror or exc}") from exc
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def save_image(engine: Engine, refs: Sequence[str], path: Path, level: int = 3) -> None:
    """``docker save`` of ``refs`` into a gzip file (mtime 0: same bytes for same layers)."""
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=level, mtime=0) as gz,
    ):
        engine.save(refs, gz)


def write(
    dest: Path,
    *,
    engine: Engine,
    refs: Sequence[str],
    dockerfile: str,
    manifest_for: Callable[[Mapping[str, Mapping[str, Any]]], Mapping[str, Any]],
    extra_files: Mapping[str, str] | None = None,
) -> Path:
    """Write the artifact into ``dest`` atomically; return ``dest``.

    ``manifest_for`` receives the checksums of the other files, so the manifest can name
    them; SHA256SUMS then covers every file, the manifest included.
    """
    with staging(dest) as tmp:
        (tmp / DOCKERFILE).write_text(dockerfile)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)
        save_image(engine, refs, tmp / IMAGE_TARBALL)
        files = sorted(p.name for p in tmp.iterdir() if p.is_file())
        artifacts = {
            name: {"sha256": sha256_file(tmp / name), "bytes": (tmp / name).stat().st_size}
            for name in files
        }
        manifest = manifest_for(artifacts)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        lines = [f"{sha256_file(tmp / name)}  {name}\n" for name in sorted([*files, MANIFEST])]
        (tmp / CHECKSUMS).write_text("".join(lines))
    return dest


def read_checksums(directory: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    text = (directory / CHECKSUMS).read_text()
    for line in text.splitlines():
        if not line.strip():
            continue
        digest, _, name = line.partition("  ")
        out[name.strip().lstrip("*")] = digest.strip()
    return out
