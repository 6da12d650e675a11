"""VCS requirements without a commit, pinned to the commit current at the code's date.

``git+https://github.com/o/lib.git`` (or ``…@main``) installs whatever the branch holds on
the day of the build: a repository of 2020 gets the library of today. The commit the
branch pointed at on the code's date is what the authors ran; the requirement is pinned
to it (``git+https://github.com/o/lib.git@<sha>``), with the branch and date in its
reasons and in the manifest (``vcs``). A tag or a full commit already names one state and
is kept. Reading a branch's history goes through the same clone code and cache as the
packed repository (``fetch.branch_as_of``, the ``resolve`` argument here); when it cannot
be read (offline, a private repository) the requirement stays unpinned, with a warning.

Parsing and rewriting URLs is pure; only ``resolve`` touches git.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from repro.errors import ReproError
from repro.models import Environment, Requirement, VcsPin

Resolve = Callable[[str, str | None, dt.date], tuple[str, dt.datetime, str]]

_SCHEMES = ("git+",)
_FULL_SHA = re.compile(r"[0-9a-f]{40}")
_SHORT_SHA = re.compile(r"[0-9a-f]{7,39}")
_VERSIONISH = re.compile(r"v?\d+(\.\d+)+([.-]?\w+)?")


@dataclass(frozen=True)
class VcsUrl:
    """``git+https://host/o/n.git@ref#egg=name`` taken apart."""

    repository: str  # https://host/o/n.git
    ref: str | None  # "main", "v1.0", a sha; None: the default branch
    fragment: str  # "egg=name" (without '#'), or ""

    def with_ref(self, ref: str) -> str:
        fragment = f"#{self.fragment}" if self.fragment else ""
        return f"git+{self.repository}@{ref}{fragment}"


def parse(url: str) -> VcsUrl | None:
    """A ``git+`` requirement URL taken apart; None for anything else (an archive, hg)."""
    if not url.startswith(_SCHEMES):
        return None
    body, _, fragment = url[len("git+") :].partition("#")
    scheme_end = body.find("://")
    path_start = body.find("/", scheme_end + 3) if scheme_end >= 0 else body.find(":")
    at = body.rfind("@")
    if path_start >= 0 and at > path_start:
        return VcsUrl(body[:at], body[at + 1 :] or None, fragment)
    return VcsUrl(body, None, fragment)


def names_one_state(ref: str | None) -> bool:
    """A ref that names one commit already: a sha, or a release-like tag (``v1.2.0``).
    A branch (``main``, ``dev``) moves."""
    if ref is None:
        return False
    return bool(_FULL_SHA.fullmatch(ref) or _SHORT_SHA.fullmatch(ref) or _VERSIONISH.fullmatch(ref))


def pin(environment: Environment, as_of: dt.date, resolve: Resolve) -> Environment:
    """Every unpinned ``git+`` requirement pinned to its branch's commit of ``as_of``."""
    requirements: list[Requirement] = []
    pins: list[VcsPin] = []
    warnings: list[str] = []
    for req in environment.requirements:
        url = parse(req.url) if req.url else None
        if url is None or req.optional or names_one_state(url.ref):
            requirements.append(req)
            continue
        which = f"its branch {url.ref}" if url.ref else "its default branch"
        try:
            sha, when, branch = resolve(url.repository, url.ref, as_of)
        except ReproError as exc:
            note = (
                f"{req.url}: not pinned, {which} could not be read ({exc.message}): "
                "the build installs what the branch holds that day"
            )
            warnings.append(note)
            requirements.append(dataclasses.replace(req, reasons=(*req.reasons, note)))
            pins.append(
                VcsPin(name=req.name, url=req.url, pinned=None, ref=url.ref, commit=None,
                       commit_date=None, reason=note)
            )  # fmt: skip
            continue
        pinned = url.with_ref(sha)
        after = " (the branch's first commit: none was older)" if when.date() > as_of else ""
        reason = (
            f"{f'branch {url.ref}' if url.ref else f'the default branch ({branch})'} pinned to "
            f"{sha[:12]} ({when:%Y-%m-%d}), its commit on {as_of.isoformat()}, the code's "
            f"date{after}"
        )
        requirements.append(dataclasses.replace(req, url=pinned, reasons=(*req.reasons, reason)))
        pins.append(
            VcsPin(name=req.name, url=req.url, pinned=pinned, ref=url.ref or branch, commit=sha,
                   commit_date=when.date().isoformat(), reason=reason)
        )  # fmt: skip
    if not pins:
        return environment
    return dataclasses.replace(
        environment,
        requirements=tuple(requirements),
        vcs_pins=tuple(pins),
        warnings=(*environment.warnings, *warnings),
    )
