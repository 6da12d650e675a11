"""Source → Checkout: resolve what the user named to one commit and extract its files.

Remote repositories are kept as bare mirrors in the cache (``<cache>/git``) so a second
pack of the same repository fetches only what is new; the files of the chosen commit are
extracted with ``git archive``, so the checkout holds exactly what was committed: no
``.git``, nothing ignored, nothing uncommitted.

``source.py``    the user's text → ``Source`` (:func:`parse_source`)
``gitrepo.py``   git: mirrors, refs, the code's date, ``git archive`` (:func:`branch_as_of`)
``archive.py``   the archive's tar stream, unpacked safely
``local.py``     a local directory, in git or not
"""

from __future__ import annotations

from pathlib import Path

from repro.fetch.gitrepo import (
    CODE_PATHS,
    MEMORY_BUDGET,
    THIN_COMMITS,
    THIN_SPAN,
    branch_as_of,
    checkout_of,
    code_date_of,
    extract,
    git_errors,
    mirror_lock,
    open_mirror,
    resolve,
)
from repro.fetch.local import fetch_local
from repro.fetch.source import parse_source
from repro.models import Checkout, Source

__all__ = [
    "CODE_PATHS",
    "MEMORY_BUDGET",
    "THIN_COMMITS",
    "THIN_SPAN",
    "branch_as_of",
    "fetch",
    "parse_source",
]


def fetch(source: Source, workdir: Path, *, memory: Path | None = None) -> Checkout:
    """Resolve ``source`` to a commit and extract that commit's files under ``workdir``.

    ``memory``: a folder on a memory file system (``scratch.memory_scratch``) that a
    small tree is extracted into instead (``repro inspect``: its files only need reading,
    and writing and removing thousands of them on disk took longer than reading them).
    A tree over the memory budget (:data:`MEMORY_BUDGET`) goes to ``workdir`` all the same.
    """
    dest = workdir / "src"
    dest.mkdir(parents=True, exist_ok=False)
    with git_errors(source):
        if source.local_path is not None:
            return fetch_local(source, dest, memory)
        with mirror_lock(source):
            mirror = open_mirror(source)
            commit = resolve(mirror, source)
            path, warnings = extract(mirror, commit.hexsha, dest, memory)
            code_date, history = code_date_of(mirror, commit.hexsha, source.subdir)
        return checkout_of(source, path, commit, warnings, code_date, history)
