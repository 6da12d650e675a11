"""Read a failed smoke test, name what went wrong, and turn it into changes to the plan.

Three pure steps, each tested on real error texts without a daemon:

``classify(text)`` → ``Failure``
    Finds the line that explains the failure and sorts it into a kind: a module that is
    not installed, a name or attribute an installed package no longer has (the version is
    too new), a syntax error (the wrong Python), a shared library the image lacks, a
    CUDA/driver problem, data or network the smoke test does not have, memory, time, or
    any other error.
``propose(failure, context)`` → ``Proposal``
    For the kinds repro can fix, the change to make (add a distribution, lower a version
    bound, switch Python, add a Debian package) and why; for the others, a diagnosis in
    one line with a hint.
``apply_changes(environment, changes, wheelhouse)`` → ``Environment``
    The requirements with the repairs applied, each change recorded as evidence of kind
    ``repair``.

Facts (which Debian package ships ``libGL.so.1``, which releases a distribution had) come
from data files and the release-history edge, never from if-chains here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from repro import apirules, mapping
from repro.infer import FRAMEWORKS
from repro.models import JSON, Environment, Origin, PythonChoice, Requirement

FailureKind = Literal[
    "missing-module",  # ModuleNotFoundError: a distribution is not installed
    "missing-name",  # cannot import name / module has no attribute: version too new
    "wrong-python",  # SyntaxError / TabError in the repository's code
    "shared-library",  # libX.so.N: cannot open shared object file
    "cuda",  # no GPU, no driver, driver too old, CUDA libraries missing
    "data",  # a file the repository does not contain
    "network",  # the smoke test has no network
    "memory",  # out of memory (limit reached)
    "processes",  # the process limit was reached (cannot fork, no new thread)
    "timeout",  # did not finish in time
    "error",  # anything else: the code itself fails
]

# Kinds repro may fix by changing the plan, and kinds that mean "this target needs
# something a smoke test never has" (data, network, a GPU, more time): such a target is
# left out of the smoke test (reported), never counted as passing.
FIXABLE: frozenset[str] = frozenset(
    {"missing-module", "missing-name", "wrong-python", "shared-library"}
)
EXCUSABLE: frozenset[str] = frozenset({"data", "network", "cuda", "memory", "processes", "timeout"})


@dataclass(frozen=True, kw_only=True)
class Failure:
    """What a failed run's output says went wrong."""

    kind: FailureKind
    line: str  # the line that names the problem, as printed
    subject: str = ""  # module, soname, ``module.attr``
    module: str = ""  # missing-name: the module that lacks the name
    name: str = ""  # missing-name: the name it lacks
    path: str = ""  # the file the error points at (SyntaxError, import errors)
    lineno: int | None = None
    source: str = ""  # the source line shown under ``File ..., line N`` (when shown)
    caller: str = ""  # the innermost file of the traceback (the code that failed)
    target: str = ""  # the smoke target that failed (module, test id, script)

    @property
    def fixable(self) -> bool:
        return self.kind in FIXABLE

    @property
    def excusable(self) -> bool:
        return self.kind in EXCUSABLE

    def summary(self) -> str:
        where = f" ({self.target})" if self.target else ""
        return f"{self.line}{where}"

    def to_json(self) -> JSON:
        return {
            "kind": self.kind,
            "line": self.line,
            "subject": self.subject,
            "target": self.target,
            "path": self.path,
        }


# --------------------------------------------------------------------------- classify

# Log lines that mention CUDA libraries without being the failure: TensorFlow prints them
# on every CPU-only machine.
_NOISE = re.compile(
    r"dso_loader|Ignore above cudart dlerror|cuda_driver\.cc|cuda_diagnostics|"
    r"Could not find cuda drivers|TF-TRT Warning|^\s*\[?W\d{4} |"
    r"Unable to register cu(?:DNN|FFT|BLAS) factory"
)
_EXC_LINE = re.compile(
    r"^(?:E\s+|\|\s*|\s*)?(?P<exc>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)"
    r"|KeyboardInterrupt|StopIteration)(?::\s?(?P<msg>.*))?$"
)
_NO_MODULE = re.compile(r"(?:ModuleNotFoundError|ImportError): No module named '?(?P<mod>[\w.]+)'?")
_CANNOT_IMPORT = re.compile(
    r"ImportError: cannot import name '?(?P<name>\w+)'?"
    r"(?: from '(?P<mod>[\w.]+)')?(?: \((?P<path>[^)]*)\))?"
)
_NO_ATTR = re.compile(r"AttributeError: module '(?P<mod>[\w.]+)' has no attribute '(?P<name>\w+)'")
_PY2_NO_ATTR = re.compile(r"AttributeError: 'module' object has no attribute '(?P<name>\w+)'")
_CIRCULAR = re.compile(r"partially initialized module|most likely due to a circular import")
_SONAME = re.compile(r"(?P<lib>[\w.+-]+\.so(?:\.[\w.]+)?): cannot open shared object file")
_CANNOT_LOAD = re.compile(r"cannot load library '(?P<lib>[^']+)'")
_LIB_NOT_FOUND = re.compile(r"OSError: (?P<lib>[\w-]+) library not found")
_SYNTAX = re.compile(
    r"^(?:E\s+|\|\s*|\s*)?(?P<exc>SyntaxError|TabError|IndentationError): (?P<msg>.*)$"
)
_FILE = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)')
_FROM_IMPORT = re.compile(r"^\s*from\s+(?P<mod>[\w.]+)\s+import\s+(?P<names>.*)$")

_CUDA_SONAME = re.compile(
    r"^lib(?:cuda|cudart|cudnn|cublas|cublasLt|cufft|curand|cusolver|cusparse|nvinfer|nccl|"
    r"nvrtc|nvidia-ml|nvToolsExt|cupti|nvJitLink)[\w.-]*\.so"
)
_CUDA_TEXT = re.compile(
    r"Found no NVIDIA driver|no CUDA-capable device is detected|"
    r"CUDA driver version is insufficient|NVIDIA driver on your system is too old|"
    r"Torch not compiled with CUDA enabled|torch\.cuda\.is_available\(\) is False|"
    r"no kernel image is available for execution on the device|"
    r"CUDA error: |CUDA out of memory|cudaGetDeviceCount|"
    r"No CUDA GPUs are available|could not select device driver .* with capabilities: \[\[gpu\]\]|"
    r"CUDA_ERROR_NO_DEVICE|failed call to cuInit|RuntimeError: No CUDA GPUs|"
    r"Attempting to deserialize object on a CUDA device"
)
_NETWORK = re.compile(
    r"Temporary failure in name resolution|Name or service not known|"
    r"Network is unreachable|nodename nor servname|Could not resolve host|"
    r"Failed to establish a new connection|Max retries exceeded with url|"
    r"urlopen error|ConnectionError|ConnectTimeout|getaddrinfo failed|"
    r"We couldn't connect to|Connection refused|offline mode is enabled"
)
_DATA = re.compile(
    r"No such file or directory|FileNotFoundError|does not exist|"
    r"Unable to (?:synchronously )?open file|Can't load .* is not a local folder|"
    r"DatasetNotFoundError|not found in archive"
)
_MEMORY = re.compile(r"MemoryError|Cannot allocate memory|std::bad_alloc|out of memory")
# A shell or Python that hit the pids limit; its lines can arrive cut short and interleaved
# (many forks write at once), so the verdict names the limit, not the last line printed.
_PROCESSES = re.compile(
    r"Cannot fork|fork: retry|fork: Resource temporarily unavailable|"
    r"can't start new thread|BlockingIOError: \[Errno 11\]"
)
_TIMEOUT = re.compile(r"timed out after \d+s|\[repro\] stopped after|Timeout \(>")


def _lines(text: str) -> list[str]:
    return [ln.rstrip() for ln in text.splitlines() if ln.strip() and not _NOISE.search(ln)]


def _clean(line: str) -> str:
    """A line without pytest's ``E   `` prefix, repro's ``| `` indent or ``FAIL x  -> ``."""
    line = re.sub(r"^(?:FAIL|SKIP)\s+\S+\s+->\s+", "", line)
    return re.sub(r"^(?:\s*\|\s?|E\s{2,}|\s+)", "", line).strip()


def classify(
    text: str, *, timed_out: bool = False, oom_killed: bool = False, target: str = ""
) -> Failure:
    """The failure a run's output shows, most specific first (see the module docstring)."""
    lines = _lines(text)
    for rule in _RULES:
        found = rule(lines)
        if found is not None:
            return dataclasses.replace(found, target=target)
    if oom_killed:
        return Failure(kind="memory", line="killed: the memory limit was reached", target=target)
    if timed_out:
        return Failure(kind="timeout", line="stopped: the time limit was reached", target=target)
    last = _last_exception(lines)
    if last:
        return Failure(kind="error", line=last, target=target)
    tail = _clean(lines[-1]) if lines else "no output"
    return Failure(kind="error", line=tail[:300], target=target)


def _last_exception(lines: Sequence[str]) -> str:
    for line in reversed(lines):
        cleaned = _clean(line)
        m = _EXC_LINE.match(cleaned)
        if m and not cleaned.startswith(("Warning:", "UserWarning", "DeprecationWarning")):
            return cleaned[:300]
    return ""


def _cuda(lines: Sequence[str]) -> Failure | None:
    for line in lines:
        m = _SONAME.search(line) or _CANNOT_LOAD.search(line)
        if m and _CUDA_SONAME.match(Path(m.group("lib")).name):
            return Failure(kind="cuda", line=_clean(line)[:300], subject=m.group("lib"))
    for line in lines:
        if _CUDA_TEXT.search(line):
            return Failure(kind="cuda", line=_clean(line)[:300])
    return None


def _shared_library(lines: Sequence[str]) -> Failure | None:
    for line in lines:
        m = _SONAME.search(line) or _CANNOT_LOAD.search(line) or _LIB_NOT_FOUND.search(line)
        if m:
            return Failure(kind="shared-library", line=_clean(line)[:300], subject=m.group("lib"))
    return None


def _missing_module(lines: Sequence[str]) -> Failure | None:
    # The last one: with ``try: import a / except ImportError: import b`` the error that
    # stopped the program is the last.
    for line in reversed(lines):
        m = _NO_MODULE.search(line)
        if m:
            module = m.group("mod").rstrip(".")
            return Failure(
                kind="missing-module", line=_clean(line)[:300], subject=module, module=module
            )
    return None


def _missing_name(lines: Sequence[str]) -> Failure | None:
    for i, line in enumerate(lines):
        if _CIRCULAR.search(line):
            return None  # an import cycle in the code: not a version problem
        m = _CANNOT_IMPORT.search(line)
        if m:
            module = m.group("mod") or _module_imported_from(lines[:i], m.group("name"))
            return Failure(
                kind="missing-name",
                line=_clean(line)[:300],
                subject=f"{module}.{m.group('name')}" if module else m.group("name"),
                module=module,
                name=m.group("name"),
                path=m.group("path") or "",
            )
        m2 = _NO_ATTR.search(line)
        if m2:
            return Failure(
                kind="missing-name",
                line=_clean(line)[:300],
                subject=f"{m2.group('mod')}.{m2.group('name')}",
                module=m2.group("mod"),
                name=m2.group("name"),
            )
        m3 = _PY2_NO_ATTR.search(line)
        if m3:
            # Python 2 does not name the module: take the name the code used (maybe an
            # alias; propose() resolves it against the file's imports).
            module = _module_used_with(lines[:i], m3.group("name"))
            return Failure(
                kind="missing-name",
                line=_clean(line)[:300],
                subject=f"{module}.{m3.group('name')}" if module else m3.group("name"),
                module=module,
                name=m3.group("name"),
                caller=_innermost_file(lines[:i]),
            )
    return None


def _innermost_file(before: Sequence[str]) -> str:
    for line in reversed(before):
        m = _FILE.search(line)
        if m:
            return m.group("path")
    return ""


def _module_imported_from(before: Sequence[str], name: str) -> str:
    """Python 2 and 3.6 omit the module: read it from the traceback's source line."""
    for line in reversed(before):
        m = _FROM_IMPORT.match(_clean(line))
        if m and re.search(rf"\b{re.escape(name)}\b", m.group("names")):
            return m.group("mod")
    return ""


def _module_used_with(before: Sequence[str], name: str) -> str:
    """``np.float`` in the traceback's last source line → ``np`` (an alias, best effort)."""
    for line in reversed(before):
        m = re.search(rf"\b([A-Za-z_][\w.]*)\.{re.escape(name)}\b", line)
        if m and not line.lstrip().startswith("File "):
            return m.group(1)
    return ""


def _syntax(lines: Sequence[str]) -> Failure | None:
    for i, line in enumerate(lines):
        m = _SYNTAX.match(line) or _SYNTAX.match(_clean(line))
        if not m:
            continue
        path, lineno, source = "", None, ""
        for j in range(i - 1, max(-1, i - 6), -1):
            fm = _FILE.search(lines[j])
            if fm:
                path, lineno = fm.group("path"), int(fm.group("line"))
                if j + 1 < i:
                    source = _clean(lines[j + 1])
                break
        if lineno is None:  # repro's import check: "SyntaxError: msg (path, line N)"
            lm = re.search(r"\((?:(?P<path>[^,()]+), )?line (?P<line>\d+)\)$", m.group("msg"))
            if lm:
                path, lineno = lm.group("path") or "", int(lm.group("line"))
        return Failure(
            kind="wrong-python",
            line=f"{m.group('exc')}: {m.group('msg')}"[:300],
            subject=m.group("exc"),
            path=path,
            lineno=lineno,
            source=source,
        )
    return None


def _by_pattern(
    kind: FailureKind, pattern: re.Pattern[str]
) -> Callable[[Sequence[str]], Failure | None]:
    def rule(lines: Sequence[str]) -> Failure | None:
        for line in reversed(lines):
            if pattern.search(line):
                exc = _last_exception(lines)
                chosen = exc if exc and pattern.search(exc) else _clean(line)
                return Failure(kind=kind, line=chosen[:300])
        return None

    return rule


# Most specific first; the first rule that matches wins.
_RULES: tuple[Callable[[Sequence[str]], Failure | None], ...] = (
    _cuda,
    _shared_library,
    _missing_module,
    _missing_name,
    _syntax,
    _by_pattern("network", _NETWORK),
    _by_pattern("memory", _MEMORY),
    _by_pattern("processes", _PROCESSES),
    _by_pattern("timeout", _TIMEOUT),
    _by_pattern("data", _DATA),
)


# --------------------------------------------------------------------------- changes

ChangeAction = Literal["add-requirement", "bound-requirement", "set-python", "add-system-package"]


@dataclass(frozen=True, kw_only=True)
class Change:
    """One change to the plan, and why it was made."""

    action: ChangeAction
    target: str  # distribution, Python version, or Debian package
    specifier: str = ""  # bound-requirement: the new specifier set
    reason: str = ""
    basis: str = ""  # what decided it: import map, api-rule, release-history, soname data...

    def describe(self) -> str:
        what = {
            "add-requirement": f"add {self.target}{self.specifier}",
            "bound-requirement": f"require {self.target}{self.specifier}",
            "set-python": f"use Python {self.target}",
            "add-system-package": f"install the Debian package {self.target}",
        }[self.action]
        return f"{what}: {self.reason}" if self.reason else what

    def to_json(self) -> JSON:
        return {
            "action": self.action,
            "target": self.target,
            "specifier": self.specifier,
            "reason": self.reason,
            "basis": self.basis,
        }


@dataclass(frozen=True, kw_only=True)
class Diagnosis:
    """Why repro stops: one line, and what the user can do."""

    message: str
    hint: str = ""


@dataclass(frozen=True, kw_only=True)
class Proposal:
    changes: tuple[Change, ...] = ()
    diagnosis: Diagnosis | None = None


@dataclass(frozen=True, kw_only=True)
class Release:
    """One release of a distribution, as the release history knows it."""

    version: str
    requires_python: str = ""
    yanked: bool = False
    uploaded: str = ""  # ISO 8601 upload time of its first file ("" when unknown)


ReleasesFor = Callable[[str], Sequence[Release]]


@dataclass(frozen=True, kw_only=True)
class Context:
    """What a proposal may look at: the plan, the built image, and the history so far."""

    python: str  # Python of the image that failed ("3.11")
    requirements: tuple[Requirement, ...] = ()
    installed: Mapping[str, str] = dataclasses.field(default_factory=dict)  # canonical → version
    module_dists: Mapping[str, str] = dataclasses.field(default_factory=dict)  # top → dist
    local_modules: frozenset[str] = frozenset()
    os_codename: str = ""  # "bookworm", "jammy", ... ("" when unknown)
    releases: ReleasesFor | None = None  # release history (PyPI and the wheelhouse)
    pythons: tuple[str, ...] = ()  # Pythons repro may switch to, oldest first
    previous: tuple[Change, ...] = ()  # changes made in earlier rounds
    checkout: Path | None = None  # the repository's files (to read a failing line)
    gpu_fallback: bool = False  # a GPU image smoke-tested on the CPU


def propose(failure: Failure, context: Context) -> Proposal:
    """The changes that fix ``failure``, or a diagnosis when repro cannot fix it."""
    handlers: dict[str, Callable[[Failure, Context], Proposal]] = {
        "missing-module": _propose_missing_module,
        "missing-name": _propose_missing_name,
        "wrong-python": _propose_python,
        "shared-library": _propose_system_package,
    }
    handler = handlers.get(failure.kind)
    if handler is None:
        return Proposal(diagnosis=diagnose(failure, context))
    return handler(failure, context)


def diagnose(failure: Failure, context: Context) -> Diagnosis:
    """One line and a hint for a failure repro does not change the plan for."""
    line = failure.summary()
    if failure.kind == "cuda":
        if context.gpu_fallback:
            return Diagnosis(
                message=f"the code needs a GPU, and this engine has none: {line}",
                hint="pack on a machine with an NVIDIA GPU and the NVIDIA container runtime, "
                "or give a smoke command that runs on the CPU (--smoke)",
            )
        if "insufficient" in failure.line or "too old" in failure.line:
            return Diagnosis(
                message=f"the host's NVIDIA driver is too old for the image's CUDA: {line}",
                hint="update the driver, or choose an older CUDA with --cuda",
            )
        return Diagnosis(
            message=f"CUDA failed in the image: {line}",
            hint="the code expects a GPU set-up this image or host does not have; "
            "try --cpu, another --cuda, or a smoke command that runs on the CPU (--smoke)",
        )
    if failure.kind == "data":
        return Diagnosis(
            message=f"the smoke test needs data that is not in the repository: {line}",
            hint="the smoke test has no host mounts and no network; give a command that runs "
            "without data (--smoke 'python train.py --help')",
        )
    if failure.kind == "network":
        return Diagnosis(
            message=f"the smoke test tried to use the network, which it does not have: {line}",
            hint="smoke tests run with --network none; give a command that works offline (--smoke)",
        )
    if failure.kind == "memory":
        return Diagnosis(
            message=f"the smoke test ran out of memory: {line}",
            hint="give a smaller smoke command (--smoke)",
        )
    if failure.kind == "processes":
        return Diagnosis(
            message=f"the smoke test reached the process limit (Cannot fork): {line}",
            hint="smoke tests run under a process limit (the manifest's smoke.limits.pids); "
            "give a smoke command that starts fewer processes (--smoke)",
        )
    if failure.kind == "timeout":
        return Diagnosis(
            message=f"the smoke test did not finish in time: {line}",
            hint="raise --smoke-timeout, or give a shorter smoke command (--smoke)",
        )
    if "::" in failure.target:
        hint = "the repository's own test fails in the image (--smoke picks another command)"
    else:
        hint = "the code itself fails in the image"
    return Diagnosis(message=line, hint=hint)


def _installed(context: Context, dist: str) -> str | None:
    return context.installed.get(canonicalize_name(dist))


def _tried(context: Context, action: str, target: str) -> bool:
    key = canonicalize_name(target) if "requirement" in action else target
    return any(
        c.action == action
        and (canonicalize_name(c.target) if "requirement" in c.action else c.target) == key
        for c in context.previous
    )


def _requirement(context: Context, dist: str) -> Requirement | None:
    key = canonicalize_name(dist)
    for req in context.requirements:
        if req.name and canonicalize_name(req.name) == key:
            return req
    return None


def _dist_of(module: str, context: Context) -> tuple[str, str]:
    """(distribution, how it was found) for an import path, or ("", why not)."""
    top = module.split(".")[0]
    if top in context.module_dists:
        return context.module_dists[top], "the image's installed packages"
    found = mapping.lookup(module, 2 if context.python.startswith("2.") else 3)
    if found.kind == "dist":
        return found.dist, "repro's import map"
    for req in context.requirements:
        if req.name and canonicalize_name(req.name) == canonicalize_name(top):
            return req.name, "a requirement of the same name"
    return "", found.reason


def _propose_missing_module(failure: Failure, context: Context) -> Proposal:
    module = failure.module
    top = module.split(".")[0]
    if top in context.local_modules:
        return Proposal(
            diagnosis=Diagnosis(
                message=f"the repository's own module {module!r} cannot be imported: "
                f"{failure.summary()}",
                hint="a file may be missing from the commit, or generated by a build step",
            )
        )
    found = mapping.lookup(module, 2 if context.python.startswith("2.") else 3)
    if found.kind == "stdlib":
        return Proposal(
            diagnosis=Diagnosis(
                message=f"{module!r} is not in this Python's standard library: {failure.summary()}",
                hint=f"the code may need another Python than {context.python} (--python)",
            )
        )
    if found.kind == "unavailable":
        return Proposal(
            diagnosis=Diagnosis(
                message=f"{failure.summary()}: {found.reason}",
                hint="install it in a derived image, or vendor it into the repository",
            )
        )
    dist, how = _dist_of(module, context)
    if not dist:
        return Proposal(
            diagnosis=Diagnosis(
                message=f"{failure.summary()}: no known distribution provides {top!r}",
                hint=f"repro does not guess package names; add the one that provides {top!r} "
                "to the repository's requirements, or pass --pin NAME",
            )
        )
    if _installed(context, dist) is not None and "." in module:
        # The distribution is there but lacks the submodule: a newer release dropped it.
        return _lower_bound(
            dist,
            f"{module!r} is gone from {dist} {_installed(context, dist)}",
            failure,
            context,
            qualified=module,
        )
    if _tried(context, "add-requirement", dist) or _installed(context, dist) is not None:
        return Proposal(
            diagnosis=Diagnosis(
                message=f"{failure.summary()}: {dist} is installed but does not provide {module!r}",
                hint=f"{dist} may need an extra or another version; try --pin",
            )
        )
    req = _requirement(context, dist)
    reason = f"{module!r} is provided by {dist} ({how})"
    if req is not None and req.optional:
        reason += "; the code imports it outside the optional paths repro saw"
    return Proposal(
        changes=(Change(action="add-requirement", target=dist, reason=reason, basis=how),)
    )


def _propose_missing_name(failure: Failure, context: Context) -> Proposal:
    module = failure.module
    if not module:
        return Proposal(
            diagnosis=Diagnosis(
                message=f"{failure.summary()}: the output does not say which module lacks it",
                hint="run it yourself in the image (repro shell) to see the full traceback",
            )
        )
    module = _resolve_alias(context.checkout, failure.caller, module)
    top = module.split(".")[0]
    if top in context.local_modules or failure.path.startswith("/app/"):
        return Proposal(
            diagnosis=Diagnosis(
                message=f"the repository's own code fails: {failure.summary()}",
                hint="the name is missing from the repository's module, not from a package",
            )
        )
    dist, _ = _dist_of(module, context)
    if not dist:
        return Proposal(
            diagnosis=Diagnosis(
                message=f"{failure.summary()}: no known distribution provides {top!r}",
                hint="pin the package that provides it with --pin NAME==VERSION",
            )
        )
    installed = _installed(context, dist)
    why = f"{module}.{failure.name} is missing from {dist} {installed or ''}".rstrip()
    return _lower_bound(dist, why, failure, context, qualified=f"{module}.{failure.name}")


def _resolve_alias(root: Path | None, caller: str, name: str) -> str:
    """``np`` → ``numpy`` when the failing file says ``import numpy as np``."""
    if root is None or not caller or "." in name:
        return name
    text = _read_file(root, caller)
    m = re.search(rf"^\s*import\s+([\w.]+)\s+as\s+{re.escape(name)}\s*$", text, re.MULTILINE)
    if m:
        return m.group(1)
    m = re.search(
        rf"^\s*from\s+([\w.]+)\s+import\s+(\w+)\s+as\s+{re.escape(name)}\s*$", text, re.MULTILINE
    )
    return f"{m.group(1)}.{m.group(2)}" if m else name


def _series(version: Version) -> tuple[int, ...]:
    release = version.release
    return (release[0], release[1] if len(release) > 1 else 0)


def _lower_bound(
    dist: str, why: str, failure: Failure, context: Context, *, qualified: str
) -> Proposal:
    """Lower ``dist`` below the release that removed what the code uses.

    An API-signature rule (``data/api_rules.json``) that names the missing path gives the
    bound directly, with its source. Otherwise the release history decides: the first
    round keeps the newest release of the previous series (``<X.Y``); when that fails the
    same way, the next one steps back 2 series, then 4, bracketing the release that
    removed the name in a few rounds without knowing it in advance.
    """
    req = _requirement(context, dist)
    if req is not None and any(o.kind == "user" for o in req.origins):
        return Proposal(
            diagnosis=Diagnosis(
                message=f"{failure.summary()}: {dist} is fixed by the user "
                f"({req.specifier or 'any'})",
                hint=f"the code needs an older {dist} than the one pinned; change the --pin",
            )
        )
    installed = _installed(context, dist)
    if installed is None:
        return Proposal(
            diagnosis=Diagnosis(
                message=f"{failure.summary()}: {dist} is not in the image's lock",
                hint="run it in the image (repro shell) to see which package is imported",
            )
        )
    try:
        current = Version(installed)
    except InvalidVersion:
        return Proposal(
            diagnosis=Diagnosis(message=f"{failure.summary()}: cannot read {dist} {installed}")
        )
    releases = _usable_releases(dist, context)
    by_rule = _rule_bound(dist, qualified, context, req, releases, current)
    if by_rule is not None:
        return by_rule
    older = [v for v in releases if v < current]
    series: list[tuple[int, ...]] = []
    firsts: dict[tuple[int, ...], Version] = {}
    for v in sorted(older, reverse=True):
        key = _series(v)
        if key == _series(current):
            continue
        if key not in series:
            series.append(key)
        firsts[key] = v  # ascending overwrite: ends at the oldest release of the series
    steps = sum(
        1
        for c in context.previous
        if c.action == "bound-requirement"
        and canonicalize_name(c.target) == canonicalize_name(dist)
        and c.basis == "release-history"
    )
    jump = 2**steps  # 1, 2, 4, 8 series back
    if not series or jump > len(series):
        return Proposal(
            diagnosis=Diagnosis(
                message=f"{failure.summary()}: no older release of {dist} is left to try"
                f" (installed {installed})",
                hint=f"pin a {dist} release that has it with --pin {dist}==VERSION",
            )
        )
    # The bound is the first release of the series just newer than the one to reach.
    above = _series(current) if jump == 1 else series[jump - 2]
    bound = min((v for v in [*older, current] if _series(v) == above), default=current)
    keep = _lower_bounds(req.specifier if req else "")
    specifier = ",".join([*keep, f"<{bound}"])
    try:
        spec_set = SpecifierSet(specifier)
    except InvalidSpecifier:
        spec_set = SpecifierSet(f"<{bound}")
        specifier = f"<{bound}"
    fits = [v for v in releases if spec_set.contains(v, prereleases=False)]
    if not fits:
        return Proposal(
            diagnosis=Diagnosis(
                message=f"{failure.summary()}: {dist} {specifier} matches no release",
                hint=f"the requirement's own bounds exclude every older {dist}; relax them",
            )
        )
    target = max(fits)
    reason = (
        f"{why}; the release history has {dist} {target} before {bound}"
        if steps == 0
        else f"{why}; stepping further back: {dist} {target}"
    )
    return Proposal(
        changes=(
            Change(
                action="bound-requirement",
                target=dist,
                specifier=specifier,
                reason=reason,
                basis="release-history",
            ),
        )
    )


def _rule_bound(
    dist: str,
    qualified: str,
    context: Context,
    req: Requirement | None,
    releases: Sequence[Version],
    current: Version,
) -> Proposal | None:
    """The bound an API-signature rule gives for the missing path, if one applies."""
    key = canonicalize_name(dist)
    for rule in apirules.match_name(qualified):
        if canonicalize_name(rule.package) != key:
            continue
        try:
            bound = SpecifierSet(rule.bound)
        except InvalidSpecifier:
            continue
        if bound.contains(current, prereleases=True):
            continue  # the installed version already obeys it: the rule is not the cause
        specifier = ",".join([*_lower_bounds(req.specifier if req else ""), *map(str, bound)])
        if any(
            c.action == "bound-requirement" and c.specifier == specifier for c in context.previous
        ):
            continue
        fits = [v for v in releases if SpecifierSet(specifier).contains(v)]
        if releases and not fits:
            continue
        target = f"; the release history has {dist} {max(fits)}" if fits else ""
        reason = f"{rule.why} (API rule {rule.id}: {rule.source}){target}"
        return Proposal(
            changes=(
                Change(
                    action="bound-requirement",
                    target=dist,
                    specifier=specifier,
                    reason=reason,
                    basis="api-rule",
                ),
            )
        )
    return None


def _lower_bounds(specifier: str) -> list[str]:
    try:
        spec = SpecifierSet(specifier)
    except InvalidSpecifier:
        return []
    return sorted(str(s) for s in spec if s.operator in (">=", ">"))


def _usable_releases(dist: str, context: Context) -> list[Version]:
    if context.releases is None:
        return []
    out: set[Version] = set()
    for rel in context.releases(dist):
        try:
            v = Version(rel.version)
        except InvalidVersion:
            continue
        if v.is_prerelease or v.is_devrelease or rel.yanked:
            continue
        if rel.requires_python and not _python_fits(context.python, rel.requires_python):
            continue
        out.add(v)
    return sorted(out)


def _python_fits(python: str, requires: str) -> bool:
    try:
        spec = SpecifierSet(requires)
    except InvalidSpecifier:
        return True
    return spec.contains(f"{python}.0", prereleases=True) or spec.contains(
        f"{python}.99", prereleases=True
    )


# Python 2 idioms in a line that Python 3 rejects.
_PY2_SOURCE = re.compile(
    r"^\s*print\s+[^(=\s]|^\s*print\s*$|^\s*exec\s+[\"'\w]|except\s+[\w.]+\s*,\s*\w+\s*:|"
    r"raise\s+\w+\s*,|`[^`]+`|\bur[\"']|\b0\d+\b|<>|\.has_key\("
)
_PY2_MESSAGE = re.compile(
    r"Missing parentheses in call to '(?:print|exec)'|leading zeros in decimal integer|"
    r"inconsistent use of tabs and spaces"
)


def _propose_python(failure: Failure, context: Context) -> Proposal:
    if "site-packages" in failure.path or "dist-packages" in failure.path:
        return Proposal(
            diagnosis=Diagnosis(
                message=f"an installed package does not parse on Python {context.python}: "
                f"{failure.summary()} in {failure.path}",
                hint="the package is too new for this Python; pin an older one, or use --python",
            )
        )
    source = failure.source or _read_line(context.checkout, failure.path, failure.lineno)
    py2 = bool(_PY2_MESSAGE.search(failure.line) or _PY2_SOURCE.search(source))
    where = (
        f"{failure.path or failure.target}:{failure.lineno}" if failure.lineno else failure.target
    )
    if not context.python.startswith("2.") and py2:
        target = next((p for p in context.pythons if p.startswith("2.")), "")
        why = (
            f"the code is Python 2 ({failure.line.split(':')[0]} at {where}: {source.strip()[:80]})"
        )
    elif context.python.startswith("2."):
        target = next((p for p in reversed(context.pythons) if not p.startswith("2.")), "")
        why = f"the code does not parse as Python 2 ({failure.line} at {where})"
    else:
        newer = [p for p in context.pythons if _vkey(p) > _vkey(context.python)]
        target = newer[-1] if newer else ""
        why = f"the code uses syntax Python {context.python} lacks ({failure.line} at {where})"
    if not target or target == context.python or _tried(context, "set-python", target):
        return Proposal(
            diagnosis=Diagnosis(
                message=f"the code does not parse on Python {context.python}: {failure.summary()}",
                hint="choose the Python it was written for with --python X.Y",
            )
        )
    return Proposal(
        changes=(Change(action="set-python", target=target, reason=why, basis="syntax"),)
    )


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _read_line(root: Path | None, path: str, lineno: int | None) -> str:
    """The line a SyntaxError points at, read from the checkout (``/app/x.py`` → ``x.py``)."""
    if root is None or not path or lineno is None:
        return ""
    lines = _read_file(root, path).splitlines()
    return lines[lineno - 1] if 0 < lineno <= len(lines) else ""


def _read_file(root: Path, path: str) -> str:
    """A file of the checkout named as the image sees it (``/app/x.py``) or relative."""
    rel = path[len("/app/") :] if path.startswith("/app/") else path
    candidate = (root / rel).resolve()
    if root.resolve() not in candidate.parents:
        return ""
    try:
        return candidate.read_text("utf-8", "replace")
    except OSError:
        return ""


@cache
def _shared_libs() -> tuple[dict[str, JSON], dict[str, str], frozenset[str]]:
    data = mapping.load_json("shared_libs.json")
    return (
        dict(data["libraries"]),
        dict(data.get("aliases", {})),
        frozenset(data.get("suites", ())),
    )


def system_package_for(soname: str, codename: str) -> str:
    """The Debian/Ubuntu package that ships ``soname`` on ``codename`` ("" if unknown)."""
    libs, aliases, suites = _shared_libs()
    name = Path(soname).name
    if name not in libs:
        name = aliases.get(name, "")
    if not name and "." in soname:
        # "libsndfile.so" (a development name) → the runtime soname with the same stem.
        stem = Path(soname).name.split(".so")[0]
        name = next((k for k in libs if k.split(".so")[0] == stem), "")
    entry = libs.get(name)
    if entry is None:
        return ""
    if codename in suites and codename not in entry.get("verified", ()):
        return ""  # checked: this release has no package with that soname
    by_release: Mapping[str, str] = entry.get("by_release", {})
    return str(by_release.get(codename, entry["package"]))


def _propose_system_package(failure: Failure, context: Context) -> Proposal:
    package = system_package_for(failure.subject, context.os_codename)
    if not package:
        return Proposal(
            diagnosis=Diagnosis(
                message=f"{failure.summary()}: no data maps {failure.subject} to a system package",
                hint="install the library in a derived image (FROM the kept image), "
                "and report the soname so repro's table can learn it",
            )
        )
    if _tried(context, "add-system-package", package):
        return Proposal(
            diagnosis=Diagnosis(
                message=f"{failure.summary()}: installing {package} did not provide it",
                hint="the library may live elsewhere in this image; look with repro shell",
            )
        )
    on = f" on {context.os_codename}" if context.os_codename else ""
    return Proposal(
        changes=(
            Change(
                action="add-system-package",
                target=package,
                basis="data/shared_libs.json",
                reason=f"{failure.subject} is in the Debian package {package}{on}",
            ),
        )
    )


# --------------------------------------------------------------------------- apply


Dated = Callable[[str, str], "str | None"]  # (name, specifier) → version as of the cutoff


def apply_changes(
    environment: Environment,
    changes: Sequence[Change],
    wheelhouse: Mapping[str, Sequence[str]] | None = None,
    dated: Dated | None = None,
) -> Environment:
    """The environment with every requirement change applied (Python and apt are elsewhere).

    A changed requirement keeps its earlier evidence and gains an origin of kind
    ``repair``. Its version follows the rules inference used: a wheelhouse version that
    fits the new bound, else (when inference had pinned it by date) the newest release
    before the lock cutoff that fits, from ``dated``. The date constraints of pip installs
    and the explained version choices follow the change.
    """
    requirements = list(environment.requirements)
    constraints = {c.split("==")[0]: c for c in environment.date_constraints}
    choices = {canonicalize_name(c.name): c for c in environment.choices}
    for number, change in enumerate(changes, start=1):
        if change.action not in ("add-requirement", "bound-requirement"):
            continue
        key = canonicalize_name(change.target)
        origin = Origin(kind="repair", detail=f"repair: {change.describe()}")
        index = next(
            (i for i, r in enumerate(requirements) if r.name and canonicalize_name(r.name) == key),
            None,
        )
        old = requirements[index] if index is not None else None
        specifier = change.specifier if change.action == "bound-requirement" else ""
        if old is not None and change.action == "add-requirement":
            specifier = old.specifier
        version = _wheel_version((wheelhouse or {}).get(key, ()), specifier)
        kept = tuple(r for r in (old.reasons if old else ()) if "in the wheelhouse" not in r)
        if version:
            kept += (f"{old.name if old else change.target} {version} is in the wheelhouse",)
        as_of = dated(change.target, specifier) if dated is not None else None
        if version is None and old is not None and old.version and as_of:
            version = as_of
        if constraints:  # a pip install held to the date by a constraints file
            constraints.pop(key, None)
            if version or as_of:
                constraints[key] = f"{key}=={version or as_of}"
        reason = f"smoke-test repair {number}: {change.reason}"
        if old is not None and old.specifier and old.specifier != specifier:
            reason += (
                f" (overrules {old.specifier} from {old.origins[0] if old.origins else 'evidence'})"
            )
        new = Requirement(
            name=old.name if old else change.target,
            specifier=specifier,
            extras=old.extras if old else (),
            marker=old.marker if old else "",
            url="" if change.action == "bound-requirement" else (old.url if old else ""),
            version=version,
            origins=(*(old.origins if old else ()), origin),
            reasons=(*kept, reason),
            optional=False,
            layer=old.layer
            if old is not None and old.layer not in ("smoke", "optional")
            else ("framework" if key in FRAMEWORKS else "main"),
        )
        if index is None:
            requirements.append(new)
        else:
            requirements[index] = new
        if key in choices:
            choices[key] = dataclasses.replace(
                choices[key],
                version=version or as_of,
                specifier=specifier,
                chain=(*choices[key].chain, reason),
            )
    return dataclasses.replace(
        environment,
        requirements=tuple(requirements),
        date_constraints=tuple(sorted(constraints.values())),
        choices=tuple(choices[k] for k in sorted(choices)),
    )


def _wheel_version(versions: Sequence[str], specifier: str) -> str | None:
    try:
        spec = SpecifierSet(specifier)
    except InvalidSpecifier:
        return None
    fitting = []
    for text in versions:
        try:
            v = Version(text)
        except InvalidVersion:
            continue
        if spec.contains(v, prereleases=True):
            fitting.append(v)
    return str(max(fitting)) if fitting else None


def python_change(changes: Sequence[Change]) -> Change | None:
    """The last Python switch among ``changes``."""
    found = [c for c in changes if c.action == "set-python"]
    return found[-1] if found else None


def with_python(environment: Environment, change: Change) -> Environment:
    """Record the Python switch as the reason for the Python version."""
    return dataclasses.replace(
        environment,
        python=PythonChoice(
            version=change.target, reasons=(f"smoke-test repair: {change.reason}",)
        ),
    )


def system_packages(changes: Sequence[Change]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c.target for c in changes if c.action == "add-system-package"))
