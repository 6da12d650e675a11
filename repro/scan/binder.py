"""Binder configuration, found where repo2docker looks for it (pure, read-only).

A repository is set up for Binder when it has a ``.binder/`` or ``binder/`` folder, a file
only Binder reads at its root (``apt.txt``, ``postBuild``, ``start``, ``runtime.txt``,
``requirements3.txt``, ``install.R``, ``Project.toml``, ``REQUIRE``), a README linking
to mybinder.org, or an ``environment.yml`` beside a ``requirements.txt`` at the root (which
Binder, by its documented rule, resolves to the environment.yml alone). Its configuration
is read as repo2docker reads it (docs/binder.md):

* **Where.** The folder when there is one (``.binder/`` first); then every configuration
  file at the root is what Binder ignores. Without a folder, the root.
* **Which environment file.** ``environment.yml`` wins over ``Pipfile``/``Pipfile.lock``,
  which win over ``requirements.txt`` and ``setup.py``: Binder installs from one kind.
* **What becomes a build step.** ``apt.txt`` (system packages), ``postBuild`` (run once the
  environment and the code are in place, as the image's user), ``start`` (wraps every
  command a container of the image runs). When either script runs ``node``, ``npm`` or
  ``npx``, or ``jupyter labextension install|build`` (JupyterLab before 4 builds with
  node), the image gets Node.js and npm, as Binder's image carries them (:func:`node_use`).

Files Binder would not read are not dropped: their requirements are weighed as hints
(kind ``shadowed``: installed only when the code imports them, with their versions),
since inference fills what the configuration lacks. Files repro cannot honour (R, Julia,
Nix, a Dockerfile Binder would build as is) are named in a warning.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from repro.models import BinderConfig, BinderFile, DeclaredRequirement, PythonHint
from repro.scan import declared as decl
from repro.scan.commands import logical_lines
from repro.scan.files import RepoFiles, read_text

FOLDERS = (".binder", "binder")  # repo2docker's order: .binder/ first
CONDA_FILES = ("environment.yml", "environment.yaml")
PIPFILES = ("Pipfile", "Pipfile.lock")
# Files that mean "this repository is set up for Binder" when they lie at the root.
BINDER_ONLY = (
    "apt.txt", "postBuild", "start", "runtime.txt", "requirements3.txt", "install.R",
    "Project.toml", "JuliaProject.toml", "REQUIRE",
)  # fmt: skip
# What repro cannot build, by file name: why, in a few words.
UNSUPPORTED = {
    "install.R": "R packages (install.R) are not installed: repro builds Python environments",
    "DESCRIPTION": "an R package (DESCRIPTION) is not installed: repro builds Python environments",
    "Project.toml": "Julia packages (Project.toml) are not installed: repro builds Python "
    "environments",
    "JuliaProject.toml": "Julia packages (JuliaProject.toml) are not installed: repro builds "
    "Python environments",
    "REQUIRE": "Julia packages (REQUIRE) are not installed: repro builds Python environments",
    "default.nix": "a Nix environment (default.nix) is not built: repro builds from Debian and "
    "PyPI",
    "apt.yaml": "apt.yaml (other apt sources or base-image changes) is not applied: repro "
    "chooses the base image itself",
}
# Every file name repo2docker reads as configuration (a folder shadows these at the root).
CONFIG_FILES = (
    "requirements.txt", "requirements3.txt", "setup.py", "runtime.txt", *CONDA_FILES,
    *PIPFILES, "apt.txt", "postBuild", "start", "Dockerfile", *UNSUPPORTED,
)  # fmt: skip
_README_LINK = re.compile(r"mybinder\.org/v2/|binder\.pangeo\.io/v2/|mybinder\.org/repo/")
# A Debian package name (policy 5.6.1), with an optional :arch and =version.
_APT_NAME = re.compile(r"[a-z0-9][a-z0-9+.\-]*(?::[a-z0-9\-]+)?(?:=[A-Za-z0-9.+~:\-]+)?")
_RUNTIME = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)-(.+)$")
Status = Literal["used", "hint", "ignored", "unsupported"]
Note = Callable[[str, Status, str], None]


@dataclass
class Reading:
    """What scan needs from the Binder configuration."""

    config: BinderConfig | None = None
    # files whose declarations Binder does not use here: rel → why (read as hints)
    shadowed: dict[str, str] = field(default_factory=dict)
    skipped: frozenset[str] = frozenset()  # configuration files not read at all
    warnings: list[str] = field(default_factory=list)


def read(root: Path, files: RepoFiles) -> Reading:
    """The repository's Binder configuration, or an empty reading when it has none."""
    folders = [f for f in FOLDERS if _is_dir(root / f)]
    folder = folders[0] if folders else ""
    why = f"{folder}/ folder" if folder else _root_marker(root, files)
    if not why:
        return Reading()
    out = Reading()
    if len(folders) > 1:
        out.warnings.append(
            "both .binder/ and binder/ exist (Binder refuses such a repository): .binder/ is "
            "read, binder/'s files are weighed as hints"
        )
    where = f"{folder}/" if folder else ""
    present = {name for name in CONFIG_FILES if _is_file(root / f"{where}{name}")}
    environment: Literal["conda", "pipfile", "python"] = (
        "conda"
        if present & set(CONDA_FILES)
        else "pipfile"
        if present & set(PIPFILES)
        else "python"
    )
    listed: list[BinderFile] = []
    skipped: set[str] = set()
    apt: tuple[str, ...] = ()
    post_build = start = ""

    def note(rel: str, status: Status, text: str) -> None:
        listed.append(BinderFile(path=rel, status=status, note=text))

    chosen = {"conda": "environment.yml", "pipfile": "Pipfile", "python": "requirements.txt"}[
        environment
    ]
    for name in CONFIG_FILES:
        if name not in present:
            continue
        rel = f"{where}{name}"
        kind = _environment_kind(name)
        if kind is not None:
            if name == "setup.py" and folder:
                continue  # not a Binder file inside the folder: read as any setup.py
            if kind == environment:
                note(rel, "used", _USED[name])
            else:
                why_not = f"Binder installs {where}{chosen} here, not this file: read as hints"
                out.shadowed[rel] = why_not
                note(rel, "hint", why_not)
        elif name == "requirements3.txt":
            skipped.add(rel)
            note(rel, "ignored", "the notebook server's own environment on Binder (beside a "
                 "Python 2 kernel); the image has one environment")  # fmt: skip
        elif name == "runtime.txt":
            _runtime(root, rel, out, note, skipped)
        elif name == "apt.txt":
            apt = _apt(root, rel, out)
            note(rel, "used", f"{len(apt)} system package(s) installed with apt")
        elif name == "postBuild":
            post_build = rel
            note(rel, "used", "run in the build, as the image's user, after the environment")
        elif name == "start":
            start = rel
            note(rel, "used", "wraps every command the image's containers run")
        elif name == "Dockerfile":
            text = "Binder builds this Dockerfile as it is and ignores every other file; repro "
            text += "builds its own image and weighs it as hints"
            out.warnings.append(f"{rel}: {text}")
            note(rel, "unsupported", text)
        else:
            skipped.add(rel)
            out.warnings.append(f"{rel}: {UNSUPPORTED[name]} (docs/binder.md)")
            note(rel, "unsupported", UNSUPPORTED[name])
    if folder:
        _shadow_root(root, folder, folders[1:], out, note, skipped)
    out.skipped = frozenset(skipped)
    uses = [(rel, _node_in(root / rel)) for rel in (post_build, start) if rel]
    node = next((f"{rel} {use}" for rel, use in uses if use), "")
    out.config = BinderConfig(
        folder=folder,
        why=why,
        environment=environment,
        apt_packages=apt,
        apt_file=f"{where}apt.txt" if "apt.txt" in present else "",
        post_build=post_build,
        post_build_sha256=_sha256(root / post_build) if post_build else "",
        start=start,
        start_sha256=_sha256(root / start) if start else "",
        node=node,
        files=tuple(listed),
    )
    return out


_USED = {
    "environment.yml": "conda environment: its packages by their PyPI names, python= sets Python",
    "environment.yaml": "conda environment: its packages by their PyPI names, python= sets Python",
    "Pipfile": "Pipfile: its packages",
    "Pipfile.lock": "Pipfile.lock: its pins",
    "requirements.txt": "its requirements",
    "setup.py": "its install_requires (Binder installs the package)",
}


def _environment_kind(name: str) -> str | None:
    if name in CONDA_FILES:
        return "conda"
    if name in PIPFILES:
        return "pipfile"
    if name in ("requirements.txt", "setup.py"):
        return "python"
    return None


def _root_marker(root: Path, files: RepoFiles) -> str:
    """The first root file that only a Binder repository has, or a README's Binder link."""
    for name in BINDER_ONLY:
        if _is_file(root / name):
            return name
    # repo2docker's own rule, documented for everyone: an environment.yml makes Binder
    # ignore the requirements.txt beside it
    conda = next((n for n in CONDA_FILES if _is_file(root / n)), "")
    if conda and _is_file(root / "requirements.txt"):
        return f"{conda} beside requirements.txt"
    for rel in files.readmes:
        if "/" not in rel:
            text = read_text(root / rel) or ""
            if _README_LINK.search(text):
                return f"{rel} links to mybinder.org"
    return ""


def _shadow_root(
    root: Path, folder: str, others: list[str], out: Reading, note: Note, skipped: set[str]
) -> None:
    """The root's configuration (and a second folder's) when a folder holds Binder's."""
    for place in ["", *others]:
        prefix = f"{place}/" if place else ""
        for name in CONFIG_FILES:
            rel = f"{prefix}{name}"
            if not _is_file(root / rel):
                continue
            where = "the root" if not place else f"{place}/"
            if _environment_kind(name) is not None:
                why = f"{folder}/ holds the Binder configuration, which ignores {where}: "
                why += "read as hints"
                out.shadowed[rel] = why
                note(rel, "hint", why)
            elif name == "Dockerfile":
                note(rel, "hint", f"{folder}/ holds the Binder configuration: read as hints")
            else:
                skipped.add(rel)
                note(
                    rel,
                    "ignored",
                    f"{folder}/ holds the Binder configuration, which ignores {where}",
                )


def _runtime(root: Path, rel: str, out: Reading, note: Note, skipped: set[str]) -> None:
    """runtime.txt: ``python-X.Y`` sets the Python (read by declared.read_python_version_file);
    ``r-…`` or ``julia-…`` is a runtime repro does not build."""
    text = (read_text(root / rel) or "").strip()
    first = text.splitlines()[0].strip() if text else ""
    m = _RUNTIME.match(first)
    if (m and m.group(1) == "python") or first[:1].isdigit():
        note(rel, "used", f"Python from {first!r}")
        return
    skipped.add(rel)
    what = f"{m.group(1)} runtime" if m else "runtime"
    message = (
        f"{what} {first!r} is not built: repro builds Python environments, and chooses the "
        "Python from the other evidence"
    )
    out.warnings.append(f"{rel}: {message} (docs/binder.md)")
    note(rel, "unsupported", message)


def _apt(root: Path, rel: str, out: Reading) -> tuple[str, ...]:
    """apt.txt: one package per line, ``#`` comments; a line that is not a Debian package
    name is skipped with a warning (it would reach a shell)."""
    text = read_text(root / rel)
    if text is None:
        out.warnings.append(f"{rel}: not a readable text file, skipped")
        return ()
    packages: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.partition("#")[0].strip()
        if not line:
            continue
        if not _APT_NAME.fullmatch(line):
            out.warnings.append(
                f"{rel}:{number}: {line[:60]!r} is not a Debian package name, skipped"
            )
            continue
        if line not in packages:
            packages.append(line)
    return tuple(packages)


# Programs Binder's image carries that a script may call: node and npm come with Node.js.
_NODE_COMMANDS = ("node", "nodejs", "npm", "npx")
# Words after which the next word is a command again (``sudo npm``, ``if node ...``).
_PREFIXES = frozenset(
    ["sudo", "exec", "time", "command", "env", "nohup", "then", "do", "else", "elif", "if",
     "while", "until", "!", "{", "xargs"]
)  # fmt: skip
# jupyter subcommands that build JupyterLab's front end with node (JupyterLab before 4)
_NODE_BUILDS = frozenset(["labextension install", "labextension build", "lab build"])
_OPERATORS = frozenset(["&&", "||", ";", "|", "&", "(", ")", ";;", "|&"])
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def _node_in(path: Path) -> str:
    text = read_text(path)
    return node_use(text) if text else ""


def node_use(script: str) -> str:
    """What in a Binder script needs Node.js: ``runs npm (line 4)`` for the first command
    that is ``node``, ``nodejs``, ``npm`` or ``npx``, or ``jupyter labextension install`` /
    ``build`` or ``jupyter lab build`` (JupyterLab before 4 builds extensions with node);
    "" when none is. Commands are the words a shell would run (comments and arguments do
    not count)."""
    for number, line in logical_lines(script):
        words = _shell_words(line)
        for i, word in enumerate(words):
            if not _command_position(words, i):
                continue
            name = word.rsplit("/", 1)[-1]
            if name in _NODE_COMMANDS:
                return f"runs {name} (line {number})"
            sub = [w for w in words[i + 1 : i + 5] if not w.startswith("-")]
            if name.startswith("jupyter-"):
                sub = [name.removeprefix("jupyter-"), *sub]
            elif name != "jupyter":
                continue
            what = " ".join(sub[:2])
            if what in _NODE_BUILDS:
                return f"runs jupyter {what} (line {number}), which builds with node"
    return ""


def _shell_words(line: str) -> list[str]:
    """A line's words and operators as a shell splits them, comments dropped; a line the
    shell splitter cannot read (an open quote) is split at white space."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:
        return line.partition("#")[0].split()


def _command_position(words: list[str], i: int) -> bool:
    """Whether ``words[i]`` is where a command name stands."""
    j = i - 1
    while j >= 0 and _ASSIGNMENT.match(words[j]):
        j -= 1  # VAR=value before a command
    return j < 0 or words[j] in _OPERATORS or words[j] in _PREFIXES


def summary(config: BinderConfig) -> str:
    """One line: where the Binder configuration is and what of it becomes a build step."""
    where = f"{config.folder}/" if config.folder else "the root"
    steps = []
    if config.apt_packages:
        steps.append(f"{len(config.apt_packages)} apt package(s)")
    steps += [
        name for name, path in (("postBuild", config.post_build), ("start", config.start)) if path
    ]
    used = sum(1 for f in config.files if f.status == "used")
    tail = f"; {', '.join(steps)}" if steps else ""
    return f"Binder configuration in {where} ({config.why}): {used} file(s) used{tail}"


def shadow(found: decl.Declared, why: str) -> decl.Declared:
    """A declaration file Binder does not read, as hints: its requirements become kind
    ``shadowed`` (installed only when code imports them), its Python bounds weak hints."""
    out = decl.Declared(hints=list(found.hints), warnings=list(found.warnings))
    for req in found.requirements:
        origin = dataclasses.replace(req.origin, kind="shadowed", detail=why)
        out.requirements.append(dataclasses.replace(req, origin=origin))
    for hint in found.python:
        out.python.append(PythonHint(specifier=hint.specifier, origin=hint.origin, strength="hint"))
    return out


def shadowed_requirements(
    requirements: list[DeclaredRequirement], why: str
) -> list[DeclaredRequirement]:
    """Requirements of a shadowed requirements file, as hints."""
    return shadow(decl.Declared(requirements=requirements), why).requirements


def _is_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _is_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""
