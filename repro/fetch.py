"""Source → Checkout: resolve what the user named to one commit and extract its files.

This is the only module that talks to git. Remote repositories are kept as bare mirrors in
the cache (``<cache>/git``) so a second pack of the same repository fetches only what is
new; the files of the chosen commit are extracted with ``git archive``, so the checkout
holds exactly what was committed: no ``.git``, nothing ignored, nothing uncommitted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import hashlib
import os
import re
import shutil
import struct
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Literal, Protocol

import git

from repro import cache, diskspace, faults, locks, retry, signals, stale
from repro.errors import DiskFullError, NetworkError, SourceError, UsageError
from repro.models import Checkout, Source

_GITHUB = re.compile(
    r"^(?:https?://|git@|ssh://git@)?(?:www\.)?github\.com[/:]"
    r"(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?"
    r"(?:/tree/(?P<ref>[^?#]+?))?/?(?:[?#].*)?$"
)
_SHORTHAND = re.compile(r"^(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:@(?P<ref>.+))?$")
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "GCM_INTERACTIVE": "never"}
# a transfer slower than 1 kB/s for a minute is given up (and tried again), not waited on
# for ever; the user's own settings of these win
_GIT_SLOW = {"GIT_HTTP_LOW_SPEED_LIMIT": "1000", "GIT_HTTP_LOW_SPEED_TIME": "60"}


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


def fetch(source: Source, workdir: Path, *, memory: Path | None = None) -> Checkout:
    """Resolve ``source`` to a commit and extract that commit's files under ``workdir``.

    ``memory``: a folder on a memory file system (``scratch.memory_scratch``) that a
    small tree is extracted into instead (``repro inspect``: its files only need reading,
    and writing and removing thousands of them on disk took longer than reading them).
    A tree over the memory budget (:data:`MEMORY_BUDGET`) goes to ``workdir`` all the same.
    """
    dest = workdir / "src"
    dest.mkdir(parents=True, exist_ok=False)
    with _git_errors(source):
        if source.local_path is not None:
            return _fetch_local(source, dest, memory)
        with _mirror_lock(source):
            mirror = _mirror(source)
            commit = _resolve(mirror, source)
            path, warnings = _extract(mirror, commit.hexsha, dest, memory)
            code_date, history = _code_date(mirror, commit.hexsha, source.subdir)
        return _checkout(source, path, commit, warnings, code_date, history)


def branch_as_of(url: str, ref: str | None, as_of: dt.date) -> tuple[str, dt.datetime, str]:
    """The commit that branch ``ref`` (None: the default branch) of ``url`` pointed at on
    ``as_of`` -- the newest on its first-parent history committed by the end of that day,
    else its first commit -- through the same bare mirror and cache as a packed repository.
    Returns (sha, committer date, branch); raises ``SourceError`` when it cannot be read
    (no network, no such repository or branch)."""
    source = parse_source(url)
    with _git_errors(source), _mirror_lock(source):
        mirror = _mirror(source)
        if mirror.bare and not mirror.head.is_valid():
            raise SourceError(f"{url} is an empty repository (no commits)")
        branch = ref or mirror.git.symbolic_ref("--short", "HEAD").strip()
        if branch in {t.name for t in mirror.tags}:  # a tag names one commit already
            tagged = mirror.commit(branch)
            return tagged.hexsha, tagged.committed_datetime.astimezone(dt.timezone.utc), branch
        if branch not in {h.name for h in mirror.heads}:
            raise SourceError(f"{url} has no branch {branch!r}")
        until = f"{as_of.isoformat()}T23:59:59Z"
        sha = mirror.git.rev_list("-1", "--first-parent", f"--before={until}", branch).strip()
        if not sha:  # the branch is younger than the code: its first commit
            sha = mirror.git.rev_list("--first-parent", "--reverse", branch).split()[0]
        commit = mirror.commit(sha)
        return sha, commit.committed_datetime.astimezone(dt.timezone.utc), branch


def _checkout(
    source: Source,
    dest: Path,
    commit: git.Commit,
    warnings: list[str],
    code_date: dt.datetime | None = None,
    history: Literal["full", "thin", "none"] = "full",
) -> Checkout:
    return Checkout(
        source=source,
        path=dest,
        commit=commit.hexsha,
        commit_date=commit.committed_datetime.astimezone(dt.timezone.utc),
        ref=source.ref,
        warnings=tuple(warnings),
        code_date=code_date,
        history=history,
    )


# What a change to which tells what the code needs: its code, notebooks and dependency
# declarations. A commit touching only other files (README, docs, CI, images) does not.
CODE_PATHS = (
    "*.py", "*.pyx", "*.ipynb", "*requirements*.txt", "*requirements*.in", "setup.cfg",
    "pyproject.toml", "Pipfile", "Pipfile.lock", "poetry.lock", "uv.lock", "pdm.lock",
    "environment*.yml", "environment*.yaml", ".python-version", "runtime.txt",
)  # fmt: skip


# A history whose commits that touched code all lie within this span, and are fewer than
# THIN_COMMITS, is an upload (one "Initial commit", "Add files via upload" a few times):
# its dates say when the code was uploaded, not written.
THIN_SPAN = dt.timedelta(days=31)
THIN_COMMITS = 20


def _code_date(
    repo: git.Repo, sha: str, subdir: str = ""
) -> tuple[dt.datetime | None, Literal["full", "thin", "none"]]:
    """The committer date of the newest commit up to ``sha`` that changed code or a
    dependency declaration (``None`` when none did, or git cannot tell), and whether the
    history is thin (docs/versions.md: the code's era)."""
    prefix = f"{subdir.rstrip('/')}/" if subdir else ""
    specs = [f"{prefix}{p}" for p in CODE_PATHS]
    try:
        out = repo.git.log(f"-{THIN_COMMITS}", "--format=%ct", sha, "--", *specs).split()
    except git.GitCommandError:
        return None, "full"
    if not out:
        return None, "full"
    times = [dt.datetime.fromtimestamp(int(t), tz=dt.timezone.utc) for t in out]
    thin = len(times) < THIN_COMMITS and times[0] - times[-1] <= THIN_SPAN
    return times[0], "thin" if thin else "full"


@contextmanager
def _git_errors(source: Source) -> Iterator[None]:
    try:
        yield
    except git.GitCommandError as exc:
        if diskspace.says_full(str(exc.stderr or exc)):  # the clone cache's disk filled up
            folder = _mirror_path(source).parent
            raise DiskFullError(
                f"no space left on device cloning {source.url} into the clone cache {folder}: "
                f"{diskspace.where(folder)}",
                hint="free some space there, or set REPRO_CACHE_DIR to a folder on a bigger disk",
            ) from exc
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
    """The bare mirror of ``source.url`` in the cache, cloned or brought up to date.

    The caller holds the mirror's lock (see :func:`_mirror_lock`). A clone goes to a
    temporary directory renamed into place when complete, so an interrupted clone leaves
    nothing a later run could mistake for a mirror.
    """
    path = _mirror_path(source)
    root = path.parent
    _remove_debris(path)
    if path.exists():
        if not (
            source.ref and _is_full_sha(source.ref) and _has_commit(git.Repo(path), source.ref)
        ):
            fetch = ["fetch", "--prune", "--tags", "origin", "+refs/heads/*:refs/heads/*"]
            _run_git_retried(fetch, path, source)
        return git.Repo(path)
    tmp = root / stale.owned_name(f"{path.name}.partial")  # made in the ``try``: no leak
    try:

        def afresh() -> None:  # each try clones into an empty folder
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()

        _run_git_retried(["clone", "--mirror", "--", source.url, str(tmp)], root, source, afresh)
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return git.Repo(path)


def _mirror_path(source: Source) -> Path:
    key = hashlib.sha256(source.url.encode()).hexdigest()[:12]
    return cache.subdir("git") / f"{source.slug}-{key}.git"


def _mirror_lock(source: Source) -> contextlib.AbstractContextManager[None]:
    """One run at a time updates and reads a mirror; others wait (flock: no stale locks)."""
    path = _mirror_path(source)
    return locks.file_lock(path.with_name(path.name + ".lock"))


def _remove_debris(path: Path) -> None:
    """Under the mirror's lock: what a killed run left (its clone, git's lock files)."""
    for tmp in path.parent.glob(f"{glob.escape(path.name)}.*"):
        if tmp.is_dir() and tmp.name != path.name:
            shutil.rmtree(tmp, ignore_errors=True)
    if path.is_dir():
        stale = [path / name for name in ("packed-refs.lock", "HEAD.lock", "config.lock")]
        stale += list((path / "refs").rglob("*.lock")) if (path / "refs").is_dir() else []
        for lock in stale:
            with contextlib.suppress(OSError):
                lock.unlink()


def _run_git(args: list[str], cwd: Path) -> None:
    """Run git to completion; on Ctrl-C or SIGTERM stop it before anything is cleaned up.

    git removes its own lock files when it gets SIGTERM, so an interrupted fetch leaves a
    mirror the next run can use.
    """
    argv = [_git_exe(), *args]
    proc: subprocess.Popen[bytes] | None = None
    try:
        with signals.deferred():  # a signal while git starts waits until ``proc`` is known
            proc = subprocess.Popen(
                stale.dies_with_parent(argv),  # not left cloning if repro dies
                cwd=cwd,
                env={**os.environ, **_git_env()},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        faults.checkpoint("fetch.cloning")
        out, err = proc.communicate()
    except BaseException:
        if proc is not None:
            _stop(proc)
        raise
    if proc.returncode != 0:
        raise git.GitCommandError(argv, proc.returncode, err, out)


def _run_git_retried(
    args: list[str], cwd: Path, source: Source, before: Callable[[], None] | None = None
) -> None:
    """:func:`_run_git`, tried again with back-off when the network or the host failed
    (repro/retry.py); after the last try, one line naming the host, the proxy and the CA."""

    def attempt(_seconds_left: float) -> None:
        if before is not None:
            before()
        try:
            _run_git(args, cwd)
        except git.GitCommandError as exc:
            if retry.git_transient(str(exc.stderr or "")):
                raise retry.Transient(_git_reason(exc)) from exc
            raise

    try:
        retry.run(attempt)
    except retry.GaveUp as exc:
        url = _effective_url(source.url)
        raise NetworkError(
            f"cannot reach the git host {retry.host_of(url)} for {source.url}: {exc}; "
            f"{retry.settings(url, git_config=_git_http_config())}",
            hint="check the network, the proxy and CA settings above, then run repro again",
        ) from exc


def _effective_url(url: str) -> str:
    """``url`` after git's ``url.<base>.insteadOf`` rewrites."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run([_git_exe(), "ls-remote", "--get-url", url], capture_output=True,
                              text=True, env={**os.environ, **_git_env()}, timeout=10)  # fmt: skip
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    return url


def _git_http_config() -> dict[str, str]:
    """git's own ``http.proxy`` and ``http.sslCAInfo``, when set (they win over the
    environment's)."""
    found: dict[str, str] = {}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run([_git_exe(), "config", "--get-regexp", r"^http\.(proxy|sslcainfo)$"],
                              capture_output=True, text=True, env={**os.environ, **_git_env()},
                              timeout=10)  # fmt: skip
        for line in done.stdout.splitlines():
            key, _, value = line.partition(" ")
            found[key.lower()] = value
    return found


def _git_exe() -> str:
    return str(git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with signals.deferred():
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _git_env() -> dict[str, str]:
    mine = {k: v for k, v in os.environ.items() if k.startswith(("GIT_CONFIG", "GIT_HTTP_LOW"))}
    return {**_GIT_ENV, **_GIT_SLOW, **mine}


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


# A tree extracted into memory (``repro inspect``) may hold at most this many bytes of files,
# and at most a quarter of the memory file system's free space; a larger one is extracted
# to disk instead.
MEMORY_BUDGET = 256 * 1024 * 1024


def _extract(
    repo: git.Repo, treeish: str, dest: Path, memory: Path | None = None
) -> tuple[Path, list[str]]:
    """Unpack ``git archive`` of ``treeish`` into ``dest``; refuse anything escaping it.

    With ``memory`` (a folder on a memory file system), a tree within the memory budget is
    unpacked into ``memory/src`` instead, and that is where the checkout is. The archive
    is streamed (a large repository never sits in memory whole).
    """
    budget = _memory_budget(memory) if memory is not None else 0
    if memory is not None and budget:
        in_memory = memory / "src"
        in_memory.mkdir()
        try:
            return in_memory, _archive(repo.git_dir, treeish, in_memory, budget)
        except _OverBudget:
            shutil.rmtree(in_memory, ignore_errors=True)
    return dest, _archive(repo.git_dir, treeish, dest, None)


def _memory_budget(memory: Path) -> int:
    try:
        st = os.statvfs(memory)
    except OSError:
        return 0
    return min(MEMORY_BUDGET, st.f_bavail * st.f_frsize // 4)


def _archive(
    git_dir: str | os.PathLike[str], treeish: str, dest: Path, budget: int | None
) -> list[str]:
    """``git archive`` of ``treeish``, unpacked into ``dest`` (see :func:`_extract`).

    The archive is read by :func:`_unpack_git_tar`, which knows the few kinds of entry
    ``git archive`` writes; anything else it meets (it never should) sends the whole
    archive through :mod:`tarfile` instead, into an emptied ``dest``.
    """
    try:
        warnings = _run_archive(git_dir, treeish, dest, budget, _unpack_git_tar)
    except _Unsupported:
        shutil.rmtree(dest)
        dest.mkdir()
        warnings = _run_archive(git_dir, treeish, dest, budget, _safe_untar)
    return [*warnings, *_submodule_warnings(dest)]


def _run_archive(
    git_dir: str | os.PathLike[str],
    treeish: str,
    dest: Path,
    budget: int | None,
    unpack: Callable[[IO[bytes], Path, int | None], list[str]],
) -> list[str]:
    argv = [_git_exe(), "archive", "--format=tar", treeish]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            argv,
            cwd=git_dir,
            env={**os.environ, **_git_env()},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            bufsize=_PIPE_BUFFER,
        )
        assert proc.stdout is not None
        try:
            with proc.stdout:
                warnings = unpack(proc.stdout, dest, budget)
                while proc.stdout.read(_BLOCK):  # the archive's end padding: let git finish
                    pass
        except tarfile.ReadError:
            warnings = []
            if proc.wait() == 0:
                raise SourceError(f"git archive of {treeish} is not a readable archive") from None
        except BaseException:
            _stop(proc)
            raise
        if proc.wait() != 0:
            err.seek(0)
            raise git.GitCommandError(argv, proc.returncode, err.read())
    return warnings


_PIPE_BUFFER = 256 * 1024


class _Unsupported(Exception):
    """The archive holds something :func:`_unpack_git_tar` does not read."""


class _OverBudget(Exception):
    """The tree is larger than the budget it was given."""


class _Unpacker:
    """Places the entries of an archive under ``dest``, which nothing may leave.

    Names that are absolute or hold ``..`` are skipped. Files are created exclusively and
    never through a symbolic link: links are made last (:meth:`finish`), once every file
    is written, and each link is then resolved with all the others in place; one that
    leads outside ``dest`` (directly, or through another link) is removed. Both archive
    readers hand their entries to one of these, in archive order, so they unpack alike.
    """

    def __init__(self, dest: Path, budget: int | None) -> None:
        self.dest = dest.resolve()
        self.root = str(self.dest)
        self.budget = budget
        self.size = 0
        self.warnings: list[str] = []
        self.links: list[tuple[Path, str, str]] = []
        self.folders: set[str] = set()  # folders made (or found) here: no mkdir again

    def target(self, name: str) -> str | None:
        """Where entry ``name`` goes; None when it is skipped (with a warning if it
        leaves the repository)."""
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if name.startswith("/") or ".." in parts:
            self.warnings.append(f"skipped {name}: path leaves the repository")
            return None
        if not parts:
            return None
        return self.root + "/" + "/".join(parts)

    def directory(self, name: str) -> None:
        target = self.target(name)
        if target is None:
            return
        try:
            Path(target).mkdir(parents=True, exist_ok=True)
            self.folders.add(target)
        except OSError as exc:  # a name that is a file and a folder at once, and the like
            self.warnings.append(f"skipped {name}: {exc.strerror or exc}")

    def symlink(self, name: str, linkname: str) -> None:
        target = self.target(name)
        if target is not None:
            self.links.append((Path(target), linkname, name))

    def file(self, name: str, mode: int, size: int, write: Callable[[int], None]) -> None:
        """A file of ``size`` bytes; ``write(fd)`` writes its content into ``fd`` (and is
        not called for a file that is skipped)."""
        target = self.target(name)
        if target is None:
            return
        self.size += size
        if self.budget is not None and self.size > self.budget:
            raise _OverBudget
        try:
            parent = target.rpartition("/")[0]
            if parent not in self.folders:
                Path(parent).mkdir(parents=True, exist_ok=True)
                self.folders.add(parent)
            try:
                fd = os.open(target, _CREATE, 0o777 if mode & 0o111 else 0o666)
            except FileExistsError:
                self.warnings.append(f"skipped {name}: listed twice in the archive")
                return
            try:
                write(fd)
            finally:
                os.close(fd)
        except OSError as exc:  # a name that is a file and a folder at once, and the like
            self.warnings.append(f"skipped {name}: {exc.strerror or exc}")

    def other(self, name: str) -> None:
        """Devices, fifos and hard links are not part of a source checkout: skipped."""
        self.target(name)

    def finish(self) -> list[str]:
        _make_links(self.links, self.dest, self.warnings)
        return self.warnings


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _safe_untar(stream: IO[bytes], dest: Path, budget: int | None = None) -> list[str]:
    """Extract a tar stream into ``dest``, which nothing in it may leave (see
    :class:`_Unpacker`); any tar :mod:`tarfile` reads."""
    unpacker = _Unpacker(dest, budget)
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            if member.issym():
                unpacker.symlink(member.name, member.linkname)
            elif member.isdir():
                unpacker.directory(member.name)
            elif member.isfile():
                src = tar.extractfile(member)
                if src is not None:
                    unpacker.file(member.name, member.mode, member.size, _copier(src))
            else:
                unpacker.other(member.name)
    return unpacker.finish()


def _copier(src: IO[bytes]) -> Callable[[int], None]:
    def write(fd: int) -> None:
        with src, os.fdopen(fd, "wb", closefd=False) as out:
            _copy_sparse(src, out)

    return write


# --------------------------------------------------------------------------- git's tar


def _unpack_git_tar(stream: IO[bytes], dest: Path, budget: int | None = None) -> list[str]:
    """Extract ``git archive``'s tar stream into ``dest`` as :func:`_safe_untar` would,
    about ten times faster per entry (what a 5,000-file repository's inspect waits for).

    ``git archive`` writes few kinds of entry: ustar headers for files, folders and links,
    a pax global header with the commit id, and pax extended headers for long names,
    long link targets and huge files. Headers are read with :mod:`tarfile`'s own field
    functions; anything else (another entry type, a pax key that would change how the
    entry is read, a bad header, a short stream) raises :class:`_Unsupported` and the
    caller reads the archive again with :mod:`tarfile`.
    """
    unpacker = _Unpacker(dest, budget)
    read = stream.read
    extended: dict[str, str] | None = None  # a pax header for the next entry
    after_global = False  # a pax global header: tarfile wants an entry after it
    while True:
        header = read(_TAR_BLOCK)
        if len(header) != _TAR_BLOCK:
            raise _Unsupported("short header")
        if header == _ZERO_BLOCK:
            if extended is not None or after_global:
                raise _Unsupported("a pax header with no entry after it")
            break  # the end of the archive
        kind, name, mode, size, linkname = _tar_header(header)
        padded = -(-size // _TAR_BLOCK) * _TAR_BLOCK
        if kind == tarfile.XHDTYPE or kind == tarfile.XGLTYPE:
            if extended is not None or (after_global and kind == tarfile.XGLTYPE):
                raise _Unsupported("pax headers in a row")
            record = read(padded)
            if len(record) != padded:
                raise _Unsupported("short pax header")
            fields = _pax_fields(record[:size])
            if kind == tarfile.XHDTYPE:
                extended = fields
            elif set(fields) - {"comment"}:
                raise _Unsupported("global pax header")
            else:
                after_global = True
            continue
        if extended is not None:
            name, size, linkname = _apply_pax(extended, name, size, linkname)
            padded = -(-size // _TAR_BLOCK) * _TAR_BLOCK
        extended, after_global = None, False
        if kind == tarfile.REGTYPE or kind == tarfile.AREGTYPE:
            body = _Body(stream, size, padded)
            unpacker.file(name, mode, size, body.write)
            body.skip()
            continue
        if size:  # tarfile would read the data of a folder or link as headers
            raise _Unsupported("data in a folder or link entry")
        if kind == tarfile.SYMTYPE:
            unpacker.symlink(name, linkname)
        elif kind == tarfile.DIRTYPE:
            unpacker.directory(name)
        else:
            raise _Unsupported(f"entry type {kind!r}")
    return unpacker.finish()


_TAR_BLOCK = tarfile.BLOCKSIZE
_ZERO_BLOCK = bytes(_TAR_BLOCK)
_PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")
# pax keys that change nothing this reader uses (times, owners) or that it applies itself
_PAX_KNOWN = frozenset(
    {"path", "linkpath", "size", "comment", "mtime", "atime", "ctime", "uid", "gid", "uname",
     "gname"}
)  # fmt: skip


def _tar_header(header: bytes) -> tuple[bytes, str, int, int, str]:
    """(type, name, mode, size, link target) of a ustar header, read as
    ``tarfile.TarInfo.frombuf`` reads it (and refused where it refuses it)."""
    if _number(header[148:156]) not in _checksums(header):
        raise _Unsupported("bad checksum")
    mode = _number(header[100:108])
    for start, stop in ((108, 116), (116, 124), (136, 148), (329, 337), (337, 345)):
        _number(header[start:stop])  # uid, gid, mtime, device numbers: checked, unused
    size = _number(header[124:136])
    kind = header[156:157]
    name = _text(header[0:100])
    linkname = _text(header[157:257])
    prefix = _text(header[345:500])
    if kind == tarfile.AREGTYPE and name.endswith("/"):
        kind = tarfile.DIRTYPE
    if kind == tarfile.DIRTYPE:
        name = name.rstrip("/")
    if prefix:
        name = prefix + "/" + name
    if size < 0:
        raise _Unsupported("negative size")
    return kind, name, mode, size, linkname


def _text(field: bytes) -> str:
    """A NUL-terminated name field, decoded as tarfile decodes names here."""
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _number(field: bytes) -> int:
    """A number field: octal digits, or GNU's base-256 (first byte 0x80 or 0xff)."""
    if field[0] in (0o200, 0o377):
        n = int.from_bytes(field[1:], "big")
        return n - 256 ** (len(field) - 1) if field[0] == 0o377 else n
    try:
        return int(field.split(b"\0", 1)[0].decode("ascii").strip() or "0", 8)
    except (UnicodeDecodeError, ValueError):
        raise _Unsupported("bad number field") from None


def _checksums(header: bytes) -> tuple[int, int]:
    """The header's checksum with its checksum field as spaces, bytes read unsigned and
    signed (some tars sum signed bytes)."""
    unsigned = 256 + sum(struct.unpack_from("148B8x356B", header))
    signed = 256 + sum(struct.unpack_from("148b8x356b", header))
    return unsigned, signed


def _pax_fields(record: bytes) -> dict[str, str]:
    """The records of a pax header, decoded as tarfile decodes them."""
    fields: dict[str, str] = {}
    pos = 0
    while True:
        m = _PAX_RECORD.match(record, pos)
        if not m:
            break
        length = int(m.group(1))
        if length == 0:
            raise _Unsupported("empty pax record")
        value = record[m.end(2) + 1 : m.start(1) + length - 1]
        try:
            keyword = m.group(2).decode("utf-8")
        except UnicodeDecodeError:
            raise _Unsupported("pax keyword") from None
        if keyword not in _PAX_KNOWN:
            raise _Unsupported(f"pax key {keyword!r}")
        fields[keyword] = value.decode("utf-8", "surrogateescape")
        pos += length
    return fields


def _apply_pax(fields: dict[str, str], name: str, size: int, linkname: str) -> tuple[str, int, str]:
    if "path" in fields:
        name = fields["path"].rstrip("/")
    if "linkpath" in fields:
        linkname = fields["linkpath"]
    if "size" in fields:
        try:
            size = int(fields["size"])
        except ValueError:
            raise _Unsupported("pax size") from None
        if size < 0:
            raise _Unsupported("negative size")
    return name, size, linkname


class _Body:
    """The content of one file entry in a tar stream, and the padding after it."""

    def __init__(self, stream: IO[bytes], size: int, padded: int) -> None:
        self.stream = stream
        self.size = size
        self.left = padded  # bytes of the stream this entry still holds

    def write(self, fd: int) -> None:
        """Copy the content into ``fd`` as :func:`_copy_sparse` does: a block of zeros
        stays a hole."""
        if self.size <= _BLOCK:
            data = self._read(self.size)
            if data == _ZEROS[: len(data)]:
                os.ftruncate(fd, len(data))
            else:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            return
        with os.fdopen(fd, "wb", closefd=False) as out:
            _copy_sparse(_Reader(self), out)

    def _read(self, n: int) -> bytes:
        n = min(n, self.size)
        data = self.stream.read(n)
        if len(data) != n:
            raise _Unsupported("short file entry")
        self.size -= n
        self.left -= n
        return data

    def skip(self) -> None:
        """Read what is left of the entry (all of it, when the file was skipped)."""
        while self.left:
            chunk = self.stream.read(min(self.left, _BLOCK))
            if not chunk:
                raise _Unsupported("short file entry")
            self.left -= len(chunk)


class _Reader:
    def __init__(self, body: _Body) -> None:
        self.body = body

    def read(self, n: int) -> bytes:
        return self.body._read(n) if self.body.size else b""


def _make_links(links: list[tuple[Path, str, str]], dest: Path, warnings: list[str]) -> None:
    made: list[tuple[Path, str, str]] = []
    for target, linkname, name in links:
        lexical = os.path.normpath(os.path.join(target.parent, linkname))
        if os.path.isabs(linkname) or not _within(lexical, dest):
            warnings.append(
                f"skipped symlink {name} -> {linkname}: it points outside the repository"
            )
            continue
        if _through_link(target, dest):
            warnings.append(f"skipped symlink {name}: its folder is itself a link")
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(linkname)
        except FileExistsError:
            warnings.append(f"skipped {name}: listed twice in the archive")
            continue
        except OSError as exc:
            warnings.append(f"skipped {name}: {exc.strerror or exc}")
            continue
        made.append((target, linkname, name))
    # With every link in place, follow each to the end: a chain of links that are each
    # harmless alone (``a -> b/../x``, ``b -> .``) may still lead out. Repeat until no
    # link is removed, since removing one changes where the others lead.
    escaped = True
    while escaped:
        escaped = False
        for target, linkname, name in made:
            if os.path.islink(target) and not _within(os.path.realpath(target), dest):
                target.unlink()
                warnings.append(
                    f"skipped symlink {name} -> {linkname}: it leads outside the repository"
                )
                escaped = True


def _within(path: str | Path, root: Path) -> bool:
    return Path(path) == root or Path(path).is_relative_to(root)


def _through_link(target: Path, dest: Path) -> bool:
    """Whether any folder between ``dest`` and ``target`` is a symbolic link."""
    here = dest
    for part in target.relative_to(dest).parts[:-1]:
        here = here / part
        if here.is_symlink():
            return True
    return False


def _submodule_warnings(dest: Path) -> list[str]:
    """Submodules are not fetched: ``git archive`` leaves their folders empty."""
    text = ""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        if (dest / ".gitmodules").is_file() and not (dest / ".gitmodules").is_symlink():
            text = (dest / ".gitmodules").read_text("utf-8")
    paths = re.findall(r"^\s*path\s*=\s*(.+?)\s*$", text, flags=re.MULTILINE)
    if not paths:
        return []
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    return [
        f"git submodule(s) not fetched: {shown} (repro packs the repository's own files; "
        "code that lives only in a submodule is not in the image)"
    ]


def _fetch_local(source: Source, dest: Path, memory: Path | None = None) -> Checkout:
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
        path, warnings = _extract(repo, treeish, dest, memory)
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
    code_date, history = _code_date(repo, commit.hexsha, source.subdir)
    return _checkout(source, path, commit, warnings, code_date, history)


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


_BLOCK = 1024 * 1024
_ZEROS = bytes(_BLOCK)


def _copy_and_hash(src: Path, dst: Path) -> bytes:
    """Copy ``src`` to ``dst`` (keeping holes and the mode); return its SHA-256."""
    digest = hashlib.sha256()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        _copy_sparse(fin, fout, digest.update)
    shutil.copystat(src, dst)
    return digest.digest()


class _Readable(Protocol):
    def read(self, n: int, /) -> bytes: ...


def _copy_sparse(
    fin: _Readable, fout: IO[bytes], seen: Callable[[bytes], object] | None = None
) -> None:
    """Copy in blocks, leaving blocks of zeros as holes (a 2 GB sparse file stays small)."""
    while block := fin.read(_BLOCK):
        if seen is not None:
            seen(block)
        if block == _ZEROS[: len(block)]:
            fout.seek(len(block), os.SEEK_CUR)
        else:
            fout.write(block)
    fout.truncate()
