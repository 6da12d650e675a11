"""The repository's code as the image's last layer, laid by repro (edge: fs, docker).

The Dockerfile's last step copies the repository (``COPY --chown=1000:1000 src/ /app/``)
and sets the working folder, ``PYTHONPATH``, the user and the command. When that step is
plain (:class:`repro.models.CodeLayer`; not with Binder's postBuild or start, nor with
extensions compiled in an earlier stage), repro carries it out itself:

1. the builder builds the Dockerfile without that step (``Dockerfile.env``: every step
   cached after the first pack);
2. repro writes the code layer, a tar of the files the ``COPY`` would copy, owned by
   uid 1000, each with its own mode, in a fixed order, every time the commit's (as
   ``SOURCE_DATE_EPOCH`` would have it): the same tree at the same commit gives the same
   bytes, hence the same layer digest, on any machine. It is compressed into the
   export's blob store as it is written;
3. the image's config is the environment image's with that layer and the step's
   settings added (and its history: the ``COPY`` and each setting);
4. the engine loads a *thin* docker archive: the config and the one new layer; the other
   layers it has (Docker loads a layer only when it lacks it).

The export then finds every layer of the image in the store once the environment's
layers have been exported before: a re-pack after a change of code asks the engine for
no ``docker save`` at all. The image has what a build of the whole Dockerfile gives (same
files, owners, modes, settings; tests/integration/test_code_layer.py compares the two);
only the files' times differ (the builder keeps the times the files had in the build
context, and gives folders it makes the build's time).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import stat
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from repro import compress, gather, imagetar, stale
from repro.blobstore import BlobStore, ImageRecord, LayerBlob, hexof
from repro.engine import ImageInfo
from repro.errors import EngineError
from repro.models import CodeLayer

ENV_DOCKERFILE = "Dockerfile.env"  # in the build context: the Dockerfile without its last step
HISTORY_COMMENT = "repro: the code layer"
METADATA_SUFFIXES = (".dist-info", ".egg-info", ".egg-link", ".pth")

# what an image config's "config" may carry (the engine's inspect document adds empty
# container fields: Hostname, AttachStdin, …)
CONFIG_KEYS = (
    "User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Healthcheck", "ArgsEscaped",
    "Volumes", "WorkingDir", "Labels", "OnBuild", "StopSignal", "StopTimeout", "Shell",
)  # fmt: skip


class Lays(Protocol):
    """What laying the code layer needs of the engine."""

    def image_document(self, ref: str) -> tuple[dict[str, Any], list[dict[str, Any]]]: ...
    def image_info(self, ref: str) -> ImageInfo | None: ...
    def load(self, path: Path) -> list[str]: ...


@dataclass(frozen=True, kw_only=True)
class Laid:
    """The image with the code layer on it."""

    image_id: str
    layer: LayerBlob
    files: int  # files and links in the layer
    seconds: float
    # package metadata among the code (``*.dist-info``, ``*.egg-info``): Python then finds
    # distributions in /app, and the image's facts are not the environment's alone
    metadata: bool = False
    # what the environment's facts depend on, as a digest: its layers and its variables
    # (the builder gives the environment's image a new id at each build, with a new time)
    environment: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "diff_id": self.layer.diff_id,
            "files": self.files,
            "bytes": self.layer.diff_size,
            "compressed_bytes": self.layer.size,
            "seconds": round(self.seconds, 2),
        }


# --------------------------------------------------------------------------- the layer


@dataclass(frozen=True)
class _Entry:
    rel: str  # POSIX path under the source folder
    path: Path
    st: os.stat_result


def _entries(src: Path, skip: frozenset[str]) -> list[_Entry]:
    """Every folder, file and link under ``src`` (links not followed), each folder before
    what it holds, names in byte order; ``skip``: paths left out (the large files)."""
    out: list[_Entry] = []

    def walk(folder: Path, prefix: str) -> None:
        with os.scandir(folder) as it:
            found = sorted(it, key=lambda e: os.fsencode(e.name))
        for entry in found:
            rel = prefix + entry.name
            if rel in skip:
                continue
            st = entry.stat(follow_symlinks=False)
            if stat.S_IFMT(st.st_mode) not in (stat.S_IFDIR, stat.S_IFREG, stat.S_IFLNK):
                continue  # sockets, fifos: git has none
            out.append(_Entry(rel, Path(entry.path), st))
            if stat.S_ISDIR(st.st_mode):
                walk(Path(entry.path), rel + "/")

    walk(src, "")
    return out


def _info(name: str, st: os.stat_result, uid: int, *, kind: bytes, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid = info.gid = uid
    info.uname = info.gname = ""
    info.mtime = mtime
    return info


def write_layer(
    src: Path,
    spec: CodeLayer,
    store: BlobStore,
    *,
    mtime: int,
    skip: frozenset[str] = frozenset(),
    kind: str = compress.GZIP,
) -> tuple[LayerBlob, int, bool]:
    """The code layer of ``src`` (what ``COPY --chown=UID:UID src/ APP/`` copies) in the
    store, compressed as ``kind``, every entry's time ``mtime``; with the number of files
    and links in it, and whether it holds package metadata (:attr:`Laid.metadata`)."""
    entries = _entries(src, skip)
    metadata = any(e.rel.endswith(METADATA_SUFFIXES) for e in entries)
    top = spec.app_dir.strip("/")
    found: list[LayerBlob] = []
    sink = gather.LayerCompressor(store, kind, lambda blob, _had: found.append(blob))
    files = 0
    try:
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            root = _info(top, src.stat(), spec.uid, kind=tarfile.DIRTYPE, mtime=mtime)
            root.mode = 0o755
            tar.addfile(root)
            for e in entries:
                name = f"{top}/{e.rel}"
                if stat.S_ISDIR(e.st.st_mode):
                    tar.addfile(_info(name, e.st, spec.uid, kind=tarfile.DIRTYPE, mtime=mtime))
                elif stat.S_ISLNK(e.st.st_mode):
                    info = _info(name, e.st, spec.uid, kind=tarfile.SYMTYPE, mtime=mtime)
                    info.mode = 0o777
                    info.linkname = os.readlink(e.path)
                    tar.addfile(info)
                    files += 1
                else:
                    info = _info(name, e.st, spec.uid, kind=tarfile.REGTYPE, mtime=mtime)
                    with open(e.path, "rb") as fh:
                        info.size = os.fstat(fh.fileno()).st_size
                        tar.addfile(info, fh)
                    files += 1
        sink.end()
    except BaseException:
        sink.abort()
        raise
    return found[0], files, metadata


# --------------------------------------------------------------------------- the config


def _history(doc: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The environment image's history as an image config holds it, oldest first; empty
    when the engine's account does not match its layers (a config without history is
    valid: only ``docker history`` reads it)."""
    entries: list[dict[str, Any]] = []
    for item in reversed(history):
        created = item.get("Created")
        entry: dict[str, Any] = {}
        if isinstance(created, int | float) and created > 0:
            when = dt.datetime.fromtimestamp(created, dt.timezone.utc)
            entry["created"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        if item.get("CreatedBy"):
            entry["created_by"] = str(item["CreatedBy"])
        if item.get("Comment"):
            entry["comment"] = str(item["Comment"])
        if not item.get("Size"):
            entry["empty_layer"] = True
        entries.append(entry)
    layers = (doc.get("RootFS") or {}).get("Layers") or []
    if sum(1 for e in entries if not e.get("empty_layer")) != len(layers):
        return []
    return entries


def image_config(
    doc: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    layer: LayerBlob,
    spec: CodeLayer,
) -> dict[str, Any]:
    """The image's config: the environment image's (``doc``: the engine's inspect
    document, ``history``: its history, newest first) with the code layer on top and the
    last step's settings, as the Dockerfile sets them."""
    given = doc.get("Config") or {}
    config = {k: given[k] for k in CONFIG_KEYS if given.get(k) not in (None, "", [], {}, False)}
    env = [str(item) for item in config.get("Env") or ()]
    for key, value in spec.env:
        at = next((i for i, item in enumerate(env) if item.partition("=")[0] == key), None)
        if at is None:
            env.append(f"{key}={value}")
        else:
            env[at] = f"{key}={value}"
    config.update(Env=env, WorkingDir=spec.workdir, User=spec.user, Cmd=list(spec.cmd))
    created = str(doc.get("Created") or "")
    steps = [
        f"{spec.copy} # {HISTORY_COMMENT}",
        f"WORKDIR {spec.workdir}",
        *(f"ENV {key}={value}" for key, value in spec.env),
        f"USER {spec.user}",
        f"CMD {json.dumps(list(spec.cmd))}",
    ]
    added = [
        {"created": created, "created_by": step, "comment": "repro"}
        | ({} if i == 0 else {"empty_layer": True})
        for i, step in enumerate(steps)
    ]
    out: dict[str, Any] = {
        "architecture": str(doc.get("Architecture") or "amd64"),
        "os": str(doc.get("Os") or "linux"),
    }
    if doc.get("Variant"):
        out["variant"] = str(doc["Variant"])
    out.update(
        config=config,
        created=created,
        history=[*_history(doc, history), *added],
        rootfs={"type": "layers", "diff_ids": [*layers_of(doc), layer.diff_id]},
    )
    return out


def layers_of(doc: Mapping[str, Any]) -> list[str]:
    return [str(d) for d in (doc.get("RootFS") or {}).get("Layers") or ()]


# --------------------------------------------------------------------------- the image


def write_thin_archive(
    path: Path,
    store: BlobStore,
    *,
    config: bytes,
    diff_ids: Sequence[str],
    layer: LayerBlob,
    tags: Sequence[str],
) -> str:
    """A docker archive naming every layer of the image but holding only ``layer`` (the
    engine has the others); the image id."""
    image_id = f"sha256:{hashlib.sha256(config).hexdigest()}"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (
            ("manifest.json", imagetar.docker_manifest(image_id, tags, diff_ids)),
            (f"{hexof(image_id)}.json", config),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo(imagetar.layer_path(layer.diff_id))
        info.size = layer.size
        with open(store.path(layer.digest), "rb") as fh:
            tar.addfile(info, fh)
    return image_id


def lay(
    engine: Lays,
    env_image: str,
    spec: CodeLayer,
    src: Path,
    *,
    tags: Sequence[str],
    store: BlobStore,
    mtime: int,
    skip: frozenset[str] = frozenset(),
) -> Laid:
    """Put the code layer of ``src`` (its times ``mtime``) on ``env_image`` as the image
    ``tags`` name; the store then knows the image (its config, its layers by diff id)."""
    start = time.monotonic()
    doc, history = engine.image_document(env_image)
    layer, files, metadata = write_layer(src, spec, store, mtime=mtime, skip=skip)
    config = image_config(doc, history, layer, spec)
    data = json.dumps(config, separators=(",", ":")).encode()
    diff_ids = config["rootfs"]["diff_ids"]
    with stale.private_dir("repro-lay") as tmp:
        thin = tmp / "image.tar"
        image_id = write_thin_archive(
            thin, store, config=data, diff_ids=diff_ids, layer=layer, tags=tags
        )
        engine.load(thin)
    info = engine.image_info(tags[0]) if tags else None
    if info is None or info.id != image_id:
        raise EngineError(f"the engine did not take the code layer as {tags[0] if tags else ''}")
    written = store.put_bytes(data)
    store.record_image(ImageRecord(id=image_id, config=written.digest, diff_ids=tuple(diff_ids)))
    return Laid(
        image_id=image_id,
        layer=layer,
        files=files,
        seconds=time.monotonic() - start,
        metadata=metadata,
        environment=environment_key(doc),
    )


def environment_key(doc: Mapping[str, Any]) -> str:
    """A digest of what an image's facts depend on: its layers and its variables."""
    config = doc.get("Config") or {}
    what = {"layers": layers_of(doc), "env": list(config.get("Env") or ())}
    return "sha256:" + hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()
