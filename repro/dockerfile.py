"""Recipe → Dockerfile text and the small files it COPYs (pure).

The Dockerfile is built from named fragments, each a short function returning lines.
Layers are ordered by how often they change, so that editing the repository's code never
reinstalls a package and editing one requirement never reinstalls the frameworks:

    base → system packages → Python (venv) → user → frameworks → other requirements
         → lock → source

What the image does not need at run time stays out of it (docs/performance.md):

* the resolver (uv) is installed in a stage of its own and only *mounted* into the install
  steps (BuildKit), so no layer of the image holds it;
* package caches live in BuildKit cache mounts (no download is repeated, nothing is left in
  a layer); without BuildKit, pip and uv run with their caches off;
* when something compiles against CUDA at build time only, the environment is built on the
  devel image and copied into the runtime image (``Recipe.runtime_base``): no compiler, no
  CUDA toolkit in the image.

Credentials and CA bundles never enter a layer: they are BuildKit secrets, mounted only
for the ``RUN`` that installs packages (see docs/security.md).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from repro import __version__, in_image, system_modules
from repro.errors import UsageError
from repro.models import NPM_PREFIX, BaseImage, BinderConfig, CodeLayer

CONTEXT_DIR = ".repro"  # repro's files inside the build context
SOURCE_DIR = "src"  # the repository's files inside the build context
APP_DIR = "/app"
VENV = "/opt/venv"
SECRET_CA = "repro-ca"
SECRET_PIPCONF = "repro-pipconf"
USER = "repro"
IMPORT_CHECK = "/opt/repro/import_check.py"
HELP_CHECK = "/opt/repro/help_check.py"
NOTEBOOK_CHECK = "/opt/repro/notebook_check.py"
UID = 1000
# The resolver for Python >= 3.8, pinned so that the same plan resolves the same way; it
# lives outside the environment (never in the lock). See docs/versions.md.
UV_VERSION = "0.13.9"
UV_DIR = "/opt/repro/uv"
UV = f"{UV_DIR}/bin/uv"
UV_ENV = f"{UV_DIR}/uv_env.py"
DATE_CONSTRAINTS = "constraints-date.txt"
OPTIONAL = "requirements-optional.txt"
OPTIONAL_DROPPED = "/opt/repro/optional-dropped.txt"
# Stage names. "env": the base with Python and the virtual environment; "uv": the resolver,
# mounted into the install steps; "deps": the installs, when they happen on a devel image.
STAGE_ENV = "env"
STAGE_UV = "uv"
STAGE_DEPS = "deps"
CACHE_NS_ARG = "REPRO_CACHE_NS"
# Copies out of the cache mount (hard links cannot cross it); no progress bars in logs; the
# Python of the image, never one uv would download.
UV_ENV_VARS = "UV_LINK_MODE=copy UV_NO_PROGRESS=1 UV_PYTHON_DOWNLOADS=never"


@dataclass(frozen=True, kw_only=True)
class Recipe:
    base: BaseImage
    source_url: str
    commit: str
    framework_requirements: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    # Light optional imports: installed one by one after the rest, each only if it installs
    # within what is installed already; the others are dropped (never failing the build).
    optional_requirements: tuple[str, ...] = ()
    framework_index_urls: tuple[str, ...] = ()
    framework_find_links: tuple[str, ...] = ()  # pages of wheel links (older torch, jax)
    index_urls: tuple[str, ...] = ()  # extra indexes the repository itself declares
    wheelhouse: bool = False
    python_path: tuple[str, ...] = (APP_DIR,)
    system_packages: tuple[str, ...] = ()
    # The distribution's dist-packages ("/usr/lib/python3/dist-packages"), made visible to
    # the environment when modules come from system packages (gi, dbus); "" = not.
    system_site: str = ""
    # Packages a build needs that a build repair found missing (compilers, headers,
    # *-config programs): in the system layer too, before every Python layer.
    build_packages: tuple[str, ...] = ()
    # Shared libraries the smoke test's repair found missing: installed after the Python
    # packages, so adding one keeps every pip layer (and the frameworks) cached.
    runtime_packages: tuple[str, ...] = ()
    buildkit: bool = True
    # The lock: "uv" resolves with an upload-date cutoff (exclude_newer, RFC 3339); "pip"
    # (Python 2.7 and < 3.8) gets the same cutoff as a constraints file of exact versions.
    installer: str = "pip"
    exclude_newer: str = ""
    # NAME=DATE: packages a build repair moved to a release newer than the cutoff
    exclude_newer_packages: tuple[str, ...] = ()
    # A build repair's answer to a setup.py that imports what it does not declare (numpy):
    # these requirements are installed first, and these packages built without build
    # isolation (in the environment, where they find them).
    build_first: tuple[str, ...] = ()
    no_build_isolation: tuple[str, ...] = ()
    date_constraints: tuple[str, ...] = ()
    # A runtime image to copy the built environment into (the base is then a devel image
    # used only to build): set when code compiles against CUDA at build time only.
    runtime_base: str = ""
    runtime_reason: str = ""
    # Build the repository's own extensions (``setup.py build_ext --inplace``) in the devel
    # stage; the runtime stage then copies /app from it.
    build_extensions: bool = False
    # A build-cache namespace: layers and package-cache mounts shared with no other build
    # (benchmarks' cold builds, without pruning a shared engine). "" = the shared cache.
    cache_namespace: str = ""
    # Binder configuration (docs/binder.md): the file that named system packages (for the
    # layer's comment), the postBuild script run as the image's user once the environment
    # and the code are in place, and the start script every container's command goes
    # through. Paths relative to the repository.
    system_from: str = ""
    libraries_from: str = ""  # why system_packages holds libraries wheels link (plan time)
    post_build: str = ""
    start: str = ""
    # What in postBuild or start runs node or npm ("postBuild runs npm (line 4)"): Node.js
    # and npm then join the system layer and npm's global prefix is the user's NPM_PREFIX.
    node: str = ""

    @property
    def uv_stage(self) -> bool:
        """uv lives in a stage of its own and is mounted where it is needed (BuildKit)."""
        return self.installer == "uv" and self.buildkit


def with_binder(recipe: Recipe, config: BinderConfig) -> Recipe:
    """The recipe with a Binder configuration's build steps: apt.txt's packages join the
    system layer, postBuild and start run as docs/binder.md says; when they run node or
    npm, the release's Node.js and npm packages join the system layer too."""
    node = NODE_PROGRAMS if config.node else ()
    node_packages = system_modules.program_packages(node, recipe.base)
    packages = (*recipe.system_packages, *config.apt_packages, *node_packages)
    return dataclasses.replace(
        recipe,
        system_packages=tuple(dict.fromkeys(packages)),
        system_from=config.apt_file if config.apt_packages else recipe.system_from,
        post_build=config.post_build,
        start=config.start,
        node=config.node,
    )


# The programs Binder's image carries for a postBuild that runs node or npm.
NODE_PROGRAMS = ("node", "npm")


@dataclass(frozen=True, kw_only=True)
class Rendered:
    dockerfile: str
    files: dict[str, str] = field(default_factory=dict)  # context path → content
    code_layer: CodeLayer | None = None  # the last step, as repro can lay it (codelayer.py)


def render(recipe: Recipe) -> Rendered:
    files = {
        f"{CONTEXT_DIR}/requirements-framework.txt": _lines(recipe.framework_requirements),
        f"{CONTEXT_DIR}/requirements.txt": _lines(recipe.requirements),
        f"{CONTEXT_DIR}/import_check.py": _import_check(),
        f"{CONTEXT_DIR}/help_check.py": _data_file("help_check.py"),
        f"{CONTEXT_DIR}/notebook_check.py": _data_file("notebook_check.py"),
    }
    if recipe.installer == "uv":
        files[f"{CONTEXT_DIR}/uv_env.py"] = _data_file("uv_env.py")
    if recipe.installer == "pip" and recipe.date_constraints:
        files[f"{CONTEXT_DIR}/{DATE_CONSTRAINTS}"] = _lines(recipe.date_constraints)
    if recipe.optional_requirements:
        files[f"{CONTEXT_DIR}/{OPTIONAL}"] = _lines(recipe.optional_requirements)
    multi = bool(recipe.runtime_base)
    named = multi or recipe.uv_stage
    parts = [
        _header(recipe),
        _stages_comment(recipe),
        _from(recipe, recipe.base.name, STAGE_ENV if named else ""),
        _env(recipe),
        _system_packages(recipe),
        _python(recipe, venv=recipe.installer != "uv"),
        "" if multi else _user(),
    ]
    if recipe.uv_stage:
        parts += [_uv_stage(recipe), f"FROM {STAGE_ENV}" + (f" AS {STAGE_DEPS}" if multi else "")]
    elif multi:
        parts.append(f"FROM {STAGE_ENV} AS {STAGE_DEPS}")
    parts += [
        _resolver(recipe),
        _uv_venv(recipe),
        _system_site(recipe),
        _install(
            recipe,
            "requirements-framework.txt",
            recipe.framework_requirements,
            "Frameworks alone: the largest downloads, changed least often.",
            recipe.framework_index_urls,
        ),
        _install(
            recipe, "requirements.txt", recipe.requirements, "Everything else the code needs.", ()
        ),
        _optional(recipe),
    ]
    if multi:
        parts += [_extensions(recipe), *_runtime_stage(recipe)]
    parts += [_runtime_packages(recipe), _lock(recipe)]
    env_text = "\n".join(p for p in parts if p) + "\n"
    text = "\n".join(p for p in (*parts, _source(recipe)) if p) + "\n"
    return Rendered(dockerfile=text, files=files, code_layer=_code_layer(recipe, env_text))


def _stages_comment(recipe: Recipe) -> str:
    if not recipe.runtime_base:
        return ""
    # The reason names repository paths: one line each, whatever the file names hold.
    why = f" ({_one_line(recipe.runtime_reason)})" if recipe.runtime_reason else ""
    return (
        f"# Two stages{why}:\n"
        f"# the environment is built on {_one_line(recipe.base.name)}, then copied into\n"
        f"# {_one_line(recipe.runtime_base)}, which carries no compiler and no CUDA toolkit.\n"
    )


def _import_check() -> str:
    return _data_file("import_check.py")


def _data_file(name: str) -> str:
    return in_image.read(name)


def _lines(items: tuple[str, ...]) -> str:
    return "".join(f"{item}\n" for item in items)


def _header(recipe: Recipe) -> str:
    return (
        f"# Generated by repro {__version__} for {_one_line(recipe.source_url)}"
        f" at {_one_line(recipe.commit)}.\n"
        "# Build: DOCKER_BUILDKIT=1 docker build --secret id=repro-ca,src=CA_BUNDLE .\n"
        "# (the CA secret is optional; it is only needed behind a TLS-intercepting proxy)\n"
    )


def external_images(dockerfile: str) -> tuple[str, ...]:
    """The images a rendered Dockerfile starts from (not its own stages), in order."""
    stages: set[str] = set()
    images: list[str] = []
    for line in dockerfile.splitlines():
        words = line.split()
        if len(words) < 2 or words[0].upper() != "FROM":
            continue
        if words[1] not in stages:
            images.append(words[1])
        if len(words) >= 4 and words[2].upper() == "AS":
            stages.add(words[3])
    return tuple(dict.fromkeys(images))


def _from(recipe: Recipe, image: str, stage: str) -> str:
    if not _IMAGE_REF.fullmatch(image):
        raise UsageError(f"base image {image!r} is not an image reference")
    line = f"FROM {image}" + (f" AS {stage}" if stage else "") + "\n"
    if recipe.cache_namespace:
        # Every RUN after this ARG has its value in its cache key: a new namespace builds
        # every layer afresh, and the cache mounts below carry the namespace in their id.
        line += f"ARG {CACHE_NS_ARG}={recipe.cache_namespace}\n"
    return line


# Strings from the repository (a [tool.repro] base image, index URLs in its requirement
# files) reach the Dockerfile; none may add a line or a shell command to it, least of all
# to a RUN that has the credentials mounted (docs/security.md).
_IMAGE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]*")


def is_image_ref(text: str) -> bool:
    """Whether ``text`` may stand after ``FROM`` (no space, line break or shell syntax)."""
    return bool(_IMAGE_REF.fullmatch(text))


def _one_line(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]", "?", text)


def _url_arg(url: str) -> str:
    """An index URL as one shell word, or a refusal if it could break the Dockerfile."""
    if re.search(r"[\x00-\x1f\x7f]", url):
        raise UsageError(f"index URL {url!r} holds a line break or control character: refused")
    return shlex.quote(url)


def _env(recipe: Recipe) -> str:
    env = [
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONUNBUFFERED=1",
        "PIP_DISABLE_PIP_VERSION_CHECK=1",
        "PIP_NO_INPUT=1",
        "LANG=C.UTF-8",
    ]
    if not recipe.buildkit:
        # No cache mounts without BuildKit: a cache would stay in the layer.
        env.append("PIP_NO_CACHE_DIR=1")
        if recipe.installer == "uv":
            env.append("UV_NO_CACHE=1")
    return "ENV " + " \\\n    ".join(env) + "\n"


def _runtime_packages(recipe: Recipe) -> str:
    return _apt_install(
        recipe.runtime_packages,
        "# Shared libraries the code loads at run time (added by the smoke test's repair),\n"
        "# after the Python packages so that adding one rebuilds no pip layer.\n",
    )


def _system_packages(recipe: Recipe, *, build: bool = True) -> str:
    """The system layer; ``build=False`` (a runtime stage): without the build's tools."""
    comment = "# System libraries the Python packages load at run time.\n"
    if recipe.system_from:
        comment = (
            f"# System packages {_one_line(recipe.system_from)} names, and the libraries the\n"
            "# Python packages load at run time.\n"
        )
    if recipe.libraries_from:
        comment += f"# Libraries wheels link that slim images lack: {recipe.libraries_from}.\n"
    if recipe.node:
        names = ", ".join(system_modules.program_packages(NODE_PROGRAMS, recipe.base))
        comment += (
            f"# {names}: {_one_line(recipe.node)}, and Binder's image carries Node.js and npm.\n"
        )
    packages = recipe.system_packages
    if build and recipe.build_packages:
        names = ", ".join(_one_line(p) for p in recipe.build_packages)
        comment += (
            f"# What the Python packages' builds need (added by the build's repair): {names}.\n"
        )
        packages = tuple(dict.fromkeys([*packages, *recipe.build_packages]))
    return _apt_install(packages, comment)


def _apt_install(packages: Iterable[str], comment: str) -> str:
    """A commented layer installing Debian ``packages`` (none: no layer)."""
    pkgs = " ".join(sorted(packages))
    if not pkgs:
        return ""
    return (
        comment + "RUN apt-get update \\\n"
        f" && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {pkgs} \\\n"
        " && rm -rf /var/lib/apt/lists/*\n"
    )


def _python(recipe: Recipe, *, venv: bool = True) -> str:
    """Python on the base (when the base has none), then the virtual environment.

    ``venv=False``: the interpreter only (uv makes the environment later, or a runtime
    stage copies it in).
    """
    base = recipe.base
    version = base.python
    lines = []
    exe = _exe(recipe)
    if base.python_source in ("apt", "deadsnakes"):
        devel = base.cuda is not None and base.cuda.flavour == "devel"
        packages = base.cuda.python_packages if base.cuda is not None else ()
        lines.append(_install_python(version, base.python_source, devel, packages))
    elif base.interpreter != "python":
        lines.append(
            f"# The image's Python answers to {base.interpreter}: `python` is what the steps\n"
            "# below (and the smoke test) call.\n"
            f'RUN command -v python >/dev/null 2>&1 || ln -s "$(command -v {base.interpreter})"'
            " /usr/local/bin/python\n"
        )
    if version.startswith("2."):
        # Python 2 has no venv module: packages go into the image's own site-packages.
        lines.append("# Python 2 has no venv: pip installs into the interpreter's site-packages.\n")
        return "".join(lines)
    if not base.venv:
        lines.append("# The image's own Python already holds the framework: packages go into it.\n")
        return "".join(lines)
    if not venv:
        return "".join(lines)
    if base.python_source in ("apt", "deadsnakes"):
        lines.append(_venv_with_new_pip(recipe, exe))
        return "".join(lines)
    lines.append(
        "# A virtual environment keeps the image's own Python packages apart.\n"
        f"RUN {exe} -m venv {VENV}\n"
        f"ENV VIRTUAL_ENV={VENV} PATH={VENV}/bin:$PATH\n"
    )
    return "".join(lines)


def _new_pip(recipe: Recipe) -> tuple[str, str]:
    """The pip that replaces an Ubuntu Python's own (the base's CUDA choice may bound it;
    quoted for the shell), and what the classic builder puts before the upgrade (pip 9
    fails on its PIP_NO_CACHE_DIR=1)."""
    pip = recipe.base.cuda.pip if recipe.base.cuda is not None else "pip"
    pip = pip if pip == "pip" else f"'{pip}'"
    return pip, "" if recipe.buildkit else "env -u PIP_NO_CACHE_DIR "


def _venv_with_new_pip(recipe: Recipe, exe: str) -> str:
    """The venv of an Ubuntu Python, with its pip replaced before anything uses it.

    Ubuntu's venv seeds the pip of its release (8.1 on 16.04, 9.0 on 18.04): too old for
    today's wheels (and for uv's). pip 9 defaults to the retired pypi.python.org, so
    pypi.org is named unless the user configured an index; pip 9 also fails on the
    classic builder's PIP_NO_CACHE_DIR=1.
    """
    pip, unset = _new_pip(recipe)
    mounts = (
        f"--mount=type=secret,id={SECRET_CA} --mount=type=secret,id={SECRET_PIPCONF} "
        "--mount=type=cache,target=/root/.cache/pip,sharing=locked \\\n"
        if recipe.buildkit
        else "\\\n"
    )
    return (
        "# A virtual environment keeps the image's own Python packages apart; the pip\n"
        "# Ubuntu seeds it with is too old for today's wheels and is replaced first.\n"
        f"RUN {mounts}"
        f"{_secret_env()}"
        f"    {exe} -m venv {VENV} \\\n"
        '    && { [ -n "${PIP_CONFIG_FILE:-}${PIP_INDEX_URL:-}" ]'
        " || export PIP_INDEX_URL=https://pypi.org/simple; } \\\n"
        f"    && {unset}{VENV}/bin/python -m pip install --upgrade {pip}\n"
        f"ENV VIRTUAL_ENV={VENV} PATH={VENV}/bin:$PATH\n"
    )


def _install_python(version: str, source: str, devel: bool, packages: tuple[str, ...]) -> str:
    """Python on an nvidia/cuda image: from Ubuntu's archive, or from deadsnakes.

    The step is skipped when the interpreter (with venv, and headers for devel) is already
    there. NVIDIA's own apt sources are set aside while it runs: they are not needed, and
    images built before NVIDIA's 2022 signing-key change fail to verify them.
    """
    exe = f"python{version}"
    if not packages:  # the base image did not say (a hand-made BaseImage): the usual ones
        packages = (exe, f"{exe}-venv", *((f"{exe}-dev",) if devel else ()))
    check = f"{exe} -c 'import ensurepip' 2>/dev/null"
    if devel:
        check += f" && test -f /usr/include/{exe}/Python.h"
    install = "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends"
    headers = " (and its headers)" if devel else ""
    if source == "deadsnakes":
        origin = (
            f", nor does its Ubuntu release: install it{headers}\n# from the deadsnakes archive."
        )
        ppa = (
            f"      {install} software-properties-common gpg-agent; \\\n"
            "      add-apt-repository -y ppa:deadsnakes/ppa; \\\n"
            "      apt-get update; \\\n"
        )
    else:
        origin = f": install it{headers} from Ubuntu's own archive."
        ppa = ""
    return (
        f"# The CUDA image has no Python {version}{origin}\n"
        "# NVIDIA's apt sources are set aside meanwhile (images built before its 2022 key\n"
        "# change fail to verify them, and nothing here comes from them).\n"
        f"RUN set -e; if ! {{ {check}; }}; then \\\n"
        "      mkdir -p /tmp/apt-nvidia; \\\n"
        "      mv /etc/apt/sources.list.d/cuda* /etc/apt/sources.list.d/nvidia*"
        " /tmp/apt-nvidia/ 2>/dev/null || true; \\\n"
        "      apt-get update; \\\n"
        f"{ppa}"
        f"      {install} {' '.join(packages)}; \\\n"
        "      mv /tmp/apt-nvidia/* /etc/apt/sources.list.d/ 2>/dev/null || true; \\\n"
        "      rm -rf /var/lib/apt/lists/* /tmp/apt-nvidia; \\\n"
        "    fi\n"
    )


def _exe(recipe: Recipe) -> str:
    """The base's interpreter, before the virtual environment exists."""
    base = recipe.base
    return f"python{base.python}" if base.python_source != "image" else base.interpreter


def _user() -> str:
    return (
        "# An unprivileged user: the smoke test and `docker run` use it.\n"
        f"RUN useradd --create-home --uid {UID} --shell /bin/bash {USER} 2>/dev/null \\\n"
        f"    || adduser --disabled-password --gecos '' --uid {UID} {USER}\n"
    )


def _secret_env(uv: bool = False, python: str = "python") -> str:
    # uv does not read pip's configuration: uv_env.py turns its index settings into UV_*
    # variables, exported for this RUN only (never written into a layer).
    to_uv = f' eval "$({python} {UV_ENV} /run/secrets/{SECRET_PIPCONF})";' if uv else ""
    return (
        f"    if [ -f /run/secrets/{SECRET_CA} ]; then export"
        f" PIP_CERT=/run/secrets/{SECRET_CA} SSL_CERT_FILE=/run/secrets/{SECRET_CA}; fi; \\\n"
        f"    if [ -f /run/secrets/{SECRET_PIPCONF} ]; then"
        f" export PIP_CONFIG_FILE=/run/secrets/{SECRET_PIPCONF};{to_uv} fi; \\\n"
    )


def secret_run_prefix(cache: str = "") -> str:
    """``RUN`` with the CA bundle and pip configuration mounted and exported for pip, as the
    install steps have them, and a package cache mounted at ``cache`` (for Dockerfiles built
    on a packed image: ``repro lab``)."""
    mounts = _secret_mounts()
    if cache:
        mounts.append(f"--mount=type=cache,target={cache},sharing=locked")
    return "RUN " + " ".join(mounts) + " \\\n" + _secret_env()


def _cache_mount(recipe: Recipe, target: str) -> str:
    """A BuildKit cache mount for a package cache: downloads are kept between builds, and
    nothing of it is left in the layer."""
    tool = "uv" if target.endswith("/uv") else "pip"
    ns = f"id=repro-{tool}-{recipe.cache_namespace}," if recipe.cache_namespace else ""
    return f"--mount=type=cache,{ns}target={target},sharing=locked"


def _secret_mounts() -> list[str]:
    return [f"--mount=type=secret,id={SECRET_CA}", f"--mount=type=secret,id={SECRET_PIPCONF}"]


def _pip_uv(recipe: Recipe) -> str:
    """The command that installs uv (pinned) under /opt/repro/uv."""
    mounts = (
        " ".join([*_secret_mounts(), _cache_mount(recipe, "/root/.cache/pip")]) + " \\\n"
        if recipe.buildkit
        else "\\\n"
    )
    exe = _exe(recipe)
    install = f"-m pip install --target {UV_DIR} uv=={UV_VERSION}"
    if recipe.base.python_source != "image":
        # Python installed on the base has no pip of its own: a throwaway venv brings one,
        # whose pip (Ubuntu's: too old for uv's wheels) is replaced first; see
        # _venv_with_new_pip for the index and cache settings.
        pip, unset = _new_pip(recipe)
        command = (
            f"{exe} -m venv /tmp/pip \\\n"
            '    && { [ -n "${PIP_CONFIG_FILE:-}${PIP_INDEX_URL:-}" ]'
            " || export PIP_INDEX_URL=https://pypi.org/simple; } \\\n"
            f"    && {unset}/tmp/pip/bin/python -m pip install --upgrade {pip} \\\n"
            f"    && /tmp/pip/bin/python {install} && rm -rf /tmp/pip"
        )
    else:
        command = f"{exe} {install}"
    copy = f"COPY {CONTEXT_DIR}/uv_env.py {UV_ENV}\n"
    return copy + f"RUN {mounts}" + _secret_env() + f"    {command}\n"


def _uv_venv(recipe: Recipe) -> str:
    """The virtual environment, made by uv: a fraction of a second, where ``python -m venv``
    spends seconds installing pip. It is seeded as ensurepip would seed it (pip, and
    setuptools before Python 3.12), with the versions of the cutoff."""
    if recipe.installer != "uv" or not recipe.base.venv:
        return ""
    seed = ["pip"]
    if tuple(int(x) for x in recipe.base.python.split(".")[:2]) < (3, 12):
        seed.append("setuptools")
    install = [UV, "pip", "install", "--python", f"{VENV}/bin/python"]
    if recipe.exclude_newer:
        install += ["--exclude-newer", recipe.exclude_newer]
    mounts = ""
    if recipe.buildkit:
        bind = (
            [f"--mount=type=bind,from={STAGE_UV},source={UV_DIR},target={UV_DIR}"]
            if recipe.uv_stage
            else []
        )
        cache = _cache_mount(recipe, "/root/.cache/uv")
        mounts = " ".join([*_secret_mounts(), cache, *bind]) + " "
    return (
        "# A virtual environment keeps the image's own Python packages apart. uv makes it\n"
        "# and seeds it as `python -m venv` would, with the versions of the cutoff.\n"
        f"RUN {mounts}\\\n"
        f"{_secret_env(uv=True, python=_exe(recipe))}"
        f"    {UV} venv --python {recipe.base.python} --python-preference only-system {VENV} \\\n"
        f"    && {' '.join([*install, *seed])}\n"
        f"ENV VIRTUAL_ENV={VENV} PATH={VENV}/bin:$PATH\n"
    )


def _uv_stage(recipe: Recipe) -> str:
    # A base with its own Python (and pip) builds uv straight from the base image, so that
    # BuildKit runs it alongside the system packages and the user; Python installed on the
    # base (CUDA images) must come first.
    own = recipe.base.python_source == "image"
    parent = (
        _from(recipe, recipe.base.name, STAGE_UV) if own else f"FROM {STAGE_ENV} AS {STAGE_UV}\n"
    )
    return (
        "# The resolver: uv, pinned, in a stage of its own. The install steps below mount it;\n"
        "# no layer of the image holds it.\n"
        f"{parent}"
        f"{_pip_uv(recipe)}"
    )


def _resolver(recipe: Recipe) -> str:
    """uv for the lock (Python >= 3.8), or the date constraints pip installs against."""
    if recipe.installer == "pip":
        if not recipe.date_constraints:
            return ""
        return (
            "# Versions as of the code's date: pip has no upload-date cutoff, so repro writes\n"
            "# the newest release before it of every package it knows as constraints.\n"
            f"COPY {CONTEXT_DIR}/{DATE_CONSTRAINTS} /opt/repro/{DATE_CONSTRAINTS}\n"
        )
    cutoff = (
        "# uv resolves every install with files uploaded before"
        f" {recipe.exclude_newer or 'the cutoff'}\n"
        "# (the code's date), so the lock is a function of the commit, not of the day of the"
        " build.\n"
        "# Each install step then compiles what it added to bytecode, as pip does at install\n"
        "# (packages' test folders and pip aside): a process started from the image imports\n"
        "# its packages without compiling them.\n"
    )
    if recipe.uv_stage:
        return cutoff + f"ENV {UV_ENV_VARS}\n"
    return (
        "# The resolver: uv, pinned, outside the environment (without BuildKit it cannot be\n"
        "# mounted from a stage of its own, so it stays in this layer).\n"
        f"{cutoff}"
        f"{_pip_uv(recipe)}"
        f"ENV {UV_ENV_VARS}\n"
    )


def _install(
    recipe: Recipe,
    filename: str,
    items: tuple[str, ...],
    comment: str,
    extra_indexes: tuple[str, ...],
) -> str:
    if not items:
        return ""
    target = f"/opt/repro/{filename}"
    uv = recipe.installer == "uv"
    run, args = _installer(recipe, exemptions=True)
    links = recipe.framework_find_links if filename == "requirements-framework.txt" else ()
    first = ""
    if uv and (extra_indexes or links):
        # Indexes such as PyTorch's publish no upload times, which a date cutoff rejects:
        # the frameworks (exact versions) come from them first, alone; their dependencies
        # then resolve from PyPI with the cutoff (and the find-links pages, whose CUDA
        # builds of jaxlib and the like exist nowhere else).
        no_deps = [UV, "pip", "install", *_uv_target(recipe), "--no-deps"]
        for url in extra_indexes:
            no_deps += ["--extra-index-url", _url_arg(url)]
        for url in links:
            no_deps += ["--find-links", _url_arg(url)]
        first = " ".join([*no_deps, "-r", target]) + " \\\n    && "
        extra_indexes = ()
    for url in links:
        args += ["--find-links", _url_arg(url)]
    for url in (*extra_indexes, *recipe.index_urls):
        args += ["--extra-index-url", _url_arg(url)]
    if filename == "requirements.txt" and recipe.framework_requirements:
        # Keep the frameworks installed above: the rest may not move them. (Only the
        # frameworks: their dependencies, resolved alone to their newest, may move for the
        # rest, as datasets needs an older fsspec than torch's newest.)
        args += ["--constraint", "/opt/repro/installed-frameworks.txt"]
    if not uv and recipe.date_constraints:
        args += ["--constraint", f"/opt/repro/{DATE_CONSTRAINTS}"]
    if filename == "requirements.txt" and recipe.no_build_isolation:
        first += _build_first(recipe, args)
        if uv:
            for name in recipe.no_build_isolation:
                args += ["--no-build-isolation-package", shlex.quote(_one_line(name))]
        else:
            args.append("--no-build-isolation")
    args += ["-r", target]
    freeze = ""
    if filename == "requirements-framework.txt":
        pattern = "|".join(_name_pattern(n) for n in _framework_names(items))
        freeze = (
            f" \\\n    && python -m pip freeze | {{ grep -i -E '^({pattern})(==| @ )' || true; }}"
            " > /opt/repro/installed-frameworks.txt"
        )
    return (
        f"# {comment}\n"
        f"COPY {CONTEXT_DIR}/{filename} {target}\n"
        f"{run}"
        f"{_secret_env(uv)}"
        f"    {first}{' '.join(args)}{freeze}{_bytecode(recipe)}\n"
    )


def _bytecode(recipe: Recipe) -> str:
    """Compile what an install step added to bytecode, in the step's own layer (uv does
    not compile; pip, the installer up to Python 3.7, does). compileall passes over the
    files whose bytecode is already current, so each layer holds only its own; a file
    this Python cannot compile (a test written for a newer one) keeps no bytecode, as
    before, and never fails the build. Left out: packages' own test folders (an
    application rarely imports them; they hold 40 % of numpy's and scipy's bytecode) and
    pip (never imported by the code; the build runs it a few times)."""
    if recipe.installer != "uv":
        return ""
    return (
        " \\\n    && { python -m compileall -q -j 0 -x '/tests?/|-packages/pip/'"
        f' "{_SITE_PACKAGES}" >/dev/null 2>&1 || :; }}'
    )


# The environment's site-packages, as the shell finds it in a step (``python`` is the
# environment's: the venv's, or the image's own with ``--system``)
_SITE_PACKAGES = "$(python -c 'import sysconfig; print(sysconfig.get_path(\"purelib\"))')"


def _installer(recipe: Recipe, *, exemptions: bool) -> tuple[str, list[str]]:
    """An install layer's ``RUN`` line with its BuildKit mounts (secrets, the installer's
    cache, uv from its stage, the wheelhouse), and the installer's command before its
    indexes: uv into the environment with the date cutoff (``exemptions``: and the
    packages a build repair let past it), or pip; the wheelhouse as find-links."""
    uv = recipe.installer == "uv"
    mounts = []
    if recipe.buildkit:
        mounts = _secret_mounts()
        mounts.append(_cache_mount(recipe, "/root/.cache/uv" if uv else "/root/.cache/pip"))
        if recipe.uv_stage:
            mounts.append(f"--mount=type=bind,from={STAGE_UV},source={UV_DIR},target={UV_DIR}")
        if recipe.wheelhouse:
            mounts.append(f"--mount=type=bind,source={CONTEXT_DIR}/wheels,target=/opt/repro/wheels")
    if uv:
        args = [UV, "pip", "install", *_uv_target(recipe)]
        if recipe.exclude_newer:
            args += ["--exclude-newer", recipe.exclude_newer]
            if exemptions:
                for exempt in recipe.exclude_newer_packages:
                    args += ["--exclude-newer-package", _url_arg(exempt)]
    else:
        args = ["python", "-m", "pip", "install"]
    if recipe.wheelhouse:
        args += ["--find-links", "/opt/repro/wheels"]
    run = "RUN " + " ".join(mounts) + " \\\n" if mounts else "RUN \\\n"
    return run, args


def _build_first(recipe: Recipe, args: Sequence[str]) -> str:
    """The install of what a package's build script imports without declaring it (a
    build repair's ``build_first``), ahead of the requirements, with the same target and
    date cutoff: a package built without isolation finds it in the environment."""
    if not recipe.build_first:
        return ""
    wanted = dict.fromkeys(shlex.quote(_one_line(r)) for r in (*recipe.build_first, "wheel"))
    return " ".join([*args, *wanted]) + " \\\n    && "


def _system_site(recipe: Recipe) -> str:
    """A path file in the environment's site-packages naming the distribution's
    dist-packages: its modules are built for this very Python (repro/system_modules.py),
    and come after the environment's own packages on ``sys.path``."""
    if not recipe.system_site:
        return ""
    site = shlex.quote(recipe.system_site)
    return (
        "# Modules from the distribution's packages (above) live in its dist-packages, built\n"
        "# for this Python: the environment sees them after its own packages.\n"
        f'RUN site={_SITE_PACKAGES} && echo {site} > "$site/repro-system.pth"\n'
    )


def _optional(recipe: Recipe) -> str:
    """The best-effort layer: each light optional import on its own, held to every version
    installed above (so it can add, never move); one that fails is listed in
    OPTIONAL_DROPPED and the build goes on (repro.json says which were dropped)."""
    if not recipe.optional_requirements:
        return ""
    target = f"/opt/repro/{OPTIONAL}"
    held = "/opt/repro/installed-before-optional.txt"
    uv = recipe.installer == "uv"
    run, args = _installer(recipe, exemptions=False)
    for url in recipe.index_urls:
        args += ["--extra-index-url", _url_arg(url)]
    if not uv and recipe.date_constraints:
        args += ["--constraint", f"/opt/repro/{DATE_CONSTRAINTS}"]
    args += ["--constraint", held]
    return (
        "# Optional imports (under try/except ImportError or a flag): each is installed if it\n"
        "# installs cleanly beside everything above, else dropped; never failing the build.\n"
        f"COPY {CONTEXT_DIR}/{OPTIONAL} {target}\n"
        f"{run}"
        f"{_secret_env(uv)}"
        f"    {{ python -m pip freeze | grep '==' || true; }} > {held}; \\\n"
        f"    : > {OPTIONAL_DROPPED}; \\\n"
        '    while read -r req; do [ -n "$req" ] || continue; \\\n'
        f'      {" ".join(args)} "$req" \\\n'
        f'        || echo "$req" >> {OPTIONAL_DROPPED}; \\\n'
        f"    done < {target}{_bytecode(recipe)}\n"
    )


def _framework_names(lines: tuple[str, ...]) -> list[str]:
    """The distributions the framework lines install, canonical, sorted."""
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as PReq
    from packaging.utils import canonicalize_name

    names = set()
    for line in lines:
        try:
            names.add(canonicalize_name(PReq(line).name))
        except InvalidRequirement:
            continue
    return sorted(names)


def _name_pattern(name: str) -> str:
    """A canonical name as ``pip freeze`` may spell it (``tensorflow_gpu``, ``Jinja2``)."""
    return "[-_.]".join(re.escape(part) for part in name.split("-"))


def _uv_target(recipe: Recipe) -> list[str]:
    """Where uv installs: the virtual environment, or the image's own Python (``--system``)
    when the base carries the framework there."""
    return ["--python", f"{VENV}/bin/python"] if recipe.base.venv else ["--system"]


def _extensions(recipe: Recipe) -> str:
    """The repository's own compiled extensions, built where the compilers are."""
    if not recipe.build_extensions:
        return ""
    return (
        "# The repository's own extensions compile here, next to the CUDA toolkit; the\n"
        "# runtime stage copies the built tree.\n"
        f"COPY {SOURCE_DIR}/ {APP_DIR}/\n"
        f"RUN cd {APP_DIR} && python setup.py build_ext --inplace\n"
    )


def _runtime_stage(recipe: Recipe) -> list[str]:
    """The image itself: the runtime base, Python, the user, and the environment copied in."""
    cuda = recipe.base.cuda
    if cuda is not None:  # the interpreter without its headers: nothing compiles here
        cuda = dataclasses.replace(
            cuda,
            flavour="runtime",
            python_packages=tuple(p for p in cuda.python_packages if not p.endswith("-dev")),
        )
    runtime = dataclasses.replace(recipe.base, name=recipe.runtime_base, cuda=cuda)
    on_runtime = dataclasses.replace(recipe, base=runtime)
    repro_files = []
    if recipe.framework_requirements:
        repro_files += ["requirements-framework.txt", "installed-frameworks.txt"]
    if recipe.requirements:
        repro_files.append("requirements.txt")
    if recipe.installer == "pip" and recipe.date_constraints:
        repro_files.append(DATE_CONSTRAINTS)
    if recipe.optional_requirements:
        repro_files += [OPTIONAL, OPTIONAL_DROPPED.rsplit("/", 1)[1]]
    copies = " ".join(f"/opt/repro/{name}" for name in repro_files)
    repro_copy = f"COPY --from={STAGE_DEPS} {copies} /opt/repro/\n" if copies else ""
    return [
        "# The image: the runtime flavour, without compilers or the CUDA toolkit.\n"
        + _from(recipe, recipe.runtime_base, ""),
        _env(recipe),
        _system_packages(recipe, build=False),
        _python(on_runtime, venv=False),
        _user(),
        "# The environment built above, as one layer.\n"
        f"COPY --from={STAGE_DEPS} {VENV} {VENV}\n"
        f"ENV VIRTUAL_ENV={VENV} PATH={VENV}/bin:$PATH\n"
        f"{repro_copy}",
    ]


def _lock(recipe: Recipe) -> str:
    return (
        "# The exact versions installed, kept in the image and copied to repro.json;\n"
        "# and repro's checks (imports, --help, notebooks), which the smoke test may use.\n"
        f"COPY {CONTEXT_DIR}/import_check.py {CONTEXT_DIR}/help_check.py"
        f" {CONTEXT_DIR}/notebook_check.py /opt/repro/\n"
        "RUN python -m pip freeze --all > /opt/repro/lock.txt\n"
    )


SOURCE_COPY = f"COPY --chown={UID}:{UID} {SOURCE_DIR}/ {APP_DIR}/"
SOURCE_CMD = ("bash",)


def _source(recipe: Recipe) -> str:
    path = ":".join(recipe.python_path)
    if recipe.runtime_base and recipe.build_extensions:
        copy = f"COPY --from={STAGE_DEPS} --chown={UID}:{UID} {APP_DIR}/ {APP_DIR}/\n"
    else:
        copy = f"{SOURCE_COPY}\n"
    return (
        "# The repository's code last: editing it rebuilds only this layer.\n"
        f"{copy}"
        f"WORKDIR {APP_DIR}\n"
        f"ENV PYTHONPATH={path}\n"
        f"{_binder_root_steps(recipe)}"
        f"USER {USER}\n"
        f"{_post_build(recipe)}"
        f"{_start(recipe)}"
        f"CMD {json.dumps(list(SOURCE_CMD))}\n"
    )


def _code_layer(recipe: Recipe, env_dockerfile: str) -> CodeLayer | None:
    """The last step (:func:`_source`) as repro can carry it out itself: a plain copy of the
    repository followed by settings only. Not when the code is compiled in an earlier
    stage, nor with Binder's steps that run after the copy (postBuild, start, npm's
    prefix): the builder builds those."""
    if (recipe.runtime_base and recipe.build_extensions) or (
        recipe.post_build or recipe.start or recipe.node
    ):
        return None
    return CodeLayer(
        env_dockerfile=env_dockerfile,
        copy=SOURCE_COPY,
        app_dir=APP_DIR,
        uid=UID,
        workdir=APP_DIR,
        env=(("PYTHONPATH", ":".join(recipe.python_path)),),
        user=USER,
        cmd=SOURCE_CMD,
    )


START = "/opt/repro/start"


def _binder_root_steps(recipe: Recipe) -> str:
    """What postBuild and start need done as root before the image's user takes over."""
    lines = ""
    if recipe.post_build and recipe.base.venv and not recipe.base.python.startswith("2."):
        lines += (
            f"# {_one_line(recipe.post_build)} runs as the image's user, as on Binder, and may"
            " install into the\n"
            "# environment: its folders become that user's (its files stay root's; a folder's\n"
            "# owner may add, replace and remove files in it), and so do its configuration\n"
            "# files (etc/: `jupyter ... --sys-prefix` edits them in place).\n"
            f"RUN find {VENV} -type d -exec chown {UID}:{UID} {{}} + \\\n"
            f" && if [ -d {VENV}/etc ]; then chown -R {UID}:{UID} {VENV}/etc; fi\n"
        )
    if recipe.node:
        lines += (
            f"# npm's global installs go to {NPM_PREFIX}, the image's user's, on PATH: as on"
            " Binder,\n"
            "# `npm install --global` works without root.\n"
            f"RUN install -d -o {UID} -g {UID} {NPM_PREFIX}\n"
            f"ENV NPM_CONFIG_PREFIX={NPM_PREFIX} PATH={NPM_PREFIX}/bin:$PATH\n"
        )
    if recipe.start:
        lines += (
            f"# {_one_line(recipe.start)} wraps every command a container of the image runs,"
            " as on Binder.\n"
            f"RUN install -m 0755 {shlex.quote(APP_DIR + '/' + recipe.start)} {START}\n"
        )
    return lines


def _post_build(recipe: Recipe) -> str:
    """Binder's postBuild, as the image's user in the repository's folder, with the CA
    bundle and pip configuration mounted as the install steps have them (the CA bundle
    also for node: NODE_EXTRA_CA_CERTS; npm's cache a cache mount when it runs npm); then
    the lock is taken again, since it may have installed packages."""
    if not recipe.post_build:
        return ""
    script = shlex.quote(f"./{recipe.post_build}")
    mounts = ""
    if recipe.buildkit:
        mounts = " ".join(f"{m},uid={UID}" for m in _secret_mounts()) + " "
        if recipe.node:
            # npm's downloads kept between builds, and out of the layer
            ns = f"id=repro-npm-{recipe.cache_namespace}," if recipe.cache_namespace else ""
            mounts += (
                f"--mount=type=cache,{ns}target=/home/{USER}/.npm,uid={UID},gid={UID},"
                "sharing=locked "
            )
    env = ""
    if recipe.buildkit:
        env = (
            f"    if [ -f /run/secrets/{SECRET_CA} ]; then export"
            f" PIP_CERT=/run/secrets/{SECRET_CA} SSL_CERT_FILE=/run/secrets/{SECRET_CA}"
            f" REQUESTS_CA_BUNDLE=/run/secrets/{SECRET_CA} CURL_CA_BUNDLE=/run/secrets/{SECRET_CA}"
            f" NODE_EXTRA_CA_CERTS=/run/secrets/{SECRET_CA}; fi; \\\n"
            f"    if [ -f /run/secrets/{SECRET_PIPCONF} ]; then"
            f" export PIP_CONFIG_FILE=/run/secrets/{SECRET_PIPCONF}; fi; \\\n"
        )
    return (
        f"# {_one_line(recipe.post_build)}: Binder's last build step, run once the environment"
        " and the code\n"
        "# are in place, as the image's user.\n"
        f"RUN {mounts}\\\n"
        f"{env}"
        f"    chmod +x {script} && {script}\n"
        "USER root\n"
        "RUN python -m pip freeze --all > /opt/repro/lock.txt\n"
        f"USER {USER}\n"
    )


def _start(recipe: Recipe) -> str:
    if not recipe.start:
        return ""
    return f'ENTRYPOINT ["{START}"]\n'
