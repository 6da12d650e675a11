"""Read a failed image build's log: which step, which package, what went wrong (pure).

``classify(log)`` → :class:`BuildFailure`. The log is the builder's own output (BuildKit's
``--progress=plain``, or the classic builder's ``Step N/M``); only the failing step's
lines are read. The failure is sorted into a kind, most specific first:

* ``missing-compiler`` / ``missing-program``: a compiler (gcc, g++, gfortran, rustc, cargo)
  or another program a build runs (make, cmake, swig, pkg-config, git, pg_config,
  gdal-config, mysql_config, ...) is not on PATH;
* ``missing-header``: ``fatal error: ffi.h: No such file or directory``;
* ``missing-pkgconfig``: pkg-config (or meson) does not know a module (``cairo``);
* ``missing-library``: the linker cannot find ``-lfoo``;
* ``compile-error``: the compiler ran and the package's code did not compile;
* ``sdist-unbuildable``: the source distribution cannot be built at all here (its
  ``setup.py`` fails on this Python, its metadata is rejected);
* ``build-dependency``: the build needs a package it does not declare (numpy);
* ``no-distribution``: no release file installs on this Python;
* ``not-found``: the index has no such package (or no release at all);
* ``resolver-conflict``: the requirements cannot be satisfied together;
* ``network`` / ``certificate``: a host did not answer, or its certificate was refused;
* ``apt-package``: ``apt-get`` does not know a package;
* ``build-error``: anything else.

Each failure names the package being built (when the log says), the command that failed
(in a form a user can read, never the raw ``RUN --mount=...``) and the few lines that
matter. Which package provides a missing file is not decided here (``repro/contents.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from repro.models import JSON

BuildFailureKind = Literal[
    "missing-compiler",
    "missing-program",
    "missing-header",
    "missing-pkgconfig",
    "missing-library",
    "compile-error",
    "sdist-unbuildable",
    "build-dependency",
    "no-distribution",
    "not-found",
    "resolver-conflict",
    "network",
    "certificate",
    "apt-package",
    "build-error",
]
HostClass = Literal["index", "vcs", "apt", "crates", "other", ""]


@dataclass(frozen=True, kw_only=True)
class Conflict:
    """One requirement a resolver named in a conflict, as it named it."""

    name: str  # "urllib3"
    specifier: str  # "==1.20"
    by: str = ""  # "" (the user's requirements), or the package that requires it


@dataclass(frozen=True, kw_only=True)
class BuildFailure:
    """What a failed build's log says went wrong."""

    kind: BuildFailureKind
    line: str  # the line that names the problem
    subject: str = ""  # program, header, pkg-config module, library, host, apt package
    package: str = ""  # the distribution being built or installed ("netifaces")
    version: str = ""  # its version, when the log says ("0.11.0")
    step: str = ""  # what the step was doing ("installing the requirements")
    command: str = ""  # the command that failed, readable ("uv pip install -r ...")
    excerpt: tuple[str, ...] = ()  # the few lines that matter, in log order
    host_class: HostClass = ""  # network/certificate: which kind of host
    conflicts: tuple[Conflict, ...] = ()  # resolver-conflict: the requirements named

    def summary(self) -> str:
        """One line: what failed, for whom."""
        what = f"{self.package}=={self.version}" if self.package and self.version else self.package
        return f"{what}: {self.line}" if what else self.line

    def to_json(self) -> JSON:
        return {
            "kind": self.kind,
            "line": self.line,
            "subject": self.subject,
            "package": self.package,
            "version": self.version,
            "step": self.step,
            "command": self.command,
            "excerpt": list(self.excerpt),
        }


# --------------------------------------------------------------------------- the step

_BK_STEP = re.compile(r"^#(?P<id>\d+) \[(?P<stage>[^\]]*)\] (?P<cmd>.*)$")
_BK_LINE = re.compile(r"^#(?P<id>\d+) (?:\d+\.\d+ )?(?P<text>.*)$")
_BK_ERROR = re.compile(r"^#(?P<id>\d+) ERROR: ")
_CLASSIC_STEP = re.compile(r"^Step \d+/\d+ : (?P<cmd>.*)$")
_CLASSIC_END = re.compile(r"^The command .* returned a non-zero code|^Removing intermediate")


@dataclass(frozen=True)
class _Step:
    command: str  # the Dockerfile instruction as the builder printed it
    lines: tuple[str, ...]  # its output, prefixes removed


def failing_step(log: str) -> _Step:
    """The step whose failure ended the build, and its output (the whole log when the
    builder's format is not recognised)."""
    lines = log.splitlines()
    errors = [m.group("id") for ln in lines if (m := _BK_ERROR.match(ln))]
    if errors:
        sid = errors[-1]
        command = ""
        out: list[str] = []
        for ln in lines:
            step = _BK_STEP.match(ln)
            if step and step.group("id") == sid:
                command = step.group("cmd")
                continue
            m = _BK_LINE.match(ln)
            if m and m.group("id") == sid and not _BK_ERROR.match(ln):
                text = m.group("text")
                if not re.match(r"^(?:DONE|CACHED|\.\.\.)\b", text):
                    out.append(text)
        return _Step(command=command, lines=tuple(out))
    command, out, seen = "", [], False
    for ln in lines:
        m = _CLASSIC_STEP.match(ln)
        if m:
            command, out, seen = m.group("cmd"), [], True
            continue
        if seen and not ln.startswith(" ---> "):
            out.append(ln)
    if seen:
        return _Step(command=command, lines=tuple(ln for ln in out if not _CLASSIC_END.match(ln)))
    return _Step(command="", lines=tuple(lines))


def describe_step(command: str) -> tuple[str, str]:
    """(what the step does, the command a user would have typed) for a Dockerfile
    instruction as the builder printed it: mounts, secrets and shell set-up dropped."""
    text = re.sub(r"\s+", " ", command).strip()
    text = re.sub(r"^RUN (?:--mount=\S+ )*", "", text)
    body = re.sub(r"^/bin/sh -c ", "", text)
    # repro's own preamble: CA and pip configuration from the build secrets
    body = re.sub(r"if \[ -f /run/secrets/.*?; fi;\s*", "", body)
    body = re.sub(r"^set -e; ", "", body).strip()
    commands = [c.strip() for c in re.split(r"\s(?:&&|;)\s", body) if c.strip()]
    installs = [c for c in commands if re.search(r"\b(?:pip|uv)\b.* install\b|apt-get install", c)]
    # the install of a requirements file, after any install of what it needs first
    main = next(
        (c for c in reversed(installs) if " -r " in c),
        installs[0] if installs else (commands[-1] if commands else body),
    )
    short = re.sub(r"/opt/repro/uv/bin/uv\b", "uv", main)
    short = re.sub(r" --python /opt/venv/bin/python| --exclude-newer \S+", "", short)
    short = re.sub(r"DEBIAN_FRONTEND=\w+ ", "", short)
    if "apt-get install" in short:
        what = "installing system packages (apt)"
    elif "requirements-framework.txt" in short:
        what = "installing the frameworks"
    elif "requirements.txt" in short:
        what = "installing the requirements"
    elif re.search(r"\bvenv\b", short):
        what = "making the virtual environment"
    elif "uv==" in short:
        what = "installing the resolver (uv)"
    elif "build_ext" in short:
        what = "building the repository's extensions"
    else:
        what = "running a build step"
    return what, short[:200]


# --------------------------------------------------------------------------- the package

_UV_FAILED = re.compile(
    r"(?:error|×): Failed to (?:download and )?build `(?P<req>[^`]+)`"
    r"|(?:error|×): Failed to (?:download|install) `(?P<req2>[^`]+)`"
)
_PIP_BUILDING = re.compile(r"(?:Building wheel|Running setup\.py install) for (?P<name>[\w.-]+)")
_PIP_FAILED = re.compile(r"ERROR: Failed building wheel for (?P<name>[\w.-]+)")
_PIP_COLLECTING = re.compile(r"^\s*Collecting (?P<name>[\w.-]+)(?:==(?P<version>[\w.+!-]+))?")
_PIP_CMD_ERRORED = re.compile(r"/tmp/pip-[\w-]+/(?P<name>[\w.-]+?)(?:_[0-9a-f]{32})?/setup\.py")
_UV_BUILDING = re.compile(r"^\s*Building (?P<name>[\w.-]+)==(?P<version>[\w.+!-]+)$")


def _package(lines: Sequence[str]) -> tuple[str, str]:
    """(distribution, version) the failing command was building, as the log names it."""
    for ln in lines:
        m = _UV_FAILED.search(ln)
        if m:
            req = (m.group("req") or m.group("req2")).strip()
            name, _, rest = req.partition("==")
            if " @ " in req:
                return req.split(" @ ")[0].strip(), ""
            return name.strip(), rest.strip()
    failed = [m.group("name") for ln in lines if (m := _PIP_FAILED.search(ln))]
    name = failed[-1] if failed else ""
    if not name:
        errored = [m.group("name") for ln in lines if (m := _PIP_CMD_ERRORED.search(ln))]
        name = errored[-1] if errored else ""
    if not name:
        building = [m.group("name") for ln in lines if (m := _PIP_BUILDING.search(ln))]
        building += [m.group("name") for ln in lines if (m := _UV_BUILDING.match(ln))]
        name = building[-1] if building else ""
    if not name:  # pip stops at the package it was collecting
        collecting = [m.group("name") for ln in lines if (m := _PIP_COLLECTING.match(ln))]
        name = collecting[-1] if collecting else ""
    if not name:
        return "", ""
    key = _norm(name)
    version = ""
    for ln in lines:
        m = _PIP_COLLECTING.match(ln) or _UV_BUILDING.match(ln)
        if m and _norm(m.group("name")) == key and m.group("version"):
            version = m.group("version")
            name = m.group("name")
    return name, version


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- the kinds

_COMPILERS = re.compile(
    r"^(?:[\w-]+-linux-gnu-)?(?:gcc|g\+\+|cc|c\+\+|cpp|clang|clang\+\+|gfortran|f77|f95|"
    r"fortran|rustc|cargo|nvcc|cc1plus|cc1)(?:-\d+)?$"
)

# A program that is not on PATH: (pattern, group with its name)
_PROGRAM_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"command '(?:[\w/.-]*/)?(?P<prog>[\w.+-]+)' failed: No such file or directory"),
    re.compile(r"unable to execute '(?:[\w/.-]*/)?(?P<prog>[\w.+-]+)': No such file or directory"),
    re.compile(r"(?:/bin/)?sh: (?:\d+: )?(?:[\w/.-]*/)?(?P<prog>[\w.+-]+): (?:command )?not found"),
    re.compile(r"(?P<prog>[\w.+-]+): command not found"),
    re.compile(r"Error: (?P<prog>[\w.+-]+) executable not found"),
    re.compile(r"OSError: (?P<prog>[\w.+-]*config) not found"),
    re.compile(r"Could not (?:find|run) (?P<prog>[\w.+-]+-config)\b"),
    re.compile(r"'(?P<prog>pkg-config|pkgconf|cmake|swig|make|ninja|meson)' not found"),
    re.compile(r"Command '?(?P<prog>pkg-config|cmake|swig)'? not found"),
    re.compile(r"(?P<prog>[\w.+-]+): error trying to exec '(?P<sub>cc1plus|cc1)'"),
    re.compile(r"execvp: (?P<prog>[\w.+-]+): No such file or directory"),
)
_NAMED_PROGRAMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"can't find Rust compiler|could not find `?rustc`?", re.I), "rustc"),
    (re.compile(r"Cargo, the Rust package manager, is not installed", re.I), "cargo"),
    (re.compile(r"Git executable not found|git: not found|Cannot find command 'git'"), "git"),
    (
        re.compile(
            r"has Fortran sources but no Fortran compiler|don't know how to compile Fortran|"
            r"No Fortran compiler found|CMAKE_Fortran_COMPILER.*(?:NOTFOUND|could not be found)|"
            r"Unknown compiler\(s\): \[\['gfortran'\]"
        ),
        "gfortran",
    ),
    (
        re.compile(
            r"No CMAKE_CXX_COMPILER could be found|Unknown compiler\(s\): \[\['c\+\+'\]|"
            r"error trying to exec 'cc1plus'|cannot execute [‘'`]cc1plus[’'`]"
        ),
        "g++",
    ),
    (
        re.compile(
            r"No CMAKE_C_COMPILER could be found|Unknown compiler\(s\): \[\['cc'\]|"
            r"No working compiler found"
        ),
        "gcc",
    ),
    # the compiler runs but its assembler is missing (a compiler package installed without
    # the binutils it only recommends)
    (re.compile(r"(?:cannot execute|error trying to exec) [‘'`]as[’'`]"), "as"),
    (re.compile(r"CMake must be installed|Could not find CMake|cmake: not found"), "cmake"),
    (re.compile(r"Did not find pkg-config|pkg-config(?: binary)? not found", re.I), "pkg-config"),
)
_HEADER = re.compile(
    r"fatal error: (?P<q>['\"<]?)(?P<header>[\w./+-]+?)(?P=q)?[>'\"]?: No such file or directory"
    r"|fatal error: '(?P<header2>[\w./+-]+)' file not found"
    # a build script's own check (evdev: "The 'linux/input.h' and ... include files are
    # missing")
    r"|'(?P<header3>[\w./+-]+\.h)'(?: and '[\w./+-]+\.h')? (?:include files?|headers?) "
    r"(?:are|is) (?:missing|not found)"
)
_PKGCONFIG = re.compile(
    r"Package (?P<a>[\w.+-]+) was not found in the pkg-config search path"
    r"|No package '(?P<b>[\w.+-]+)' found"
    r"|Package '(?P<c>[\w.+-]+)', required by '[^']*', not found"
    r"|Dependency \"?(?P<d>[\w.+-]+)\"? not found"
    r"|Run-time dependency (?P<e>[\w.+-]+) found: NO"
    # a setup.py that tries pkg-config names in turn (mysqlclient 2.2+): the first it tried
    r"|Command 'pkg-config --exists (?P<f>[\w.+-]+)' returned non-zero exit status 1\b"
)
_LIBRARY = re.compile(r"(?:/usr/bin/)?ld(?:\.\w+)?: cannot find -l(?P<lib>[\w.+-]+)")
_COMPILE_ERROR = re.compile(
    r"error: command '[^']+' failed with exit (?:code|status) [1-9]"
    r"|^\s*[\w./+-]+\.(?:c|cc|cpp|cxx|h|pyx)(?::\d+)+: error: "
)
_C_ERROR = re.compile(r"^\s*(?P<file>[\w./+-]+\.(?:c|cc|cpp|cxx|h|hpp|pyx))(?::\d+)+: error: ")
_RESOLVER = re.compile(
    r"No solution found when resolving dependencies|ResolutionImpossible|"
    r"conflicting dependencies|requirements are unsatisfiable|"
    r"Cannot install .* because these package versions have conflicting"
)
_NO_DIST = re.compile(
    r"has no wheels with a matching Python (?:ABI|implementation|version) tag|"
    r"only has wheels with the following|"
    r"Requires-Python|requires-python|"
    r"the requested Python version \(|"
    r"Could not find a version that satisfies the requirement|"
    r"No matching distribution found for|"
    r"depends on Python|requires Python (?:>=|<|>|!=|==)"
)
_NO_DIST_NAME = re.compile(
    r"(?:Because|because) (?:(?:only )?(?P<a>[\w.-]+)(?:[<>=!~]=?[\w.*+!]+)?"
    r"(?:,[<>=!~]=?[\w.*+!]+)* has no wheels"
    r"|(?:all versions of |there is no version of )?(?P<b>[\w.-]+)"
    r"(?:[<>=!~]=?[\w.*+!]+)? (?:depends on|requires) Python)"
    r"|satisfies the requirement (?P<c>[\w.-]+)|distribution found for (?P<d>[\w.-]+)"
)
_NETWORK = re.compile(
    r"Could not resolve host|Temporary failure in name resolution|Name or service not known|"
    r"dns error|failed to lookup address information|Network is unreachable|"
    r"Connection reset by peer|Connection refused|Connection timed out|[Oo]peration timed out|"
    r"Read timed out|timed out while|error sending request for url|Max retries exceeded|"
    r"HTTP status server error|50[234] (?:Bad Gateway|Service Unavailable|Gateway Time-?out)|"
    r"Failed to (?:fetch|connect)|Could not connect to|unable to access '|"
    r"Temporary failure resolving|Failed to establish a new connection|"
    r"NewConnectionError|ConnectTimeoutError|RemoteDisconnected|IncompleteRead"
)
_CERT = re.compile(
    r"CERTIFICATE_VERIFY_FAILED|certificate verify failed|invalid peer certificate|"
    r"UnknownIssuer|self[- ]signed certificate in certificate chain|"
    r"unable to get local issuer certificate|SSL certificate problem|"
    r"server certificate verification failed"
)
_APT = re.compile(
    r"^E: (?:Unable to locate package (?P<a>[\w.+-]+)|"
    r"Package '(?P<b>[\w.+-]+)' has no installation candidate|"
    r"Couldn't find any package by (?:glob|regex) '(?P<c>[^']+)')"
)
_SETUP_PY_ERROR = re.compile(
    r"^\s*(?:ModuleNotFoundError|ImportError|AttributeError|SyntaxError|NameError|TypeError|"
    r"RuntimeError|Exception|KeyError|ValueError|FileNotFoundError|OSError)(?::|$)"
)
_BUILD_DEP = re.compile(
    r"No module named '?(?P<mod>numpy|Cython|cython|setuptools_scm|pybind11|torch|wheel|"
    r"pkgconfig|cffi|scikit_build|skbuild|cmake)'?"
    r"|install requires: '(?P<mod2>[\w.-]+)'"
)
_METADATA = re.compile(
    r"TOML parse error|Failed to parse: .*(?:pyproject\.toml|setup\.cfg|PKG-INFO)|"
    r"invalid pyproject\.toml|`pyproject\.toml` is using|Invalid version|"
    r"Failed to (?:parse|read) metadata|metadata-generation-failed|"
    r"Failed to read .*metadata|invalid metadata"
)


def classify(log: str) -> BuildFailure:
    """The failure a build log shows, most specific first (see the module docstring)."""
    step = failing_step(log)
    lines = [ln.rstrip() for ln in step.lines if ln.strip()]
    what, command = describe_step(step.command) if step.command else ("", "")
    package, version = _package(lines)
    kind: BuildFailureKind = "build-error"
    line, subject = _last_meaningful(lines), ""
    host_class: HostClass = ""
    conflicts: tuple[Conflict, ...] = ()
    for rule in _RULES:
        found = rule(lines)
        if found is not None:
            kind, line, subject, host_class, conflicts = found
            break
    return BuildFailure(
        kind=kind,
        line=_clean(line)[:300] if line else "the build step failed",
        subject=subject,
        package=package,
        version=version,
        step=what,
        command=command,
        excerpt=_excerpt(lines, line),
        host_class=host_class,
        conflicts=conflicts,
    )


_Found = tuple[BuildFailureKind, str, str, HostClass, tuple[Conflict, ...]] | None


def _certificate(lines: Sequence[str]) -> _Found:
    for ln in lines:
        if _CERT.search(ln):
            return "certificate", ln, _host(lines), _host_class(lines), ()
    return None


# A program a build script starts with subprocess: the traceback ends in
# FileNotFoundError naming it (and shows subprocess's frames just above).
_SUBPROCESS_MISSING = re.compile(r"FileNotFoundError: \[Errno 2\] No such file or directory: "
                                 r"'(?:[\w/.-]*/)?(?P<prog>[\w.+-]+)'$")  # fmt: skip


# distutils' own wrap of the same, without a traceback (pycairo, setuptools-rust): only
# for names a build runs, as a data file named so is no program
_ERRNO_MISSING = re.compile(
    r"error: \[Errno 2\] No such file or directory: '(?:[\w/.-]*/)?(?P<prog>"
    r"(?:[\w-]+-linux-gnu-)?(?:gcc|g\+\+|cc|c\+\+|gfortran)(?:-\d+)?|[\w.+-]+-config|"
    r"pkg-config|pkgconf|cmake|make|ninja|meson|swig|cargo|rustc|git|nvcc)'"
)


def _program(lines: Sequence[str]) -> _Found:
    for ln in lines:
        m = _ERRNO_MISSING.search(ln)
        if m:
            prog = m.group("prog")
            kind: BuildFailureKind = (
                "missing-compiler" if _COMPILERS.match(prog) else "missing-program"
            )
            return kind, ln, prog, "", ()
    for i, ln in enumerate(lines):
        m = _SUBPROCESS_MISSING.search(ln)
        if m and any("_execute_child" in x or "subprocess" in x for x in lines[max(0, i - 6) : i]):
            prog = m.group("prog")
            kind = "missing-compiler" if _COMPILERS.match(prog) else "missing-program"
            return kind, ln, prog, "", ()
    for ln in lines:
        for pattern, name in _NAMED_PROGRAMS:
            if pattern.search(ln):
                kind = "missing-compiler" if _COMPILERS.match(name) else "missing-program"
                return kind, ln, name, "", ()
    for ln in lines:
        for pattern in _PROGRAM_PATTERNS:
            m = pattern.search(ln)
            if m is None:
                continue
            prog = m.group("prog")
            if "sub" in pattern.groupindex and m.group("sub") == "cc1plus":
                prog = "g++"
            if prog in {"python", "python3", "sh", "bash"}:
                continue
            kind = "missing-compiler" if _COMPILERS.match(prog) else "missing-program"
            return kind, ln, prog, "", ()
    return None


def _header(lines: Sequence[str]) -> _Found:
    for i, ln in enumerate(lines):
        # a build script's message may wrap: read each line with the next one
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        m = _HEADER.search(ln)
        if m is None and not _HEADER.search(following):  # else: the next line's own
            m = _HEADER.search(f"{ln.rstrip()} {following}")
        if m:
            header = m.group("header") or m.group("header2") or m.group("header3")
            return "missing-header", ln, header, "", ()
    return None


def _pkgconfig(lines: Sequence[str]) -> _Found:
    for ln in lines:
        m = _PKGCONFIG.search(ln)
        if m:
            name = next(g for g in m.groups() if g)
            return "missing-pkgconfig", ln, name, "", ()
    return None


def _library(lines: Sequence[str]) -> _Found:
    for ln in lines:
        m = _LIBRARY.search(ln)
        if m:
            return "missing-library", ln, m.group("lib"), "", ()
    return None


def _resolver(lines: Sequence[str]) -> _Found:
    if not any(_RESOLVER.search(ln) for ln in lines):
        return None
    if any(_NO_DIST.search(ln) for ln in lines):
        return None  # no file for this Python: not two requirements at odds
    conflicts = _conflicts(lines)
    first = next(ln for ln in lines if _RESOLVER.search(ln))
    because = next((ln for ln in lines if re.search(r"\bBecause\b|conflict is caused", ln)), first)
    subject = conflicts[0].name if conflicts else ""
    return "resolver-conflict", because, subject, "", conflicts


_UV_REQUIRE = re.compile(
    r"(?<!conclude that )you require (?P<name>[\w.-]+)(?P<spec>(?:[<>=!~]=?[\w.*+!]+,?)+)"
)
_UV_DEPENDS = re.compile(
    r"(?P<by>[\w.-]+)(?:[<>=!~]=?[\w.*+!]+,?)* depends on (?P<name>[\w.-]+)"
    r"(?P<spec>(?:[<>=!~]=?[\w.*+!]+,?)+)"
)
_PIP_USER = re.compile(r"The user requested (?:\(constraint\) )?(?P<name>[\w.-]+)(?P<spec>\S*)")
_PIP_DEPENDS = re.compile(
    r"(?P<by>[\w.-]+) [\w.+!]+ depends on (?P<name>[\w.-]+)(?P<spec>(?:[<>=!~]=?[\w.*+!]+,?)+)"
)


def _conflicts(lines: Sequence[str]) -> tuple[Conflict, ...]:
    found: dict[tuple[str, str, str], Conflict] = {}
    for ln in lines:
        for m in _UV_REQUIRE.finditer(ln):
            c = Conflict(name=m.group("name"), specifier=m.group("spec").rstrip(",."))
            found.setdefault((c.name.lower(), c.specifier, ""), c)
        for m in _UV_DEPENDS.finditer(ln):
            c = Conflict(
                name=m.group("name"), specifier=m.group("spec").rstrip(",."), by=m.group("by")
            )
            found.setdefault((c.name.lower(), c.specifier, c.by), c)
        for m in _PIP_USER.finditer(ln):
            c = Conflict(name=m.group("name"), specifier=m.group("spec").rstrip(",."))
            found.setdefault((c.name.lower(), c.specifier, ""), c)
        for m in _PIP_DEPENDS.finditer(ln):
            c = Conflict(
                name=m.group("name"), specifier=m.group("spec").rstrip(",."), by=m.group("by")
            )
            found.setdefault((c.name.lower(), c.specifier, c.by), c)
    return tuple(found.values())


_NOT_FOUND = re.compile(
    r"(?P<a>[\w.-]+) was not found in the (?:package registry|provided package locations)"
    r"|satisfies the requirement (?P<b>[\w.-]+)\S* \(from versions: none\)"
)


def _not_found(lines: Sequence[str]) -> _Found:
    for ln in lines:
        m = _NOT_FOUND.search(ln)
        if m:
            return "not-found", ln, m.group("a") or m.group("b"), "", ()
    return None


def _no_distribution(lines: Sequence[str]) -> _Found:
    for ln in lines:
        if _NO_DIST.search(ln):
            m = _NO_DIST_NAME.search(ln) or next(
                (m2 for other in lines if (m2 := _NO_DIST_NAME.search(other))), None
            )
            name = next((g for g in m.groups() if g), "") if m else ""
            return "no-distribution", ln, name, "", ()
    return None


def _network(lines: Sequence[str]) -> _Found:
    for ln in lines:
        if _NETWORK.search(ln):
            return "network", ln, _host(lines), _host_class(lines), ()
    return None


# apt-get update that could not fetch a package list goes on with what it has (nothing, in a
# slim image): the install then says "Unable to locate package gcc" of a package the
# release has; the fetch failing is the cause
_APT_FETCH_FAILED = re.compile(r"^W: (?:Failed to fetch |Some index files failed to download)")


def _apt(lines: Sequence[str]) -> _Found:
    for ln in lines:
        m = _APT.search(ln)
        if m:
            failed = next((x for x in lines if _APT_FETCH_FAILED.search(x)), None)
            if failed is not None:
                return "network", failed, _host(lines), _host_class(lines), ()
            return "apt-package", ln, next(g for g in m.groups() if g), "", ()
    return None


def _build_dependency(lines: Sequence[str]) -> _Found:
    for ln in lines:
        m = _BUILD_DEP.search(ln)
        if m:
            return "build-dependency", ln, m.group("mod") or m.group("mod2"), "", ()
    return None


def _metadata(lines: Sequence[str]) -> _Found:
    for ln in lines:
        if _METADATA.search(ln):
            detail = next(
                (x for x in lines if "`pyproject.toml` is using" in x or "Invalid version" in x),
                ln,
            )
            return "sdist-unbuildable", detail, "metadata", "", ()
    return None


def _compile_error(lines: Sequence[str]) -> _Found:
    if not any(_COMPILE_ERROR.search(ln) for ln in lines):
        return None
    first = next((ln for ln in lines if _C_ERROR.match(ln)), "")
    if not first:
        first = next(ln for ln in lines if _COMPILE_ERROR.search(ln))
    m = _C_ERROR.match(first)
    return "compile-error", first, m.group("file") if m else "", "", ()


def _setup_error(lines: Sequence[str]) -> _Found:
    """A Python exception in the package's own build script (not a missing tool)."""
    if not any(re.search(r"[Bb]uild backend returned an error|setup\.py", ln) for ln in lines):
        return None
    for ln in reversed(lines):
        if _SETUP_PY_ERROR.match(ln):
            return "sdist-unbuildable", ln, ln.split(":")[0].strip(), "", ()
    return None


# Most specific first; the first rule that matches wins.
_RULES = (
    _certificate,
    _apt,
    _not_found,
    _resolver,
    _no_distribution,
    _header,
    _pkgconfig,
    _library,
    _program,
    _build_dependency,
    _metadata,
    _compile_error,
    _network,
    _setup_error,
)


# --------------------------------------------------------------------------- hosts

_URL_HOST = re.compile(r"https?://(?:[^@/\s]+@)?(?P<host>[A-Za-z0-9.-]+)")
_QUOTED_HOST = re.compile(
    r"(?:resolve host|resolving|resolve address for) '?(?P<host>[A-Za-z0-9.-]+\.[A-Za-z]{2,})"
)


def _host(lines: Sequence[str]) -> str:
    for ln in lines:
        m = _QUOTED_HOST.search(ln)
        if m:
            return m.group("host")
    for ln in reversed(lines):
        if _NETWORK.search(ln) or _CERT.search(ln):
            m = _URL_HOST.search(ln)
            if m:
                return m.group("host")
    for ln in reversed(lines):
        m = _URL_HOST.search(ln)
        if m:
            return m.group("host")
    return ""


def _host_class(lines: Sequence[str]) -> HostClass:
    """Which kind of host failed: the package index, a VCS, the distribution's archive."""
    text = "\n".join(lines)
    host = _host(lines)
    # cargo fetching crates (older cargo reads the registry's index from GitHub)
    if re.search(r"Unable to update registry|crates\.io-index|crates\.io/", text):
        return "crates"
    if re.search(r"git\+|Git operation failed|\bgit (?:clone|fetch)|unable to access '", text):
        return "vcs"
    if re.search(r"github\.com|gitlab\.com|bitbucket\.org", host):
        return "vcs"
    if re.search(r"deb\.debian\.org|security\.debian|archive\.ubuntu|ubuntu\.com|apt", host):
        return "apt"
    if "crates.io" in host:
        return "crates"
    if host or re.search(r"\b(?:pip|uv)\b|simple/|pypi", text):
        return "index"
    return "other"


# --------------------------------------------------------------------------- lines


def _clean(line: str) -> str:
    """A line without uv's tree marks (``╰─▶``, ``cause:``) and indentation."""
    return re.sub(r"^(?:[│├╰─▶×\s]+|cause:\s+)+", "", line.strip()).strip()


_NOISE = re.compile(
    r"^(?:warning: |WARNING: |DEPRECATION: |\s*\[(?:stdout|stderr)\]$|running |copying |"
    r"creating |writing |reading |adding |hint: |\s*$)"
)


def _last_meaningful(lines: Sequence[str]) -> str:
    for ln in reversed(lines):
        if not _NOISE.match(ln.strip()) and not ln.strip().startswith("hint:"):
            return ln
    return lines[-1] if lines else ""


def _excerpt(lines: Sequence[str], line: str, limit: int = 8) -> tuple[str, ...]:
    """The lines that matter: the package line, the command that ran, the decisive line
    and what follows it (up to ``limit`` in all), noise dropped."""
    if not lines:
        return ()
    at = max((i for i, ln in enumerate(lines) if ln == line), default=len(lines) - 1)
    keep: list[str] = []
    head = next((ln for ln in lines[:at] if _UV_FAILED.search(ln) or _PIP_FAILED.search(ln)), "")
    if head:
        keep.append(head.strip())
    ran = next(
        (
            ln
            for ln in reversed(lines[:at])
            if re.match(r"^\s*(?:[\w-]+-)?(?:gcc|g\+\+|cc|c\+\+|gfortran|cargo|rustc)\b", ln)
        ),
        "",
    )
    if ran:
        keep.append(_shorten(ran.strip(), 200))
    for ln in lines[at : at + limit]:
        s = ln.strip()
        if s and not _NOISE.match(s) and s not in keep:
            keep.append(_shorten(s, 300))
        if len(keep) >= limit:
            break
    return tuple(keep)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
