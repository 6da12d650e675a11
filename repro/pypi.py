"""Release dates from PyPI: shipped data, an on-disk cache, and on-demand look-ups (edge).

``repro/data/releases.json`` (made by ``scripts/gen_releases.py``) holds the release
history of the core ML packages, so ``repro inspect`` decides their versions offline.
Other packages are fetched from PyPI's JSON API when first needed and kept under the
repro cache (``<cache>/pypi/NAME.json``). A cached or shipped history that was fetched
*after* the cutoff date is complete for that cutoff and is used as it is; an older one is
refreshed when PyPI answers, and used with a warning when it does not.

Everything past this module sees only :class:`PackageReleases` values (pure data).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from packaging.utils import (
    canonicalize_name,
)

from repro import cache as repro_cache
from repro import locks, retry, signals
from repro.releases import PackageReleases, condense, parse_package, shipped

PACKAGE_URL = "https://pypi.org/pypi/{name}/json"
# a PyPI-compatible JSON API instead (a mirror: ``https://mirror.example/pypi``)
URL_ENV = "REPRO_PYPI_URL"
TIMEOUT = 20.0
OFFLINE_ENV = "REPRO_OFFLINE"  # set to 1: never ask PyPI, use shipped and cached data


class PyPIUnavailable(Exception):
    """PyPI did not answer (no network, proxy refused, timeout)."""


# --------------------------------------------------------------------------- values


# --------------------------------------------------------------------------- condensing


# --------------------------------------------------------------------------- indexes


@dataclass
class PyPIIndex:
    """Shipped data, then the on-disk cache, then PyPI itself; offline after one failure.

    ``as_of`` is the cutoff the caller will resolve against: a history fetched after it is
    complete for it and is not fetched again.
    """

    as_of: dt.date
    offline: bool = field(default_factory=lambda: os.environ.get(OFFLINE_ENV, "") == "1")
    _warnings: list[str] = field(default_factory=list)
    _memo: dict[str, PackageReleases | None] = field(default_factory=dict)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self._warnings))  # parallel look-ups may repeat one

    def get(self, name: str) -> PackageReleases | None:
        key = canonicalize_name(name)
        if key not in self._memo:
            self._memo[key] = self._load(key)
        return self._memo[key]

    def prefetch(self, names: Iterable[str], *, workers: int = 8) -> None:
        """Look ``names`` up in parallel (PyPI answers one package per request); later
        :meth:`get` calls find them in memory. Failures are remembered as for ``get``."""
        keys = [k for k in dict.fromkeys(canonicalize_name(n) for n in names if n)]
        missing = [k for k in keys if k not in self._memo and self._needs_network(k)]
        if self.offline or len(missing) < 2:
            return
        with ThreadPoolExecutor(max_workers=min(workers, len(missing))) as pool:
            with signals.quiet_threads():
                answers = pool.map(self._load, missing)
            for key, found in zip(missing, answers, strict=True):
                self._memo.setdefault(key, found)

    def _needs_network(self, key: str) -> bool:
        known = shipped(key) or self._cached(key)
        return known is None or known.fetched.date() < self.as_of

    def _load(self, key: str) -> PackageReleases | None:
        known = shipped(key) or self._cached(key)
        # Versions are chosen from releases uploaded strictly before ``as_of``: a history
        # fetched on that day or later has them all.
        if known is not None and known.fetched.date() >= self.as_of:
            return known
        if self.offline:
            return self._stale(key, known, "offline")
        url = package_url(key)
        try:
            answer = fetch_json(url)
        except PyPIUnavailable as exc:
            self.offline = True
            self._warnings.append(
                f"the package index {retry.host_of(url)} did not answer: {exc} "
                f"({retry.settings(url)}); release dates are taken from repro's shipped "
                "data and cache only; packages without them are left to the build's date cutoff"
            )
            return self._stale(key, known, "unreachable")
        if answer is None:
            return known
        doc, serial = answer
        entry = condense(doc, serial=serial, fetched=_now())
        # concurrent runs share this cache: a unique temporary file renamed into place
        locks.write_cache_entry(repro_cache.cache_dir() / "pypi" / f"{key}.json", json.dumps(entry))
        return parse_package(key, entry, "pypi")

    def _cached(self, key: str) -> PackageReleases | None:
        path = repro_cache.cache_dir() / "pypi" / f"{key}.json"
        try:
            return parse_package(key, json.loads(path.read_text()), "cache")
        except (OSError, ValueError, KeyError):
            return None

    def _stale(self, key: str, known: PackageReleases | None, why: str) -> PackageReleases | None:
        if known is not None and why != "offline":
            self._warnings.append(
                f"{key}: release history as fetched on {known.fetched:%Y-%m-%d} ({known.source}); "
                f"releases after that are unknown"
            )
        return known


def _now() -> str:
    return (
        dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )


def package_url(name: str) -> str:
    """The JSON document of ``name``: on PyPI, or on ``$REPRO_PYPI_URL``."""
    base = os.environ.get(URL_ENV, "").strip().rstrip("/")
    return f"{base}/{name}/json" if base else PACKAGE_URL.format(name=name)


def fetch_json(
    url: str, timeout: float = TIMEOUT, policy: retry.Backoff = retry.DEFAULT
) -> tuple[dict[str, Any], int | None] | None:
    """GET a PyPI JSON document: (document, last serial), None for 404, else PyPIUnavailable.

    A reset, a timeout, a cut-off body, 429 or 5xx is tried again with back-off
    (repro/retry.py); another HTTP status or a refused certificate is not."""
    try:
        return retry.run(lambda left: _fetch_once(url, min(timeout, left)), policy)
    except retry.GaveUp as exc:
        raise PyPIUnavailable(str(exc)) from None


_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def _fetch_once(url: str, timeout: float) -> tuple[dict[str, Any], int | None] | None:
    # imported here: most runs find every history shipped or cached (~15 ms saved at start)
    import http.client
    import ssl
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": "repro (release dates)"}
    )
    context = ssl.create_default_context(cafile=_ca_file())
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            serial = response.headers.get("X-PyPI-Last-Serial")
            doc = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        if exc.code in _TRANSIENT_STATUS:
            raise retry.Transient(
                f"HTTP {exc.code}", retry.retry_after(exc.headers.get("Retry-After"))
            ) from None
        raise PyPIUnavailable(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLCertVerificationError):  # another try gets the same
            raise PyPIUnavailable(f"its certificate is not trusted: {str(reason)[:120]}") from None
        raise retry.Transient(str(reason)[:120] or type(exc).__name__) from None
    if not (serial and serial.isdigit()):
        serial = str(doc.get("last_serial", "")) if isinstance(doc, dict) else ""
    return doc, int(serial) if serial.isdigit() else None


def _ca_file() -> str | None:
    for var in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(var)
        if value and os.path.isfile(value):
            return value
    return None
