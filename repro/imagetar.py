"""The artifact's image files, written from the blob store (edge: fs).

``image.tar.gz`` is a docker archive (what ``docker load``, Podman, skopeo's and
Apptainer's ``docker-archive:`` read): ``manifest.json``, the image config
``<id>.json`` and one ``<diff id>/layer.tar`` per layer. Each layer file holds the layer
as the store has it, compressed (gzip by default): Docker and containers/image recognise
a compressed layer by its first bytes. The whole tarball is a gzip file as its name says:
a series of gzip members (every gzip reader reads them as one stream), the small ones
(tar headers, JSON) deflated, each layer *stored* (framed without compressing again,
since it is compressed already). So ``tar -xzf``, ``gunzip`` and ``docker load -i`` all
read it, and writing it is a copy of the blobs, not a compression.

``image.oci.tar`` (``--oci``) is the same image as an OCI image layout (repro/oci.py
decides its documents), its blobs the same blobs.

Both are written in one pass, every byte hashed on the way (the SHA256SUMS line needs no
second read), every blob checked against its digest as it is read
(:class:`repro.blobstore.CorruptBlob` when it does not match). Members come in a fixed
order with fixed metadata (owner root, mode 0644, mtime 0): the same image gives the same
bytes.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from repro import compress, gather, oci
from repro.blobstore import BlobStore, CorruptBlob, LayerBlob, hexof

BLOCK = 512
IMAGE_TARBALL = "image.tar.gz"
OCI_TARBALL = "image.oci.tar"  # with --oci: the same image as an OCI image layout


@dataclass(frozen=True, kw_only=True)
class FileDigest:
    """A file written, with the sha256 and size of its bytes."""

    sha256: str  # hex
    size: int


class _Out:
    """The file being written: every byte hashed; with ``gz`` as gzip members."""

    def __init__(self, fh: IO[bytes], *, gz: bool, cancel: threading.Event | None = None) -> None:
        self.fh = fh
        self.gz = gz
        self.cancel = cancel
        self.hash = hashlib.sha256()
        self.size = 0
        self.small = bytearray()  # small bytes not yet written (gz: one deflated member)

    def _check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise gather.Cancelled

    def _emit(self, data: bytes | memoryview) -> None:
        self.fh.write(data)
        self.hash.update(data)
        self.size += len(data)

    def add(self, data: bytes) -> None:
        if self.gz:
            self.small += data
            if len(self.small) >= 1 << 20:
                self._flush_small()
        else:
            self._emit(data)

    def _flush_small(self) -> None:
        if self.small:
            data, self.small = bytes(self.small), bytearray()
            self._emit(compress.gzip_bytes(data))

    def blob(self, store: BlobStore, digest: str, size: int, crc: int) -> None:
        if not self.gz:
            for chunk in store.read(digest):
                self._check()
                self._emit(chunk)
            return
        self._flush_small()
        self._emit(compress.stored_member_head())
        seen = 0
        for chunk in store.read(digest):
            self._check()
            seen += len(chunk)
            for piece in compress.stored_blocks(chunk, final=seen >= size):
                self._emit(piece)
        if size == 0:
            self._emit(compress.stored_pieces(b"", final=True))
        self._emit(compress.member_tail(crc, size))

    def close(self) -> FileDigest:
        self._flush_small()
        return FileDigest(sha256=self.hash.hexdigest(), size=self.size)


def _header(name: str, size: int, *, directory: bool = False) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = 0 if directory else size
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory else 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _pad(size: int) -> bytes:
    return b"\0" * ((-size) % BLOCK)


def _end() -> bytes:
    return b"\0" * (2 * BLOCK)


def layer_path(diff_id: str) -> str:
    """Where a docker archive holds the layer ``diff_id``."""
    return f"{hexof(diff_id)}/layer.tar"


def docker_manifest(image_id: str, tags: Sequence[str], diff_ids: Sequence[str]) -> bytes:
    """The docker archive's ``manifest.json``: the image's config and layers, by id."""
    doc = [
        {
            "Config": f"{hexof(image_id)}.json",
            "RepoTags": list(tags),
            "Layers": [layer_path(d) for d in diff_ids],
        }
    ]
    return json.dumps(doc, separators=(",", ":")).encode()


def write_docker_archive(
    path: Path,
    store: BlobStore,
    *,
    image_id: str,
    config: str,
    layers: Sequence[LayerBlob],
    tags: Sequence[str],
    gz: bool = True,
    cancel: threading.Event | None = None,
) -> FileDigest:
    """The docker archive of the image (``manifest.json`` and its config first, then the
    layers, each once), as gzip members (``gz``) or a plain tar."""
    config_bytes = store.read_bytes(config)
    manifest = docker_manifest(image_id, tags, [x.diff_id for x in layers])
    with open(path, "wb") as fh:
        out = _Out(fh, gz=gz, cancel=cancel)
        for name, data in (("manifest.json", manifest), (f"{hexof(image_id)}.json", config_bytes)):
            out.add(_header(name, len(data)) + data + _pad(len(data)))
        seen: set[str] = set()
        for layer in layers:
            if layer.diff_id in seen:
                continue
            seen.add(layer.diff_id)
            out.add(_header(layer_path(layer.diff_id), layer.size))
            out.blob(store, layer.digest, layer.size, layer.crc32)
            out.add(_pad(layer.size))
        out.add(_end())
        return out.close()


def write_oci_layout(
    path: Path,
    store: BlobStore,
    *,
    config: str,
    layers: Sequence[LayerBlob],
    tags: Sequence[str],
    cancel: threading.Event | None = None,
) -> tuple[FileDigest, oci.Descriptor]:
    """The OCI image layout of the image, as one plain tar (its layers compressed): the
    blobs' folders, ``oci-layout`` and ``index.json`` first, then the blobs by name."""
    config_bytes = store.read_bytes(config)
    docs = oci.layout_documents(config_bytes, layers, tags)
    blobs: dict[str, tuple[bytes | None, LayerBlob | None]] = {
        hexof(config): (config_bytes, None),
        hexof(docs.manifest.digest): (docs.manifest_bytes, None),
    }
    for layer in layers:
        blobs.setdefault(hexof(layer.digest), (None, layer))
    with open(path, "wb") as fh:
        out = _Out(fh, gz=False, cancel=cancel)
        for folder in ("blobs", "blobs/sha256"):
            out.add(_header(folder, 0, directory=True))
        for name, data in (("oci-layout", docs.layout_bytes), ("index.json", docs.index_bytes)):
            out.add(_header(name, len(data)) + data + _pad(len(data)))
        for hexname in sorted(blobs):
            small, blob = blobs[hexname]
            name = f"blobs/sha256/{hexname}"
            if small is not None:
                out.add(_header(name, len(small)) + small + _pad(len(small)))
            elif blob is not None:
                out.add(_header(name, blob.size))
                out.blob(store, blob.digest, blob.size, blob.crc32)
                out.add(_pad(blob.size))
        out.add(_end())
        return out.close(), docs.manifest


def write_image_files(
    folder: Path,
    engine: gather.Saver,
    tags: Sequence[str],
    *,
    store: BlobStore,
    image_id: str | None,
    oci: bool = False,
    kind: str = compress.GZIP,
    cancel: threading.Event | None = None,
    on_gathered: Callable[[gather.Gathered], None] | None = None,
    fault_point: bool = True,
) -> dict[str, FileDigest]:
    """Write ``image.tar.gz`` (and with ``oci`` ``image.oci.tar``) of the image ``tags``
    name (id ``image_id`` when known) into ``folder``; their digests by file name.

    Layers come from the store, ``docker save`` only for what it lacks
    (:func:`repro.gather.gather`). A blob found damaged is removed and the image is
    gathered once more, its layers from the engine. ``cancel`` stops it (``Cancelled``);
    ``fault_point``: pass ``export.saving`` (the main thread's). ``on_gathered`` hears how
    the layers were found (from the store, compressed, whether the engine saved the image)."""
    for attempt in (1, 2):
        found = gather.gather(
            engine,
            tags[0],
            store,
            kind=kind,
            image_id=image_id,
            cancel=cancel,
            fault_point=fault_point,
        )
        if on_gathered is not None:
            on_gathered(found)
        try:
            written = {
                IMAGE_TARBALL: write_docker_archive(
                    folder / IMAGE_TARBALL,
                    store,
                    image_id=found.id,
                    config=found.config,
                    layers=found.layers,
                    tags=tags,
                    cancel=cancel,
                )
            }
            if oci:
                written[OCI_TARBALL], _ = write_oci_layout(
                    folder / OCI_TARBALL,
                    store,
                    config=found.config,
                    layers=found.layers,
                    tags=tags,
                    cancel=cancel,
                )
        except CorruptBlob:
            if attempt == 2:
                raise
            continue
        return written
    raise AssertionError("unreachable")
