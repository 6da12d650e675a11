#!/usr/bin/env python3
"""Regenerate repro/data/shared_libs.json: which Debian package ships a shared library.

The smoke test's repair reads ``libGL.so.1: cannot open shared object file`` and installs
the package that ships ``libGL.so.1``. This script starts from a curated seed (the
libraries research code most often misses in slim images, each with the package names
Debian has used for it) and checks every candidate against the real archive of each
Debian release: inside a container of that release it runs ``apt-get download`` and
lists the .deb's files with ``dpkg-deb -c``. Only verified pairs are written.

Usage: scripts/gen_shared_libs.py [--docker docker] [--out repro/data/shared_libs.json]
Needs: the stand-in (or real) images python:3.9-slim (bullseye), python:3.11-slim
(bookworm), python:3.13-slim (trixie), and network access to deb.debian.org.
Sources: the package contents indexes of deb.debian.org (the same data
https://packages.debian.org/ searches), read through apt in each release.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

# suite → image running that suite (scripts/standin-images.sh makes them)
SUITES = {
    "bullseye": "python:3.9-slim",
    "bookworm": "python:3.11-slim",
    "trixie": "python:3.13-slim",
}
DEFAULT_SUITE = "bookworm"

# soname → candidate packages, newest naming first (t64: Debian's 64-bit time_t rename).
SEED: dict[str, list[str]] = {
    "libGL.so.1": ["libgl1", "libgl1-mesa-glx"],
    "libEGL.so.1": ["libegl1"],
    "libGLX.so.0": ["libglx0"],
    "libOpenGL.so.0": ["libopengl0"],
    "libGLU.so.1": ["libglu1-mesa"],
    "libglib-2.0.so.0": ["libglib2.0-0t64", "libglib2.0-0"],
    "libgthread-2.0.so.0": ["libglib2.0-0t64", "libglib2.0-0"],
    "libgobject-2.0.so.0": ["libglib2.0-0t64", "libglib2.0-0"],
    "libSM.so.6": ["libsm6"],
    "libICE.so.6": ["libice6"],
    "libX11.so.6": ["libx11-6"],
    "libXext.so.6": ["libxext6"],
    "libXrender.so.1": ["libxrender1"],
    "libxcb.so.1": ["libxcb1"],
    "libxkbcommon.so.0": ["libxkbcommon0"],
    "libfontconfig.so.1": ["libfontconfig1"],
    "libfreetype.so.6": ["libfreetype6"],
    "libgomp.so.1": ["libgomp1"],
    "libgfortran.so.5": ["libgfortran5"],
    "libquadmath.so.0": ["libquadmath0"],
    "libopenblas.so.0": ["libopenblas0-pthread", "libopenblas0"],
    "libblas.so.3": ["libblas3"],
    "liblapack.so.3": ["liblapack3"],
    "libsndfile.so.1": ["libsndfile1"],
    "libportaudio.so.2": ["libportaudio2"],
    "libasound.so.2": ["libasound2t64", "libasound2"],
    "libjpeg.so.62": ["libjpeg62-turbo"],
    "libpng16.so.16": ["libpng16-16t64", "libpng16-16"],
    "libtiff.so.6": ["libtiff6"],
    "libtiff.so.5": ["libtiff5"],
    "libgeos_c.so.1": ["libgeos-c1t64", "libgeos-c1v5"],
    "libspatialindex_c.so.6": ["libspatialindex-c6"],
    "libmagic.so.1": ["libmagic1t64", "libmagic1"],
    "libzmq.so.5": ["libzmq5"],
    "libnuma.so.1": ["libnuma1"],
    "libdbus-1.so.3": ["libdbus-1-3"],
    "libtcmalloc.so.4": ["libgoogle-perftools4t64", "libgoogle-perftools4"],
    "libsqlite3.so.0": ["libsqlite3-0"],
    "libxml2.so.2": ["libxml2"],
    "libxslt.so.1": ["libxslt1.1"],
    "libgdal.so.32": ["libgdal32"],
    "libgdal.so.36": ["libgdal36"],
    "libproj.so.25": ["libproj25"],
    "libhdf5_serial.so.103": ["libhdf5-103-1t64", "libhdf5-103-1"],
    "libusb-1.0.so.0": ["libusb-1.0-0"],
    "libEGL_mesa.so.0": ["libegl-mesa0"],
    "libOSMesa.so.8": ["libosmesa6"],
    "libglfw.so.3": ["libglfw3"],
    "libGLEW.so.2.2": ["libglew2.2"],
    "libGLEW.so.2.1": ["libglew2.1"],
    "libavcodec.so.59": ["libavcodec59"],
    "libavcodec.so.58": ["libavcodec58"],
    "libavcodec.so.61": ["libavcodec61"],
    # Tk: the official python:*-slim images build _tkinter but leave Tcl/Tk out
    # ("ImportError: libtk8.6.so: cannot open shared object file")
    "libtk8.6.so": ["libtk8.6"],
    "libtcl8.6.so": ["libtcl8.6"],
}

# Names that appear in error messages instead of a soname: ctypes.util.find_library()
# stems and Python packages' own wording ("sndfile library not found").
ALIASES = {
    "sndfile": "libsndfile.so.1",
    "portaudio": "libportaudio.so.2",
    "GL": "libGL.so.1",
    "gomp": "libgomp.so.1",
    "magic": "libmagic.so.1",
    "geos_c": "libgeos_c.so.1",
    "spatialindex_c": "libspatialindex_c.so.6",
    "OSMesa": "libOSMesa.so.8",
    "glfw": "libglfw.so.3",
}


def check_suite(docker: str, image: str, seed: dict[str, list[str]]) -> dict[str, str]:
    """soname → the first candidate package whose .deb holds it, in this suite."""
    lines = ["set -u", "apt-get update -qq >/dev/null 2>&1 || exit 3", "cd /tmp"]
    # A package the suite lacks is no match; one it has but whose download fails (a busy
    # mirror or proxy) is retried, then reported: never silently "not verified".
    lines.append(
        "fetch() { apt-cache policy \"$1\" 2>/dev/null | grep -q 'Candidate: [0-9]' || return 1; "
        "for _ in 1 2 3 4; do "
        'apt-get download -qq "$1" >/dev/null 2>&1 && return 0; sleep 3; done; '
        'echo "FAILED $1"; return 1; }'
    )
    for soname, candidates in seed.items():
        for pkg in candidates:
            lines.append(
                f"if fetch {pkg} && dpkg-deb -c {pkg}_*.deb | grep -q '/{soname}'; then "
                f"echo 'FOUND {soname} {pkg}'; rm -f {pkg}_*.deb; "
                f"else rm -f {pkg}_*.deb; fi"
            )
    proc = subprocess.run(
        [docker, "run", "--rm", "--user", "0", "--label", "io.github.repro.managed=script",
         image, "sh", "-c", "\n".join(lines)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode == 3:
        raise SystemExit(f"{image}: apt-get update failed (no network to the Debian mirror?)")
    failed = sorted({ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("FAILED ")})
    if failed:
        raise SystemExit(f"{image}: could not download {', '.join(failed)}; run it again")
    found: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "FOUND" and parts[1] not in found:
            found[parts[1]] = parts[2]
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docker", default="docker")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "repro/data/shared_libs.json",
    )
    args = parser.parse_args(argv)
    by_suite = {suite: check_suite(args.docker, image, SEED) for suite, image in SUITES.items()}
    libraries: dict[str, dict[str, object]] = {}
    for soname in SEED:
        verified = {s: found[soname] for s, found in by_suite.items() if soname in found}
        if not verified:
            print(f"not found in any suite: {soname}", file=sys.stderr)
            continue
        default = verified.get(DEFAULT_SUITE) or next(iter(verified.values()))
        entry: dict[str, object] = {"package": default, "verified": sorted(verified)}
        overrides = {s: p for s, p in verified.items() if p != default}
        if overrides:
            entry["by_release"] = overrides
        libraries[soname] = entry
    doc = {
        "schema_version": 1,
        "generated": dt.date.today().isoformat(),
        "generated_by": "scripts/gen_shared_libs.py",
        "source": "Debian archive (deb.debian.org) package contents, checked with apt-get "
        f"download + dpkg-deb -c in {', '.join(SUITES)}; releases not listed under "
        "'verified' (e.g. Ubuntu 22.04 under nvidia/cuda) use 'package', unverified",
        "suites": sorted(SUITES),
        "libraries": libraries,
        "aliases": {k: v for k, v in ALIASES.items() if v in libraries},
    }
    args.out.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    print(f"wrote {args.out}: {len(libraries)} libraries", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
