"""Bounded retries with back-off for repro's own network calls, and what to say after.

repro asks two kinds of host on its own (the image build's downloads are pip's and uv's):
the package index, for release dates (``pypi.py``), and the VCS host, to clone or fetch
(``fetch.py``). A reset connection, a timeout or a 502/503 is often gone a second later,
so each call is tried up to :attr:`Backoff.attempts` times, waiting ``first``, then
``first * factor``, ... seconds between tries (a ``Retry-After`` the host sends is honoured
up to ``cap``), and never past ``budget`` seconds in all. A failure that another try would
not change (404, a refused certificate, an unknown repository) is not retried.

After the last try, :func:`settings` names what applies to that host: the proxy (from the
environment, and git's ``http.proxy``) and the CA bundle, since behind a proxy that is most
often what needs fixing.
"""

from __future__ import annotations

import os
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Backoff:
    attempts: int = 3
    first: float = 0.5  # seconds before the second try
    factor: float = 3.0
    cap: float = 8.0  # the longest wait, Retry-After included
    budget: float = 60.0  # seconds for every try and wait together

    def delay(self, retry: int, asked: float | None = None) -> float:
        """The wait before try ``retry + 1`` (``retry`` counts from 1)."""
        wait = self.first * self.factor ** (retry - 1)
        if asked is not None:
            wait = max(wait, asked)
        return min(wait, self.cap)


DEFAULT = Backoff()


class Transient(Exception):
    """A failure another try may not meet: ``reason`` in words, ``retry_after`` asked for."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class GaveUp(Exception):
    """Every try failed: the last reason, how many tries, how long they took in all."""

    def __init__(self, reason: str, attempts: int, seconds: float) -> None:
        super().__init__(f"{reason} ({attempts} attempts over {seconds:.1f} s)")
        self.reason = reason
        self.attempts = attempts
        self.seconds = seconds


def run(
    attempt: Callable[[float], T],
    policy: Backoff = DEFAULT,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``attempt(seconds_left)`` until it returns; :class:`Transient` means try again (after
    the back-off), anything else goes up at once; :class:`GaveUp` after the last try."""
    start = clock()
    tries = 0
    while True:
        tries += 1
        try:
            return attempt(max(policy.budget - (clock() - start), 1.0))
        except Transient as exc:
            wait = policy.delay(tries, exc.retry_after)
            spent = clock() - start
            if tries >= policy.attempts or spent + wait >= policy.budget:
                raise GaveUp(exc.reason, tries, spent) from exc
            sleep(wait)


def retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (its HTTP-date form is not worth the parse)."""
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


# --------------------------------------------------------------------------- git

# git's words (through curl, or ssh) for a failure another try may not meet, and for one
# it will meet again (checked first: "not found" after a 404 is not worth a second try)
_GIT_PERMANENT = re.compile(
    r"not found|authentication failed|could not read username|permission denied"
    r"|returned error: 4(?:0[0-7]|09|1\d)|certificate|does not appear to be a git repository"
    r"|invalid|not a valid",
    re.IGNORECASE,
)
_GIT_TRANSIENT = re.compile(
    r"returned error: (?:5\d\d|408|429)|rpc failed|early eof|hung up unexpectedly"
    r"|connection reset|connection refused|timed out|failed to connect|could not resolve host"
    r"|couldn't connect|empty reply from server|transfer closed|unexpected disconnect"
    r"|ssl_read|gnutls recv error|recv failure|index-pack failed|operation too slow"
    r"|http/2 stream",
    re.IGNORECASE,
)


def git_transient(stderr: str) -> bool:
    """Whether git's ``stderr`` tells a failure of the network or the host (worth another
    try), not of the request (an unknown repository, refused credentials)."""
    return not _GIT_PERMANENT.search(stderr) and bool(_GIT_TRANSIENT.search(stderr))


# --------------------------------------------------------------------------- what applies


def _redact(url: str) -> str:
    """A proxy URL without its user and password."""
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{netloc}"))
    return url


def proxy_for(url: str, environ: Mapping[str, str] | None = None) -> str:
    """The proxy the standard library (and curl, for git) would use for ``url``:
    ``$HTTPS_PROXY=…``, ``none ($NO_PROXY covers host)`` or ``none set``."""
    env = os.environ if environ is None else environ
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    scheme = parts.scheme or "https"
    names = [f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY"]
    found = next(((n, env[n]) for n in names if env.get(n)), None)
    if found is None:
        return "none set"
    no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
    if no_proxy and _bypassed(host, no_proxy):
        return f"none ($NO_PROXY covers {host})"
    return f"${found[0]}={_redact(found[1])}"


def _bypassed(host: str, no_proxy: str) -> bool:
    for entry in (e.strip().lstrip(".").lower() for e in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return True
    return False


def ca_for(environ: Mapping[str, str] | None = None, *, git: bool = False) -> str:
    """The CA bundle that verifies the host: the first of the variables that name a file,
    else the system's store."""
    env = os.environ if environ is None else environ
    names = (
        ("GIT_SSL_CAINFO", "SSL_CERT_FILE")
        if git
        else ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
    )
    for name in names:
        value = env.get(name)
        if value and os.path.isfile(value):
            return f"${name}={value}"
    return "the system's CA store"


def settings(url: str, *, git_config: Mapping[str, str] | None = None) -> str:
    """``proxy: …; CA: …`` for ``url``; with ``git_config``, git's ``http.proxy`` and
    ``http.sslCAInfo`` come first, as they do for git."""
    config = git_config or {}
    proxy = f"git http.proxy={_redact(config['http.proxy'])}" if config.get("http.proxy") else ""
    ca = f"git http.sslCAInfo={config['http.sslcainfo']}" if config.get("http.sslcainfo") else ""
    proxy = proxy or proxy_for(url)
    ca = ca or ca_for(git=git_config is not None)
    return f"proxy: {proxy}; CA: {ca}"


def host_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.netloc.rpartition("@")[2] or url
