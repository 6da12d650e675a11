"""Source → Checkout: resolve what the user named to one commit and extract its files.

This is the only module that talks to git. Remote repositories are kept as bare mirrors in
the cache (``<cache>/git``) so a second pack of the same repository fetches only what is
new; the files of the chosen commit are extracted with ``git archive``, so the checkout
holds exactly what was committed: no ``.git``, nothing ignored, nothing uncommitted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import git

from repro import cache
from repro.errors import SourceError, UsageError
from repro.models import Checkout, Source

_GITHUB = re.compile(
    r"^(?:https?://|git@|ssh://git@)?(?:www\.)?github\.com[/:]"
    r"(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?"
    r"(?:/tree/(?P<ref>[^?#]+?))?/?(?:[?#].*)?$"
)
_SHORTHAND = re.compile(r"^(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:@(?P<ref>.+))?$")
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "GCM_INTERACTIVE": "never"}


# --------------------------------------------------------------------------- parsing


def parse_source(spec: str, ref: str | None = None) -> Source:
    """Normalise a URL, ``OWNER/NAME[@REF]`` or a local path into a :class:`Source`."""
    spec = spec.strip()
    if not spec:
        raise UsageError("no source given: pass a GitHub URL, OWNER/NAME or a local path")
    path = Path(spec).expanduser()
    if path.exists() and not _URL.match(spec):
        return _local_source(spec, path, ref)
    m = _GITHUB.match(spec)
    if m:
        return Source(
            spec=spec,
            url=f"https://github.com/{m['owner']}/{m['name']}",
            owner=m["owner"],
            name=m["name"],
            ref=_merge_ref(spec, ref, m["ref"]),
        )
    if _URL.match(spec):
        url, at_ref = _split_url_ref(spec)
        owner, name = _owner_name_from_url(url)
        return Source(spec=spec, url=url, owner=owner, name=name, ref=_merge_ref(spec, ref, at_ref))
    m = _SHORTHAND.match(spec)
    if m and not spec.startswith((".", "/", "~")):
        return Source(
            spec=spec,
            url=f"https://github.com/{m['owner']}/{m['name']}",
            owner=m["owner"],
            name=m["name"],
            ref=_merge_ref(spec, ref, m["ref"]),
        )
    raise SourceError(f"not a git URL, OWNER/NAME or an existing directory: {spec!r}")


def _merge_ref(spec: str, option: str | None, embedded: str | None) -> str | None:
    if option and embedded and option != embedded:
        raise UsageError(f"{spec!r} names ref {embedded!r} but --ref says {option!r}")
    return option or embedded


def _split_url_ref(url: str) -> tuple[str, str | None]:
    """``https://host/o/n.git@v1.0`` → (url, "v1.0"); an ``@`` in the user part is kept."""
    scheme_end = url.find("://")
    tail_start = url.find("/", scheme_end + 3) if scheme_end >= 0 else url.find(":")
    at = url.rfind("@")
    if tail_start >= 0 and at > tail_start:
        return url[:at], url[at + 1 :] or None
    return url, None


def _owner_name_from_url(url: str) -> tuple[str, str]:
    path = re.sub(r"^[a-z][a-z0-9+.-]*://[^/]*", "", url, flags=re.IGNORECASE)
    path = re.sub(r"^[\w.-]+@[\w.-]+:", "", path)
    parts = [p for p in path.rstrip("/").split("/") if p]
    if not parts:
        raise SourceError(f"cannot tell the repository name from {url!r}")
    name = parts[-1].removesuffix(".git")
    owner = parts[-2] if len(parts) > 1 else "git"
    return owner, name


def _local_source(spec: str, path: Path, ref: str | None) -> Source:
    path = path.resolve()
    if not path.is_dir():
        raise SourceError(f"{spec} is a file, not a repository directory")
    owner, name = "local", path.name
    url = str(path)
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        repo = None
    subdir = ""
    if repo is not None and repo.working_tree_dir:
        top = Path(repo.working_tree_dir).resolve()
        subdir = path.relative_to(top).as_posix() if path != top else ""
        if not subdir:
            remote = _origin_url(repo)
            m = _GITHUB.match(remote) if remote else None
            if m:
                owner, name = m["owner"], m["name"]
    elif ref:
        raise UsageError(f"--ref {ref} needs a git repository, and {spec} is not one")
    return Source(
        spec=spec, url=url, owner=owner, name=name, ref=ref, local_path=path, subdir=subdir
    )


def _origin_url(repo: git.Repo) -> str | None:
    try:
        return str(repo.remotes.origin.url)
    except (AttributeError, IndexError, ValueError):
        return None


# --------------------------------------------------------------------------- fetching


def fetch(source: Source, workdir: Path) -> Checkout:
    """Resolve ``source`` to a commit and extract that commit's files under ``workdir``."""
    dest = workdir / "src"
    dest.mkdir(parents=True, exist_ok=False)
    with _git_errors(source):
        if source.local_path is not None:
            return _fetch_local(source, dest)
        mirror = _mirror(source)
        commit = _resolve(mirror, source)
        warnings = _extract(mirror, commit.hexsha, dest)
        return _checkout(source, dest, commit, warnings)


def _checkout(source: Source, dest: Path, commit: git.Commit, warnings: list[str]) -> Checkout:
    return Checkout(
        source=source,
        path=dest,
        commit=commit.hexsha,
        commit_date=commit.committed_datetime.astimezone(dt.timezone.utc),
        ref=source.ref,
        warnings=tuple(warnings),
    )


@contextmanager
def _git_errors(source: Source) -> Iterator[None]:
    try:
        yield
    except git.GitCommandError as exc:
        raise SourceError(f"cannot read {source.url}: {_git_reason(exc)}") from exc


def _git_reason(exc: git.GitCommandError) -> str:
    text = str(exc.stderr or exc.stdout or exc).strip().strip("'")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in lines:
        low = line.lower()
        if low.startswith(("fatal:", "error:", "remote:")) or "not found" in low:
            return re.sub(r"^stderr:\s*", "", line)
    return lines[-1] if lines else "git failed"


def _mirror(source: Source) -> git.Repo:
    root = cache.subdir("git")
    key = hashlib.sha256(source.url.encode()).hexdigest()[:12]
    path = root / f"{source.slug}-{key}.git"
    env = _git_env()
    if path.exists():
        repo = git.Repo(path)
        if not (source.ref and _is_full_sha(source.ref) and _has_commit(repo, source.ref)):
            with repo.git.custom_environment(**env):
                repo.git.fetch("--prune", "--tags", "origin", "+refs/heads/*:refs/heads/*")
        return repo
    tmp = Path(tempfile.mkdtemp(prefix=path.name + ".", dir=root))
    try:
        repo = git.Repo.clone_from(source.url, tmp, bare=True, mirror=True, env=env)
        try:
            tmp.rename(path)
        except OSError:  # another run cloned it first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
        return git.Repo(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _git_env() -> dict[str, str]:
    return {**_GIT_ENV, **{k: v for k, v in os.environ.items() if k.startswith("GIT_CONFIG")}}


def _is_full_sha(ref: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{40}", ref))


def _has_commit(repo: git.Repo, sha: str) -> bool:
    try:
        repo.commit(sha)
    except (ValueError, git.BadName):
        return False
    return True


def _resolve(repo: git.Repo, source: Source) -> git.Commit:
    if repo.bare and not repo.head.is_valid():
        raise SourceError(f"{source.url} is an empty repository (no commits)")
    ref = source.ref or "HEAD"
    try:
        return repo.commit(ref)
    except (ValueError, git.BadName, git.GitCommandError):
        pass
    try:  # an abbreviated sha or a remote-tracking name
        return repo.commit(repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}"))
    except (ValueError, git.BadName, git.GitCommandError):
        heads = sorted(h.name for h in repo.heads)[:8]
        known = f" (branches: {', '.join(heads)})" if heads else ""
        raise SourceError(f"ref {ref!r} not found in {source.url}{known}") from None


def _extract(repo: git.Repo, treeish: str, dest: Path) -> list[str]:
    """Unpack ``git archive`` of ``treeish`` into ``dest``; refuse anything escaping it."""
    data = repo.git.archive("--format=tar", treeish, stdout_as_string=False)
    return _safe_untar(io.BytesIO(data), dest)


def _safe_untar(stream: io.BytesIO, dest: Path) -> list[str]:
    warnings: list[str] = []
    dest = dest.resolve()
    with tarfile.open(fileobj=stream, mode="r:") as tar:
        for member in tar:
            rel = PurePosixPath(member.name)
            if rel.is_absolute() or ".." in rel.parts:
                warnings.append(f"skipped {member.name}: path leaves the repository")
                continue
            target = dest.joinpath(*rel.parts) if rel.parts else dest
            if member.issym():
                link = PurePosixPath(member.linkname)
                resolved = (target.parent / member.linkname).resolve()
                if link.is_absolute() or not resolved.is_relative_to(dest):
                    warnings.append(
                        f"skipped symlink {member.name} -> {member.linkname}: "
                        "it points outside the repository"
                    )
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(member.linkname)
            elif member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                if src is None:
                    continue
                with src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
                if member.mode & 0o111:
                    target.chmod(0o755)
            # devices, fifos and hard links are not part of a source checkout
    return warnings


def _fetch_local(source: Source, dest: Path) -> Checkout:
    assert source.local_path is not None
    try:
        repo = git.Repo(source.local_path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return _snapshot_plain_dir(source, dest)
    if not repo.head.is_valid():
        raise SourceError(f"{source.local_path} is a git repository with no commits")
    commit = _resolve(repo, source)
    treeish = f"{commit.hexsha}:{source.subdir}" if source.subdir else commit.hexsha
    try:
        warnings = _extract(repo, treeish, dest)
    except git.GitCommandError:
        raise SourceError(
            f"{source.subdir} is not committed in {repo.working_tree_dir} at {commit.hexsha[:7]}:"
            " commit it first (repro packs committed files only)"
        ) from None
    if source.ref is None and repo.is_dirty(untracked_files=True, path=source.subdir or None):
        warnings.append(
            f"uncommitted changes in {source.local_path} are not packed "
            f"(packing commit {commit.hexsha[:7]})"
        )
    return _checkout(source, dest, commit, warnings)


def _snapshot_plain_dir(source: Source, dest: Path) -> Checkout:
    """A directory outside git: copy it and name it by a hash of its content."""
    assert source.local_path is not None
    root = source.local_path
    digest = hashlib.sha256()
    newest = 0.0
    warnings: list[str] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if ".git" in rel.parts or "__pycache__" in rel.parts:
            continue
        if path.is_symlink():
            resolved = path.resolve()
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
        shutil.copy2(path, target, follow_symlinks=True)
        digest.update(rel.as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
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
    )
