"""Write the artifact directory: image tarball, Dockerfile, manifest, checksums.

Everything is written into a hidden temporary directory next to the destination and
renamed into place only when complete, so a failure or Ctrl-C never leaves a
half-written artifact behind. The image files are written from the export's blob store
(repro/imagetar.py), each hashed as it is written.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from repro import compress, diskspace, faults, imagetar, locks, signals, stale
from repro.blobstore import BlobStore
from repro.engine import Engine
from repro.errors import DiskFullError, ReproError

IMAGE_TARBALL = imagetar.IMAGE_TARBALL
OCI_TARBALL = imagetar.OCI_TARBALL  # with --oci: the same image as an OCI image layout
MANIFEST = "repro.json"
DOCKERFILE = "Dockerfile"
CHECKSUMS = "SHA256SUMS"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


PARTIAL = "partial"  # .<name>.partial-<host>-<pid>-<random>: being written
OLD = "old"  # .<name>.old-<host>-<pid>-<random>: the artifact being replaced


def staged_name(dest: Path, kind: str) -> Path:
    """A fresh hidden name beside ``dest`` that names its owner (:mod:`repro.stale`)."""
    return dest.with_name(stale.owned_name(f".{dest.name}.{kind}"))


class Staged:
    """A hidden folder beside ``dest`` that becomes ``dest`` only when committed.

    Its name is chosen first and the folder made by :meth:`open`, so a caller that arms
    :meth:`discard` before calling ``open`` (as :func:`staging` does) leaves nothing behind
    whatever point a signal lands at. Only SIGKILL can leave it: its name says which
    process of which host made it, and the next run that writes beside it removes it once
    that process is gone (:func:`sweep`). ``repro pack`` keeps one open while the smoke
    test runs, the image tarball being written into it meanwhile.
    """

    def __init__(self, dest: Path) -> None:
        self.dest = dest.resolve()
        self.tmp = staged_name(self.dest, PARTIAL)

    def open(self, *, fault_point: bool = True) -> Path:
        """Make the folder; ``fault_point``: pass ``export.staged`` (the main thread's)."""
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        sweep(self.dest.parent)
        self.tmp.mkdir(mode=0o777)  # less the umask, as for any folder: the artifact is shared
        if fault_point:
            faults.checkpoint("export.staged")
        return self.tmp

    def commit(self) -> None:
        faults.checkpoint("export.written")
        # the swap takes a lock: two runs finishing at once each put a whole artifact in
        # place. The rename is the point of no return: a signal after it (held by
        # ``deferred`` until the swap is done) leaves the complete artifact
        with locks.run_lock(f"artifact:{self.dest}"), signals.deferred():
            _swap(self.tmp, self.dest)

    def discard(self) -> None:
        with signals.deferred():
            shutil.rmtree(self.tmp, ignore_errors=True)


@contextmanager
def staging(dest: Path) -> Iterator[Path]:
    """A temporary directory that becomes ``dest`` only if the block succeeds.

    The clean-up is armed before the directory exists, and everything after the block
    (the lock, the rename) runs inside it too, so a signal at any point removes it
    (:class:`Staged`).
    """
    staged = Staged(dest)
    try:
        tmp = staged.open()
        yield tmp
        staged.commit()
    except BaseException:
        staged.discard()
        raise


def sweep(parent: Path) -> None:
    """Clean up what runs killed while they wrote into ``parent`` left (SIGKILL runs no
    clean-up): their partial folders go; an artifact a killed swap had moved aside comes
    back when nothing took its place. Only folders of gone processes of this host."""
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for entry in entries:
        found = stale.owner(entry.name)
        m = _STAGED.match(found.prefix) if found else None
        if m is None or not stale.abandoned(entry.name) or not entry.is_dir():
            continue
        with suppress(OSError):
            if m["kind"] == OLD and not (parent / m["name"]).exists():
                entry.rename(parent / m["name"])
            else:
                shutil.rmtree(entry)


_STAGED = re.compile(rf"^\.(?P<name>.+)\.(?P<kind>{PARTIAL}|{OLD})$")


def _swap(tmp: Path, dest: Path) -> None:
    """Put ``tmp`` in the place of ``dest`` (a directory, or nothing yet)."""
    old = None
    if dest.exists():
        old = staged_name(dest, OLD)
        dest.rename(old)
    try:
        tmp.rename(dest)
    except OSError as exc:
        if old is not None:
            old.rename(dest)
        raise ReproError(f"cannot write {dest}: {exc.strerror or exc}") from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write(
    dest: Path,
    *,
    engine: Engine,
    refs: Sequence[str],
    dockerfile: str,
    manifest_for: Callable[[Mapping[str, Mapping[str, Any]]], Mapping[str, Any]],
    extra_files: Mapping[str, str] | None = None,
    oci: bool = False,
    compression: str = compress.GZIP,
) -> Path:
    """Write the artifact into ``dest`` atomically; return ``dest``.

    The image files come from the export's blob store (:func:`imagetar.write_image_files`:
    ``docker save`` only for what the store lacks). ``manifest_for`` receives the
    checksums of the other files, so the manifest can name them; SHA256SUMS then covers
    every file, the manifest included. A full disk is a :class:`DiskFullError` naming the
    folder and the space the image may need; the partial folder is gone by then.
    """
    store = BlobStore()
    try:
        with staging(dest) as tmp:
            with store.using():
                info = engine.image_info(refs[0]) if refs else None
                written = imagetar.write_image_files(
                    tmp,
                    engine,
                    refs,
                    store=store,
                    image_id=info.id if info is not None else None,
                    oci=oci,
                    kind=compression,
                )
            complete(
                tmp,
                dockerfile=dockerfile,
                manifest_for=manifest_for,
                extra_files=extra_files,
                written=written,
            )
    except OSError as exc:
        if not diskspace.is_full(exc):
            raise
        raise disk_full(dest, engine, refs) from exc
    store.trim()
    return dest


def complete(
    tmp: Path,
    *,
    dockerfile: str,
    manifest_for: Callable[[Mapping[str, Mapping[str, Any]]], Mapping[str, Any]],
    extra_files: Mapping[str, str] | None,
    written: Mapping[str, imagetar.FileDigest],
) -> None:
    """Add the Dockerfile, ``extra_files``, the manifest and SHA256SUMS to the staged
    artifact ``tmp``, whose image files (``written``, hashed as they were written) are
    there already."""
    (tmp / DOCKERFILE).write_text(dockerfile)
    for name, text in (extra_files or {}).items():
        (tmp / name).write_text(text)
    files = sorted(p.name for p in tmp.iterdir() if p.is_file())
    digests = {
        name: written.get(name)
        or imagetar.FileDigest(sha256=sha256_file(tmp / name), size=(tmp / name).stat().st_size)
        for name in files
    }
    artifacts = {name: {"sha256": d.sha256, "bytes": d.size} for name, d in digests.items()}
    manifest = manifest_for(artifacts)
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    sums = {name: d.sha256 for name, d in digests.items()}
    sums[MANIFEST] = sha256_file(tmp / MANIFEST)
    (tmp / CHECKSUMS).write_text("".join(f"{sums[n]}  {n}\n" for n in sorted(sums)))


def disk_full(dest: Path, engine: Engine, refs: Sequence[str]) -> DiskFullError:
    size = None
    with suppress(ReproError):
        info = engine.image_info(refs[0]) if refs else None
        size = info.size if info is not None else None
    need = (
        f"the artifact needs up to {diskspace.human(size)} (the image before compression)"
        if size
        else "the artifact needs about the image's size"
    )
    return DiskFullError(
        f"no space left on device writing {dest}: {need}; {diskspace.where(dest.parent)}",
        hint="free some space there, or give --out a folder on a bigger disk",
    )


def read_checksums(directory: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    text = (directory / CHECKSUMS).read_text()
    for line in text.splitlines():
        if not line.strip():
            continue
        digest, _, name = line.partition("  ")
        out[name.strip().lstrip("*")] = digest.strip()
    return out
