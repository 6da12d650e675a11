"""The file list of a release file on a package index, read without downloading it whole
(edge: network, through :class:`repro.httpget.Transport`).

- A wheel, an egg or a ``.zip`` sdist is a zip archive: its central directory, at the end
  of the file, names every member. One suffix-range request (``Range: bytes=-65536``)
  usually holds all of it; a larger directory costs one more request for exactly the
  missing span. Reading stops at a byte budget, so a malformed or hostile archive cannot
  make repro download hundreds of megabytes.
- A tar sdist has no index: the whole file is fetched (sdists are small; one larger than
  the limit is refused, not downloaded) and its member headers read. Its
  ``*.egg-info/top_level.txt``, when the sdist carries one, is read too: it names the
  top-level modules the project installs, which the member list alone only suggests.

Used at run time by the verified import look-up (repro/lookup.py and repro/projects.py)
and by the generators (scripts/gen_import_map.py, the module-paths generator).
"""

from __future__ import annotations

import io
import re
import tarfile
import zipfile

from repro import httpget
from repro.httpget import Transport, Unreachable
from repro.toplevel import Kind, Listing, kind_of

TAIL = 1 << 16  # first request: the last 64 KiB (the end record and, mostly, the directory)
ZIP_BUDGET = 16 << 20  # bytes read from one zip at most (tensorflow's directory: ~3 MB)
SDIST_LIMIT = 25 << 20  # a tar sdist larger than this is not fetched
TOP_LEVEL_LIMIT = 64 << 10


class ListingError(Exception):
    """The file could not be listed: gone (404), not an archive, or too large."""


def list_files(
    url: str,
    filename: str,
    *,
    transport: Transport | None = None,
    size: int | None = None,
    read_top_level: bool = True,
) -> Listing:
    """The members of the release file ``filename`` at ``url``.

    ``size`` (from the index, when known) lets a too-large tar sdist be refused without
    a request. Raises :class:`ListingError` or :class:`repro.httpget.Unreachable`.
    """
    http = transport if transport is not None else httpget.UrllibTransport()
    kind = kind_of(filename)
    if kind is None:
        raise ListingError(f"{filename}: not a wheel, egg or sdist")
    if kind != "sdist" or filename.lower().endswith(".zip"):
        return _list_zip(url, filename, kind, http, read_top_level=read_top_level)
    if size is not None and size > SDIST_LIMIT:
        raise ListingError(f"{filename}: {size} bytes, larger than the {SDIST_LIMIT} listed")
    try:
        reply = http.get(url, headers={}, limit=SDIST_LIMIT)
    except httpget.TooLarge:
        raise ListingError(f"{filename}: larger than the {SDIST_LIMIT} bytes listed") from None
    _check(reply, filename)
    try:
        with tarfile.open(fileobj=io.BytesIO(reply.body), mode="r:*") as tar:
            members = tar.getmembers()
            files = tuple(m.name for m in members if m.isfile())
            top = _tar_top_level(tar, members) if read_top_level else ()
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise ListingError(f"{filename}: not a readable tar archive ({exc})") from None
    return Listing(filename=filename, kind=kind, files=files, top_level=top, requests=1)


def _check(reply: httpget.Reply, filename: str) -> None:
    if reply.status == 404:
        raise ListingError(f"{filename}: the index has no such file (HTTP 404)")
    if reply.status not in (200, 206):
        raise Unreachable(f"HTTP {reply.status} for {filename}")


def _top_level_member(name: str) -> bool:
    parts = name.split("/")
    return (
        len(parts) >= 2
        and parts[-1] == "top_level.txt"
        and parts[-2].endswith((".egg-info", "EGG-INFO"))
        and len(parts) <= 4  # NAME-V/NAME.egg-info/… or NAME-V/src/NAME.egg-info/…
    )


def _names(text: str) -> tuple[str, ...]:
    lines = (line.strip() for line in text.splitlines())
    return tuple(dict.fromkeys(line for line in lines if line))


def _tar_top_level(tar: tarfile.TarFile, members: list[tarfile.TarInfo]) -> tuple[str, ...]:
    for member in sorted(members, key=lambda m: m.name.count("/")):
        if member.isfile() and _top_level_member(member.name) and member.size <= TOP_LEVEL_LIMIT:
            fh = tar.extractfile(member)
            if fh is not None:
                return _names(fh.read().decode("utf-8", "replace"))
    return ()


# --------------------------------------------------------------------------- zip over ranges


class _RangeFile(io.RawIOBase):
    """A read-only, seekable view of a remote file, fetched in ranges as zipfile asks."""

    def __init__(self, url: str, filename: str, http: Transport, budget: int) -> None:
        self.url, self.filename, self.http, self.budget = url, filename, http, budget
        self.pos = 0
        self.requests = 0
        self.fetched = 0
        self.segments: list[tuple[int, bytes]] = []  # (offset, bytes), as fetched
        reply = self._get(f"bytes=-{TAIL}")
        if reply.status == 200:  # the server ignored the range: this is the whole file
            self.size = len(reply.body)
            self.segments.append((0, reply.body))
            return
        total = re.search(r"/(\d+)\s*$", reply.header("content-range"))
        start = re.search(r"bytes\s+(\d+)-", reply.header("content-range"))
        if not (total and start):
            raise ListingError(f"{filename}: the index's answer to a range request has no size")
        self.size = int(total.group(1))
        self.segments.append((int(start.group(1)), reply.body))

    def _get(self, byte_range: str) -> httpget.Reply:
        try:
            reply = self.http.get(
                self.url, headers={"Range": byte_range}, limit=self.budget - self.fetched
            )
        except httpget.TooLarge:
            raise ListingError(
                f"{self.filename}: its directory is larger than {self.budget} bytes"
            ) from None
        self.requests += 1
        _check(reply, self.filename)
        self.fetched += len(reply.body)
        return reply

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, min(self.size, base + offset))
        return self.pos

    def _held(self, start: int, end: int) -> bytes | None:
        for offset, data in self.segments:
            if offset <= start and end <= offset + len(data):
                return data[start - offset : end - offset]
        return None

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            n = self.size - self.pos
        end = min(self.size, self.pos + n)
        if end <= self.pos:
            return b""
        data = self._held(self.pos, end)
        if data is None:
            # the missing span, at least a block, so zipfile's small reads cost one request
            stop = min(self.size, max(end, self.pos + TAIL))
            reply = self._get(f"bytes={self.pos}-{stop - 1}")
            if reply.status == 200:
                self.segments.append((0, reply.body))
            else:
                self.segments.append((self.pos, reply.body))
            data = self._held(self.pos, end)
            if data is None:
                raise ListingError(f"{self.filename}: the index answered a short range")
        self.pos += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _list_zip(
    url: str, filename: str, kind: Kind, http: Transport, *, read_top_level: bool
) -> Listing:
    remote = _RangeFile(url, filename, http, ZIP_BUDGET)
    try:
        with zipfile.ZipFile(remote) as zf:
            infos = zf.infolist()
            files = tuple(i.filename for i in infos if not i.is_dir())
            top: tuple[str, ...] = ()
            # an egg's or zip sdist's top_level.txt (a wheel's file list says it all)
            wanted = [
                i
                for i in infos
                if kind != "wheel"
                and _top_level_member(i.filename)
                and i.file_size <= TOP_LEVEL_LIMIT
            ]
            if read_top_level and wanted:
                first = min(wanted, key=lambda i: i.filename.count("/"))
                top = _names(zf.read(first).decode("utf-8", "replace"))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise ListingError(f"{filename}: not a readable zip archive ({exc})") from None
    return Listing(
        filename=filename, kind=kind, files=files, top_level=top, requests=remote.requests
    )
