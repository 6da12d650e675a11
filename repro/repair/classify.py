"""Reading a failed run's output: the lines that matter, and one detector per kind of
failure (``kinds.KINDS`` lists them in the order they are tried, most specific first).

A detector takes the output's lines (noise dropped) and returns the ``Failure`` it
recognises, or None. ``kinds.classify`` runs them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from repro import mapping
from repro.repair.values import Failure, FailureKind

Detector = Callable[[Sequence[str]], "Failure | None"]

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
_LIB_NOT_FOUND = re.compile(
    r"OSError: (?P<lib>[\w-]+) library not found"
    # python-magic: "ImportError: failed to find libmagic.  Check your installation"
    r"|(?:ImportError|OSError): failed to find (?P<lib2>lib[\w-]+)"
)
_SYNTAX = re.compile(
    r"^(?:E\s+|\|\s*|\s*)?(?P<exc>SyntaxError|TabError|IndentationError): (?P<msg>.*)$"
)
_FILE = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)')
# PyGObject's two ways of saying a GObject-introspection typelib is not installed
_NO_TYPELIB = re.compile(
    r"ImportError: cannot import name '?(?P<ns>\w+)'?, introspection typelib not found"
    r"|ValueError: Namespace (?P<ns2>\w+) not available(?: for version (?P<version>[\w.]+))?"
    # an attribute of gi.repository: a namespace is loaded by import, never by getattr
    r"|AttributeError: module 'gi\.repository' has no attribute '(?P<ns3>\w+)'"
)
_REQUIRE_VERSION = re.compile(
    r"require_version\(\s*['\"](?P<ns>\w+)['\"]\s*,\s*['\"](?P<v>[\w.]+)['\"]"
)
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
NETWORK = re.compile(
    r"Temporary failure in name resolution|Name or service not known|"
    r"Network is unreachable|nodename nor servname|Could not resolve host|"
    r"Failed to establish a new connection|Max retries exceeded with url|"
    r"urlopen error|ConnectionError|ConnectTimeout|getaddrinfo failed|"
    r"We couldn't connect to|Connection refused|offline mode is enabled"
)
DATA = re.compile(
    r"No such file or directory|FileNotFoundError|does not exist|"
    r"Unable to (?:synchronously )?open file|Can't load .* is not a local folder|"
    r"DatasetNotFoundError|not found in archive"
)
# Libraries that drive a board's pins refuse to load anywhere else, whatever the image
# holds; each message is the library's own (RPi.GPIO: source/py_gpio.c; gpiozero:
# devices.py, once no pin factory loads; Jetson.GPIO: gpio_pin_data.py)
HARDWARE = re.compile(
    r"This module can only be run on a Raspberry Pi|"
    r"Unable to load any default pin factory|"
    r"Could not determine Jetson model"
)
MEMORY = re.compile(r"MemoryError|Cannot allocate memory|std::bad_alloc|out of memory")
# A shell or Python that hit the pids limit; its lines can arrive cut short and interleaved
# (many forks write at once), so the verdict names the limit, not the last line printed.
PROCESSES = re.compile(
    r"Cannot fork|fork: retry|fork: Resource temporarily unavailable|"
    r"can't start new thread|BlockingIOError: \[Errno 11\]"
)
TIMEOUT = re.compile(r"timed out after \d+s|\[repro\] stopped after|Timeout \(>")


def lines_of(text: str) -> list[str]:
    return [ln.rstrip() for ln in text.splitlines() if ln.strip() and not _NOISE.search(ln)]


def clean(line: str) -> str:
    """A line without pytest's ``E   `` prefix, repro's ``| `` indent or ``FAIL x  -> ``."""
    line = re.sub(r"^(?:FAIL|SKIP)\s+\S+\s+->\s+", "", line)
    return re.sub(r"^(?:\s*\|\s?|E\s{2,}|\s+)", "", line).strip()


def last_exception(lines: Sequence[str]) -> str:
    for line in reversed(lines):
        cleaned = clean(line)
        m = _EXC_LINE.match(cleaned)
        if m and not cleaned.startswith(("Warning:", "UserWarning", "DeprecationWarning")):
            return cleaned[:300]
    return ""


def cuda(lines: Sequence[str]) -> Failure | None:
    for line in lines:
        m = _SONAME.search(line) or _CANNOT_LOAD.search(line)
        if m and _CUDA_SONAME.match(Path(m.group("lib")).name):
            return Failure(kind="cuda", line=clean(line)[:300], subject=m.group("lib"))
    for line in lines:
        if _CUDA_TEXT.search(line):
            return Failure(kind="cuda", line=clean(line)[:300])
    return None


def shared_library(lines: Sequence[str]) -> Failure | None:
    for line in lines:
        m = _SONAME.search(line) or _CANNOT_LOAD.search(line) or _LIB_NOT_FOUND.search(line)
        if m:
            lib = m.group("lib") or m.group("lib2")
            return Failure(kind="shared-library", line=clean(line)[:300], subject=lib)
    return None


def missing_module(lines: Sequence[str]) -> Failure | None:
    # The last one: with ``try: import a / except ImportError: import b`` the error that
    # stopped the program is the last. Unless no project is known to provide ``b`` while
    # ``a`` is known (pydub: ``audioop``, which Python 3.13 removed, then its fallback
    # ``pyaudioop``, which nothing provides): then ``a`` is what the code wanted.
    found = [(i, m) for i, line in enumerate(lines) if (m := _NO_MODULE.search(line))]
    if not found:
        return None
    at, m = found[-1]
    # the module named before the last one (the last may be named again in a summary line)
    prior = [(i, x) for i, x in found if x.group("mod") != m.group("mod")]
    if prior:
        before, earlier = prior[-1]
        next_at = next(i for i, _ in found if i > before)
        chained = any(_CHAINED in line for line in lines[before:next_at])
        if chained and _known(earlier.group("mod")) and not _known(m.group("mod")):
            at, m = before, earlier
    module = m.group("mod").rstrip(".")
    return Failure(
        kind="missing-module", line=clean(lines[at])[:300], subject=module, module=module
    )


_CHAINED = "During handling of the above exception"


def _known(module: str) -> bool:
    """Whether repro's data places ``module`` (standard library, a distribution...)."""
    return mapping.lookup(module.rstrip("."), 3).kind != "unknown"


def typelib(lines: Sequence[str]) -> Failure | None:
    """A GObject-introspection namespace ``gi`` cannot load: subject ``NS-VERSION`` (the
    version from the message, else from a ``gi.require_version`` line the traceback shows,
    else "NS" alone: the newest one the release ships)."""
    for i, line in enumerate(lines):
        m = _NO_TYPELIB.search(line)
        if not m:
            continue
        namespace = m.group("ns") or m.group("ns2") or m.group("ns3")
        version = m.group("version") or ""
        if not version:
            for before in reversed(lines[:i]):
                r = _REQUIRE_VERSION.search(before)
                if r and r.group("ns") == namespace:
                    version = r.group("v")
                    break
        return Failure(
            kind="typelib",
            line=clean(line)[:300],
            subject=f"{namespace}-{version}" if version else namespace,
            module="gi.repository",
            name=namespace,
        )
    return None


# An ImportError whose message names the project to install instead: lxml's "lxml.html.clean
# module is now a separate project lxml_html_clean. Install lxml[html_clean] or
# lxml_html_clean directly." (the advice may follow on the next line)
_ADVICE = re.compile(
    r"(?:separate (?:project|package)|moved to|(?:pip )?install)\s+"
    r"['\"`]?(?P<project>[A-Za-z0-9][\w.-]*[A-Za-z0-9])(?![\w.-]*\[)"
)


def install_advice(lines: Sequence[str]) -> Failure | None:
    """The last ImportError, when its message (or the line after it) names a project to
    install: subject is that project. A Python 2 message naming a distribution package
    ("please install the python-tk package") is not advice about PyPI: left to the others."""
    for i in range(len(lines) - 1, -1, -1):
        line = clean(lines[i])
        if not line.startswith(("ImportError:", "ModuleNotFoundError:")):
            continue
        text = " ".join([line, *(clean(n) for n in lines[i + 1 : i + 3])])
        if _NO_MODULE.search(line) or " package" in text:
            return None
        m = _ADVICE.search(text)
        if m is None:
            return None
        return Failure(kind="install-advice", line=line[:300], subject=m.group("project"))
    return None


def missing_name(lines: Sequence[str]) -> Failure | None:
    for i, line in enumerate(lines):
        if _CIRCULAR.search(line):
            return None  # an import cycle in the code: not a version problem
        m = _CANNOT_IMPORT.search(line)
        if m:
            module = m.group("mod") or _module_imported_from(lines[:i], m.group("name"))
            return Failure(
                kind="missing-name",
                line=clean(line)[:300],
                subject=f"{module}.{m.group('name')}" if module else m.group("name"),
                module=module,
                name=m.group("name"),
                path=m.group("path") or "",
            )
        m2 = _NO_ATTR.search(line)
        if m2:
            return Failure(
                kind="missing-name",
                line=clean(line)[:300],
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
                line=clean(line)[:300],
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
        m = _FROM_IMPORT.match(clean(line))
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


def wrong_python(lines: Sequence[str]) -> Failure | None:
    for i, line in enumerate(lines):
        m = _SYNTAX.match(line) or _SYNTAX.match(clean(line))
        if not m:
            continue
        path, lineno, source = "", None, ""
        for j in range(i - 1, max(-1, i - 6), -1):
            fm = _FILE.search(lines[j])
            if fm:
                path, lineno = fm.group("path"), int(fm.group("line"))
                if j + 1 < i:
                    source = clean(lines[j + 1])
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


def by_pattern(
    kind: FailureKind, pattern: re.Pattern[str]
) -> Callable[[Sequence[str]], Failure | None]:
    def rule(lines: Sequence[str]) -> Failure | None:
        for line in reversed(lines):
            if pattern.search(line):
                exc = last_exception(lines)
                chosen = exc if exc and pattern.search(exc) else clean(line)
                return Failure(kind=kind, line=chosen[:300])
        return None

    return rule
