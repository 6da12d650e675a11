"""The OCI layout export (repro/oci.py) from docker archives made here: digests that check
out, the image named by its tag, the same bytes twice, layers shared with the store."""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from repro import gather, imagetar, oci
from repro.blobstore import BlobStore
from tests.docker_archive import sha, tar_of

LAYERS = [tar_of({"app/hello.py": b"print('hello')\n"}), b"\0" * 1024]  # the second: empty


def _config(layers: list[bytes]) -> bytes:
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"io.github.repro.python": "3.11"}},
        "rootfs": {"type": "layers", "diff_ids": [sha(layer) for layer in layers]},
    }
    return json.dumps(doc).encode()


def docker_archive(
    path: Path,
    *,
    modern: bool = False,
    layers: list[bytes] = LAYERS,
    config_layers: list[bytes] = LAYERS,
) -> Path:
    """A ``docker save`` archive: Docker 20's layout, or (``modern``) Docker 25's."""
    config = _config(config_layers)
    files: dict[str, bytes] = {}
    if modern:
        names = [f"blobs/sha256/{sha(layer)[7:]}" for layer in layers]
        config_name = f"blobs/sha256/{sha(config)[7:]}"
        files["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
    else:
        # Docker 20 names a layer's folder after the layer and those below it
        chain = [hashlib.sha256(b"".join(layers[: i + 1])).hexdigest() for i in range(len(layers))]
        names = [f"{v1}/layer.tar" for v1 in chain]
        config_name = f"{sha(config)[7:]}.json"
    files.update(dict(zip(names, layers, strict=True)))
    files[config_name] = config
    files["manifest.json"] = json.dumps(
        [{"Config": config_name, "RepoTags": ["repro/acme-x:abc1234"], "Layers": names}]
    ).encode()
    path.write_bytes(gzip.compress(tar_of(files), mtime=0))
    return path


def _read_layout(tar_path: Path) -> dict[str, bytes]:
    with tarfile.open(tar_path) as tar:
        out = {}
        for member in tar.getmembers():
            if member.isfile():
                fh = tar.extractfile(member)
                assert fh is not None
                out[member.name] = fh.read()
        return out


def _check(layout: dict[str, bytes]) -> dict[str, Any]:
    """Every blob is named by its digest; the index leads to the manifest, config, layers."""
    for name, data in layout.items():
        if name.startswith("blobs/sha256/"):
            assert sha(data) == "sha256:" + name.rsplit("/", 1)[1], name
    assert json.loads(layout["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(layout["index.json"])
    (entry,) = index["manifests"]
    manifest = json.loads(layout[f"blobs/sha256/{entry['digest'][7:]}"])
    assert manifest["mediaType"] == oci.MANIFEST_TYPE
    config = layout[f"blobs/sha256/{manifest['config']['digest'][7:]}"]
    diff_ids = json.loads(config)["rootfs"]["diff_ids"]
    for layer, diff_id in zip(manifest["layers"], diff_ids, strict=True):
        blob = layout[f"blobs/sha256/{layer['digest'][7:]}"]
        assert layer["size"] == len(blob)
        assert sha(gzip.decompress(blob)) == diff_id
    return {"index": entry, "manifest": manifest, "config": config}


@pytest.mark.parametrize("modern", [False, True], ids=["docker-20", "docker-25"])
def test_a_docker_archive_becomes_a_valid_oci_layout(tmp_path: Path, modern: bool) -> None:
    source = docker_archive(tmp_path / "image.tar.gz", modern=modern)
    dest = tmp_path / "image.oci.tar"
    named = oci.from_docker_archive(source, dest, work=tmp_path / "work")
    found = _check(_read_layout(dest))
    assert found["index"]["annotations"] == {
        oci.REF_NAME: "abc1234",
        "io.containerd.image.name": "repro/acme-x:abc1234",
    }
    assert named.digest == found["index"]["digest"]
    assert found["config"] == _config(LAYERS)  # the config blob is docker's, byte for byte
    assert len(found["manifest"]["layers"]) == 2
    assert not (tmp_path / "work").exists()
    with tarfile.open(dest) as tar:
        assert tar.getnames()[:2] == ["blobs", "blobs/sha256"]
        assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())


def test_the_same_image_gives_the_same_bytes(tmp_path: Path) -> None:
    source = docker_archive(tmp_path / "image.tar.gz")
    first, second = tmp_path / "a.tar", tmp_path / "b.tar"
    oci.from_docker_archive(source, first, work=tmp_path / "w1")
    oci.from_docker_archive(source, second, work=tmp_path / "w2")
    assert first.read_bytes() == second.read_bytes()


def test_a_layer_that_is_not_the_one_the_config_lists_is_refused(tmp_path: Path) -> None:
    wrong = [LAYERS[0], tar_of({"other": b"x"})]
    source = docker_archive(tmp_path / "image.tar.gz", layers=wrong)
    with pytest.raises(oci.OciError, match="is not the one the image config lists"):
        oci.from_docker_archive(source, tmp_path / "x.tar", work=tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_the_layout_shares_the_blobs_of_the_store(tmp_path: Path) -> None:
    """A layer compressed for one export is the same blob in the next one, not
    compressed again; the layout's layer blobs are the store's, byte for byte."""
    store = BlobStore(tmp_path / "store")
    first = gather.gather(_File(docker_archive(tmp_path / "a.tar.gz")), "a", store)
    assert (first.compressed, first.reused) == (2, 0)
    other = [LAYERS[0], tar_of({"app/other.py": b"print('other')\n"})]
    second = gather.gather(
        _File(docker_archive(tmp_path / "b.tar.gz", layers=other, config_layers=other)), "b", store
    )
    assert (second.compressed, second.reused) == (1, 1)
    assert second.layers[0] == first.layers[0]
    dest = tmp_path / "b.oci.tar"
    imagetar.write_oci_layout(dest, store, config=second.config, layers=second.layers, tags=["x"])
    layout = _read_layout(dest)
    _check(layout)
    for layer in second.layers:
        assert layout[f"blobs/sha256/{layer.digest[7:]}"] == store.path(layer.digest).read_bytes()


class _File:
    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, refs: list[str], out: Any) -> None:
        out.write(gzip.decompress(self.path.read_bytes()))


def test_not_a_docker_archive(tmp_path: Path) -> None:
    source = tmp_path / "x.tar.gz"
    source.write_bytes(gzip.compress(tar_of({"hello.txt": b"hi"})))
    with pytest.raises(oci.OciError, match=r"no manifest\.json"):
        oci.from_docker_archive(source, tmp_path / "x.oci.tar", work=tmp_path / "w")
