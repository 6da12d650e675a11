"""Publish a packed image beside a paper: push it, record its digest, write PAPER.md.

``repro push ARTIFACT_DIR|IMAGE REGISTRY/NAME[:TAG]`` (and ``repro pack --push``) pushes
the exact image an artifact records (checked against SHA256SUMS first, loaded from its
tarball when the engine lacks it) through the docker SDK, which reads the same
credentials as ``docker login``. The registry's manifest digest is recorded in
``repro.json`` (``published``), and ``PAPER.md``, the snippet for a paper's README, is
rewritten to pin that digest. The directory is rewritten as a whole (unchanged files are
hard links) and swapped into place, so readers never see a half-updated artifact and
``SHA256SUMS`` always covers every file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from repro import artifact
from repro.engine import ImageInfo, LogSink
from repro.errors import EngineError, UsageError, VerifyError
from repro.export import PAPER, paper_text
from repro.models import JSON

Info = Callable[[str], None]

# Docker's reference grammar (distribution/reference), enough to refuse a typo early.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*(?::[0-9]+)?)"
_REFERENCE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?$"
)


class Pusher(Protocol):
    """What publishing needs from the engine (``DockerEngine`` has it)."""

    def image_info(self, ref: str) -> ImageInfo | None: ...
    def load(self, path: Path) -> list[str]: ...
    def tag(self, image: str, ref: str) -> None: ...
    def remove_image(self, ref: str) -> None: ...
    def push(self, ref: str, *, auth: Mapping[str, str] | None, on_line: LogSink) -> str: ...


@dataclass(frozen=True, kw_only=True)
class Destination:
    """Where to push: ``repository`` (with its registry host) and an optional tag."""

    repository: str
    tag: str | None

    @property
    def registry(self) -> str:
        first = self.repository.split("/")[0]
        has_host = "/" in self.repository and ("." in first or ":" in first or first == "localhost")
        return first if has_host else "docker.io"


@dataclass(frozen=True, kw_only=True)
class Published:
    reference: str  # REPOSITORY:TAG as pushed
    digest: str  # sha256:… of the registry manifest
    pinned: str  # REPOSITORY@sha256:…, what a paper should cite
    paper: str  # the snippet (also PAPER.md when an artifact was pushed)
    directory: Path | None  # the artifact directory updated, if any


def parse_destination(text: str) -> Destination:
    """``REGISTRY/NAME[:TAG]`` → Destination, or a UsageError naming what is wrong."""
    text = text.strip()
    if "@" in text:
        raise UsageError(
            f"{text!r}: push to a name and tag, not a digest",
            hint="the digest is what the registry answers; repro records it",
        )
    m = _REFERENCE.match(text)
    if not m:
        lower = text.lower()
        hint = f"image names are lower case: {lower}" if lower != text else ""
        raise UsageError(
            f"{text!r} is not an image name such as REGISTRY/NAME[:TAG]"
            " (e.g. ghcr.io/lab/paper:v1)",
            hint=hint,
        )
    repository = f"{m['domain']}/{m['path']}" if m["domain"] else m["path"]
    return Destination(repository=repository, tag=m["tag"])


def credentials(username: str | None, password: str | None) -> dict[str, str] | None:
    """The auth for one push, or None to use what ``docker login`` stored."""
    if not username and not password:
        return None
    if not username or password is None:
        raise UsageError(
            "a registry login needs both a username and a password",
            hint="--username NAME with --password-stdin (or REPRO_REGISTRY_USERNAME and "
            "REPRO_REGISTRY_PASSWORD); or run docker login first",
        )
    return {"username": username, "password": password}


# --------------------------------------------------------------------------- pushing


def push(
    target: str,
    destination: Destination,
    engine: Pusher,
    *,
    auth: Mapping[str, str] | None = None,
    keep: bool = False,
    info: Info | None = None,
    on_line: LogSink | None = None,
) -> Published:
    """Push an artifact's image (recording the digest) or an engine image to ``destination``."""
    say = info or (lambda _m: None)
    path = Path(target)
    if path.exists():
        return _push_artifact(path, destination, engine, auth, keep, say, on_line)
    found = engine.image_info(target)
    if found is None:
        raise UsageError(
            f"{target}: neither an artifact directory nor an image on this engine",
            hint="give the directory repro pack wrote, or an image name or id",
        )
    labels = found.labels
    revision = labels.get("org.opencontainers.image.revision", "")
    tag = destination.tag or (revision[:7] if revision else "latest")
    reference = f"{destination.repository}:{tag}"
    engine.tag(found.id, reference)
    digest = _push(engine, reference, destination, auth, say, on_line)
    pseudo: JSON = {
        "source": {"url": labels.get("org.opencontainers.image.source", ""), "commit": revision},
        "base_image": {"gpu": "-cu" in labels.get("io.github.repro.variant", "")},
        "python": {"version": labels.get("io.github.repro.python")},
        "image": {"id": found.id},
        "tags": [reference],
        "published": [_entry(destination, tag, digest)],
    }
    return Published(
        reference=reference,
        digest=digest,
        pinned=f"{destination.repository}@{digest}",
        paper=paper_text(pseudo, artifact_dir=False),
        directory=None,
    )


def _push_artifact(
    path: Path,
    destination: Destination,
    engine: Pusher,
    auth: Mapping[str, str] | None,
    keep: bool,
    say: Info,
    on_line: LogSink | None,
) -> Published:
    from repro.verify import check_files, locate

    directory = locate(path)
    check_files(directory)  # never publish a changed artifact
    manifest = json.loads((directory / artifact.MANIFEST).read_text())
    image_id = str((manifest.get("image") or {}).get("id") or "")
    tags = [str(t) for t in manifest.get("tags") or []]
    if not image_id or not tags:
        raise VerifyError(f"{directory / artifact.MANIFEST} records no image to push")
    tag = destination.tag or tags[0].rpartition(":")[2]
    reference = f"{destination.repository}:{tag}"
    loaded: list[str] = []
    if engine.image_info(image_id) is None:
        before = {t for t in tags if engine.image_info(t) is not None}
        say(f"loading {directory / artifact.IMAGE_TARBALL}")
        engine.load(directory / artifact.IMAGE_TARBALL)
        loaded = [t for t in tags if t not in before]
        found = engine.image_info(tags[0])
        if found is None or found.id != image_id:
            raise VerifyError(
                f"the tarball's image is {found.id if found else 'missing'}, "
                f"but repro.json records {image_id}"
            )
    try:
        engine.tag(image_id, reference)
        digest = _push(engine, reference, destination, auth, say, on_line)
    finally:
        if loaded and not keep:
            for ref in [reference, *loaded]:
                engine.remove_image(ref)
    entry = _entry(destination, tag, digest)
    published = [
        p
        for p in manifest.get("published") or []
        if (p.get("repository"), p.get("tag")) != (destination.repository, tag)
    ]
    manifest["published"] = [*published, entry]
    paper = paper_text(manifest)
    reseal(directory, manifest, {PAPER: paper})
    return Published(
        reference=reference,
        digest=digest,
        pinned=entry["pinned"],
        paper=paper,
        directory=directory,
    )


def _push(
    engine: Pusher,
    reference: str,
    destination: Destination,
    auth: Mapping[str, str] | None,
    say: Info,
    on_line: LogSink | None,
) -> str:
    say(f"pushing {reference}")
    try:
        return engine.push(reference, auth=auth, on_line=on_line or (lambda _l: None))
    except EngineError as exc:
        raise EngineError(exc.message, hint=_push_hint(exc.message, destination)) from exc


def _push_hint(message: str, destination: Destination) -> str:
    text = message.lower()
    registry = destination.registry
    if any(s in text for s in ("no basic auth", "unauthorized", "authentication required")):
        return (
            f"log in to {registry} first (docker login {registry}), or pass --username "
            "with --password-stdin"
        )
    if "denied" in text:
        return f"the account has no right to push {destination.repository}"
    if "http response to https client" in text:
        return (
            f"{registry} speaks plain HTTP: serve it with TLS, or list it under "
            '"insecure-registries" in the engine\'s daemon.json (loopback is allowed already)'
        )
    if any(s in text for s in ("connection refused", "no such host", "timeout", "i/o timeout")):
        return f"is a registry listening at {registry}? (the engine, not repro, connects to it)"
    return ""


def _entry(destination: Destination, tag: str, digest: str) -> dict[str, str]:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return {
        "repository": destination.repository,
        "tag": tag,
        "digest": digest,
        "pinned": f"{destination.repository}@{digest}",
        "pushed": now.isoformat().replace("+00:00", "Z"),
    }


def reseal(directory: Path, manifest: JSON, files: Mapping[str, str]) -> None:
    """Rewrite ``files`` and ``repro.json`` of an artifact, recompute every checksum, swap.

    The new directory is staged beside the old one (unchanged files hard-linked, so the
    image tarball is not copied) and renamed into place: a crash leaves the old artifact.
    """
    with artifact.staging(directory) as tmp:
        for item in directory.iterdir():
            if (
                not item.is_file()
                or item.name.startswith(".")
                or item.name in files
                or item.name in (artifact.MANIFEST, artifact.CHECKSUMS)
            ):
                continue
            try:
                os.link(item, tmp / item.name)
            except OSError:
                shutil.copy2(item, tmp / item.name)
        for name, text in files.items():
            (tmp / name).write_text(text)
        names = sorted(p.name for p in tmp.iterdir() if p.is_file())
        manifest["artifacts"] = {
            name: {"sha256": artifact.sha256_file(tmp / name), "bytes": (tmp / name).stat().st_size}
            for name in names
        }
        (tmp / artifact.MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        lines = [
            f"{artifact.sha256_file(tmp / name)}  {name}\n"
            for name in sorted([*names, artifact.MANIFEST])
        ]
        (tmp / artifact.CHECKSUMS).write_text("".join(lines))
