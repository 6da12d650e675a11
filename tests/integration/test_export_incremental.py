"""The incremental export on the real engine (docs/artifact.md, "How the image is
exported"): the tarball written from the blob store is what ``docker load`` takes back,
a changed image compresses only its changed layer, an image exported before needs no
``docker save``, and the OCI layout holds the very blobs of the docker archive."""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from repro import artifact, gather
from repro.blobstore import BlobStore
from repro.engine import DockerEngine, RunLimits
from tests.conftest import require_images

pytestmark = [pytest.mark.docker]

BASE = "python:3.11-slim"


class CountingEngine:
    """The real engine, with its ``docker save`` calls counted."""

    def __init__(self, engine: DockerEngine) -> None:
        self.engine = engine
        self.saves = 0

    def save(self, refs: Sequence[str], out: Any) -> None:
        self.saves += 1
        self.engine.save(refs, out)

    def image_info(self, ref: str) -> Any:
        return self.engine.image_info(ref)


def build(engine: DockerEngine, tmp: Path, tag: str, text: str) -> str:
    context = tmp / f"ctx-{hashlib.sha1(text.encode()).hexdigest()[:8]}"
    context.mkdir()
    (context / "train.py").write_text(text)
    (context / "Dockerfile").write_text(
        f"FROM {BASE}\nRUN echo environment > /opt/env.txt\nCOPY train.py /app/train.py\n"
    )
    image_id, _, _ = engine.build(
        context, tags=[tag], labels={}, secrets={}, on_line=lambda _: None
    )
    return image_id


def export(engine: Any, dest: Path, tag: str, *, oci: bool = False) -> Path:
    return artifact.write(
        dest,
        engine=engine,
        refs=[tag],
        dockerfile="FROM scratch\n",
        manifest_for=lambda files: {"files": dict(files)},
        oci=oci,
    )


def archive_members(path: Path) -> dict[str, bytes]:
    with gzip.open(path) as gz, tarfile.open(fileobj=gz) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def test_incremental_export_loads_back_and_reuses_layers(
    engine: DockerEngine,
    tmp_path: Path,
    cleanup_images: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_images(engine, BASE)
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    tag = "repro/export-incremental:test"
    cleanup_images.append(tag)
    counting = CountingEngine(engine)

    first_id = build(engine, tmp_path, tag, "print(1)\n")
    first = export(counting, tmp_path / "first", tag, oci=True)
    store = BlobStore()
    layers_before = set((store.root / "layers" / "gzip").iterdir())
    assert counting.saves == 1

    # a one-line change: only the code layer is new; the store gains that one layer
    second_id = build(engine, tmp_path, tag, "print(2)\n")
    assert second_id != first_id
    second = export(counting, tmp_path / "second", tag)
    new_layers = set((store.root / "layers" / "gzip").iterdir()) - layers_before
    assert len(new_layers) == 1
    assert counting.saves == 2

    # the same image again: written from the store, the engine is not asked
    again = export(counting, tmp_path / "again", tag)
    assert counting.saves == 2
    tarball = artifact.IMAGE_TARBALL
    assert (again / tarball).read_bytes() == (second / tarball).read_bytes()

    # the OCI layout holds the docker archive's layer files, blob for blob
    docker_side = archive_members(first / tarball)
    (entry,) = json.loads(docker_side["manifest.json"])
    layer_digests = [
        "sha256:" + hashlib.sha256(docker_side[name]).hexdigest() for name in entry["Layers"]
    ]
    with tarfile.open(first / artifact.OCI_TARBALL) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        manifest_digest = index["manifests"][0]["digest"].removeprefix("sha256:")
        oci_manifest = json.load(tar.extractfile(f"blobs/sha256/{manifest_digest}"))  # type: ignore[arg-type]
    assert [x["digest"] for x in oci_manifest["layers"]] == layer_digests

    # both tarballs are what `docker load` takes back, as the image that was built
    for dest, image_id, text in ((first, first_id, "1"), (second, second_id, "2")):
        engine.remove_image(tag)
        assert engine.image_info(tag) is None
        assert tag in engine.load(dest / tarball)
        info = engine.image_info(tag)
        assert info is not None and info.id == image_id
        ran = engine.run(
            tag,
            ["python", "/app/train.py"],
            RunLimits(network="none", user="1000:1000", timeout=60),
        )
        assert ran.exit_code == 0 and ran.output.strip() == text


def test_a_layer_name_docker_save_gives_is_learned(
    engine: DockerEngine, tmp_path: Path, cleanup_images: list[str]
) -> None:
    """Docker 20-24 name a layer by a folder id, not its diff id: the second gather of the
    same layers recognises them by the name it learned and compresses nothing."""
    require_images(engine, BASE)
    tag = "repro/export-names:test"
    cleanup_images.append(tag)
    image_id = build(engine, tmp_path, tag, "print('names')\n")
    store = BlobStore(tmp_path / "store")
    found = gather.gather(engine, tag, store, image_id=image_id)
    assert found.saved and found.compressed == len(found.layers)
    (store.root / "images" / f"{image_id[7:]}.json").unlink()  # forget the image, keep layers
    again = gather.gather(engine, tag, store, image_id=image_id)
    assert again.saved and again.compressed == 0 and again.reused == len(found.layers)
