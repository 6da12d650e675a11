"""A stand-in package index for unit tests: release files built in memory, served over a
fake :class:`repro.httpget.Transport` that honours range requests like PyPI's file host."""

from __future__ import annotations

import io
import json
import re
import tarfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field

from repro import httpget

FILES = "https://files.example/"
SIMPLE = "https://index.example/simple/"


def wheel_bytes(files: Mapping[str, str], *, pad: int = 0) -> bytes:
    """A zip holding ``files`` (path → text); ``pad`` bytes of stored filler in front."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        if pad:
            zf.writestr("filler.bin", b"\0" * pad)
        for path, text in files.items():
            zf.writestr(path, text)
    return buf.getvalue()


def sdist_bytes(files: Mapping[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass
class StandinTransport:
    """Serves ``files`` (URL → bytes); ``down`` raises Unreachable for every request."""

    files: dict[str, bytes] = field(default_factory=dict)
    down: bool = False
    ignore_range: bool = False
    requests: list[tuple[str, str]] = field(default_factory=list)  # (url, Range header)

    def get(self, url: str, *, headers: Mapping[str, str], limit: int) -> httpget.Reply:
        if self.down:
            raise httpget.Unreachable("network is unreachable")
        byte_range = headers.get("Range", "")
        self.requests.append((url, byte_range))
        body = self.files.get(url)
        if body is None:
            return httpget.Reply(status=404)
        size = len(body)
        if byte_range and not self.ignore_range:
            suffix = re.fullmatch(r"bytes=-(\d+)", byte_range)
            span = re.fullmatch(r"bytes=(\d+)-(\d+)", byte_range)
            if suffix:
                start, end = max(0, size - int(suffix.group(1))), size - 1
            elif span:
                start, end = int(span.group(1)), min(size - 1, int(span.group(2)))
            else:
                raise AssertionError(f"unexpected range {byte_range}")
            part = body[start : end + 1]
            if len(part) > limit:
                raise httpget.TooLarge(url)
            return httpget.Reply(
                status=206, body=part, headers={"content-range": f"bytes {start}-{end}/{size}"}
            )
        if size > limit:
            raise httpget.TooLarge(url)
        return httpget.Reply(status=200, body=body)

    def add(self, filename: str, body: bytes) -> str:
        url = FILES + filename
        self.files[url] = body
        return url

    def add_project(self, name: str, files: list[dict[str, object]]) -> None:
        """A PEP 691 JSON page for ``name`` under SIMPLE."""
        doc = {"meta": {"api-version": "1.1"}, "name": name, "files": files}
        self.files[SIMPLE + name + "/"] = json.dumps(doc).encode()
