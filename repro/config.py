"""``[tool.repro]`` in the repository's pyproject.toml, or a repro.toml: its own overrides.

Command-line options win over the repository's settings, which win over inference.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from repro.errors import UsageError
from repro.models import Options
from repro.scan.files import read_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KEYS = {"smoke", "python", "pins", "as-of", "cuda", "cpu", "base-image"}


def read_repo_config(root: Path) -> tuple[dict[str, Any], str]:
    """The repository's repro settings and the file they came from ({} and "" if none)."""
    for name in ("repro.toml", "pyproject.toml"):
        text = read_text(root / name)
        if text is None:
            continue
        try:
            doc = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, ValueError):
            continue  # scan reports invalid TOML; settings are simply absent
        tool = doc.get("tool")
        table = (
            (tool.get("repro") if isinstance(tool, dict) else None)
            if name == "pyproject.toml"
            else doc
        )
        if name == "repro.toml" and isinstance(doc.get("tool"), dict):
            table = doc["tool"].get("repro", doc)
        if isinstance(table, dict) and table:
            return table, name
    return {}, ""


def with_repo_settings(options: Options, table: dict[str, Any], source: str) -> Options:
    """Fill the options the user left unset from the repository's settings."""
    if not table:
        return options
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise UsageError(f"{source}: unknown [tool.repro] keys: {', '.join(unknown)}")
    changes: dict[str, Any] = {}
    if options.smoke is None and isinstance(table.get("smoke"), str):
        changes["smoke"] = table["smoke"]
        where = "[tool.repro] smoke" if source == "pyproject.toml" else "smoke"
        changes["smoke_origin"] = f"{where} in {source}"
    if options.python is None and table.get("python") is not None:
        changes["python"] = str(table["python"])
    if not options.pins and isinstance(table.get("pins"), list):
        changes["pins"] = tuple(str(p) for p in table["pins"])
    if options.as_of is None and table.get("as-of") is not None:
        value = table["as-of"]
        try:
            changes["as_of"] = (
                value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
            )
        except ValueError:
            raise UsageError(f"{source}: as-of must be a date such as 2019-06-01") from None
    if options.cuda is None and table.get("cuda") is not None:
        changes["cuda"] = str(table["cuda"])
    if not options.cpu and table.get("cpu") is True:
        changes["cpu"] = True
    if options.base_image is None and isinstance(table.get("base-image"), str):
        changes["base_image"] = table["base-image"]
    return dataclasses.replace(options, **changes)
