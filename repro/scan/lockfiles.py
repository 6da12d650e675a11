"""Pipfile and lock files: Pipfile.lock, poetry.lock, uv.lock, pdm.lock.

A Pipfile is a declaration like requirements.txt (``[dev-packages]`` optional). A lock
file lists every package of a solved environment, direct and transitive, each at one
version. Beside its manifest (Pipfile for Pipfile.lock, pyproject.toml for the others)
a lock only pins: its entries come out in the ``lock`` group, which infer uses to pin
requirements found elsewhere and never to add new ones. Without its manifest the lock is
the only declaration left: its runtime packages (uv: the root project's direct
dependencies) are requirements.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path, PurePosixPath
from typing import Any

from repro.models import DeclaredRequirement, Hint, Origin, PythonHint
from repro.scan import requirements as reqs
from repro.scan.declared import Declared, Lines, poetry_constraint
from repro.scan.files import read_or_warn

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_MANIFEST = {
    "pipfile.lock": "Pipfile",
    "poetry.lock": "pyproject.toml",
    "uv.lock": "pyproject.toml",
    "pdm.lock": "pyproject.toml",
}


def _load_toml(text: str, rel: str, out: Declared) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
        out.warnings.append(f"{rel}: invalid TOML ({str(exc).splitlines()[0]}), skipped")
        return None


def _add(
    out: Declared,
    text: str,
    origin: Origin,
    *,
    optional: bool = False,
    group: str = "",
) -> None:
    req = reqs.parse_requirement(text, origin, optional=optional)
    if isinstance(req, str):
        out.warnings.append(f"{origin}: {req}, skipped")
        return
    out.requirements.append(
        DeclaredRequirement(
            requirement=req.requirement,
            name=req.name,
            origin=origin,
            optional=optional,
            editable=req.editable,
            group=group,
        )
    )


# --------------------------------------------------------------------------- Pipfile


def read_pipfile(root: Path, rel: str) -> Declared:
    out = Declared()
    text = read_or_warn(root, rel, out.warnings)
    if text is None:
        return out
    doc = _load_toml(text, rel, out)
    if doc is None:
        return out
    lines = Lines(text)
    for section, optional in (("packages", False), ("dev-packages", True)):
        table = doc.get(section)
        if not isinstance(table, dict):
            continue
        start = lines.section(section)
        for name, spec in table.items():
            origin = Origin(
                kind="pipfile", path=rel, line=lines.key(str(name), start), detail=section
            )
            line = _pipfile_requirement(str(name), spec)
            if line:
                _add(out, line, origin, optional=optional, group="dev" if optional else "")
    requires = doc.get("requires")
    if isinstance(requires, dict):
        start = lines.section("requires")
        for key in ("python_full_version", "python_version"):
            value = requires.get(key)
            if isinstance(value, str) and re.match(r"^\d+(\.\d+)*$", value):
                origin = Origin(kind="pipfile", path=rel, line=lines.key(key, start), detail=key)
                spec = f"=={value}" if key == "python_full_version" else f"=={value}.*"
                out.python.append(PythonHint(specifier=spec, origin=origin))
                break
    sources = doc.get("source")
    for source in sources if isinstance(sources, list) else []:
        if isinstance(source, dict) and isinstance(source.get("url"), str):
            if str(source.get("name", "")).lower() in ("pypi", "default"):
                continue
            origin = Origin(
                kind="pipfile", path=rel, line=lines.find(source["url"]), detail="source"
            )
            out.hints.append(Hint(topic="index-url", value=source["url"], origin=origin))
    return out


def _pipfile_requirement(name: str, spec: Any) -> str:
    """A Pipfile entry → PEP 508 text (``"*"``, ``"==1.0"``, ``{version=, extras=, git=}``)."""
    if isinstance(spec, str):
        return name if spec.strip() in ("*", "") else f"{name}{spec.strip()}"
    if not isinstance(spec, dict):
        return name
    extras = [e for e in spec.get("extras", []) if isinstance(e, str)]
    head = f"{name}[{','.join(extras)}]" if extras else name
    if isinstance(spec.get("git"), str):
        ref = spec.get("ref") or spec.get("tag") or spec.get("branch")
        url = f"git+{spec['git']}" if not spec["git"].startswith("git+") else spec["git"]
        return f"{head} @ {url}@{ref}" if ref else f"{head} @ {url}"
    if isinstance(spec.get("path"), str) or isinstance(spec.get("file"), str):
        return ""  # a local path: the repository itself
    version = spec.get("version", "*")
    text = head if not isinstance(version, str) or version.strip() in ("*", "") else head + version
    markers = spec.get("markers")
    return f"{text}; {markers}" if isinstance(markers, str) and markers else text


# --------------------------------------------------------------------------- lock files


def read_lock(root: Path, rel: str) -> Declared:
    """Any supported lock file, its role decided by whether its manifest is beside it."""
    out = Declared()
    text = read_or_warn(root, rel, out.warnings)
    if text is None:
        return out
    name = PurePosixPath(rel).name.lower()
    manifest = PurePosixPath(rel).parent / _MANIFEST.get(name, "")
    pins_only = (root / manifest).is_file()
    if name == "pipfile.lock":
        _pipfile_lock(rel, text, out, pins_only)
    elif name in ("poetry.lock", "pdm.lock"):
        _package_lock(rel, text, out, pins_only, name)
    elif name == "uv.lock":
        _uv_lock(rel, text, out, pins_only)
    return out


def _pin(
    out: Declared,
    name: str,
    version: str,
    origin: Origin,
    *,
    pins_only: bool,
    runtime: bool,
    marker: str = "",
) -> None:
    if not name or not isinstance(version, str) or not version:
        return
    spec = version if version.startswith(("=", "<", ">", "!", "~")) else f"=={version}"
    text = f"{name}{spec}" + (f"; {marker}" if marker else "")
    if pins_only or not runtime:
        _add(out, text, origin, optional=True, group="lock")
    else:
        _add(out, text, origin)


def _pipfile_lock(rel: str, text: str, out: Declared, pins_only: bool) -> None:
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        out.warnings.append(f"{rel}: invalid JSON ({exc.__class__.__name__}), skipped")
        return
    if not isinstance(doc, dict):
        out.warnings.append(f"{rel}: not a Pipfile.lock, skipped")
        return
    lines = Lines(text)
    meta = doc.get("_meta") if isinstance(doc.get("_meta"), dict) else {}
    assert isinstance(meta, dict)
    requires = meta.get("requires")
    if isinstance(requires, dict) and isinstance(requires.get("python_version"), str):
        origin = Origin(kind="lock", path=rel, line=lines.find('"python_version"'))
        out.python.append(PythonHint(specifier=f"=={requires['python_version']}.*", origin=origin))
    for section, runtime in (("default", True), ("develop", False)):
        table = doc.get(section)
        if not isinstance(table, dict):
            continue
        start = (lines.find(f'"{section}"') or 1) - 1
        for name, entry in table.items():
            if not isinstance(entry, dict):
                continue
            origin = Origin(
                kind="lock", path=rel, line=lines.find(f'"{name}"', start), detail=section
            )
            if isinstance(entry.get("git"), str):
                ref = entry.get("ref")
                url = f"git+{entry['git']}" + (f"@{ref}" if isinstance(ref, str) else "")
                if not pins_only and runtime:
                    _add(out, f"{name} @ {url}", origin)
                continue
            marker = str(entry["markers"]) if isinstance(entry.get("markers"), str) else ""
            _pin(
                out, str(name), str(entry.get("version", "")), origin,
                pins_only=pins_only, runtime=runtime, marker=marker,
            )  # fmt: skip


def _package_lock(rel: str, text: str, out: Declared, pins_only: bool, kind: str) -> None:
    """poetry.lock and pdm.lock: ``[[package]]`` tables with a name, a version and groups."""
    doc = _load_toml(text, rel, out)
    if doc is None:
        return
    lines = Lines(text)
    packages = doc.get("package")
    cursor = 0
    for package in packages if isinstance(packages, list) else []:
        if not isinstance(package, dict):
            continue
        name = str(package.get("name", ""))
        line = lines.find(f'name = "{name}"', cursor)
        cursor = line or cursor
        category = package.get("category")
        groups = package.get("groups")
        if isinstance(groups, list):
            runtime = any(g in ("main", "default") for g in groups)
        else:
            runtime = category in (None, "main")
        origin = Origin(kind="lock", path=rel, line=line, detail=kind)
        _pin(
            out, name, str(package.get("version", "")), origin, pins_only=pins_only, runtime=runtime
        )
    meta = doc.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("python-versions"), str):
        spec = poetry_constraint(meta["python-versions"])
        if spec:
            origin = Origin(kind="lock", path=rel, line=lines.find("python-versions"))
            out.python.append(PythonHint(specifier=spec, origin=origin))


def _uv_lock(rel: str, text: str, out: Declared, pins_only: bool) -> None:
    doc = _load_toml(text, rel, out)
    if doc is None:
        return
    lines = Lines(text)
    packages = [p for p in doc.get("package", []) if isinstance(p, dict)]
    roots = [
        p
        for p in packages
        if isinstance(p.get("source"), dict) and ({"editable", "virtual"} & set(p["source"]))
    ]
    direct: set[str] = set()
    for root_pkg in roots:
        out.hints.append(
            Hint(
                topic="project-name",
                value=str(root_pkg.get("name", "")),
                origin=Origin(kind="lock", path=rel),
            )
        )
        for dep in root_pkg.get("dependencies", []) or []:
            if isinstance(dep, dict) and isinstance(dep.get("name"), str):
                direct.add(dep["name"])
    root_names = {str(p.get("name")) for p in roots}
    cursor = 0
    for package in packages:
        name = str(package.get("name", ""))
        line = lines.find(f'name = "{name}"', cursor)
        cursor = line or cursor
        if name in root_names:
            continue
        origin = Origin(kind="lock", path=rel, line=line, detail="uv.lock")
        source = package.get("source") if isinstance(package.get("source"), dict) else {}
        assert isinstance(source, dict)
        if isinstance(source.get("git"), str) and name in direct and not pins_only:
            _add(out, f"{name} @ git+{source['git']}", origin)
            continue
        runtime = name in direct if roots else True
        _pin(
            out, name, str(package.get("version", "")), origin, pins_only=pins_only, runtime=runtime
        )
    if isinstance(doc.get("requires-python"), str):
        origin = Origin(kind="lock", path=rel, line=lines.key("requires-python"))
        out.python.append(PythonHint(specifier=doc["requires-python"], origin=origin))
