"""Where repro keeps what it can reuse between runs (docs/performance.md, "Caches").

On disk, under :func:`cache_dir`:

* ``git/``  bare mirrors of the repositories packed (a second pack fetches only what is new);
* ``pypi/`` release histories read from PyPI's JSON API, one ``NAME.json`` per package.

Both can be deleted at any time (repro fetches again). The package downloads of the builds
live in the Docker engine, in BuildKit cache mounts (``/root/.cache/uv``,
``/root/.cache/pip``), never in an image layer.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

BUILD_NAMESPACE_ENV = "REPRO_BUILD_CACHE_NS"


def cache_dir() -> Path:
    """``$REPRO_CACHE_DIR``, else ``$XDG_CACHE_HOME/repro``, else ``~/.cache/repro``."""
    explicit = os.environ.get("REPRO_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "repro"


def subdir(name: str) -> Path:
    path = cache_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_namespace() -> str:
    """``$REPRO_BUILD_CACHE_NS``: build with layers and package caches of its own.

    Unset (the default), builds share the engine's BuildKit cache. Set to a new word, every
    layer is built afresh and the package-cache mounts start empty, without pruning a cache
    other builds on the same engine use (the benchmarks' cold builds).
    """
    value = os.environ.get(BUILD_NAMESPACE_ENV, "").strip()
    return re.sub(r"[^A-Za-z0-9_.-]", "-", value)[:64]
