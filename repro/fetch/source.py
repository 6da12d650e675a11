"""What the user named, normalised into a :class:`~repro.models.Source`: a GitHub URL,
``OWNER/NAME[@REF]``, any git URL (``URL@REF``), or a local directory (inside a git
repository or not). Parsed once; every command passes the value on.
"""

from __future__ import annotations

import re
from pathlib import Path

import git

from repro.errors import SourceError, UsageError
from repro.models import Source

_GITHUB = re.compile(
    r"^(?:https?://|git@|ssh://git@)?(?:www\.)?github\.com[/:]"
    r"(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?"
    r"(?:/tree/(?P<ref>[^?#]+?))?/?(?:[?#].*)?$"
)


_SHORTHAND = re.compile(r"^(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:@(?P<ref>.+))?$")


_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)


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
