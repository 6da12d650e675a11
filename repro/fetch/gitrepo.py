"""git: the cache's bare mirrors of remote repositories (cloned once, then fetched), refs
resolved to one commit, the code's date from the history, and the files of a commit
extracted with ``git archive`` (no ``.git``, nothing ignored, nothing uncommitted); the
archive is unpacked by ``fetch.archive``. The only module that runs git for a checkout.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Literal

import git

from repro import cache, diskspace, faults, locks, retry, signals, stale
from repro.errors import DiskFullError, NetworkError, SourceError
from repro.fetch.archive import BLOCK, OverBudget, Unsupported, safe_untar, unpack_git_tar
from repro.fetch.source import parse_source
from repro.models import Checkout, Source

_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "GCM_INTERACTIVE": "never"}


# a transfer slower than 1 kB/s for a minute is given up (and tried again), not waited on
# for ever; the user's own settings of these win
_GIT_SLOW = {"GIT_HTTP_LOW_SPEED_LIMIT": "1000", "GIT_HTTP_LOW_SPEED_TIME": "60"}


def branch_as_of(url: str, ref: str | None, as_of: dt.date) -> tuple[str, dt.datetime, str]:
    """The commit that branch ``ref`` (None: the default branch) of ``url`` pointed at on
    ``as_of`` -- the newest on its first-parent history committed by the end of that day,
    else its first commit -- through the same bare mirror and cache as a packed repository.
    Returns (sha, committer date, branch); raises ``SourceError`` when it cannot be read
    (no network, no such repository or branch)."""
    source = parse_source(url)
    with git_errors(source), mirror_lock(source):
        mirror = open_mirror(source)
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


def checkout_of(
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


def code_date_of(
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
def git_errors(source: Source) -> Iterator[None]:
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


def open_mirror(source: Source) -> git.Repo:
    """The bare mirror of ``source.url`` in the cache, cloned or brought up to date.

    The caller holds the mirror's lock (see :func:`mirror_lock`). A clone goes to a
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


def mirror_lock(source: Source) -> contextlib.AbstractContextManager[None]:
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


def resolve(repo: git.Repo, source: Source) -> git.Commit:
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


def extract(
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
        except OverBudget:
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
    """``git archive`` of ``treeish``, unpacked into ``dest`` (see :func:`extract`).

    The archive is read by :func:`unpack_git_tar`, which knows the few kinds of entry
    ``git archive`` writes; anything else it meets (it never should) sends the whole
    archive through :mod:`tarfile` instead, into an emptied ``dest``.
    """
    try:
        warnings = _run_archive(git_dir, treeish, dest, budget, unpack_git_tar)
    except Unsupported:
        shutil.rmtree(dest)
        dest.mkdir()
        warnings = _run_archive(git_dir, treeish, dest, budget, safe_untar)
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
                while proc.stdout.read(BLOCK):  # the archive's end padding: let git finish
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
