#!/usr/bin/env python3
"""Regenerate repro/data/wheel_libs.json: the system libraries a PyPI wheel links that slim
images lack.

manylinux wheels may link a few libraries of the system instead of bundling them: the
policy (PEP 513 onwards, auditwheel's ``policy.json``) counts libGL, libglib, libgthread,
libX11, libSM, libICE and a few more as present on "every" Linux desktop. Slim Docker images
(``python:*-slim``, ``nvidia/cuda:*-runtime``) do not have them, so ``import cv2`` from the
``opencv-python`` wheel stops at ``libGL.so.1: cannot open shared object file`` there, and
the smoke test's repair installs the packages one failure at a time. With this table the
plan installs them before the first build.

For each candidate distribution the script downloads the newest release's manylinux
x86_64 wheel from PyPI, reads the ``DT_NEEDED`` entries of every ELF file in it (a small
reader of the ELF64 dynamic section; no tool needed), drops the libraries the wheel ships
itself, and keeps the sonames that repro/data/shared_libs.json maps to a Debian package
(the ones repro knows how to install). A candidate whose wheel links none of them is
written with an empty list: checked, needs nothing (``opencv-python-headless``).

Usage: scripts/gen_wheel_libs.py [--out repro/data/wheel_libs.json] [NAME ...]
Needs: network access to pypi.org and files.pythonhosted.org (a proxy's CA through
$PIP_CERT or $SSL_CERT_FILE). Sources: the wheels themselves, as PyPI serves them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import ssl
import struct
import sys
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "repro" / "data" / "wheel_libs.json"
SHARED_LIBS = ROOT / "repro" / "data" / "shared_libs.json"

# Distributions whose Linux wheels are known to, or may, link libraries of the system's
# graphics or GUI stack: the usual suspects of "cannot open shared object file" in slim
# images, with their headless builds as checks that need nothing.
CANDIDATES = (
    "opencv-python",
    "opencv-contrib-python",
    "opencv-python-headless",
    "opencv-contrib-python-headless",
    "pygame",
    "PyQt5-Qt5",
    "vtk",
    "kivy",
)
# Libraries every CPython image has (its own modules link them): never worth an apt layer.
PRESENT = frozenset({"libsqlite3.so.0"})

SHT_DYNAMIC = 6
DT_NEEDED = 1


def _context() -> ssl.SSLContext:
    ca = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    return ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()


def _get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "repro-gen-wheel-libs"})
    with urllib.request.urlopen(request, timeout=300, context=_context()) as response:
        return bytes(response.read())


def newest_wheel(name: str) -> tuple[str, str, str] | None:
    """(version, file name, URL) of the newest release's manylinux x86_64 wheel."""
    index = f"https://pypi.org/pypi/{name}/json"
    doc = json.loads(_get(index))
    version = str(doc["info"]["version"])
    wheels = [
        f
        for f in doc["urls"]
        if f["filename"].endswith(".whl")
        and "manylinux" in f["filename"]
        and "x86_64" in f["filename"]
    ]
    if not wheels:
        return None
    # one CPython build is enough: the native code links the same libraries for each
    wheels.sort(key=lambda f: ("cp311" not in f["filename"], "abi3" not in f["filename"]))
    # a mirror may answer with URLs relative to the document
    return version, str(wheels[0]["filename"]), urllib.parse.urljoin(index, wheels[0]["url"])


def needed(elf: bytes) -> Iterator[str]:
    """The DT_NEEDED sonames of a little-endian ELF64 file (nothing for anything else)."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        return
    shoff = struct.unpack_from("<Q", elf, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    for section in sections:
        if section[1] != SHT_DYNAMIC:
            continue
        offset, size, link = section[4], section[5], section[6]
        strings = sections[link][4]
        for at in range(offset, offset + size, 16):
            tag, value = struct.unpack_from("<qQ", elf, at)
            if tag == 0:
                break
            if tag == DT_NEEDED:
                end = elf.index(b"\0", strings + value)
                yield elf[strings + value : end].decode()


def links(wheel: bytes) -> tuple[set[str], set[str]]:
    """(sonames the wheel's ELF files need, file names the wheel ships)."""
    need: set[str] = set()
    shipped: set[str] = set()
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        for info in zf.infolist():
            base = info.filename.rsplit("/", 1)[-1]
            shipped.add(base)
            if ".so" not in base:
                continue
            need.update(needed(zf.read(info)))
    return need, shipped


def generate(names: list[str]) -> dict[str, object]:
    known = set(json.loads(SHARED_LIBS.read_text())["libraries"])
    out: dict[str, object] = {}
    for name in names:
        found = newest_wheel(name)
        if found is None:
            print(f"{name}: no manylinux x86_64 wheel; left out", file=sys.stderr)
            continue
        version, filename, url = found
        print(f"{name} {version}: {filename}", file=sys.stderr)
        need, shipped = links(_get(url))
        system = sorted(s for s in need - shipped - PRESENT if s in known)
        out[name] = {"version": version, "wheel": filename, "needs": system}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("names", nargs="*", help=f"distributions (default: {len(CANDIDATES)})")
    args = parser.parse_args(argv)
    doc = {
        "schema_version": 1,
        "generated": dt.date.today().isoformat(),
        "generated_by": "scripts/gen_wheel_libs.py",
        "source": (
            "the DT_NEEDED entries of the ELF files in each distribution's newest manylinux "
            "x86_64 wheel on PyPI, less the libraries the wheel ships, kept where "
            "repro/data/shared_libs.json maps the soname to a Debian package; the needs of "
            "the newest release are taken for every release of the distribution"
        ),
        "distributions": generate(args.names or list(CANDIDATES)),
    }
    args.out.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
