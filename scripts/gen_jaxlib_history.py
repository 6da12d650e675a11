#!/usr/bin/env python3
"""Regenerate scripts/compat_sources/jaxlib_history.json from the history of JAX's README.

jaxlib 0.1.x (2018-12 to 2022-01) shipped its CUDA builds outside PyPI, one wheel per CUDA
release, and PyPI no longer has any jaxlib 0.1.x at all. What existed is recorded in JAX's
own repository: the README's GPU install section named, at each commit, the jaxlib
release of the day, the CUDA builds (``cuda92``, ``cuda101``, ...), the Python tags and
the platform tag of the wheel URL, or (from late 2020) the ``jaxlib==V+cudaXXX -f ...``
line; the ``jaxlib-v0.1.N`` git tags date the releases from 0.1.32 on.

This script walks that history in a local clone of https://github.com/jax-ml/jax and
writes one row per jaxlib release: its date (the tag's, else the first README commit
naming it), the CUDA builds and Pythons the README listed while it was the current
release, and how a build is installed (a wheel URL per CUDA folder, or a local version
label and the find-links page). ``scripts/gen_compat.py`` reads the result.

    python scripts/gen_jaxlib_history.py /path/to/jax-clone
    python scripts/gen_jaxlib_history.py /path/to/jax-clone --check
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "scripts" / "compat_sources" / "jaxlib_history.json"
SINCE, UNTIL = "2018-11-01", "2021-11-01"  # jaxlib 0.1.x
LAST_LABELLED = "0.1.73"  # the first jaxlib whose CUDA builds are named by jax's extras
FIND_LINKS = "https://storage.googleapis.com/jax-releases/jax_releases.html"
URL = "https://storage.googleapis.com/jax-releases/{cuda}/jaxlib-{version}-{python}-none-{platform}.whl"

_VERSION_IN_URL = re.compile(r"jaxlib-(0\.1\.\d+)-")
_VERSION_PINNED = re.compile(r"jaxlib==(0\.1\.\d+)\+cuda\d+")
_CUDA = re.compile(r"\bcuda(\d{2,3})\b")
_PYTHONS = re.compile(r"PYTHON_VERSION=\w+\s+#\s*alternatives:\s*([a-z0-9, ]+)")
_PLATFORM = re.compile(r"PLATFORM=([a-z0-9_]+)")


def _git(clone: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(clone), *args], check=True, capture_output=True, text=True
    ).stdout


def _readme_states(clone: Path) -> list[tuple[str, str, str]]:
    """(date, commit, README text) of every README change in the jaxlib 0.1 years, oldest
    first."""
    log = _git(
        clone, "log", "--reverse", "--format=%h %cs", f"--since={SINCE}", f"--until={UNTIL}",
        "--", "README.md",
    )  # fmt: skip
    states = []
    for line in log.splitlines():
        commit, date = line.split()
        try:
            text = _git(clone, "show", f"{commit}:README.md")
        except subprocess.CalledProcessError:
            continue
        states.append((date, commit, text))
    return states


def _gpu_lines(text: str) -> list[str]:
    """The README lines about installing jaxlib with CUDA."""
    return [ln for ln in text.splitlines() if "cuda" in ln.lower() or "PYTHON_VERSION" in ln]


def _cudas(lines: list[str]) -> list[str]:
    found: list[str] = []
    for line in lines:
        if "alternatives" in line and "CUDA_VERSION" in line:
            found = [_minor(m) for m in _CUDA.findall(line.split("alternatives")[1])]
            return sorted(set(found), key=_key)
        found += [_minor(m) for m in _CUDA.findall(line)]
    return sorted(set(found), key=_key)


def _minor(digits: str) -> str:
    """``"92"`` -> ``"9.2"``, ``"101"`` -> ``"10.1"`` (the jaxlib build names)."""
    return f"{digits[:-1]}.{digits[-1]}"


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _tags(clone: Path) -> dict[str, str]:
    out = _git(clone, "for-each-ref", "--format=%(refname:short) %(creatordate:short)",
               "refs/tags/jaxlib-v0.1.*")  # fmt: skip
    return {
        ref.removeprefix("jaxlib-v"): date for ref, date in (ln.split() for ln in out.splitlines())
    }


def build(clone: Path) -> dict[str, Any]:
    tags = _tags(clone)
    by_date = sorted(tags.items(), key=lambda kv: kv[1])
    states: dict[str, list[tuple[str, str, str]]] = {}
    for date, commit, text in _readme_states(clone):
        named = _VERSION_PINNED.findall(text) or _VERSION_IN_URL.findall(text)
        if named:
            version = named[0]
        else:  # "pip install jax[cuda111]": the release of the day, by its tag
            tagged = [v for v, d in by_date if d <= date]
            if not tagged or not _CUDA.search(text):
                continue
            version = tagged[-1]
        states.setdefault(version, []).append((date, commit, text))
    rows = []
    for version, seen in states.items():
        first_date, first, _ = seen[0]
        _, last, text = seen[-1]  # the README as last corrected while this was current
        pythons = _PYTHONS.findall(text)
        platform = _PLATFORM.findall(text)
        python = sorted(
            {f"{t[2]}.{t[3:]}" for t in (p.strip() for p in pythons[0].split(",")) if t[:2] == "cp"}
            if pythons
            else set(),
            key=_key,
        )
        rows.append(
            {
                "version": version,
                "date": tags.get(version, first_date),
                "date_source": "tag" if version in tags else "readme",
                "cuda": _cudas(_gpu_lines(text)),
                "python": python,
                "install": "find_links" if "jax_releases.html" in text else "url",
                "platform": platform[0] if platform else None,
                "readme_commits": [first, last],
            }
        )
    # From 0.1.73 the CUDA builds are jax's extras (jax[cuda11_cudnn82]): compat's jax rows.
    rows = [r for r in rows if _key(r["version"]) < _key(LAST_LABELLED)]
    rows.sort(key=lambda r: _key(r["version"]))
    head = _git(clone, "rev-parse", "HEAD").strip()
    return {
        "source": "https://github.com/jax-ml/jax: README.md history "
        f"({SINCE} to {UNTIL}) and the jaxlib-v0.1.* tags, read at {head[:12]}",
        "find_links": FIND_LINKS,
        "url": URL,
        "releases": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clone", type=Path, help="a git clone of jax-ml/jax (full history)")
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = json.dumps(build(args.clone), indent=1) + "\n"
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is out of date", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
