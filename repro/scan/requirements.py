"""requirements.txt files: pip's format, read without pip.

Handles ``-r``/``-c`` includes (relative to the including file, cycles ignored), line
continuations, comments, ``--hash`` options, environment markers, ``-e`` paths and VCS
URLs, ``name @ url`` and ``git+...#egg=name`` lines, and index options
(``-i``/``--extra-index-url``/``-f``), which become hints.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from repro.models import DeclaredRequirement, Hint, Origin
from repro.scan.files import read_or_warn, relative_inside

_OPTIONAL_FILE = re.compile(
    r"(^|[-_./])(dev|test|tests|testing|docs?|lint|style|ci)([-_.]|$)", re.I
)
# The same requirements for a platform the image is not (requirements-tpu.txt beside
# requirements.txt, requirements-macos.txt): alternatives, not additions.
_PLATFORM_FILE = re.compile(
    r"(^|[-_./])(tpu|rocm|mac|macos|osx|apple|m1|mps|windows|win|win32|win64)([-_.]|$)", re.I
)
_EGG = re.compile(r"#(?:.*&)?egg=([A-Za-z0-9_.\-\[\],]+)")
_INDEX_OPTIONS = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links"}
_IGNORED_OPTIONS_WITH_VALUE = {
    "--no-binary",
    "--only-binary",
    "--trusted-host",
    "--use-feature",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--progress-bar",
    "--prefer-binary",
    "--config-settings",
    "--global-option",
    "--install-option",
}


@dataclass
class RequirementsResult:
    requirements: list[DeclaredRequirement] = field(default_factory=list)
    hints: list[Hint] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    visited: set[str] = field(default_factory=set)


def is_optional_file(rel: str) -> bool:
    """requirements-dev.txt, docs/requirements.txt, ... : not needed to run the code;
    requirements-tpu.txt, requirements-macos.txt, ...: for a platform the image is not."""
    rest = rel.lower().replace("requirements", "")
    name = PurePosixPath(rel).name.lower().replace("requirements", "")
    return bool(_OPTIONAL_FILE.search(rest) or _PLATFORM_FILE.search(name))


def parse_file(
    root: Path, rel: str, result: RequirementsResult, *, constraint: bool = False
) -> None:
    """Parse ``rel`` (relative to ``root``) and its includes into ``result``."""
    if rel in result.visited:
        return
    result.visited.add(rel)
    text = read_or_warn(root, rel, result.warnings)
    if text is None:
        return
    optional = is_optional_file(rel)
    for lineno, line in _logical_lines(text):
        _parse_line(root, rel, lineno, line, result, optional=optional, constraint=constraint)


def parse_text(text: str, rel: str, *, kind: str = "requirements") -> RequirementsResult:
    """Parse requirement lines that do not come from a file of their own (e.g. a pip: list)."""
    result = RequirementsResult()
    for lineno, line in _logical_lines(text):
        _parse_line(Path("."), rel, lineno, line, result, optional=False, constraint=False)
    return result


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    buf, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not buf:
            start = number
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            yield start, buf.strip()
        buf = ""
    if buf.strip():
        yield start, buf.strip()


def _parse_line(
    root: Path,
    rel: str,
    lineno: int,
    line: str,
    result: RequirementsResult,
    *,
    optional: bool,
    constraint: bool,
) -> None:
    origin = Origin(kind="requirements", path=rel, line=lineno)
    if line.startswith("-"):
        _parse_option(root, rel, lineno, line, result, optional=optional)
        return
    line = re.sub(r"\s--hash[= ]\S+", "", line).strip()
    req = parse_requirement(line, origin, optional=optional)
    if isinstance(req, str):
        result.warnings.append(f"{rel}:{lineno}: {req}, skipped")
        return
    if constraint:
        req = DeclaredRequirement(
            requirement=req.requirement,
            name=req.name,
            origin=origin,
            optional=True,
            group="constraint",
        )
    result.requirements.append(req)


def parse_requirement(
    line: str, origin: Origin, *, optional: bool = False, editable: bool = False
) -> DeclaredRequirement | str:
    """One requirement: a :class:`DeclaredRequirement`, or a reason it cannot be read."""
    line = line.strip()
    if _is_url(line):
        egg = _EGG.search(line)
        name = canonicalize_name(re.sub(r"\[.*\]", "", egg.group(1))) if egg else ""
        return DeclaredRequirement(
            requirement=line, name=name, origin=origin, optional=optional, editable=editable
        )
    if line.startswith((".", "/")) or line.endswith((".whl", ".tar.gz", ".zip")):
        return f"local path {line!r} cannot be resolved outside the repository"
    try:
        parsed = Requirement(line)
    except InvalidRequirement as exc:
        return f"cannot parse {line!r} ({str(exc).splitlines()[0]})"
    return DeclaredRequirement(
        requirement=str(parsed),
        name=canonicalize_name(parsed.name),
        origin=origin,
        optional=optional,
        editable=editable,
    )


def _is_url(line: str) -> bool:
    return bool(re.match(r"^(git|hg|svn|bzr)\+|^https?://|^file:", line))


def _parse_option(
    root: Path, rel: str, lineno: int, line: str, result: RequirementsResult, *, optional: bool
) -> None:
    try:
        parts = shlex.split(line.replace("=", " ", 1) if line.startswith("--") else line)
    except ValueError:
        parts = line.split()
    if len(parts) == 1 and len(parts[0]) > 2 and parts[0][:2] in ("-r", "-c", "-e", "-i", "-f"):
        parts = [parts[0][:2], parts[0][2:]]
    opt, value = parts[0], " ".join(parts[1:])
    origin = Origin(kind="requirements", path=rel, line=lineno)
    if opt in ("-r", "--requirement", "-c", "--constraint"):
        target = relative_inside((PurePosixPath(rel).parent / value).as_posix()) or None
        if target is None or not (root / target).is_file():
            result.warnings.append(f"{rel}:{lineno}: included file {value!r} not found, skipped")
            return
        parse_file(root, target, result, constraint=opt in ("-c", "--constraint"))
    elif opt in ("-e", "--editable"):
        if _is_url(value):
            req = parse_requirement(value, origin, optional=optional, editable=True)
            if isinstance(req, str):
                result.warnings.append(f"{rel}:{lineno}: {req}, skipped")
            else:
                result.requirements.append(req)
        else:
            result.hints.append(Hint(topic="install-local", value=value, origin=origin))
    elif opt in _INDEX_OPTIONS:
        if optional:  # the index of a file not installed (a TPU wheel index, a dev mirror)
            return
        topic = "find-links" if opt in ("-f", "--find-links") else "index-url"
        result.hints.append(Hint(topic=topic, value=value, origin=origin))
    elif opt in _IGNORED_OPTIONS_WITH_VALUE or opt.startswith("--"):
        return
    else:
        result.warnings.append(f"{rel}:{lineno}: unknown option {opt!r}, skipped")
