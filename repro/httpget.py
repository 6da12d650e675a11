"""HTTP GET for the package index, behind a narrow interface (edge: network).

Everything repro asks a package index at run time beyond release dates (which project
exists, which files a release has, what a wheel contains) goes through a
:class:`Transport`: one method, a GET with headers and a byte limit, returning the status,
the body and the headers. Unit tests pass a stand-in that serves bytes from memory; the
real one is :class:`UrllibTransport` (the standard library, the CA bundle pip would use).

A failure to reach the index at all (no network, a proxy refusing, a timeout) raises
:class:`Unreachable`; an HTTP answer, 404 included, is a :class:`Reply`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from repro import retry

if TYPE_CHECKING:
    import ssl

TIMEOUT = 20.0
USER_AGENT = "repro (import look-up)"


class Unreachable(Exception):
    """The index did not answer (no network, proxy refused, timeout)."""


class TooLarge(Exception):
    """The answer is longer than the caller's limit."""


@dataclass(frozen=True, kw_only=True)
class Reply:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


class Transport(Protocol):
    def get(self, url: str, *, headers: Mapping[str, str], limit: int) -> Reply:
        """GET ``url``; :class:`TooLarge` when the body exceeds ``limit`` bytes,
        :class:`Unreachable` when no HTTP answer came."""
        ...


def ca_file() -> str | None:
    """The CA bundle pip would trust (``PIP_CERT``, ``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``):
    behind a TLS-intercepting proxy, the system store alone does not verify the index."""
    for var in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(var)
        if value and os.path.isfile(value):
            return value
    return None


_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class UrllibTransport:
    """:class:`Transport` over the standard library (imported on first use). A reset, a
    timeout, a cut-off answer, 408/429/5xx is tried again with back-off (repro/retry.py);
    a certificate the CA bundle refuses, or any other status, is not."""

    def __init__(self, timeout: float = TIMEOUT, policy: retry.Backoff = retry.DEFAULT) -> None:
        self.timeout = timeout
        self.policy = policy
        self._context: ssl.SSLContext | None = None

    def get(self, url: str, *, headers: Mapping[str, str], limit: int) -> Reply:
        try:
            return retry.run(
                lambda left: self._once(url, headers, limit, min(self.timeout, left)), self.policy
            )
        except retry.GaveUp as exc:
            raise Unreachable(str(exc)) from None

    def _once(self, url: str, headers: Mapping[str, str], limit: int, timeout: float) -> Reply:
        import http.client
        import ssl
        import urllib.error
        import urllib.request

        if self._context is None:
            self._context = ssl.create_default_context(cafile=ca_file())
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})
        try:
            with urllib.request.urlopen(
                request, timeout=timeout, context=self._context
            ) as response:
                body = response.read(limit + 1)
                if len(body) > limit:
                    raise TooLarge(f"{url}: more than {limit} bytes")
                status = int(response.status)
                got = {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as exc:
            got = {k.lower(): v for k, v in (exc.headers or {}).items()}
            if exc.code in _TRANSIENT_STATUS:
                raise retry.Transient(
                    f"HTTP {exc.code}", retry.retry_after(got.get("retry-after"))
                ) from None
            return Reply(status=exc.code, headers=got)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, ssl.SSLCertVerificationError):  # another try gets the same
                raise Unreachable(f"its certificate is not trusted: {str(reason)[:120]}") from None
            raise retry.Transient(str(reason)[:120] or type(exc).__name__) from None
        return Reply(status=status, body=body, headers=got)
