"""The export's blob store: every compressed layer repro has written, kept by content.

A layer is known by its diff id (the sha256 of its uncompressed tar, which the image's
config lists). Once a layer has been compressed for one artifact, the next artifact that
holds the same layer (the base image, the environment, an unchanged requirement layer)
takes the compressed blob from here instead of compressing it again; an image that was
exported before needs no ``docker save`` at all (docs/performance.md, "Export").

On disk, under ``<cache>/blobs``::

    sha256/<hex>                    blobs: compressed layers and image configs
    layers/<kind>/<diff hex>.json   a layer's blob for a compression kind (gzip)
    images/<id hex>.json            an image: its config blob, its diff ids, and the image
                                    a ``docker save`` gives its missing layers from
    names/<hex>                     the diff id behind a layer folder name of Docker's
                                    ``docker save`` (Docker 24 and older)
    tmp/                            blobs being written, named after their owner
    lock                            held shared while a run uses the store

Safe under concurrent runs and SIGKILL: a blob is written under a temporary name that
names its owner (:mod:`repro.stale`: a later run removes those of gone processes), hashed
as it is written and renamed to its digest only when whole; the small JSON records are
written atomically (:func:`repro.locks.atomic_write_text`). Every blob is hashed again as
it is read into an artifact, and one that does not match its name is removed
(:class:`CorruptBlob`). Bounded in size: :meth:`BlobStore.trim` removes the blobs used
least recently once the store is over its limit, and only when no other run holds the
lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repro import cache, diskspace, locks, stale
from repro.errors import DiskFullError, ReproError

LIMIT_ENV = "REPRO_EXPORT_CACHE_GB"
DEFAULT_LIMIT = 20 * 10**9
SHARE_OF_DISK = 0.5  # never more than half of what the store and the free space add up to
READ_CHUNK = 1 << 20
TMP_PREFIX = "blob"


class CorruptBlob(ReproError):
    """A blob's bytes do not match its digest (it has been removed from the store)."""


@dataclass(frozen=True, kw_only=True)
class LayerBlob:
    """A compressed layer in the store."""

    diff_id: str  # sha256:<hex> of the uncompressed tar
    kind: str  # compress.GZIP (the folder of its record in the store)
    digest: str  # sha256:<hex> of the blob
    size: int  # bytes of the blob
    crc32: int  # of the blob's bytes (to frame it as a stored gzip member)
    diff_size: int  # bytes of the uncompressed tar


@dataclass(frozen=True, kw_only=True)
class ImageRecord:
    """An image exported (or laid) before: enough to export it again without the engine."""

    id: str
    config: str  # digest of the config blob
    diff_ids: tuple[str, ...]
    source: str | None = None  # an image holding the layers, for those not in the store


@dataclass(frozen=True, kw_only=True)
class Written:
    digest: str
    size: int
    crc32: int


def limit_bytes() -> int:
    """``$REPRO_EXPORT_CACHE_GB`` (decimal GB), else 20 GB."""
    raw = os.environ.get(LIMIT_ENV, "").strip()
    if raw:
        with contextlib.suppress(ValueError):
            return max(0, int(float(raw) * 10**9))
    return DEFAULT_LIMIT


def is_digest(digest: str) -> bool:
    algo, _, hexpart = digest.partition(":")
    return algo == "sha256" and len(hexpart) == 64 and all(c in "0123456789abcdef" for c in hexpart)


def hexof(digest: str) -> str:
    if not is_digest(digest):
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return digest[7:]


class BlobWriter:
    """A blob being written: hashed as it goes, renamed to its digest by :meth:`finish`."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self.tmp = store.tmp / stale.owned_name(TMP_PREFIX)
        self.fh = open(self.tmp, "xb")  # noqa: SIM115 (closed in finish/discard)
        self.hash = hashlib.sha256()
        self.crc = 0
        self.size = 0

    def write(self, data: bytes, /) -> None:
        try:
            self.fh.write(data)
        except OSError as exc:
            if diskspace.is_full(exc):
                raise self.store.full() from exc
            raise
        self.hash.update(data)
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)

    def finish(self) -> Written:
        try:
            self.fh.close()
        except OSError as exc:
            if diskspace.is_full(exc):
                raise self.store.full() from exc
            raise
        digest = f"sha256:{self.hash.hexdigest()}"
        target = self.store.path(digest)
        if target.exists() and target.stat().st_size == self.size:
            self.tmp.unlink()  # another run wrote the same blob first
            os.utime(target)
        else:
            os.replace(self.tmp, target)
        return Written(digest=digest, size=self.size, crc32=self.crc)

    def discard(self) -> None:
        self.fh.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink()


class BlobStore:
    """The store under ``root`` (``<cache>/blobs`` unless given)."""

    def __init__(self, root: Path | None = None, *, limit: int | None = None) -> None:
        self.root = root if root is not None else cache.cache_dir() / "blobs"
        self.blobs = self.root / "sha256"
        self.tmp = self.root / "tmp"
        self.limit = limit_bytes() if limit is None else limit
        for folder in (self.blobs, self.tmp, self.root / "images", self.root / "names"):
            folder.mkdir(parents=True, exist_ok=True)
        stale.remove_abandoned(self.tmp, {TMP_PREFIX})
        self._lock_fd: int | None = None
        self._users = 0

    def full(self) -> DiskFullError:
        return DiskFullError(
            f"no space left on device writing the export cache {self.root}: "
            f"{diskspace.where(self.root)}",
            hint=f"free some space there, lower ${LIMIT_ENV} (now {self.limit / 1e9:g} GB), "
            "or point REPRO_CACHE_DIR at a bigger disk",
        )

    # ----------------------------------------------------------------- using

    @contextlib.contextmanager
    def using(self) -> Iterator[BlobStore]:
        """Hold the store's lock shared for the block: no trim removes a blob meanwhile."""
        if self._users == 0:
            fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_SH)
            self._lock_fd = fd
        self._users += 1
        try:
            yield self
        finally:
            self._users -= 1
            if self._users == 0 and self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    # ----------------------------------------------------------------- blobs

    def path(self, digest: str) -> Path:
        return self.blobs / hexof(digest)

    def has(self, digest: str, size: int | None = None) -> bool:
        try:
            st = self.path(digest).stat()
        except (OSError, ValueError):
            return False
        return size is None or st.st_size == size

    def writer(self) -> BlobWriter:
        return BlobWriter(self)

    def put_bytes(self, data: bytes) -> Written:
        writer = self.writer()
        try:
            writer.write(data)
            return writer.finish()
        except BaseException:
            writer.discard()
            raise

    def read_bytes(self, digest: str) -> bytes:
        return b"".join(self.read(digest))

    def read(self, digest: str, chunk: int = READ_CHUNK) -> Iterator[bytes]:
        """The blob's bytes, hashed as they are read: a blob whose bytes do not match its
        name is removed, and :class:`CorruptBlob` is raised after its last chunk."""
        path = self.path(digest)
        check = hashlib.sha256()
        with open(path, "rb") as fh:
            while data := fh.read(chunk):
                check.update(data)
                yield data
        if f"sha256:{check.hexdigest()}" != digest:
            self.forget(digest)
            raise CorruptBlob(f"the export cache's blob {digest[:19]} is damaged; removed it")
        with contextlib.suppress(OSError):
            os.utime(path)  # used: the last to be trimmed

    def forget(self, digest: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.path(digest).unlink()

    # ----------------------------------------------------------------- layers

    def layer(self, diff_id: str, kind: str) -> LayerBlob | None:
        """The blob of layer ``diff_id`` compressed as ``kind``, if the store has it whole."""
        if not is_digest(diff_id):
            return None
        doc = self._read_json(self.root / "layers" / kind / f"{hexof(diff_id)}.json")
        if doc is None:
            return None
        try:
            found = LayerBlob(
                diff_id=diff_id,
                kind=kind,
                digest=str(doc["digest"]),
                size=int(doc["size"]),
                crc32=int(doc["crc32"]),
                diff_size=int(doc["diff_size"]),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return found if self.has(found.digest, found.size) else None

    def add_layer(self, diff_id: str, kind: str, blob: Written, diff_size: int) -> LayerBlob:
        found = LayerBlob(
            diff_id=diff_id,
            kind=kind,
            digest=blob.digest,
            size=blob.size,
            crc32=blob.crc32,
            diff_size=diff_size,
        )
        doc = {k: getattr(found, k) for k in ("digest", "size", "crc32", "diff_size")}
        self._write_json(self.root / "layers" / kind / f"{hexof(diff_id)}.json", doc)
        return found

    # ----------------------------------------------------------------- images

    def image(self, image_id: str) -> ImageRecord | None:
        if not is_digest(image_id):
            return None
        doc = self._read_json(self.root / "images" / f"{hexof(image_id)}.json")
        if doc is None:
            return None
        try:
            record = ImageRecord(
                id=image_id,
                config=str(doc["config"]),
                diff_ids=tuple(str(d) for d in doc["diff_ids"]),
                source=str(doc["source"]) if doc.get("source") else None,
            )
        except (KeyError, TypeError, ValueError):
            return None
        return record if self.has(record.config) else None

    def record_image(self, record: ImageRecord) -> None:
        doc = {"config": record.config, "diff_ids": list(record.diff_ids), "source": record.source}
        self._write_json(self.root / "images" / f"{hexof(record.id)}.json", doc)

    # ----------------------------------------------------------------- save names

    def name(self, folder: str) -> str | None:
        """The diff id a ``docker save`` layer folder (Docker 24 and older) was seen to hold."""
        if len(folder) != 64 or any(c not in "0123456789abcdef" for c in folder):
            return None
        try:
            text = (self.root / "names" / folder).read_text().strip()
        except OSError:
            return None
        return text if text.startswith("sha256:") else None

    def learn_name(self, folder: str, diff_id: str) -> None:
        if len(folder) == 64 and all(c in "0123456789abcdef" for c in folder):
            locks.write_cache_entry(self.root / "names" / folder, diff_id + "\n")

    # ----------------------------------------------------------------- size

    def size(self) -> int:
        return sum(st.st_size for _, st in self._blobs())

    def trim(self, keep: Iterable[str] = ()) -> int:
        """Remove the least recently used blobs until the store is under its limit
        (:func:`limit_bytes`, and never more than half of the store plus the free space
        of its disk); none of ``keep``. Only when no other run holds the store's lock.
        Returns the bytes freed."""
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # another run is using it: a later run trims
            blobs = sorted(self._blobs(), key=lambda item: item[1].st_mtime)
            total = sum(st.st_size for _, st in blobs)
            free = diskspace.free(self.root) or 0
            limit = min(self.limit, int((total + free) * SHARE_OF_DISK))
            if total <= limit:
                return 0
            goal = int(limit * 0.9)  # some room, so that not every export trims
            kept = {hexof(d) for d in keep}
            freed = 0
            for path, st in blobs:
                if total - freed <= goal:
                    break
                if path.name in kept:
                    continue
                with contextlib.suppress(OSError):
                    path.unlink()
                    freed += st.st_size
            self._drop_dangling()
            return freed
        finally:
            os.close(fd)

    def _blobs(self) -> list[tuple[Path, os.stat_result]]:
        out = []
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.blobs):
                with contextlib.suppress(OSError):
                    out.append((Path(entry.path), entry.stat(follow_symlinks=False)))
        return out

    def _drop_dangling(self) -> None:
        """Remove the records whose blob was trimmed."""
        for record in (self.root / "layers").glob("*/*.json"):
            doc = self._read_json(record)
            if doc is None or not self.has(str(doc.get("digest", ""))):
                with contextlib.suppress(OSError):
                    record.unlink()
        for record in (self.root / "images").glob("*.json"):
            doc = self._read_json(record)
            if doc is None or not self.has(str(doc.get("config", ""))):
                with contextlib.suppress(OSError):
                    record.unlink()

    # ----------------------------------------------------------------- records

    def _read_json(self, path: Path) -> dict[str, Any] | None:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def _write_json(self, path: Path, doc: dict[str, Any]) -> None:
        locks.write_cache_entry(path, json.dumps(doc, sort_keys=True) + "\n")


def touch_all(store: BlobStore, digests: Iterable[str]) -> None:
    """Mark blobs as just used (the trim keeps the most recently used)."""
    now = time.time()
    for digest in digests:
        with contextlib.suppress(OSError, ValueError):
            os.utime(store.path(digest), (now, now))
