"""A date for code without a usable history, read from the code itself (pure).

A script copied without its history (a downloaded gist, a folder from a tarball, a
repository re-uploaded in one commit) has no date that means anything: its files' times
are when it was copied. The code says more. Every versioned API it uses holds only until
the first release that removed it (``sklearn.cross_validation`` until scikit-learn 0.20,
2018-09-25), every Python bound until that Python came out (``time.clock``: until Python
3.8, 2019-10-14), Python 2 code until Python 2's end of life. The code's era ends at the
earliest of those dates: the newest date consistent with every signal. Signals that need
something newer (``torch.compile``: torch 2.0, 2023-03-15; an f-string: Python 3.6) set
the earliest date the code can have; when they clash with an upper one, the newer wins,
since the API bounds keep each package right whatever the date.

``estimate`` returns that date with its reasons; ``repro/infer.py`` uses it instead of the
commit date when there is no history (a plain folder) or a thin one (every commit that
touched code within a month, as an upload is) and the code says it is older.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from repro.models import PythonHint
from repro.releases import PackageReleases
from repro.versions import python_allows

History = Literal["full", "thin", "none"]

# A thin history is trusted only as far as the code agrees: the code's date replaces the
# commit's when it is this much older (an upload a few months after the code is normal).
THIN_MARGIN = dt.timedelta(days=365)


@dataclass(frozen=True, kw_only=True)
class Signal:
    """One date the code's API or syntax implies, and why."""

    date: dt.date
    side: Literal["until", "from"]  # the code is older than / at least as new as ``date``
    why: str


@dataclass(frozen=True, kw_only=True)
class Estimate:
    date: dt.date
    reason: str
    signals: tuple[Signal, ...]


@dataclass(frozen=True, kw_only=True)
class Bounded:
    """A package's API bounds, as ``repro/versions.py`` merged them."""

    name: str
    specifier: str
    why: str  # the first API bound's explanation (use and line)
    history: PackageReleases | None


def _spec(text: str) -> SpecifierSet | None:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


def _allowed(spec: SpecifierSet, version: str) -> bool:
    try:
        return spec.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def package_signals(item: Bounded) -> list[Signal]:
    """Until the first release newer than every one the bounds allow; from the first
    release they allow."""
    spec = _spec(item.specifier)
    if spec is None or item.history is None or not str(spec):
        return []
    releases = [r for r in item.history.releases if not r.yanked]
    allowed = [r for r in releases if _allowed(spec, r.version)]
    if not allowed:
        return []
    out: list[Signal] = []
    newest = max(allowed, key=lambda r: r.parsed)
    later = [r for r in releases if r.parsed > newest.parsed]
    if later:
        first = min(later, key=lambda r: r.date)
        out.append(
            Signal(
                date=first.date,
                side="until",
                why=f"{item.why}; {item.name} {first.version} left it out "
                f"({first.date.isoformat()})",
            )
        )
    oldest = min(allowed, key=lambda r: r.date)
    if any(not _allowed(spec, r.version) for r in releases if r.parsed < oldest.parsed):
        out.append(
            Signal(
                date=oldest.date + dt.timedelta(days=1),
                side="from",
                why=f"{item.why}; {item.name} {oldest.version} came out {oldest.date.isoformat()}",
            )
        )
    return out


def python_signals(
    hints: Iterable[PythonHint], releases: Mapping[str, dt.date], python2_end: dt.date
) -> list[Signal]:
    """The code's own Python bounds (strength ``syntax``): ``<3.8`` until 3.8 came out,
    ``<3`` until Python 2's end of life, ``>=3.6`` from 3.6's release."""
    out: list[Signal] = []
    for hint in hints:
        if hint.strength != "syntax":
            continue
        spec = _spec(hint.specifier)
        if spec is None:
            continue
        for item in spec:
            version = item.version
            if item.operator == "<" and version in ("3", "3.0"):
                out.append(
                    Signal(
                        date=python2_end,
                        side="until",
                        why=f"Python 2 code ({hint.origin}); Python 2's last day "
                        f"{python2_end.isoformat()}",
                    )
                )
            elif item.operator == "<" and version in releases:
                out.append(
                    Signal(
                        date=releases[version],
                        side="until",
                        why=f"Python <{version} ({hint.origin}); Python {version} came out "
                        f"{releases[version].isoformat()}",
                    )
                )
            elif item.operator == ">=" and version in releases:
                out.append(
                    Signal(
                        date=releases[version] + dt.timedelta(days=1),
                        side="from",
                        why=f"Python >={version} ({hint.origin}); Python {version} came out "
                        f"{releases[version].isoformat()}",
                    )
                )
    return out


def estimate(signals: Iterable[Signal]) -> Estimate | None:
    """The newest date consistent with every signal; None when nothing caps the date."""
    found = list(signals)
    until = sorted((s for s in found if s.side == "until"), key=lambda s: s.date)
    since = sorted((s for s in found if s.side == "from"), key=lambda s: s.date)
    if not until:
        return None
    cap = until[0]
    if since and since[-1].date > cap.date:
        floor = since[-1]
        reason = (
            f"as of {floor.date.isoformat()}, the code's era: {floor.why}; it needs that "
            f"although {cap.why}"
        )
        return Estimate(date=floor.date, reason=reason, signals=(floor, cap))
    return Estimate(
        date=cap.date, reason=f"as of {cap.date.isoformat()}, the code's era: {cap.why}",
        signals=(cap,),
    )  # fmt: skip


def kept_hints(hints: Iterable[PythonHint], pythons: Iterable[str]) -> list[PythonHint]:
    """The hints that survive together, strongest first (as the Python choice keeps them):
    a hint the choice overrules dates nothing."""
    candidates = list(pythons)
    order = {"declared": 0, "syntax": 1, "hint": 2}
    kept = []
    for hint in sorted(hints, key=lambda h: order[h.strength]):
        left = [v for v in candidates if python_allows(v, hint.specifier)]
        if left:
            candidates = left
            kept.append(hint)
    return kept


def use_estimate(history: History, commit: dt.date, found: Estimate | None) -> bool:
    """Whether the code's era replaces the commit's date."""
    if found is None or history == "full":
        return False
    if history == "none":
        return found.date < commit
    return found.date < commit - THIN_MARGIN
