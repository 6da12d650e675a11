"""The image as an OCI image layout, one tarball (``image.oci.tar``, ``--oci``).

Tools that want OCI (Apptainer's ``oci-archive:``, skopeo, registries' copy tools, crane)
read the layout; Docker and Podman load the docker archive. Both are written from the
same compressed layers, the export's blob store (repro/blobstore.py): a layer compressed
once for ``image.tar.gz`` is the very blob of the layout, never compressed twice, and a
layer that an earlier export compressed is reused by both. This module decides the
layout's documents (:func:`layout_documents`: the image manifest, ``index.json`` naming
the image by its tag, ``oci-layout``); repro/imagetar.py writes the tar: blobs named by
their digests, members in a fixed order with fixed metadata, so the same image gives the
same bytes. The config blob is the image's own config, byte for byte.

:func:`from_docker_archive` turns any ``docker save`` archive (Docker 20-24's
``<id>/layer.tar``, Docker 25's ``blobs/sha256``, gzip-compressed or not) into a layout.
"""

from __future__ import annotations

import gzip
import json
import shutil
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro import compress
from repro.blobstore import BlobStore, LayerBlob
from repro.errors import ReproError

LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_TYPES = {compress.GZIP: LAYER_TYPE}
REF_NAME = "org.opencontainers.image.ref.name"
CHUNK = 1024 * 1024


class OciError(ReproError):
    """The docker archive cannot be turned into an OCI layout."""


@dataclass(frozen=True, kw_only=True)
class Descriptor:
    """An OCI content descriptor: what a blob is, its digest and size."""

    media_type: str
    digest: str  # "sha256:<hex>"
    size: int
    annotations: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest}
        out["size"] = self.size
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True, kw_only=True)
class LayoutDocuments:
    manifest: Descriptor  # the image manifest's blob, named by the image's tag
    manifest_bytes: bytes
    index_bytes: bytes
    layout_bytes: bytes


def layout_documents(
    config: bytes, layers: Sequence[LayerBlob], tags: Sequence[str]
) -> LayoutDocuments:
    """The documents of the layout of an image with ``config`` and ``layers``."""
    from hashlib import sha256

    config_descriptor = Descriptor(
        media_type=CONFIG_TYPE, digest=f"sha256:{sha256(config).hexdigest()}", size=len(config)
    )
    image_manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": config_descriptor.to_json(),
        "layers": [
            Descriptor(media_type=LAYER_TYPES[x.kind], digest=x.digest, size=x.size).to_json()
            for x in layers
        ],
    }
    manifest_bytes = _canonical(image_manifest)
    named = Descriptor(
        media_type=MANIFEST_TYPE,
        digest=f"sha256:{sha256(manifest_bytes).hexdigest()}",
        size=len(manifest_bytes),
        annotations=_names([str(t) for t in tags]),
    )
    index_doc = {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": [named.to_json()]}
    return LayoutDocuments(
        manifest=named,
        manifest_bytes=manifest_bytes,
        index_bytes=_canonical(index_doc),
        layout_bytes=_canonical(LAYOUT_VERSION),
    )


def _canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _names(tags: list[str]) -> dict[str, str]:
    """The index's names for the image: its first tag's tag part (what ``oci-archive:FILE:TAG``
    selects) and the whole reference."""
    if not tags:
        return {}
    first = tags[0]
    tag = first.rpartition(":")[2] if ":" in first.split("/")[-1] else "latest"
    return {REF_NAME: tag, "io.containerd.image.name": first}


class _ArchiveFile:
    """A docker archive on disk, played back as ``docker save`` would stream it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, refs: list[str], out: Any) -> None:
        with open(self.path, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            fh: Any = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw
            try:
                while chunk := fh.read(CHUNK):
                    out.write(chunk)
            except (OSError, EOFError, zlib.error) as exc:
                raise OciError(f"{self.path}: not a readable archive ({exc})") from exc


def from_docker_archive(
    source: Path, dest: Path, *, work: Path, kind: str = compress.GZIP
) -> Descriptor:
    """Write the OCI layout of the docker archive ``source`` as the tar ``dest``; ``work``
    is a scratch folder for its blobs (removed after). Returns the image manifest's
    descriptor."""
    from repro import gather, imagetar

    if work.exists():
        shutil.rmtree(work)
    try:
        store = BlobStore(work, limit=0)
        try:
            found = gather.gather(_ArchiveFile(source), "archive", store, kind=kind)
        except gather.ArchiveError as exc:
            raise OciError(f"{source}: {exc.message}") from exc
        _, named = imagetar.write_oci_layout(
            dest, store, config=found.config, layers=found.layers, tags=found.tags
        )
        return named
    finally:
        shutil.rmtree(work, ignore_errors=True)
