"""The data files shipped in ``repro/data``, read through one loader that checks each
JSON file's ``schema_version`` against the one this code reads: a file regenerated with
another layout stops at once, naming its generator, instead of being misread.

Every JSON data file is listed in :data:`SCHEMAS` (a new one is added there, with the
script under ``scripts/`` that makes it). Compressed tables (``contents_*.json.xz``) and
archives (``module_paths.zip``) are read as bytes (:func:`read_bytes`); the index that
names them, or the index inside them, carries their version.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from repro.errors import ReproError

# data file → the schema_version this code reads
SCHEMAS: dict[str, int] = {
    "api_rules.json": 1,
    "compat.json": 2,
    "conda_map.json": 1,
    "contents.json": 1,
    "host_apps.json": 1,
    "image_hints.json": 1,
    "import_map.json": 2,
    "import_overrides.json": 1,
    "platform_modules.json": 1,
    "pypi_rank.json": 1,
    "python_releases.json": 1,
    "python_syntax.json": 1,
    "releases.json": 1,
    "shared_libs.json": 1,
    "wheel_libs.json": 1,
    "stdlib.json": 1,
    "system_modules.json": 1,
}


class DataFileError(ReproError):
    """A shipped data file this code cannot read (a broken or mismatched installation)."""


def load(name: str) -> Any:
    """The JSON data file ``name`` (``"compat.json"``), its schema version checked."""
    expected = SCHEMAS.get(name)
    if expected is None:
        raise KeyError(f"{name}: not a data file repro reads (add it to datafiles.SCHEMAS)")
    doc = json.loads(read_bytes(name))
    found = doc.get("schema_version") if isinstance(doc, dict) else None
    if found != expected:
        made_by = doc.get("generated_by") if isinstance(doc, dict) else None
        raise DataFileError(
            f"repro/data/{name} has schema_version {found!r}; this repro reads {expected}",
            hint=f"regenerate it with {made_by}" if made_by else "reinstall repro",
        )
    return doc


def read_bytes(name: str) -> bytes:
    """The bytes of the data file ``name`` (a compressed table, an archive)."""
    return resources.files("repro.data").joinpath(name).read_bytes()
