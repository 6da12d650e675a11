"""Release history of a distribution, from PyPI's JSON API, cached on disk (edge: network).

The repair loop asks which releases of a package exist when the installed one is too new.
``PyPIReleases`` answers from ``$REPRO_CACHE_DIR/pypi/<name>.json`` when that is younger
than a day, else from ``https://pypi.org/pypi/<name>/json`` (``$REPRO_PYPI_URL`` names
another server with the same API). A package PyPI does not know (a local wheel, a private
index) has no history here; the pipeline adds the wheelhouse's versions to it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from repro import cache
from repro.repair import Release

PYPI_URL = "https://pypi.org/pypi"
TTL = dt.timedelta(days=1)
Fetch = Callable[[str], tuple[int, bytes]]  # url → (HTTP status, body)


def _ssl_context() -> ssl.SSLContext:
    for var in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return ssl.create_default_context(cafile=value)
    return ssl.create_default_context()


def _http_get(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=20, context=_ssl_context()) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""


class PyPIReleases:
    """``releases(name)`` → every release PyPI lists, oldest first; cached for a day."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        cache_dir: Path | None = None,
        fetch: Fetch | None = None,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("REPRO_PYPI_URL") or PYPI_URL).rstrip("/")
        self._cache_dir = cache_dir
        self._fetch = fetch or _http_get
        self._now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self.warnings: list[str] = []

    def __call__(self, name: str) -> list[Release]:
        key = canonicalize_name(name)
        path = (self._cache_dir or cache.subdir("pypi")) / f"{key}.json"
        cached = self._read(path)
        if cached is not None:
            return cached
        try:
            status, body = self._fetch(f"{self.base_url}/{key}/json")
        except (OSError, ValueError) as exc:
            self.warnings.append(f"cannot read the release history of {name}: {exc}")
            return []
        if status == 404:
            releases: list[Release] = []
        elif status != 200:
            self.warnings.append(f"the release history of {name}: HTTP {status}")
            return []
        else:
            try:
                releases = parse(json.loads(body))
            except (ValueError, KeyError, TypeError) as exc:
                self.warnings.append(f"cannot read PyPI's answer for {name}: {exc}")
                return []
        self._write(path, releases)
        return releases

    def _read(self, path: Path) -> list[Release] | None:
        try:
            doc = json.loads(path.read_text())
            fetched = dt.datetime.fromisoformat(doc["fetched"])
        except (OSError, ValueError, KeyError):
            return None
        if self._now() - fetched > TTL:
            return None
        return [Release(**r) for r in doc["releases"]]

    def _write(self, path: Path, releases: list[Release]) -> None:
        doc = {
            "fetched": self._now().isoformat(),
            "source": self.base_url,
            "releases": [r.__dict__ for r in releases],
        }
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        try:
            tmp.write_text(json.dumps(doc))
            tmp.replace(path)
        except OSError:
            tmp.unlink(missing_ok=True)


def parse(doc: dict[str, Any]) -> list[Release]:
    """The releases of a PyPI JSON API document (``/pypi/<name>/json``)."""
    out = []
    for version, files in doc.get("releases", {}).items():
        if not files:
            continue  # a version with no files cannot be installed
        uploads = sorted(str(f.get("upload_time_iso_8601") or "") for f in files)
        requires = next((str(f["requires_python"]) for f in files if f.get("requires_python")), "")
        out.append(
            Release(
                version=version,
                requires_python=requires,
                yanked=all(bool(f.get("yanked")) for f in files),
                uploaded=uploads[0] if uploads else "",
            )
        )
    return sorted(out, key=lambda r: r.uploaded)
