"""An image in the engine → its compressed layers in the blob store (edge: docker).

:func:`gather` makes sure the store holds every layer of an image, compressed, and its
config. An image the store knows (by image id) whose layers are all there needs nothing
from the engine. Otherwise it reads ``docker save`` as it streams (never a copy of the
whole image on disk): each layer is compressed into the store as it arrives, and a layer
the store already has is passed over, not compressed again. The engine streams every
layer of the image either way (Docker 20.10 even writes them all to its own disk first):
what is saved is the compression, not the read.

A layer is recognised before it is read by the name the archive gives it: Docker 25 and
later and Podman name layers by their diff id; Docker 24 and older by a folder id that
depends on the layer and the ones below it, which the store learns the first time it
sees it (``BlobStore.name``). Every layer is hashed as it passes: one that is not what
its name said stops the export with :class:`NameMismatch` (the caller saves again without
trusting names).

The archive is parsed by :class:`TarReader`, a tar reader that is written to (the engine
pushes the stream) rather than read from, so no thread or pipe sits between the two.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from repro import compress, faults
from repro.blobstore import BlobStore, BlobWriter, ImageRecord, LayerBlob, hexof, is_digest
from repro.errors import ReproError

BLOCK = 512


class ArchiveError(ReproError):
    """The engine's ``docker save`` is not an image archive repro can read."""


class NameMismatch(ArchiveError):
    """A layer was not the one its name in the archive said."""


class Cancelled(Exception):
    """The export this gathering was for is no longer wanted."""


# --------------------------------------------------------------------------- tar, pushed


class Member(Protocol):
    def write(self, data: bytes, /) -> None: ...
    def end(self) -> None: ...


# (name, size, type flag, link name) → where the member's data goes (None: nowhere)
Route = Callable[[str, int, bytes, str], Member | None]


class TarReader:
    """A tar stream, written in chunks of any size (``write``); each member's data goes
    where ``route`` says, in order. Reads ustar, PAX (path, size, linkpath) and GNU long
    names: what ``docker save`` and Podman write."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.head = bytearray()
        self.left = 0  # data bytes of the current member still to come
        self.pad = 0  # padding after them
        self.sink: Member | None = None
        self.meta: bytearray | None = None  # a PAX or GNU long-name member being read
        self.meta_type = b""
        self.pending: dict[str, str] = {}  # from PAX/GNU headers, for the next member
        self.done = False

    def write(self, data: bytes, /) -> None:
        view = memoryview(data)
        while view:
            if self.done:
                return
            if self.left:
                take = view[: self.left]
                view = view[len(take) :]
                self.left -= len(take)
                if self.meta is not None:
                    self.meta += take
                elif self.sink is not None:
                    self.sink.write(bytes(take))
                if not self.left:
                    self._member_done()
                continue
            if self.pad:
                skip = min(self.pad, len(view))
                view = view[skip:]
                self.pad -= skip
                continue
            need = BLOCK - len(self.head)
            self.head += view[:need]
            view = view[need:]
            if len(self.head) == BLOCK:
                block, self.head = bytes(self.head), bytearray()
                self._header(block)

    def close(self) -> None:
        if self.left or self.head.strip(b"\0"):
            raise ArchiveError("the image archive ended in the middle of a file")

    def _header(self, block: bytes) -> None:
        if not block.strip(b"\0"):
            return  # the end-of-archive blocks (two of them)
        if not _checksum_ok(block):
            raise ArchiveError("the image archive is not a tar stream")
        name = _text(block[0:100])
        prefix = _text(block[345:500]) if block[257:263] == b"ustar\0" else ""  # POSIX only
        if prefix:
            name = f"{prefix}/{name}"
        size = _number(block[124:136])
        kind = block[156:157]
        link = _text(block[157:257])
        if kind in (b"x", b"L", b"K"):
            self.meta, self.meta_type = bytearray(), kind
            self._start(size)
            return
        if kind == b"g":
            self.sink = None
            self._start(size)
            return
        name = self.pending.pop("path", name)
        link = self.pending.pop("linkpath", link)
        if "size" in self.pending:
            size = int(self.pending.pop("size"))
        self.pending.clear()
        self.sink = self.route(name.removeprefix("./"), size, kind, link)
        self._start(size)

    def _start(self, size: int) -> None:
        self.left = size
        self.pad = (-size) % BLOCK
        if not size:
            self._member_done()

    def _member_done(self) -> None:
        if self.meta is not None:
            data, kind = bytes(self.meta), self.meta_type
            self.meta = None
            if kind == b"x":
                self.pending.update(_pax(data))
            elif kind == b"L":
                self.pending["path"] = _text(data)
            elif kind == b"K":
                self.pending["linkpath"] = _text(data)
            return
        if self.sink is not None:
            sink, self.sink = self.sink, None
            sink.end()


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _number(raw: bytes) -> int:
    if raw and raw[0] & 0x80:  # base-256 (GNU), for sizes over 8 GiB
        value = raw[0] & 0x7F
        for byte in raw[1:]:
            value = value << 8 | byte
        return value
    text = raw.replace(b"\0", b" ").strip()
    return int(text, 8) if text else 0


def _checksum_ok(block: bytes) -> bool:
    try:
        stored = _number(block[148:156])
    except ValueError:
        return False
    return stored == sum(block[:148]) + 8 * 32 + sum(block[156:])


def _pax(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        length = int(data[pos:space])
        record = data[space + 1 : pos + length - 1]  # without the newline
        key, _, value = record.partition(b"=")
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


# --------------------------------------------------------------------------- members


class _Collect:
    def __init__(self, limit: int = 64 * 1024 * 1024) -> None:
        self.data = bytearray()
        self.limit = limit
        self.done = False

    def write(self, data: bytes, /) -> None:
        if len(self.data) + len(data) > self.limit:
            raise ArchiveError("a metadata file of the image archive is too large")
        self.data += data

    def end(self) -> None:
        self.done = True


class _PassOver:
    """A layer the store has: hashed as it goes by, to check it is the one expected."""

    def __init__(self, expected: str, on_end: Callable[[str], None]) -> None:
        self.expected = expected
        self.hash = hashlib.sha256()
        self.on_end = on_end

    def write(self, data: bytes, /) -> None:
        self.hash.update(data)

    def end(self) -> None:
        found = f"sha256:{self.hash.hexdigest()}"
        if found != self.expected:
            raise NameMismatch(f"a saved layer was {found[:19]}, not {self.expected[:19]}")
        self.on_end(found)


class LayerCompressor:
    """A layer's tar stream, hashed (its diff id) and compressed into the store as it
    arrives: a layer ``docker save`` streams that the store lacks, or cannot tell it has
    (a folder name it has not seen: the code layer repro laid, on Docker 24 and older),
    and the code layer repro writes (repro/codelayer.py). ``on_end`` hears the blob and
    whether the store had the layer before."""

    def __init__(
        self, store: BlobStore, kind: str, on_end: Callable[[LayerBlob, bool], None]
    ) -> None:
        self.store = store
        self.kind = kind
        self.on_end = on_end
        self.hash = hashlib.sha256()
        self.size = 0
        self.out: BlobWriter = store.writer()
        self.z = compress.open_compressor(kind, self.out.write)

    def write(self, data: bytes, /) -> None:
        self.hash.update(data)
        self.size += len(data)
        self.z.write(data)

    def end(self) -> None:
        try:
            self.z.close()
            written = self.out.finish()
        except BaseException:
            self.abort()
            raise
        diff_id = f"sha256:{self.hash.hexdigest()}"
        had = self.store.layer(diff_id, self.kind) is not None
        self.on_end(self.store.add_layer(diff_id, self.kind, written, self.size), had)

    def abort(self) -> None:
        self.z.abort()
        self.out.discard()


class _Sniff:
    """Docker 25's ``blobs/sha256/<hex>`` holds layers, the config and OCI manifests
    alike: the first block tells a tar (a layer) from JSON."""

    def __init__(self, decide: Callable[[bytes], Member | None]) -> None:
        self.decide = decide
        self.head = bytearray()
        self.inner: Member | None = None
        self.decided = False

    def write(self, data: bytes, /) -> None:
        if not self.decided:
            self.head += data
            if len(self.head) < BLOCK:
                return
            self._decide()
            return
        if self.inner is not None:
            self.inner.write(data)

    def _decide(self) -> None:
        self.decided = True
        head, self.head = bytes(self.head), bytearray()
        self.inner = self.decide(head)
        if self.inner is not None and head:
            self.inner.write(head)

    def end(self) -> None:
        if not self.decided:
            self._decide()
        if self.inner is not None:
            self.inner.end()


def _is_tar(head: bytes) -> bool:
    return len(head) >= BLOCK and (head[257:262] == b"ustar" or not head[:BLOCK].strip(b"\0"))


# --------------------------------------------------------------------------- gather


@dataclass(frozen=True, kw_only=True)
class Gathered:
    """An image whose every layer is in the store."""

    id: str
    config: str  # digest of the config blob in the store
    layers: tuple[LayerBlob, ...]  # in the order of the config's diff ids
    saved: bool  # whether the engine was asked for the image (docker save)
    tags: tuple[str, ...] = ()  # the archive's RepoTags (when it was read)
    compressed: int = 0  # layers compressed this time
    reused: int = 0  # layers taken from the store


class Saver(Protocol):
    def save(self, refs: list[str], out: Any) -> None: ...


@dataclass
class _Reading:
    """What one ``docker save`` stream gave."""

    store: BlobStore
    kind: str
    image_hex: str
    trust_names: bool
    cancel: threading.Event | None
    found: dict[str, LayerBlob] = field(default_factory=dict)  # diff id → blob
    paths: dict[str, str] = field(default_factory=dict)  # archive path → diff id
    links: dict[str, str] = field(default_factory=dict)  # archive path → path it links to
    small: dict[str, _Collect] = field(default_factory=dict)
    compressed: int = 0
    reused: int = 0
    writing: list[LayerCompressor] = field(default_factory=list)

    def route(self, name: str, size: int, kind: bytes, link: str) -> Member | None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled
        if kind == b"2" or kind == b"1":
            self.links[name] = link
            return None
        if kind not in (b"0", b"\0", b"7"):
            return None
        if name in ("manifest.json", "index.json") or re.fullmatch(r"[0-9a-f]{64}\.json", name):
            return self._collect(name)
        m = re.fullmatch(r"(?P<v1>[0-9a-f]{64})/layer\.tar", name)
        if m:  # Docker 24 and older
            known = self.store.name(m["v1"]) if self.trust_names else None
            return self._layer(name, known, learn=m["v1"])
        m = re.fullmatch(r"(?P<hex>[0-9a-f]{64})\.tar", name)
        if m:  # Podman's docker-archive: named by diff id
            return self._layer(name, f"sha256:{m['hex']}" if self.trust_names else None)
        m = re.fullmatch(r"blobs/sha256/(?P<hex>[0-9a-f]{64})", name)
        if m:  # Docker 25 and later: layers, config and manifests, each named by digest
            hexpart = m["hex"]
            if hexpart == self.image_hex:
                return self._collect(name)

            def decide(head: bytes) -> Member | None:
                if _is_tar(head):
                    return self._layer(name, f"sha256:{hexpart}" if self.trust_names else None)
                return self._collect(name)

            return _Sniff(decide)
        return None

    def _collect(self, name: str) -> Member:
        self.small[name] = _Collect()
        return self.small[name]

    def _layer(self, name: str, diff_id: str | None, *, learn: str = "") -> Member:
        have = self.store.layer(diff_id, self.kind) if diff_id else None
        if have is not None and diff_id is not None:

            def passed(found: str) -> None:
                self.paths[name] = found
                self.found[found] = have
                self.reused += 1

            return _PassOver(diff_id, passed)

        def compressed(blob: LayerBlob, had: bool) -> None:
            self.paths[name] = blob.diff_id
            self.found[blob.diff_id] = blob
            if had:  # the same bytes again: the store gained nothing
                self.reused += 1
            else:
                self.compressed += 1
            if learn:
                self.store.learn_name(learn, blob.diff_id)

        member = LayerCompressor(self.store, self.kind, compressed)
        self.writing.append(member)
        return member

    def resolve(self, path: str) -> str | None:
        seen = 0
        while path in self.links and seen < 8:
            target = self.links[path]
            base = path.rsplit("/", 1)[0] if "/" in path else ""
            parts = [p for p in f"{base}/{target}".split("/") if p and p != "."]
            stack: list[str] = []
            for part in parts:
                if part == "..":
                    if stack:
                        stack.pop()
                else:
                    stack.append(part)
            path = "/".join(stack)
            seen += 1
        return self.paths.get(path)


class _Cancellable:
    """The save's sink: stops the stream when the export is cancelled; the ``export.saving``
    fault point once the first chunk is in."""

    def __init__(
        self, reader: TarReader, cancel: threading.Event | None, *, fault_point: bool
    ) -> None:
        self.reader = reader
        self.cancel = cancel
        self.first = fault_point

    def write(self, data: bytes, /) -> object:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled
        self.reader.write(data)
        if self.first:
            self.first = False
            faults.checkpoint("export.saving")
        return len(data)


def gather(
    engine: Saver,
    ref: str,
    store: BlobStore,
    *,
    kind: str = compress.GZIP,
    image_id: str | None = None,
    cancel: threading.Event | None = None,
    fault_point: bool = True,
) -> Gathered:
    """Every layer of image ``ref`` (id ``image_id`` when known) and its config, in the
    store; ``docker save`` only when the store lacks something. ``fault_point``: pass
    ``export.saving`` (the export's own gathering, on the main thread)."""
    if image_id:
        record = store.image(image_id)
        layers = [store.layer(d, kind) for d in record.diff_ids] if record else []
        if record is not None and all(layers):
            return Gathered(
                id=image_id,
                config=record.config,
                layers=tuple(x for x in layers if x is not None),
                saved=False,
                reused=len(layers),
            )
    try:
        return _save(
            engine,
            ref,
            store,
            kind=kind,
            image_id=image_id,
            trust=True,
            cancel=cancel,
            fault_point=fault_point,
        )
    except NameMismatch:
        return _save(
            engine,
            ref,
            store,
            kind=kind,
            image_id=image_id,
            trust=False,
            cancel=cancel,
            fault_point=fault_point,
        )


def _save(
    engine: Saver,
    ref: str,
    store: BlobStore,
    *,
    kind: str,
    image_id: str | None,
    trust: bool,
    cancel: threading.Event | None,
    fault_point: bool,
) -> Gathered:
    reading = _Reading(
        store=store,
        kind=kind,
        image_hex=hexof(image_id) if image_id and is_digest(image_id) else "",
        trust_names=trust,
        cancel=cancel,
    )
    reader = TarReader(reading.route)
    try:
        engine.save([ref], _Cancellable(reader, cancel, fault_point=fault_point))
        reader.close()
    except BaseException:
        for member in reading.writing:
            member.abort()
        raise
    return _finish(reading, store, ref, image_id)


def _finish(reading: _Reading, store: BlobStore, ref: str, image_id: str | None) -> Gathered:
    manifest = reading.small.get("manifest.json")
    if manifest is None:
        raise ArchiveError(f"the engine's archive of {ref} has no manifest.json")
    try:
        doc = json.loads(bytes(manifest.data))
        entry = doc[0]
        config_path = str(entry["Config"])
        layer_paths = [str(p) for p in entry["Layers"]]
        tags = tuple(str(t) for t in entry.get("RepoTags") or ())
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ArchiveError(f"the engine's archive of {ref} has an unreadable manifest") from exc
    config = reading.small.get(config_path.removeprefix("./"))
    if config is None:
        raise ArchiveError(f"the engine's archive of {ref} holds no image config")
    config_bytes = bytes(config.data)
    found_id = f"sha256:{hashlib.sha256(config_bytes).hexdigest()}"
    if image_id and found_id != image_id:
        raise ArchiveError(f"the engine saved image {found_id[:19]}, not {image_id[:19]}")
    try:
        diff_ids = [str(d) for d in json.loads(config_bytes)["rootfs"]["diff_ids"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ArchiveError(f"the image config of {ref} lists no layers") from exc
    if len(diff_ids) != len(layer_paths):
        raise ArchiveError(f"the archive of {ref} does not hold the layers its config lists")
    layers = []
    for path, diff_id in zip(layer_paths, diff_ids, strict=True):
        got = reading.resolve(path.removeprefix("./"))
        if got != diff_id:
            raise ArchiveError(f"layer {path} is not the one the image config lists")
        layers.append(reading.found[diff_id])
    written = store.put_bytes(config_bytes)
    store.record_image(ImageRecord(id=found_id, config=written.digest, diff_ids=tuple(diff_ids)))
    return Gathered(
        id=found_id,
        config=written.digest,
        layers=tuple(layers),
        saved=True,
        tags=tags,
        compressed=reading.compressed,
        reused=reading.reused,
    )
