"""Frozen values passed between pipeline stages.

Each stage takes the values of the stages before it and returns a new one; nothing here
touches git, docker or the network. ``to_json()`` methods give the shapes recorded in
``repro.json`` (schema in docs/manifest.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from repro.repair.values import Round

JSON = dict[str, Any]

# on every container and image repro makes (engine.py, planning.py)
LABEL_MANAGED = "io.github.repro.managed"
# npm's global prefix in an image whose Binder scripts use npm (docs/binder.md): a folder
# the image's user owns, its bin/ on PATH, so `npm install --global` works as on Binder.
NPM_PREFIX = "/opt/npm"
NODE_ADDED = (
    f"Node.js and npm from the distribution, as Binder's image carries them; npm's global "
    f"prefix {NPM_PREFIX} (the image's user's, {NPM_PREFIX}/bin on PATH)"
)


# --------------------------------------------------------------------------- source


@dataclass(frozen=True, kw_only=True)
class Source:
    """What the user pointed repro at, normalised."""

    spec: str  # as typed
    url: str  # what git clones: https://github.com/o/n, any git URL, or a local path
    owner: str  # "local" for paths outside any forge
    name: str
    ref: str | None = None  # branch, tag or commit asked for; None = default branch
    local_path: Path | None = None  # set for local directories
    subdir: str = ""  # a directory inside a larger repository (local paths only)

    @property
    def slug(self) -> str:
        """``owner-name``: lower case, safe for an image repository name."""
        return _slugify(f"{self.owner}-{self.name}")


def _slugify(text: str) -> str:
    out = []
    for ch in text.lower():
        out.append(ch if ch.isalnum() or ch in "._-" else "-")
    slug = "".join(out).strip("-._")
    while "--" in slug:
        slug = slug.replace("--", "-")
    return slug or "repo"


@dataclass(frozen=True, kw_only=True)
class Checkout:
    """A source resolved to one commit, its files extracted at ``path`` (no ``.git``)."""

    source: Source
    path: Path
    commit: str  # full sha; for a plain directory, "tree-" + content hash
    commit_date: dt.datetime  # committer date (UTC); for a plain directory, newest mtime
    ref: str | None  # the ref name the commit was resolved from
    warnings: tuple[str, ...] = ()
    # committer date of the newest commit (up to this one) that changed code, notebooks or
    # dependency files; None when not known (a plain directory). Versions are as of it.
    code_date: dt.datetime | None = None
    # how far the dates can be trusted: "full" (a history), "thin" (every commit that
    # touched code within a month: an upload), "none" (a folder outside git). Without a
    # usable history the code's own era dates it (repro/era.py).
    history: Literal["full", "thin", "none"] = "full"

    @property
    def short_sha(self) -> str:
        return self.commit[:12] if self.commit.startswith("tree-") else self.commit[:7]


# --------------------------------------------------------------------------- evidence

EvidenceKind = Literal[
    "requirements",  # requirements*.txt, constraints
    "setup.py",
    "setup.cfg",
    "pyproject",
    "pipfile",
    "lock",  # poetry.lock, Pipfile.lock, uv.lock
    "conda",
    "notebook",  # !pip install lines in notebooks
    "import",  # an import statement in code or a notebook cell
    "dockerfile",
    "script",  # install scripts
    "readme",
    "ci",
    "syntax",  # a syntax feature of the code
    "api",  # a use of an API only some versions of a package have (data/api_rules.json)
    "classifier",  # a "Programming Language :: Python :: X.Y" classifier
    "python-version",  # .python-version, runtime.txt
    "shadowed",  # a declaration file Binder does not read where it lies (docs/binder.md)
    "user",  # a command-line option or [tool.repro]
    "repair",  # added by the smoke test's repair loop
    "default",  # repro's own default
]


@dataclass(frozen=True, kw_only=True)
class Origin:
    """Where a piece of evidence was read: ``file:line`` plus what kind of file it is."""

    kind: EvidenceKind
    path: str = ""  # relative to the repository root, POSIX separators
    line: int | None = None
    detail: str = ""

    def __str__(self) -> str:
        where = self.path or self.kind
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where} ({self.detail})" if self.detail else where

    def to_json(self) -> JSON:
        return {"kind": self.kind, "path": self.path, "line": self.line, "detail": self.detail}


# Declared evidence weighs more than hints (Dockerfiles, READMEs, CI configs).
STRONG_KINDS: frozenset[str] = frozenset(
    {"requirements", "setup.py", "setup.cfg", "pyproject", "pipfile", "lock", "conda", "user"}
)


@dataclass(frozen=True, kw_only=True)
class DeclaredRequirement:
    """One requirement line as a file states it."""

    requirement: str  # PEP 508 text, or a URL requirement (git+https://...)
    name: str  # canonical distribution name ("" when unknown, e.g. a bare URL)
    origin: Origin
    optional: bool = False  # extras_require, dev groups, "optional" markers
    editable: bool = False
    group: str = ""  # extras / dependency group name


@dataclass(frozen=True, kw_only=True)
class ImportSite:
    """``import X`` / ``from X import ...`` found in code."""

    module: str  # full dotted module path as written (absolute imports only)
    origin: Origin
    optional: bool = False  # inside try/except ImportError or behind a feature flag
    # the function whose body imports it ("Logger.tensorboard"); "" at module level, where
    # the import runs when the module is loaded
    scope: str = ""


@dataclass(frozen=True, kw_only=True)
class PythonHint:
    """A statement about which Python the code needs: a PEP 440 specifier."""

    specifier: str  # e.g. ">=3.6", "==2.7.*", "<3.8"
    origin: Origin
    strength: Literal["declared", "syntax", "hint"] = "declared"


@dataclass(frozen=True, kw_only=True)
class ApiUse:
    """A use of an API that only some versions of a package have (``data/api_rules.json``)."""

    rule: str  # rule id
    package: str  # distribution the bound applies to
    bound: str  # PEP 440 specifier, e.g. "<2"
    symbol: str  # the qualified name as used, e.g. "tensorflow.contrib.layers"
    origin: Origin
    strength: Literal["hard", "soft"] = "hard"
    needs: bool = False  # the use needs ``package`` installed (a "needs" rule)


@dataclass(frozen=True, kw_only=True)
class Hint:
    """Other evidence: a CUDA version, a base image, a need to compile CUDA code, ..."""

    topic: str  # "cuda", "base-image", "cuda-compile", "system-package", "smoke", "index-url"
    value: str
    origin: Origin


@dataclass(frozen=True, kw_only=True)
class BinderFile:
    """One Binder configuration file, and what repro made of it (docs/binder.md)."""

    path: str  # relative POSIX path
    status: Literal["used", "hint", "ignored", "unsupported"]
    note: str  # what it gave, or why it was not used

    def to_json(self) -> JSON:
        return {"path": self.path, "status": self.status, "note": self.note}


@dataclass(frozen=True, kw_only=True)
class BinderConfig:
    """A repository set up for Binder (repo2docker): where its configuration lies and the
    parts of it that become build steps. Requirement and Python files it names are read
    as any declaration is (their origins name the file)."""

    folder: str  # ".binder", "binder", or "" for the repository's root
    why: str  # what makes the repository a Binder one ("binder/ folder", "apt.txt", ...)
    environment: Literal["conda", "pipfile", "python"]  # the file kind Binder installs from
    apt_packages: tuple[str, ...] = ()  # apt.txt, in file order
    apt_file: str = ""
    post_build: str = ""  # the postBuild script's path, "" when there is none
    post_build_sha256: str = ""
    start: str = ""  # the start script's path
    start_sha256: str = ""
    # What in postBuild or start needs Node.js ("postBuild runs npm (line 4)"), "" = nothing:
    # the image then gets Node.js and npm, as Binder's image carries them (docs/binder.md).
    node: str = ""
    files: tuple[BinderFile, ...] = ()

    def to_json(self) -> JSON:
        return {
            "folder": self.folder,
            "why": self.why,
            "environment": self.environment,
            "apt": {"file": self.apt_file, "packages": list(self.apt_packages)},
            "post_build": None
            if not self.post_build
            else {"path": self.post_build, "sha256": self.post_build_sha256},
            "start": None if not self.start else {"path": self.start, "sha256": self.start_sha256},
            "node": None
            if not self.node
            else {"why": self.node, "added": NODE_ADDED, "npm_prefix": NPM_PREFIX},
            "files": [f.to_json() for f in self.files],
        }


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """Everything read from a checkout, before any decision."""

    declared: tuple[DeclaredRequirement, ...] = ()
    imports: tuple[ImportSite, ...] = ()
    local_modules: frozenset[str] = frozenset()  # the repo's own top-level modules
    python_hints: tuple[PythonHint, ...] = ()
    hints: tuple[Hint, ...] = ()
    python_paths: tuple[str, ...] = ()  # every .py file scanned, relative POSIX paths
    notebooks: int = 0
    has_tests: bool = False
    warnings: tuple[str, ...] = ()
    api_uses: tuple[ApiUse, ...] = ()  # versioned APIs the code uses, with file:line
    binder: BinderConfig | None = None  # Binder configuration, when the repository has one

    @property
    def python_files(self) -> int:
        return len(self.python_paths)


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True, kw_only=True)
class Requirement:
    """A requirement as repro will install it, with the evidence for it."""

    name: str  # distribution name as shown (e.g. "scikit-learn")
    specifier: str = ""  # PEP 440 specifier set, "" = any version
    extras: tuple[str, ...] = ()
    marker: str = ""
    url: str = ""  # direct reference (git+https://..., a wheel URL)
    version: str | None = None  # the exact version chosen, when repro chose one
    origins: tuple[Origin, ...] = ()
    reasons: tuple[str, ...] = ()
    optional: bool = False
    # "optional": a light optional import, installed after the rest when it installs
    # cleanly, dropped with a warning when it does not (docs/inference.md)
    layer: Literal["framework", "main", "smoke", "optional"] = "main"

    def pip_line(self) -> str:
        """The line written into the image's requirements file."""
        if self.url:
            return self.url if not self.name else f"{self.name} @ {self.url}"
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        spec = f"=={self.version}" if self.version else self.specifier
        line = f"{self.name}{extras}{spec}"
        return f"{line}; {self.marker}" if self.marker else line

    def to_json(self) -> JSON:
        return {
            "name": self.name,
            "specifier": self.specifier,
            "extras": list(self.extras),
            "marker": self.marker,
            "url": self.url,
            "version": self.version,
            "optional": self.optional,
            "layer": self.layer,
            "origins": [o.to_json() for o in self.origins],
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, kw_only=True)
class Unresolved:
    """An import nothing was found to provide: reported with the reason, never guessed."""

    module: str
    origins: tuple[Origin, ...]
    reason: str
    # the candidate projects the verified look-up asked about, each with why it was refused
    tried: tuple[str, ...] = ()

    def to_json(self) -> JSON:
        return {
            "module": self.module,
            "origins": [o.to_json() for o in self.origins],
            "reason": self.reason,
            "tried": list(self.tried),
        }


ImportKind = Literal["distribution", "system", "stdlib", "own", "host", "platform", "unresolved"]


@dataclass(frozen=True, kw_only=True)
class ImportResolution:
    """What provides one import path of the code, and how repro knows (docs/inference.md)."""

    module: str  # the import path classified: a top-level name, or a path below a namespace
    kind: ImportKind
    provider: str = ""  # the distribution, system package, application or Python
    how: str = ""  # how it was found, or (unresolved) why nothing was
    origins: tuple[Origin, ...] = ()  # the first few import sites
    optional: bool = False  # every site is optional (try/except ImportError, a flag, tests)
    alternatives: tuple[str, ...] = ()  # other providers found
    tried: tuple[str, ...] = ()  # look-up candidates and why each was refused

    def to_json(self) -> JSON:
        return {
            "module": self.module,
            "kind": self.kind,
            "provider": self.provider,
            "how": self.how,
            "origins": [o.to_json() for o in self.origins],
            "optional": self.optional,
            "alternatives": list(self.alternatives),
            "tried": list(self.tried),
        }


@dataclass(frozen=True, kw_only=True)
class PythonChoice:
    version: str  # "3.11", "2.7"
    reasons: tuple[str, ...]

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


@dataclass(frozen=True, kw_only=True)
class VersionChoice:
    """The version repro chose for one package, with the evidence chain that led to it."""

    name: str
    version: str | None  # None: no release satisfies the evidence (see chain)
    specifier: str  # everything the evidence allows, intersected
    chain: tuple[str, ...]  # strongest evidence first, ending with the decision
    latest: str | None = None  # the newest release known, for comparison

    def to_json(self) -> JSON:
        return {
            "name": self.name,
            "version": self.version,
            "specifier": self.specifier,
            "chain": list(self.chain),
            "latest": self.latest,
        }


@dataclass(frozen=True, kw_only=True)
class VcsPin:
    """A ``git+`` requirement without a commit, and the commit it was pinned to."""

    name: str
    url: str  # as declared
    pinned: str | None  # the URL installed (None: could not be pinned)
    ref: str | None  # the branch read
    commit: str | None
    commit_date: str | None  # ISO date
    reason: str

    def to_json(self) -> JSON:
        return {
            "name": self.name,
            "url": self.url,
            "pinned": self.pinned,
            "ref": self.ref,
            "commit": self.commit,
            "commit_date": self.commit_date,
            "reason": self.reason,
        }


@dataclass(frozen=True, kw_only=True)
class Environment:
    """What the image must contain: Python and the requirements, each explained."""

    python: PythonChoice
    requirements: tuple[Requirement, ...]
    unresolved: tuple[Unresolved, ...] = ()
    imports: tuple[ImportResolution, ...] = ()  # every import path, and what provides it
    conflicts: tuple[str, ...] = ()
    as_of: dt.date | None = None  # release-date cutoff used for unpinned packages
    as_of_reason: str = ""  # why that date ("last commit 2020-04-18", "--as-of", ...)
    # what the date comes from: "option" (--as-of), "code-commit" (the last commit that
    # changed code), "commit", "files" (a folder's newest file time), "code" (the code's
    # own era, repro/era.py: no usable history)
    as_of_basis: str = ""
    index_urls: tuple[str, ...] = ()  # extra indexes the repo declares
    warnings: tuple[str, ...] = ()
    choices: tuple[VersionChoice, ...] = ()  # frameworks and API-bounded packages, explained
    lock_cutoff: dt.date | None = None  # the build resolves with files uploaded before this
    lock_reasons: tuple[str, ...] = ()  # why the cutoff is what it is
    date_constraints: tuple[str, ...] = ()  # name==version as of the cutoff (pip installers)
    vcs_pins: tuple[VcsPin, ...] = ()  # git+ requirements pinned to the code's date

    def names(self) -> set[str]:
        from packaging.utils import canonicalize_name

        return {canonicalize_name(r.name) for r in self.requirements if r.name}


@dataclass(frozen=True, kw_only=True)
class HostGpu:
    """What the host's NVIDIA driver reports (nvidia-smi), when it has one."""

    driver: str  # "560.35.03"
    gpus: tuple[str, ...] = ()  # "NVIDIA A100-SXM4-40GB (8.0)"
    capabilities: tuple[str, ...] = ()  # compute capability of each GPU that reports one: "8.0"


@dataclass(frozen=True, kw_only=True)
class CudaChoice:
    cuda: str  # "12.6"
    cudnn: str | None  # "9", None when the frameworks bring their own
    flavour: Literal["base", "runtime", "devel"]
    min_driver: str | None
    torch_index_url: str | None = None
    reasons: tuple[str, ...] = ()
    ubuntu: str | None = None  # None for a fallback image that is not nvidia/cuda
    python_packages: tuple[str, ...] = ()  # apt packages that install Python on the image
    pip: str = "pip"  # what the venv's pip is upgraded to first
    # The framework lines as installed (name -> pip line, "" = not installed apart), so that
    # each wheel's CUDA build, its index and the base's CUDA agree; and the indexes /
    # find-links pages they need.
    requirements: tuple[tuple[str, str], ...] = ()
    index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    fallback: bool = False  # the nvidia/cuda tags were deleted: another image stands in
    host_driver: str | None = None
    driver_ok: bool | None = None  # None: no GPU on this host to check against
    # Whether the torch build has kernels for every host GPU's compute capability; None: not
    # checked (no host GPU or capability, no torch, or no kernel list in the data).
    arch_ok: bool | None = None


@dataclass(frozen=True, kw_only=True)
class GivenImage:
    """What a base image given with ``--base-image`` holds, and how each fact was found."""

    name: str
    python: str | None  # X.Y of the interpreter repro would use; None: no Python at all
    interpreter: str | None  # the command that runs it ("python3", "python")
    pythons: tuple[str, ...] = ()  # every X.Y found
    pip: bool = False
    venv: bool = False
    cuda: str | None = None  # "11.8": the CUDA toolkit or runtime inside
    cudnn: str | None = None  # "8" or "8.6"
    nvcc: bool = False
    os: str = ""  # "ubuntu 20.04"
    probed: bool = False  # a probe container ran (else the config alone)
    evidence: tuple[str, ...] = ()  # "config: PYTHON_VERSION=3.9.18", "probe: python3 -> 3.9"

    def to_json(self) -> JSON:
        return {
            "name": self.name,
            "python": self.python,
            "interpreter": self.interpreter,
            "pythons": list(self.pythons),
            "pip": self.pip,
            "venv": self.venv,
            "cuda": self.cuda,
            "cudnn": self.cudnn,
            "nvcc": self.nvcc,
            "os": self.os,
            "probed": self.probed,
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True, kw_only=True)
class BaseImage:
    """The FROM line, and what repro must add on top of it."""

    name: str  # e.g. "python:3.11-slim", "nvidia/cuda:12.6.3-runtime-ubuntu22.04"
    python: str  # Python version the image will run
    # already in the image, or installed from the distribution's archive or deadsnakes
    python_source: Literal["image", "apt", "deadsnakes"]
    gpu: bool
    cuda: CudaChoice | None
    reasons: tuple[str, ...]
    variant: str  # short tag suffix: "py3.11-cpu", "py3.11-cu126"
    venv: bool = True  # False: install into the image's own Python (it carries the framework)
    warnings: tuple[str, ...] = ()
    # the command that runs the image's own Python (python_source "image"): "python3" where
    # a given image has no `python`
    interpreter: str = "python"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, kw_only=True)
class SmokeCommand:
    argv: tuple[str, ...]
    kind: Literal["user", "pytest", "unittest", "entry-point", "help", "import", "notebook", "none"]
    reason: str
    extra_requirements: tuple[str, ...] = ()  # e.g. pytest when the repo's tests need it

    def display(self) -> str:
        import shlex

        return shlex.join(self.argv)


@dataclass(frozen=True, kw_only=True)
class SmokePlan:
    """The smoke strategies found, in the order they are tried (see docs/smoke.md)."""

    candidates: tuple[SmokeCommand, ...]  # tried in order until one proves something
    notebooks: SmokeCommand | None = None  # with --notebooks, run after the one that passed
    considered: tuple[tuple[str, str], ...] = ()  # (kind, why nothing to run) for the rest


@dataclass(frozen=True, kw_only=True)
class TargetResult:
    """One module, program, test or notebook of a smoke run."""

    target: str
    status: Literal["ok", "failed", "skipped"]
    reason: str = ""

    def to_json(self) -> JSON:
        return {"target": self.target, "status": self.status, "reason": self.reason}


@dataclass(frozen=True, kw_only=True)
class BuiltImage:
    id: str
    build_seconds: float
    log_tail: str = ""
    builder: str = ""  # "buildkit" or "classic"
    # the code layer repro laid on the environment's image (repro/codelayer.py): its diff
    # id, files and bytes; None when the builder built the whole Dockerfile
    code_layer: JSON | None = None
    # what the image's facts (lock, modules, system packages) depend on, as a digest, when
    # that is the environment alone: the code laid on it holds no package metadata
    # (probe.image_facts keeps the facts under it; empty: read them from the image)
    facts_key: str = ""


@dataclass(frozen=True, kw_only=True)
class SmokeResult:
    command: SmokeCommand
    exit_code: int | None  # None: did not finish (timeout)
    seconds: float
    log_tail: str
    timed_out: bool = False
    gpu: bool = False
    network: str = "none"
    targets: tuple[TargetResult, ...] = ()  # per target, for the checks that report them
    timeout: float = 0.0  # the wall-clock limit it ran under

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def to_json(self) -> JSON:
        return {
            "command": list(self.command.argv),
            "kind": self.command.kind,
            "reason": self.command.reason,
            "exit_code": self.exit_code,
            "passed": self.passed,
            "timed_out": self.timed_out,
            "seconds": round(self.seconds, 2),
            "gpu": self.gpu,
            "network": self.network,
            "log_tail": self.log_tail,
            "targets": [t.to_json() for t in self.targets],
            "timeout": self.timeout,
        }


@dataclass(frozen=True, kw_only=True)
class ContextFile:
    """A large data or checkpoint file of the repository (kept out of the image by default)."""

    path: str  # relative POSIX path in the repository
    bytes: int
    reason: str  # "checkpoint or data file (.pt)", "in a data or output folder (data/)", …

    def to_json(self) -> JSON:
        return {"path": self.path, "bytes": self.bytes, "reason": self.reason}


@dataclass(frozen=True, kw_only=True)
class BuildContext:
    """What of the repository goes into the build context (docs/performance.md)."""

    files: int  # files sent (the repository's, after leaving large ones out)
    bytes: int
    large: tuple[ContextFile, ...] = ()  # large data/checkpoint files found
    large_kept: bool = False  # --keep-large-files: they are in the image

    def to_json(self) -> JSON:
        return {
            "files": self.files,
            "bytes": self.bytes,
            "large_files": [f.to_json() for f in self.large],
            "large_files_kept": self.large_kept,
        }


@dataclass(frozen=True, kw_only=True)
class CodeLayer:
    """The Dockerfile's last step, ``COPY --chown=UID:UID src/ APP/`` and the settings after
    it, in a form repro can carry out itself (repro/codelayer.py): ``env_dockerfile`` is the
    Dockerfile without that step, which the builder builds; the code goes on as a layer
    repro writes, and the settings into the image's config, as the Dockerfile says."""

    env_dockerfile: str
    copy: str  # the COPY line, for the image's history
    app_dir: str  # "/app"
    uid: int
    workdir: str
    env: tuple[tuple[str, str], ...]
    user: str
    cmd: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Everything decided before building: what ``repro inspect`` reports."""

    checkout: Checkout
    evidence: Evidence
    environment: Environment
    base: BaseImage
    smoke: SmokeCommand
    dockerfile: str
    tags: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    smoke_plan: SmokePlan | None = None  # every strategy, in order (smoke is the first)
    context: BuildContext | None = None
    # the planner's ladder: each rung tried, the soft constraints given up, and what a
    # --base-image was found to hold (repro/planner.py; manifest field "plan")
    decision: JSON | None = None
    # the Dockerfile's last step as repro can lay it itself (None: the builder builds it)
    code_layer: CodeLayer | None = None


@dataclass(frozen=True)
class Wheel:
    """A wheel file in a ``--find-links`` folder."""

    name: str  # canonical
    version: str
    pythons: frozenset[str]  # interpreter tags: cp311, py3, py2.py3 → {"py3"}, ...

    def supports(self, python: str) -> bool:
        major, minor = python.split(".")
        return bool({f"cp{major}{minor}", f"py{major}{minor}", f"py{major}"} & self.pythons)


@dataclass(frozen=True, kw_only=True)
class Scanned:
    """A checkout, read: what every planning round starts from."""

    checkout: Checkout
    evidence: Evidence
    options: Options  # with the repository's [tool.repro] settings merged in
    settings: Settings  # each stage's part of ``options``, made once
    host_gpu: HostGpu | None = None  # the host's NVIDIA driver, when it has one
    context: BuildContext | None = None  # what of the checkout goes to the builder
    wheels: tuple[tuple[Wheel, Path], ...] = ()  # the --find-links wheels, found once
    given: GivenImage | None = None  # what a --base-image holds (probed), when one was given


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """A plan plus what the build needs beyond it (files for the context, wheels)."""

    plan: Plan
    files: dict[str, str]
    wheels: tuple[Path, ...]


@dataclass(frozen=True, kw_only=True)
class ImageFacts:
    """What a built image holds, read by one short run in it (``probe.image_facts``): the
    smoke test's repair reads it, and the manifest records it."""

    lock: tuple[str, ...]
    modules: dict[str, str]  # top-level module → distribution
    os_codename: str
    os_release: tuple[tuple[str, str], ...] = ()  # (id, version_id, version_codename) pairs
    system: tuple[tuple[str, str, str], ...] = ()  # dpkg: (name, version, architecture)
    # declared licences: canonical distribution name / dpkg package name → licence names
    python_licenses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    system_licenses: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def installed(self) -> dict[str, str]:
        from packaging.utils import canonicalize_name

        out: dict[str, str] = {}
        for line in self.lock:
            name, sep, version = line.partition("==")
            if sep:
                out[canonicalize_name(name)] = version.strip()
        return out


@dataclass(frozen=True, kw_only=True)
class PackResult:
    plan: Plan
    image: BuiltImage
    smoke: SmokeResult | None
    artifact_dir: Path
    manifest: JSON
    repairs: tuple[Round, ...] = ()  # one per repair round (their records: manifest "repairs")


# --------------------------------------------------------------------------- options


# Repair rounds by default: an old script on today's packages often needs a version bisected
# over several rounds (python-telegram-bot 13: five) and then one more change (the Python
# that still has imghdr), so 5 stopped one round short on real code (docs/benchmarks.md)
DEFAULT_MAX_REPAIRS = 8


@dataclass(frozen=True, kw_only=True)
class Options:
    """What the user asked for on the command line (and in ``[tool.repro]``)."""

    ref: str | None = None
    cpu: bool = False
    cuda: str | None = None
    base_image: str | None = None
    python: str | None = None
    pins: tuple[str, ...] = ()
    as_of: dt.date | None = None
    smoke: str | None = None
    no_smoke: bool = False
    find_links: tuple[Path, ...] = ()
    ca_bundle: Path | None = None
    pip_conf: Path | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    out: Path = Path("repro-out")
    smoke_timeout: float = 900.0
    verbose: int = 0
    smoke_origin: str = ""  # where the smoke command came from ("--smoke", "pyproject.toml")
    max_repairs: int = DEFAULT_MAX_REPAIRS  # repair rounds (0: never change the plan)
    notebooks: bool = False  # also execute the repository's notebooks
    cell_timeout: float = 120.0  # seconds per notebook cell
    keep_large_files: bool = False  # large data/checkpoint files go into the image too
    oci: bool = False  # also write the image as an OCI layout tarball (image.oci.tar)
    require_gpu: bool = False  # no GPU plan is an error, not a CPU image
    with_frameworks: tuple[str, ...] = ()  # --with: lazily imported GPU frameworks to keep


_S = TypeVar("_S")


def _from_options(cls: type[_S], options: Options) -> _S:
    """The settings ``cls`` holds, read from ``options`` field by field (a settings field
    keeps the name it has in ``Options``)."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: getattr(options, name) for name in names})


# Each stage's settings: the few fields of ``Options`` it reads, made once per run from the
# options with the repository's [tool.repro] merged in (``Settings.of``), so that a stage's
# signature says what of the command line it depends on.


@dataclass(frozen=True, kw_only=True)
class InferSettings:
    """What inference (repro/infer.py) reads: the Python and versions the user fixed."""

    python: str | None = None  # --python
    pins: tuple[str, ...] = ()  # --pin NAME==VERSION
    as_of: dt.date | None = None  # --as-of
    with_frameworks: tuple[str, ...] = ()  # --with: lazily imported GPU frameworks to keep

    @classmethod
    def of(cls, options: Options) -> InferSettings:
        return _from_options(cls, options)


@dataclass(frozen=True, kw_only=True)
class SmokeSettings:
    """What smoke discovery and the smoke run read (repro/smoke/)."""

    smoke: str | None = None  # --smoke COMMAND
    smoke_origin: str = ""  # where the smoke command came from ("--smoke", "pyproject.toml")
    no_smoke: bool = False
    notebooks: bool = False  # also execute the repository's notebooks
    cell_timeout: float = 120.0  # seconds per notebook cell
    smoke_timeout: float = 900.0  # seconds for the smoke test

    @classmethod
    def of(cls, options: Options) -> SmokeSettings:
        return _from_options(cls, options)


@dataclass(frozen=True, kw_only=True)
class BuildSettings:
    """What the build (repro/build.py) hands the builder: the CA bundle, pip's indexes."""

    ca_bundle: Path | None = None
    pip_conf: Path | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()

    @classmethod
    def of(cls, options: Options) -> BuildSettings:
        return _from_options(cls, options)


@dataclass(frozen=True, kw_only=True)
class BaseSettings:
    """What the choice of base image and its Python reads (repro/planner.py,
    repro/base_image.py, repro/gpu_needs.py): the Python, CUDA or image the user fixed."""

    python: str | None = None  # --python
    cpu: bool = False  # --cpu
    cuda: str | None = None  # --cuda
    base_image: str | None = None  # --base-image IMAGE
    require_gpu: bool = False  # --require-gpu: no GPU plan is an error, not a CPU image

    @classmethod
    def of(cls, options: Options) -> BaseSettings:
        return _from_options(cls, options)


@dataclass(frozen=True, kw_only=True)
class ExportSettings:
    """What the image's tags and the export (repro/export.py) read: where the artifact goes
    and what it holds besides the image."""

    out: Path = Path("repro-out")  # --out: the artifact's parent folder
    oci: bool = False  # --oci: also an OCI layout tarball (image.oci.tar)
    tags: tuple[str, ...] = ()  # --tag: tags beside repro's own

    @classmethod
    def of(cls, options: Options) -> ExportSettings:
        return _from_options(cls, options)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every stage's settings, made from ``Options`` once."""

    infer: InferSettings
    base: BaseSettings
    smoke: SmokeSettings
    build: BuildSettings
    export: ExportSettings

    @classmethod
    def of(cls, options: Options) -> Settings:
        return cls(
            infer=InferSettings.of(options),
            base=BaseSettings.of(options),
            smoke=SmokeSettings.of(options),
            build=BuildSettings.of(options),
            export=ExportSettings.of(options),
        )
