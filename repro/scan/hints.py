"""Evidence weighed below declared files: Dockerfiles, install scripts, READMEs, CI configs.

What these files install is what the authors ran at some point, not a statement of what
the code needs: every requirement read here keeps its origin kind (``dockerfile``,
``script``, ``readme``, ``ci``) and infer treats it as a *hint* that needs corroboration
(an import it provides, or a declared file naming it). They are also where versions,
Python, CUDA and base-image facts often live; those become hints too.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path, PurePosixPath
from typing import Any

from repro.models import DeclaredRequirement, EvidenceKind, Hint, Origin, PythonHint
from repro.scan import declared as decl
from repro.scan import requirements as reqs
from repro.scan.commands import InstallCommand, find_commands
from repro.scan.files import read_or_warn, relative_inside


def read_commands(
    root: Path,
    rel: str,
    text: str,
    kind: EvidenceKind,
    out: decl.Declared,
    conda_map: dict[str, Any],
    *,
    first_line: int = 1,
    known_files: frozenset[str] = frozenset(),
) -> None:
    """Requirements and hints from the install commands in ``text`` (from file ``rel``)."""
    for command in find_commands(text, first_line):
        add_command(root, rel, command, kind, out, conda_map, known_files=known_files)


def add_command(
    root: Path,
    rel: str,
    command: InstallCommand,
    kind: EvidenceKind,
    out: decl.Declared,
    conda_map: dict[str, Any],
    *,
    known_files: frozenset[str] = frozenset(),
    detail: str = "",
) -> None:
    origin = Origin(kind=kind, path=rel, line=command.line, detail=detail or command.tool)
    if command.tool == "apt":
        for package in command.requirements:
            out.hints.append(Hint(topic="system-package", value=package, origin=origin))
        return
    if command.tool == "conda":
        for spec in command.requirements:
            if command.creates_env and not re.match(r"^[A-Za-z]", spec):
                continue
            decl.conda_dependency(out, spec, rel, command.line, conda_map, kind=kind)
        for file in command.files:
            _included_file(root, rel, file, out, known_files)
        return
    for topic, url in command.index_urls:
        out.hints.append(Hint(topic=topic, value=url, origin=origin))
    for path in command.editables:
        out.hints.append(Hint(topic="install-local", value=path, origin=origin))
    for file in command.files:
        _included_file(root, rel, file, out, known_files)
    for spec in command.requirements:
        req = reqs.parse_requirement(spec, origin)
        if isinstance(req, DeclaredRequirement) and req.name not in _INSTALLERS:
            out.requirements.append(req)


# ``pip install --upgrade pip setuptools wheel``: the installer itself, not a dependency.
_INSTALLERS = frozenset({"pip", "setuptools", "wheel", "uv"})


def _included_file(
    root: Path, rel: str, name: str, out: decl.Declared, known_files: frozenset[str]
) -> None:
    """``pip install -r deps.txt`` names a requirements file: read it as declared."""
    base = PurePosixPath(rel).parent
    for candidate in (base / name, PurePosixPath(name)):
        target = relative_inside(candidate.as_posix()) or None
        if target is None or target in known_files:
            continue
        if (root / target).is_file():
            result = reqs.RequirementsResult(visited=set(known_files))
            reqs.parse_file(root, target, result)
            out.requirements += result.requirements
            out.hints += result.hints
            out.warnings += result.warnings
            return


# --------------------------------------------------------------------------- Dockerfiles

_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", re.I)
_ENV_PYTHONPATH = re.compile(r"PYTHONPATH[= ]\s*[\"']?([^\s\"']+)")


def read_dockerfile(
    root: Path,
    rel: str,
    conda_map: dict[str, Any],
    image_hints: dict[str, Any],
    known_files: frozenset[str],
) -> decl.Declared:
    out = decl.Declared()
    text = read_or_warn(root, rel, out.warnings)
    if text is None:
        return out
    for number, line in enumerate(text.splitlines(), start=1):
        m = _FROM.match(line)
        if m:
            image_evidence(
                m.group(1), Origin(kind="dockerfile", path=rel, line=number), image_hints, out
            )
        p = _ENV_PYTHONPATH.search(line)
        if p and line.lstrip().upper().startswith(("ENV", "ARG", "RUN")):
            _pythonpath(p.group(1), rel, number, "dockerfile", out)
    read_commands(root, rel, text, "dockerfile", out, conda_map, known_files=known_files)
    return out


def image_evidence(
    image: str, origin: Origin, image_hints: dict[str, Any], out: decl.Declared
) -> None:
    """What a base image says: a framework at a version, a Python, a CUDA release."""
    if "$" in image:
        return
    ref = image.split("@")[0]
    name, tag = ref.rsplit(":", 1) if ":" in ref.rsplit("/", 1)[-1] else (ref, "latest")
    out.hints.append(Hint(topic="base-image", value=image, origin=origin))
    for rule in image_hints.get("images", []):
        if name not in rule.get("repositories", []):
            continue
        version = _search(rule.get("version"), tag)
        if rule.get("dist") and version:
            dist = str(rule["dist"])
            gpu = rule.get("gpu")
            if isinstance(gpu, dict) and gpu.get("tag", "-gpu") in tag:
                below = gpu.get("dist_below")
                if not below or _version_tuple(version) < _version_tuple(str(below)):
                    dist = str(gpu.get("dist", dist))
            spec = f"=={version}" if version.count(".") >= 2 else f"=={version}.*"
            detail = f"FROM {image}"
            req = reqs.parse_requirement(
                f"{dist}{spec}",
                Origin(kind=origin.kind, path=origin.path, line=origin.line, detail=detail),
            )
            if isinstance(req, DeclaredRequirement):
                out.requirements.append(req)
        for topic in ("cuda", "cudnn"):
            value = _search(rule.get(topic), tag)
            if value:
                out.hints.append(Hint(topic=topic, value=value, origin=origin))
        py = _search(rule.get("python"), tag)
        if py:
            out.python.append(PythonHint(specifier=f"=={py}.*", origin=origin, strength="hint"))
        for marker, specifier in (rule.get("python_tags") or {}).items():
            if marker in tag:
                out.python.append(PythonHint(specifier=specifier, origin=origin, strength="hint"))
                break
        else:
            old = rule.get("python_untagged_below")
            if (
                isinstance(old, dict)
                and version
                and _version_tuple(version) < _version_tuple(str(old.get("version", "0")))
            ):
                out.python.append(
                    PythonHint(specifier=str(old["specifier"]), origin=origin, strength="hint")
                )
        if rule.get("flavour") and "devel" in tag:
            out.hints.append(Hint(topic="cuda-compile", value=image, origin=origin))
        break


def _search(pattern: Any, text: str) -> str:
    if not isinstance(pattern, str):
        return ""
    m = re.search(pattern, text)
    return m.group(1) if m else ""


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def _pythonpath(value: str, rel: str, line: int, kind: EvidenceKind, out: decl.Declared) -> None:
    """Folders put on PYTHONPATH hold the repository's own modules."""
    for part in value.split(":"):
        part = part.strip().rstrip("/")
        if not part or "$" in part:
            continue
        part = re.sub(r"^(?:/app|/workspace|/code|/src|/repo|/project)(?=/|$)", ".", part)
        if part.startswith("/"):
            continue
        origin = Origin(kind=kind, path=rel, line=line, detail="PYTHONPATH")
        out.hints.append(Hint(topic="package-dir", value=part.lstrip("./") or ".", origin=origin))


# --------------------------------------------------------------------------- install scripts

_EXPORT_PYTHONPATH = re.compile(r"(?:export\s+)?PYTHONPATH=[\"']?([^\s\"';]+)")


def read_script(
    root: Path, rel: str, conda_map: dict[str, Any], known_files: frozenset[str]
) -> decl.Declared:
    out = decl.Declared()
    text = read_or_warn(root, rel, out.warnings)
    if text is None:
        return out
    read_commands(root, rel, text, "script", out, conda_map, known_files=known_files)
    for number, line in enumerate(text.splitlines(), start=1):
        m = _EXPORT_PYTHONPATH.search(line)
        if m:
            _pythonpath(m.group(1), rel, number, "script", out)
    return out


# --------------------------------------------------------------------------- READMEs

_FENCE = re.compile(r"^\s*(```|~~~)")
_REQ_HEADING = re.compile(
    r"requirement|dependenc|prerequisite|install|environment|setup|getting started|usage", re.I
)
_BULLET = re.compile(
    r"^\s*(?:[-*+]|\d+\.)\s+(?:\*\*)?\[?`?([A-Za-z][\w.\-]*)`?\]?(?:\([^)]*\))?(?:\*\*)?"
    r"\s*(?:\(?\s*(?:version\s*)?(==|>=|<=|~=|>|<|=|≥)?\s*v?(\d+(?:\.\d+){0,2})(\.x|\+)?)?"
)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")


def read_readme(
    root: Path,
    rel: str,
    conda_map: dict[str, Any],
    known_files: frozenset[str],
    known_name: Any,
) -> decl.Declared:
    """``pip install``/``conda install`` in code (fenced, indented, inline, ``$`` prompts)
    and ``- PyTorch >= 1.4`` bullets under a Requirements/Installation heading."""
    out = decl.Declared()
    text = read_or_warn(root, rel, out.warnings)
    if text is None:
        return out
    lines = text.splitlines()
    in_fence = False
    in_req_section = False
    rst_literal = False
    for number, line in enumerate(lines, start=1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        stripped = line.strip()
        heading = re.match(r"^\s{0,3}#{1,6}\s+(.*)$", line)
        underline = (
            number < len(lines)
            and re.match(r"^(=+|-+|~+|\^+)\s*$", lines[number])
            and stripped
            and not in_fence
        )
        if not in_fence and (heading or underline):
            title = heading.group(1) if heading else stripped
            in_req_section = bool(_REQ_HEADING.search(title))
            continue
        is_code = in_fence or line.startswith(("    ", "\t")) or stripped.startswith(("$ ", "> $"))
        if rel.lower().endswith(".rst") and not in_fence:
            if rst_literal and stripped and not line.startswith((" ", "\t")):
                rst_literal = False
            is_code = is_code or rst_literal
            if stripped.endswith("::"):
                rst_literal = True
        code_parts = [line] if is_code else [m.group(1) for m in _INLINE_CODE.finditer(line)]
        for part in code_parts:
            read_commands(
                root,
                rel,
                part,
                "readme",
                out,
                conda_map,
                first_line=number,
                known_files=known_files,
            )
        if in_req_section and not in_fence and not is_code:
            _bullet(line, rel, number, out, known_name)
    return out


def _series(version: str) -> str:
    """``3.6`` or ``3.6.9`` → ``==3.6.*``; ``3`` → ``==3.*``."""
    parts = version.split(".")
    return f"=={'.'.join(parts[:2])}.*"


_PY_ALTERNATIVE = re.compile(
    r"(?<![\w.])v?([23])(?:\.(\d+|x))?(?:\.\d+)?\s*(\+|or (?:later|newer|above|higher)|and "
    r"(?:later|newer|above|up))?"
)
_PY_JOINED = re.compile(r"^\s*(?:or|/|,|and|\||&)\s*$")


def _python_alternatives(text: str) -> str | None:
    """``Python 2.7 or 3.5+`` (``2.7/3.6``, ``2.7, 3.x``, ``2.7 or later``): versions named
    as alternatives, as one specifier (``>=2.7,!=3.0.*,...,!=3.4.*``), or None for a single
    version. Read alone, the first would send code written for both majors to Python 2."""
    text = re.sub(r"\]\([^)]*\)", " ", text)  # a link's target is no version
    text = re.sub(r"(?i)\bpython\s*", " ", text)
    found = list(_PY_ALTERNATIVE.finditer(text))
    if len(found) == 1 and (found[0].group(3) or "").startswith(("or ", "and ")):
        minor = found[0].group(2)  # "Python 2.7 or later"
        return f">={found[0].group(1)}.{minor}" if minor and minor != "x" else None
    if len(found) < 2:
        return None
    for before, after in itertools.pairwise(found):
        if not _PY_JOINED.match(text[before.end() : after.start()]):
            return None
    spans: list[tuple[tuple[int, int], tuple[int, int] | None]] = []
    for item in found:
        major, minor, open_ = int(item.group(1)), item.group(2), bool(item.group(3))
        if minor in (None, "x"):
            spans.append(((major, 0), (major + 1, 0)))
        else:
            low = (major, int(minor))
            spans.append((low, None if open_ else (major, int(minor) + 1)))
    spans.sort()
    low = spans[0][0]
    highs = [high for _, high in spans]
    parts = [f">={low[0]}.{low[1]}"]
    if None not in highs:
        top = max(h for h in highs if h is not None)
        parts.append(f"<{top[0]}.{top[1]}")
    # the minors between one alternative's end and the next one's start are not allowed
    for (_, end), (start, _) in itertools.pairwise(spans):
        if end is None or end >= start:
            continue
        major, minor = end
        if major < start[0]:  # another major: the gap is its minors below the start
            major, minor = start[0], 0
        parts += [f"!={major}.{m}.*" for m in range(minor, start[1])]
    return ",".join(parts)


def _bullet(line: str, rel: str, number: int, out: decl.Declared, known_name: Any) -> None:
    m = _BULLET.match(line)
    if not m:
        return
    raw, op, version, suffix = m.group(1), m.group(2) or "", m.group(3) or "", m.group(4) or ""
    origin = Origin(kind="readme", path=rel, line=number, detail=line.strip()[:60])
    if op == "<" and version == "3" and not suffix and line[m.start(2) : m.end(3)] == "<3":
        op, version = "", ""  # "- [numpy](...) <3": a heart, not a bound
    if op == "≥" or suffix == "+":
        op = ">="
    if raw.lower() == "python":
        either = _python_alternatives(line[m.start(1) :])
        if either:
            out.python.append(PythonHint(specifier=either, origin=origin, strength="hint"))
        elif version:
            spec = f"{op}{version}" if op and op not in ("=", "==") else _series(version)
            out.python.append(PythonHint(specifier=spec, origin=origin, strength="hint"))
        return
    if raw.lower() in ("cuda", "cudnn"):
        if version:
            out.hints.append(Hint(topic=raw.lower(), value=version, origin=origin))
        return
    name = known_name(raw)
    if not name:
        return
    spec = ""
    if version:
        if op and op not in ("=", "=="):
            spec = f"{op}{version}"
        elif suffix == ".x" or version.count(".") < 2:
            spec = f"=={version}.*"
        else:
            spec = f"=={version}"
    req = reqs.parse_requirement(f"{name}{spec}", origin)
    if isinstance(req, DeclaredRequirement):
        out.requirements.append(req)


# --------------------------------------------------------------------------- CI configs


def read_ci(
    root: Path, rel: str, conda_map: dict[str, Any], known_files: frozenset[str]
) -> decl.Declared:
    """Install commands in a CI configuration and tox ``deps``. (The Pythons a CI matrix
    or a tox envlist tests are read by repro/scan/pyhints.py.)"""
    out = decl.Declared()
    text = read_or_warn(root, rel, out.warnings)
    if text is None:
        return out
    read_commands(root, rel, text, "ci", out, conda_map, known_files=known_files)
    if rel.lower().endswith("tox.ini"):
        _tox_deps(rel, text, out)
    return out


def _tox_deps(rel: str, text: str, out: decl.Declared) -> None:
    in_deps = False
    for number, line in enumerate(text.splitlines(), start=1):
        m = re.match(r"^\s*deps\s*=\s*(.*)$", line)
        if m:
            in_deps = True
            value = m.group(1)
        elif in_deps and line.startswith((" ", "\t")) and line.strip():
            value = line
        else:
            in_deps = False
            continue
        value = value.strip()
        if not value or value.startswith(("-", "{", "#")):
            continue
        origin = Origin(kind="ci", path=rel, line=number, detail="tox deps")
        req = reqs.parse_requirement(value, origin)
        if isinstance(req, DeclaredRequirement):
            out.requirements.append(req)
