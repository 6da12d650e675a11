"""A ``docker save`` archive → an OCI image layout, as one tarball (``image.oci.tar``).

Tools that want OCI (Apptainer's ``oci-archive:``, skopeo, registries' copy tools, crane)
read the layout; Docker and Podman load the docker archive. Both come from the same
``docker save`` stream, read once in order: each layer is compressed into a blob as it
arrives (gzip, level 3, no name, mtime 0: the same layer gives the same blob), the
config and the manifest are small JSON blobs, and ``index.json`` names the image by its
tag. The result is written as an uncompressed tar of the layout (the layers inside are
compressed), its members in a fixed order with fixed metadata, so the same image gives
the same bytes.

Layers go through one place, :class:`BlobStore` (``put_layer``): a layer is known by its
diff id (the sha256 of its uncompressed tar, which the image config lists), so a store
that remembers the blobs of earlier exports can hand back a compressed blob instead of
compressing the layer again (incremental export).

Both the docker archive of Docker 20-24 (``<id>/layer.tar``, ``manifest.json``) and the
OCI-shaped one of Docker 25+ (layers as ``blobs/sha256/<hex>``, still with a
``manifest.json``) are read.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from repro.errors import ReproError

LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
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


# A store of earlier exports' layers: diff id → a compressed blob already written
# somewhere (its descriptor and path), or None. The default knows none.
KnownLayers = Callable[[str], tuple[Descriptor, Path] | None]


class BlobStore:
    """The layout's ``blobs/sha256`` folder: every blob is written here, layers through
    :meth:`put_layer` only."""

    def __init__(self, root: Path, *, level: int = 3, known: KnownLayers | None = None) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.level = level
        self.known = known

    def put_layer(
        self, chunks: Iterable[bytes], diff_id: str | None = None
    ) -> tuple[Descriptor, str]:
        """A layer's tar, given in ``chunks``, as a gzip blob; returns its descriptor and
        its diff id (sha256 of the uncompressed tar). With ``diff_id`` known beforehand and
        a store that has it, the blob is reused and nothing is compressed."""
        if diff_id and self.known is not None:
            found = self.known(diff_id)
            if found is not None:
                descriptor, path = found
                target = self.blobs / descriptor.digest.removeprefix("sha256:")
                if not target.exists():
                    shutil.copyfile(path, target)
                for _ in chunks:  # the archive is read in order: pass over the layer
                    pass
                return descriptor, diff_id
        partial = self.blobs / ".layer.partial"
        plain = hashlib.sha256()
        with open(partial, "wb") as raw:
            hashed = _HashingWriter(raw)
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=hashed, compresslevel=self.level, mtime=0
            ) as gz:
                for chunk in chunks:
                    plain.update(chunk)
                    gz.write(chunk)
        digest = hashed.digest.hexdigest()
        partial.replace(self.blobs / digest)
        descriptor = Descriptor(media_type=LAYER_TYPE, digest=f"sha256:{digest}", size=hashed.size)
        return descriptor, f"sha256:{plain.hexdigest()}"

    def put_json(self, doc: Any, media_type: str) -> Descriptor:
        return self.put_bytes(_canonical(doc), media_type)

    def put_bytes(self, data: bytes, media_type: str) -> Descriptor:
        digest = hashlib.sha256(data).hexdigest()
        (self.blobs / digest).write_bytes(data)
        return Descriptor(media_type=media_type, digest=f"sha256:{digest}", size=len(data))


class _HashingWriter(io.RawIOBase):
    """Writes through to ``sink`` and hashes what passes (the compressed blob's digest)."""

    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.sink.write(chunk)
        self.digest.update(chunk)
        self.size += len(chunk)
        return len(chunk)


def _canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def from_docker_archive(
    source: Path, dest: Path, *, work: Path, level: int = 3, known: KnownLayers | None = None
) -> Descriptor:
    """Write the OCI layout of the (gzip) docker archive ``source`` as the tar ``dest``;
    ``work`` is a scratch folder (removed after). Returns the image manifest's descriptor."""
    if work.exists():
        shutil.rmtree(work)
    store = BlobStore(work, level=level, known=known)
    try:
        layers: dict[str, tuple[Descriptor, str]] = {}
        small: dict[str, bytes] = {}
        with tarfile.open(source, mode="r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                name = member.name.removeprefix("./")
                fh = tar.extractfile(member)
                if fh is None:
                    continue
                if name.endswith("/layer.tar") or name.startswith("blobs/"):
                    head = fh.read(512)
                    # Docker 25+ keeps config and manifests among the blobs too: a layer
                    # is the one that is a tar (an empty layer: blocks of zeros)
                    if name.endswith("/layer.tar") or _is_tar_header(head) or not head.strip(b"\0"):
                        layers[name] = store.put_layer(_prefixed(head, fh))
                        continue
                    small[name] = head + fh.read()
                elif member.size <= 64 * 1024 * 1024:
                    small[name] = fh.read()
        manifest = _docker_manifest(small)
        config_bytes = small.get(str(manifest.get("Config", "")))
        if config_bytes is None:
            raise OciError(f"{source}: the docker archive holds no image config")
        config = json.loads(config_bytes)
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        descriptors = []
        for index, path in enumerate(manifest.get("Layers") or []):
            if path not in layers:
                raise OciError(f"{source}: layer {path} named in manifest.json is missing")
            descriptor, diff_id = layers[path]
            if index < len(diff_ids) and diff_ids[index] != diff_id:
                raise OciError(f"{source}: layer {path} is not the one the image config lists")
            descriptors.append(descriptor)
        config_descriptor = store.put_bytes(config_bytes, CONFIG_TYPE)
        image_manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": config_descriptor.to_json(),
            "layers": [d.to_json() for d in descriptors],
        }
        tags = [str(t) for t in manifest.get("RepoTags") or []]
        manifest_descriptor = store.put_json(image_manifest, MANIFEST_TYPE)
        named = Descriptor(
            media_type=MANIFEST_TYPE,
            digest=manifest_descriptor.digest,
            size=manifest_descriptor.size,
            annotations=_names(tags),
        )
        index_doc = {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": [named.to_json()]}
        (work / "index.json").write_bytes(_canonical(index_doc))
        (work / "oci-layout").write_bytes(_canonical(LAYOUT_VERSION))
        _write_tar(work, dest)
        return named
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _names(tags: list[str]) -> dict[str, str]:
    """The index's names for the image: its first tag's tag part (what ``oci-archive:FILE:TAG``
    selects) and the whole reference."""
    if not tags:
        return {}
    first = tags[0]
    tag = first.rpartition(":")[2] if ":" in first.split("/")[-1] else "latest"
    return {REF_NAME: tag, "io.containerd.image.name": first}


def _docker_manifest(small: dict[str, bytes]) -> dict[str, Any]:
    raw = small.get("manifest.json")
    if raw is None:
        raise OciError("not a docker archive: no manifest.json")
    doc = json.loads(raw)
    if not isinstance(doc, list) or len(doc) != 1 or not isinstance(doc[0], dict):
        raise OciError("the docker archive must hold exactly one image")
    return doc[0]


def _is_tar_header(block: bytes) -> bool:
    return len(block) == 512 and block[257:262] == b"ustar"


def _prefixed(head: bytes, fh: IO[bytes]) -> Iterator[bytes]:
    if head:
        yield head
    while chunk := fh.read(CHUNK):
        yield chunk


def _write_tar(root: Path, dest: Path) -> None:
    """The layout folder as a tar: ``oci-layout`` and ``index.json`` first, then the blobs
    in name order; owner root, mode 0644, mtime 0."""
    names = ["oci-layout", "index.json"]
    names += [f"blobs/sha256/{p.name}" for p in sorted((root / "blobs" / "sha256").iterdir())]
    with tarfile.open(dest, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for folder in ("blobs", "blobs/sha256"):
            tar.addfile(_info(folder, 0, directory=True))
        for name in names:
            path = root / name
            with open(path, "rb") as fh:
                tar.addfile(_info(name, path.stat().st_size), fh)


def _info(name: str, size: int, *, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 0 if directory else size
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory else 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
