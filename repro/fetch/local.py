"""A local directory as a checkout: inside a git repository, the committed files of its
commit (``git archive``, with a warning for uncommitted changes); outside git, a copy of
what git would not ignore, named by a content hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from pathlib import Path

import git

from repro import stale
from repro.errors import SourceError
from repro.fetch.archive import copy_sparse
from repro.fetch.gitrepo import checkout_of, code_date_of, extract, resolve
from repro.models import Checkout, Source


def fetch_local(source: Source, dest: Path, memory: Path | None = None) -> Checkout:
    assert source.local_path is not None
    try:
        repo = git.Repo(source.local_path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return _snapshot_plain_dir(source, dest)
    if not repo.head.is_valid():
        raise SourceError(f"{source.local_path} is a git repository with no commits")
    commit = resolve(repo, source)
    treeish = f"{commit.hexsha}:{source.subdir}" if source.subdir else commit.hexsha
    try:
        path, warnings = extract(repo, treeish, dest, memory)
    except git.GitCommandError as exc:
        if source.subdir:
            raise SourceError(
                f"{source.subdir} is not committed in {repo.working_tree_dir} at "
                f"{commit.hexsha[:7]}: commit it first (repro packs committed files only)"
            ) from None
        # the whole commit unreadable: objects missing (a broken or partial clone)
        text = str(exc.stderr or "").strip()  # GitPython's form: stderr: '...'
        if text.startswith("stderr: '") and text.endswith("'"):
            text = text[len("stderr: '") : -1]
        said = [line.strip() for line in text.splitlines() if line.strip()]
        raise SourceError(
            f"git cannot read commit {commit.hexsha[:7]} of {repo.working_tree_dir}"
            + (f": {said[0]}" if said else ""),
            hint="the clone may be incomplete: run `git fsck` there, or clone it again",
        ) from None
    if source.ref is None and repo.is_dirty(untracked_files=True, path=source.subdir or None):
        warnings.append(
            f"uncommitted changes in {source.local_path} are not packed "
            f"(packing commit {commit.hexsha[:7]})"
        )
    code_date, history = code_date_of(repo, commit.hexsha, source.subdir)
    return checkout_of(source, path, commit, warnings, code_date, history)


def _plain_files(root: Path) -> list[Path]:
    """The files of a directory outside git that git would not ignore: its .gitignore files
    apply, as they would once it is committed (the user's global excludes do not)."""
    with stale.private_dir("repro-ignore") as tmp:
        git.Repo.init(tmp)
        out = git.Git(str(root)).execute(
            [
                "git",
                f"--git-dir={tmp}/.git",
                f"--work-tree={root}",
                "-c",
                "core.excludesFile=/dev/null",
                "ls-files",
                "-z",
                "--others",
                "--exclude-standard",
            ],
            stdout_as_string=False,
        )
    files: list[Path] = []
    for raw in bytes(out).split(b"\0"):  # bytes: names need not be UTF-8
        if not raw:
            continue
        rel = os.fsdecode(raw)
        if rel.endswith("/"):  # a repository nested inside: its own ignore rules apply
            files += _plain_files(root / rel.rstrip("/"))
        else:
            files.append(root / rel)
    return sorted(files)


def _snapshot_plain_dir(source: Source, dest: Path) -> Checkout:
    """A directory outside git: copy what git would not ignore, named by a content hash.

    Files are read once, in blocks, for the copy and the hash together (a 2 GB file costs
    no memory), and runs of zeros are left as holes, so a sparse file stays sparse.
    """
    assert source.local_path is not None
    root = source.local_path
    digest = hashlib.sha256()
    newest = 0.0
    warnings: list[str] = []
    for path in _plain_files(root):
        rel = path.relative_to(root)
        if ".git" in rel.parts or "__pycache__" in rel.parts:
            continue
        if path.is_symlink():
            resolved = Path(os.path.realpath(path))  # never raises, even for a loop
            if not resolved.is_relative_to(root):
                warnings.append(f"skipped symlink {rel}: it points outside the directory")
                continue
        target = dest / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        if not path.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            file_digest = _copy_and_hash(path, target)
        except OSError as exc:
            warnings.append(f"skipped {rel}: cannot read it ({exc.strerror or exc})")
            continue
        digest.update(os.fsencode(rel.as_posix()) + b"\0")
        digest.update(file_digest)
        newest = max(newest, path.stat().st_mtime)
    when = dt.datetime.fromtimestamp(newest or 0, tz=dt.timezone.utc)
    warnings.append(f"{root} is not a git repository: the image is named by a hash of its files")
    return Checkout(
        source=source,
        path=dest,
        commit="tree-" + digest.hexdigest(),
        commit_date=when,
        ref=None,
        warnings=tuple(warnings),
        history="none",
    )


def _copy_and_hash(src: Path, dst: Path) -> bytes:
    """Copy ``src`` to ``dst`` (keeping holes and the mode); return its SHA-256."""
    digest = hashlib.sha256()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        copy_sparse(fin, fout, digest.update)
    shutil.copystat(src, dst)
    return digest.digest()
