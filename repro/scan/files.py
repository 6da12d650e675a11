"""Walk a checkout once and sort its files by what they can tell us."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# Folders that never hold the repository's own code: VCS data, virtual environments,
# caches, vendored site-packages, build outputs, front-end dependencies.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".eggs",
        "node_modules",
        "site-packages",
        "dist-packages",
        ".ipynb_checkpoints",
        ".venv",
        "venv",
        ".env",
        "env",
        ".idea",
        ".vscode",
    }
)

# A file this large is data, not code; reading it would only cost time.
MAX_TEXT_BYTES = 5 * 1024 * 1024


@dataclass
class RepoFiles:
    """Relative POSIX paths of the files that matter, by kind."""

    root: Path
    python: list[str] = field(default_factory=list)
    notebooks: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    setup_py: list[str] = field(default_factory=list)
    setup_cfg: list[str] = field(default_factory=list)
    pyproject: list[str] = field(default_factory=list)
    pipfiles: list[str] = field(default_factory=list)
    locks: list[str] = field(default_factory=list)
    conda: list[str] = field(default_factory=list)
    dockerfiles: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    readmes: list[str] = field(default_factory=list)
    ci: list[str] = field(default_factory=list)
    python_version_files: list[str] = field(default_factory=list)
    cuda_sources: list[str] = field(default_factory=list)
    extension_sources: list[str] = field(default_factory=list)  # .pyx, prebuilt .so/.pyd
    oversized: list[tuple[str, int]] = field(default_factory=list)
    total: int = 0

    def abs(self, rel: str) -> Path:
        return self.root / rel


def walk(root: Path) -> RepoFiles:
    """Every file under ``root`` (symlinks and skipped folders left out), sorted by kind."""
    found = RepoFiles(root=root)
    _walk(found, str(root), "")
    return found


def _walk(found: RepoFiles, path: str, rel_dir: str) -> None:
    try:
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return
    subdirs = []
    for entry in entries:
        if entry.is_symlink():
            continue  # never followed: it may point anywhere
        rel = f"{rel_dir}{entry.name}"
        if entry.is_dir():
            name = entry.name
            if (
                name not in SKIP_DIRS
                and not name.endswith(".egg-info")
                and not os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))
            ):
                subdirs.append((entry.path, f"{rel}/"))
        elif entry.is_file():
            found.total += 1
            _classify(found, rel, entry.name, entry)
    for sub, sub_rel in subdirs:
        _walk(found, sub, sub_rel)


def _classify(found: RepoFiles, rel: str, name: str, entry: os.DirEntry[str]) -> None:
    lower = name.lower()
    if lower.endswith((".py", ".pyw")):
        try:
            size = entry.stat().st_size
        except OSError:
            return
        if size > MAX_TEXT_BYTES:
            found.oversized.append((rel, size))
            return
        found.python.append(rel)
        if lower == "setup.py":
            found.setup_py.append(rel)
    elif lower.endswith(".ipynb"):
        found.notebooks.append(rel)
    elif _is_requirements_file(rel, lower):
        found.requirements.append(rel)
    elif lower == "setup.cfg":
        found.setup_cfg.append(rel)
    elif lower == "pyproject.toml":
        found.pyproject.append(rel)
    elif lower == "pipfile":
        found.pipfiles.append(rel)
    elif lower in ("pipfile.lock", "poetry.lock", "uv.lock", "pdm.lock"):
        found.locks.append(rel)
    elif lower.endswith((".yml", ".yaml")) and (
        any(d in f"/{rel}" for d in ("/.github/workflows/", "/.circleci/"))
        or lower in _CI_NAMES
        or lower.startswith(".travis")
    ):
        found.ci.append(rel)
    elif lower.endswith((".yml", ".yaml")) and (
        "environment" in lower or lower.startswith(("env", "conda"))
    ):
        found.conda.append(rel)
    elif lower == "dockerfile" or lower.startswith("dockerfile.") or lower.endswith(".dockerfile"):
        found.dockerfiles.append(rel)
    elif lower.endswith((".sh", ".bash")):
        found.scripts.append(rel)
    elif lower.startswith(("readme", "install")) and lower.endswith(_DOC_EXTENSIONS):
        found.readmes.append(rel)
    elif lower in _CI_NAMES:
        found.ci.append(rel)
    elif lower in (".python-version", "runtime.txt"):
        found.python_version_files.append(rel)
    elif lower.endswith((".cu", ".cuh")):
        found.cuda_sources.append(rel)
    elif lower.endswith((".pyx", ".pyd")) or (lower.endswith(".so") and ".cpython-" in lower):
        found.extension_sources.append(rel)


# Continuous-integration configurations: evidence of how the authors installed and tested.
_CI_NAMES = frozenset(
    {".travis.yml", ".travis.yaml", "tox.ini", ".gitlab-ci.yml", "azure-pipelines.yml",
     "appveyor.yml"}
)  # fmt: skip
_DOC_EXTENSIONS = ("", ".md", ".rst", ".txt", ".markdown")


def _is_requirements_file(rel: str, lower: str) -> bool:
    """requirements*.txt, requirements/*.txt, *requirements*.in, constraints.txt."""
    if lower in ("constraints.txt",):
        return True
    if lower.endswith(".txt"):
        return "requirement" in lower or "/requirements/" in f"/{rel.lower()}"
    return lower.endswith(".in") and "requirement" in lower


def read_text(path: Path | str) -> str | None:
    """A text file's content, or None for binary or unreadable files."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def relative_inside(path: str) -> str | None:
    """``path`` (POSIX, relative to the repository root) without ``.``/``..`` parts: ``""``
    for the root itself, None when it leaves the repository."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


def read_or_warn(root: Path, rel: str, warnings: list[str]) -> str | None:
    """:func:`read_text` of ``root/rel``; when it cannot be read, a warning saying it was
    skipped is added to ``warnings`` and the answer is None."""
    text = read_text(root / rel)
    if text is None:
        warnings.append(f"{rel}: not a readable text file, skipped")
    return text
