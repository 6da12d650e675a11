"""Small image archives shaped like ``docker save``'s, for fake engines in tests."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile


def tar_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_of(layers: list[bytes], labels: dict[str, str] | None = None) -> bytes:
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": labels or {}},
        "rootfs": {"type": "layers", "diff_ids": [sha(layer) for layer in layers]},
    }
    return json.dumps(doc).encode()


def image_archive(
    refs: list[str], layers: list[bytes] | None = None, *, modern: bool = False
) -> bytes:
    """A ``docker save`` of one image: Docker 20's layout, or (``modern``) Docker 25's."""
    layers = layers if layers is not None else [tar_of({"app/hello.py": b"print('hi')\n"})]
    config = config_of(layers)
    files: dict[str, bytes] = {}
    if modern:
        names = [f"blobs/sha256/{sha(layer)[7:]}" for layer in layers]
        config_name = f"blobs/sha256/{sha(config)[7:]}"
        files["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
    else:
        names = [f"{hashlib.sha256(b'v1' + layer).hexdigest()}/layer.tar" for layer in layers]
        config_name = f"{sha(config)[7:]}.json"
    files.update(dict(zip(names, layers, strict=True)))
    files[config_name] = config
    files["manifest.json"] = json.dumps(
        [{"Config": config_name, "RepoTags": list(refs), "Layers": names}]
    ).encode()
    return tar_of(files)


def image_id(layers: list[bytes] | None = None) -> str:
    """The id of the image :func:`image_archive` writes for ``layers``."""
    layers = layers if layers is not None else [tar_of({"app/hello.py": b"print('hi')\n"})]
    return sha(config_of(layers))
