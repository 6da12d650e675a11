"""Layer compression for the export: gzip on every core (docs/performance.md, "Export").

``gzip`` (the default) is what every consumer reads (``docker load`` of any version,
Podman, skopeo, Apptainer, registries). It is written the way pigz writes it: the input
is cut into 1 MiB blocks, each block is deflated on a thread of its own (zlib lets go of
the GIL while it deflates), primed with the 32 KiB before it so the ratio stays that of
one stream, and ended on a byte boundary (a sync flush) so the pieces join into one valid
deflate stream. The output is one ordinary gzip member (mtime 0, no name): ``gzip -d``
and every gzip reader read it. It does not depend on the number of threads, so the same
layer gives the same bytes on any machine with the same zlib.

zstd is not offered: Docker 20.10's ``docker load`` stops at a zstd layer ("unexpected
EOF", tried on this project's engine), and the tarball must load everywhere.

Measured on this project's machine (2 cores): pigz and the threads here spend the same
CPU time per byte, so no external program is needed for gzip (docs/performance.md).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from typing import Protocol

from repro import signals

GZIP = "gzip"
LEVELS = {GZIP: 3}
BLOCK = 1 << 20
WINDOW = 32 * 1024
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, mtime 0

Sink = Callable[[bytes], object]


class Compressor(Protocol):
    def write(self, data: bytes, /) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


def open_compressor(kind: str, sink: Sink, *, level: int | None = None) -> Compressor:
    """A compressor of ``kind`` writing its output, in order, through ``sink``."""
    if kind == GZIP:
        return ParallelGzip(sink, level=LEVELS[GZIP] if level is None else level)
    raise ValueError(f"unknown compression {kind!r}")


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="gz")


def _deflate(block: bytes, primer: bytes, level: int, last: bool) -> bytes:
    engine = (
        zlib.compressobj(level, zlib.DEFLATED, -15, zdict=primer)
        if primer
        else zlib.compressobj(level, zlib.DEFLATED, -15)
    )
    return engine.compress(block) + engine.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


class ParallelGzip:
    """One gzip member, its blocks deflated in parallel (see the module's docstring)."""

    def __init__(self, sink: Sink, *, level: int = LEVELS[GZIP]) -> None:
        self.sink = sink
        self.level = level
        self.buffer = bytearray()
        self.primer = b""
        self.crc = 0
        self.size = 0
        self.pending: deque[Future[bytes]] = deque()
        self.limit = 2 * (os.cpu_count() or 1) + 1  # blocks in flight: the memory bound
        self.closed = False
        sink(GZIP_HEADER)

    def write(self, data: bytes, /) -> None:
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        self.buffer += data
        while len(self.buffer) >= BLOCK:
            block = bytes(self.buffer[:BLOCK])
            del self.buffer[:BLOCK]
            self._submit(block, last=False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._submit(bytes(self.buffer), last=True)
        self.buffer = bytearray()
        while self.pending:
            self.sink(self.pending.popleft().result())
        self.sink(struct.pack("<II", self.crc & 0xFFFFFFFF, self.size & 0xFFFFFFFF))

    def abort(self) -> None:
        self.closed = True
        for future in self.pending:
            future.cancel()
        self.pending.clear()

    def _submit(self, block: bytes, *, last: bool) -> None:
        with signals.quiet_threads():
            self.pending.append(_pool().submit(_deflate, block, self.primer, self.level, last))
        self.primer = block[-WINDOW:] if len(block) >= WINDOW else (self.primer + block)[-WINDOW:]
        while len(self.pending) > self.limit:
            self.sink(self.pending.popleft().result())


# --------------------------------------------------------------------------- stored gzip


STORED_PIECE = 65535  # the largest stored deflate block


def stored_member_head() -> bytes:
    """The start of a gzip member whose data is stored, not compressed (a blob that is
    compressed already): :func:`stored_pieces` frames the data, :func:`member_tail` ends it."""
    return GZIP_HEADER


def stored_pieces(data: bytes | memoryview, *, final: bool) -> bytes:
    """``data`` as stored deflate blocks, in one piece (:func:`stored_blocks`)."""
    return b"".join(stored_blocks(data, final=final))


def stored_blocks(data: bytes | memoryview, *, final: bool) -> Iterator[bytes | memoryview]:
    """``data`` as stored deflate blocks (each at most 65,535 bytes, a 5-byte header before
    it), header and block by turns, the blocks views of ``data`` (not copies: a GB layer
    goes through here on every export); ``final`` marks the member's last block, so the
    last call of a member passes it."""
    view = memoryview(data)
    if not view and final:
        yield b"\x01\x00\x00\xff\xff"
        return
    for start in range(0, len(view), STORED_PIECE):
        piece = view[start : start + STORED_PIECE]
        last = final and start + STORED_PIECE >= len(view)
        yield struct.pack("<BHH", 1 if last else 0, len(piece), len(piece) ^ 0xFFFF)
        yield piece


def member_tail(crc: int, size: int) -> bytes:
    return struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)


def gzip_bytes(data: bytes, level: int = 6) -> bytes:
    """``data`` as one small gzip member (mtime 0, no name): deterministic."""
    engine = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = engine.compress(data) + engine.flush()
    return GZIP_HEADER + body + member_tail(zlib.crc32(data), len(data))
