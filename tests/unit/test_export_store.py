"""The incremental export (docs/performance.md, "Export"): layers compressed once and
reused from the blob store, the docker archive written from it (a gzip file that every
reader reads, its layers stored as they are), the store safe to share and bounded."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import subprocess
import tarfile
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest

from repro import artifact, compress, export, faults, gather, imagetar, sbom, stale
from repro.blobstore import BlobStore, CorruptBlob
from repro.errors import DiskFullError
from repro.models import Options
from tests.docker_archive import image_id, sha, tar_of
from tests.fakes import FakeEngine, SlowSaveEngine, answers_os_release, pack_local

BASE = tar_of({"etc/os-release": b"ID=debian\n", "bin/sh": os.urandom(3000)})
ENV = tar_of({"opt/venv/lib/numpy.py": b"x = 1\n" * 5000})


def code(text: str) -> bytes:
    return tar_of({"app/train.py": text.encode()})


def saving(layers: list[bytes], *, modern: bool = False) -> FakeEngine:
    """Saves images made of ``layers``, in pieces that cut tar headers in two."""
    return FakeEngine(layers=layers, modern=modern, save_piece=7777)


def export_(tmp: Path, engine: FakeEngine, store: BlobStore, name: str = "a") -> dict[str, Any]:
    folder = tmp / name
    folder.mkdir()
    written = imagetar.write_image_files(
        folder, engine, ["repro/x:1"], store=store, image_id=image_id(engine.layers), oci=True
    )
    return {"folder": folder, "written": written}


def members(path: Path) -> dict[str, bytes]:
    with gzip.open(path) as gz, tarfile.open(fileobj=gz) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


# --------------------------------------------------------------------------- compression


@pytest.mark.parametrize("size", [0, 1, 1000, compress.BLOCK, 3 * compress.BLOCK + 17])
def test_parallel_gzip_is_one_ordinary_gzip_member(size: int) -> None:
    rng = random.Random(size)
    data = bytes(rng.choice(b"abc \n") for _ in range(size // 2)) + os.urandom(size - size // 2)
    out = bytearray()
    z = compress.open_compressor(compress.GZIP, out.extend)
    for start in range(0, len(data), 100_000):
        z.write(data[start : start + 100_000])
    z.close()
    assert gzip.decompress(bytes(out)) == data
    assert subprocess.run(["gzip", "-t"], input=bytes(out)).returncode == 0
    again = bytearray()
    z = compress.open_compressor(compress.GZIP, again.extend)
    z.write(data)
    z.close()
    assert again == out  # the same bytes however the input was cut


def test_stored_members_join_into_one_gzip_stream() -> None:
    blob = gzip.compress(os.urandom(200_000))
    framed = (
        compress.gzip_bytes(b"head")
        + compress.stored_member_head()
        + compress.stored_pieces(blob[:70_000], final=False)
        + compress.stored_pieces(blob[70_000:], final=True)
        + compress.member_tail(zlib.crc32(blob), len(blob))
    )
    assert gzip.decompress(framed) == b"head" + blob
    assert subprocess.run(["gzip", "-t"], input=framed).returncode == 0


# --------------------------------------------------------------------------- tar reading


class Keep:
    """Keeps every member's bytes."""

    def __init__(self, seen: dict[str, bytearray], name: str) -> None:
        self.seen, self.name = seen, name
        seen[name] = bytearray()

    def write(self, data: bytes, /) -> None:
        self.seen[self.name] += data

    def end(self) -> None:
        pass


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT], ids=["pax", "gnu"])
def test_the_pushed_tar_reader_reads_long_names_and_any_chunking(fmt: int) -> None:
    long = "blobs/" + "d" * 120 + "/layer.tar"
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for name, data in ((long, b"x" * 1500), ("manifest.json", b"[]"), ("empty", b"")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    seen: dict[str, bytearray] = {}
    reader = gather.TarReader(lambda name, size, kind, link: Keep(seen, name))
    data = out.getvalue()
    for start in range(0, len(data), 1):  # byte by byte
        reader.write(data[start : start + 1])
    reader.close()
    assert seen == {long: b"x" * 1500, "manifest.json": b"[]", "empty": b""}


def test_a_stream_that_is_not_a_tar_is_a_clear_error() -> None:
    reader = gather.TarReader(lambda *a: None)
    with pytest.raises(gather.ArchiveError, match="not a tar stream"):
        reader.write(os.urandom(4096))


# --------------------------------------------------------------------------- reuse


@pytest.mark.parametrize("modern", [False, True], ids=["docker-20", "docker-25"])
def test_a_one_line_change_compresses_only_the_changed_layer(tmp_path: Path, modern: bool) -> None:
    store = BlobStore(tmp_path / "store")
    first = saving([BASE, ENV, code("print(1)\n")], modern=modern)
    found = gather.gather(first, "x", store, image_id=image_id(first.layers))
    assert (found.saved, found.compressed, found.reused) == (True, 3, 0)

    changed = saving([BASE, ENV, code("print(2)\n")], modern=modern)
    found = gather.gather(changed, "x", store, image_id=image_id(changed.layers))
    assert (found.saved, found.compressed, found.reused) == (True, 1, 2)

    # the same image again: nothing asked of the engine
    again = gather.gather(changed, "x", store, image_id=image_id(changed.layers))
    assert (again.saved, again.reused, changed.saves) == (False, 3, 1)
    assert [x.diff_id for x in again.layers] == [sha(x) for x in changed.layers]


def test_a_layer_the_store_has_under_a_name_it_never_saw_counts_as_reused(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    laid = code("print('laid by repro')\n")  # in the store, as repro lays a code layer
    writer = store.writer()
    writer.write(gzip.compress(laid))
    store.add_layer(sha(laid), "gzip", writer.finish(), len(laid))
    engine = saving([BASE, ENV, laid])  # Docker 20: the archive names it by a folder id
    found = gather.gather(engine, "x", store, image_id=image_id(engine.layers))
    assert (found.saved, found.compressed, found.reused) == (True, 2, 1)


def test_a_layer_folder_name_that_lies_is_caught_and_the_layer_compressed(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    engine = saving([BASE, code("a\n")])
    gather.gather(engine, "x", store)
    wrong = [BASE, code("b\n")]
    folder = hashlib.sha256(b"v1" + wrong[1]).hexdigest()
    store.learn_name(folder, sha(code("a\n")))  # as if the folder had held the old layer
    found = gather.gather(saving(wrong), "x", store, image_id=image_id(wrong))
    assert [x.diff_id for x in found.layers] == [sha(x) for x in wrong]


def test_the_archive_is_a_gzip_file_docker_and_tar_read(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    engine = saving([BASE, ENV, BASE])  # a layer twice: one file, named twice
    done = export_(tmp_path, engine, store)
    path = done["folder"] / artifact.IMAGE_TARBALL
    assert subprocess.run(["gzip", "-t", str(path)]).returncode == 0
    found = members(path)
    (entry,) = json.loads(found["manifest.json"])
    assert entry["RepoTags"] == ["repro/x:1"]
    assert entry["Config"] == f"{image_id(engine.layers)[7:]}.json"
    assert len(entry["Layers"]) == 3 and entry["Layers"][0] == entry["Layers"][2]
    for name, layer in zip(entry["Layers"], engine.layers, strict=True):
        assert found[name][:2] == b"\x1f\x8b"  # each layer file is compressed
        assert gzip.decompress(found[name]) == layer
    assert done["written"][artifact.IMAGE_TARBALL].sha256 == artifact.sha256_file(path)
    listed = subprocess.run(["tar", "-tzf", str(path)], capture_output=True, text=True)
    assert listed.returncode == 0 and "manifest.json" in listed.stdout


def test_the_same_image_gives_the_same_bytes_from_the_store(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    engine = saving([BASE, ENV])
    a = export_(tmp_path, engine, store, "a")
    b = export_(tmp_path, engine, store, "b")
    assert engine.saves == 1
    for name in (artifact.IMAGE_TARBALL, artifact.OCI_TARBALL):
        assert (a["folder"] / name).read_bytes() == (b["folder"] / name).read_bytes()


def test_a_damaged_blob_is_removed_and_the_layer_saved_again(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    engine = saving([BASE, ENV])
    export_(tmp_path, engine, store, "a")
    env = store.layer(sha(ENV), compress.GZIP)
    assert env is not None
    blob = store.path(env.digest)
    damaged = bytearray(blob.read_bytes())
    damaged[-10] ^= 0xFF
    blob.write_bytes(bytes(damaged))
    done = export_(tmp_path, engine, store, "b")
    assert engine.saves == 2
    assert (
        gzip.decompress(
            members(done["folder"] / artifact.IMAGE_TARBALL)[f"{sha(ENV)[7:]}/layer.tar"]
        )
        == ENV
    )
    with pytest.raises(CorruptBlob):
        blob.write_bytes(bytes(damaged))
        list(store.read(env.digest))
    assert not blob.exists()


def test_a_cancelled_gather_stops_and_leaves_no_partial_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(gather.Cancelled):
        gather.gather(saving([BASE]), "x", store, cancel=cancel)
    assert list(store.tmp.iterdir()) == []


# --------------------------------------------------------------------------- prefetch


def test_the_prefetch_fills_the_store_so_the_export_asks_the_engine_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(faults.ENV, "export.saving")  # not passed on the thread: no hang
    engine = saving([BASE, ENV, code("print('prefetched')\n")])
    prefetch = export.Prefetch(engine, image_id(engine.layers), "repro/x:1")
    prefetch.thread.start()
    prefetch.finish()
    assert engine.saves == 1
    done = export_(tmp_path, engine, BlobStore())
    assert engine.saves == 1  # the export copied the prefetched blobs
    found = members(done["folder"] / artifact.IMAGE_TARBALL)
    (entry,) = json.loads(found["manifest.json"])
    assert [gzip.decompress(found[n]) for n in entry["Layers"]] == engine.layers


def test_a_stopped_prefetch_ends_and_leaves_no_partial_blob(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    engine = SlowSaveEngine(layers=[BASE, tar_of({"big.bin": os.urandom(400_000)})])
    prefetch = export.Prefetch(engine, image_id(engine.layers), "repro/x:1")
    prefetch.thread.start()
    assert engine.streaming.wait(10)
    prefetch.stop()
    prefetch.finish()
    store = BlobStore()
    assert list(store.tmp.iterdir()) == []
    assert store.image(image_id(engine.layers)) is None  # not gathered: the export saves


def written_ahead(engine: FakeEngine, dest: Path) -> tuple[export.PendingImage, export.Prefetch]:
    """The export of ``engine``'s image into ``dest``, done ahead on the prefetch's thread."""
    pending = export.PendingImage(dest, engine, image_id(engine.layers), ["repro/x:1"])  # type: ignore[arg-type]
    prefetch = export.Prefetch(engine, image_id(engine.layers), "repro/x:1", pending)
    prefetch.thread.start()
    prefetch.finish()
    return pending, prefetch


def test_the_image_files_are_written_beside_the_smoke_test_and_the_export_only_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    engine = saving([BASE, ENV, code("print('ahead')\n")])
    dest = tmp_path / "out" / "art"
    pending, _ = written_ahead(engine, dest)
    staged = [p.name for p in dest.parent.iterdir()]
    assert len(staged) == 1 and ".partial-" in staged[0]  # written, not yet in place
    assert engine.saves == 1
    written = pending.start()  # the export: nothing left to gather or write
    assert engine.saves == 1 and artifact.IMAGE_TARBALL in written
    pending.commit()
    found = members(dest / artifact.IMAGE_TARBALL)
    (entry,) = json.loads(found["manifest.json"])
    assert [gzip.decompress(found[n]) for n in entry["Layers"]] == engine.layers
    assert (
        pending.layers_said()
        == "3 layers: 3 compressed, 0 from the store (with a docker save of the image)"
    )


def test_a_stopped_export_ahead_leaves_no_partial_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    engine = saving([BASE, ENV, code("print('failed smoke')\n")])
    dest = tmp_path / "out" / "art"
    _, prefetch = written_ahead(engine, dest)
    assert list(dest.parent.iterdir()) != []
    prefetch.stop()  # the smoke test failed: a repair round follows
    assert list(dest.parent.iterdir()) == []


def test_an_export_ahead_cancelled_before_it_copies_makes_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    engine = saving([BASE, tar_of({"big.bin": os.urandom(3_000_000)}), code("x = 1\n")])
    export_(tmp_path, engine, BlobStore())  # every layer in the store: copying is next
    dest = tmp_path / "out" / "art"
    cancel = threading.Event()
    cancel.set()
    pending = export.PendingImage(dest, engine, image_id(engine.layers), ["repro/x:1"])  # type: ignore[arg-type]
    with pytest.raises(gather.Cancelled):
        pending.write_ahead(cancel)
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []
    assert pending.written is None and not pending.writing


def test_the_sbom_is_made_while_the_smoke_test_runs_and_is_the_finished_manifests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SBOM (0.3 s of CPU) is made beside the smoke test, not after it; made before
    the test's result is known, it is still the SBOM of the manifest the artifact holds."""
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    repo = tmp_path / "paper"
    repo.mkdir()
    (repo / "train.py").write_text("import numpy\nprint(numpy.ones(2).sum())\n")
    made = threading.Event()
    real = export.documents

    def documents(*args: Any) -> export.Documents:
        out = real(*args)
        made.set()
        return out

    monkeypatch.setattr(export, "documents", documents)
    during: list[bool] = []

    def script(argv: tuple[str, ...]) -> tuple[int | None, str]:
        if argv[-1] == "python train.py":  # the smoke test: the SBOM is made meanwhile
            during.append(made.wait(timeout=10))
            return 0, "2.0\n"
        if argv[:2] == ("python", "-c"):  # the image's facts
            return 0, json.dumps(
                {"lock": ["numpy==2.1.0"], "licenses": {"python": {"numpy": ["BSD-3-Clause"]}}}
            )
        return answers_os_release(argv)

    engine = FakeEngine(script=script)
    options = Options(smoke="python train.py", out=tmp_path / "out", python="3.11", cpu=True)
    result = pack_local(repo, options, engine)
    assert during == [True]
    manifest = json.loads((result.artifact_dir / "repro.json").read_text())
    assert manifest["smoke"]["passed"] is True
    written = (result.artifact_dir / sbom.FILENAME).read_text()
    assert written == sbom.render(manifest)
    assert "pkg:pypi/numpy@2.1.0" in written


# --------------------------------------------------------------------------- the store


def test_the_store_trims_the_least_recently_used_blobs(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store", limit=25_000)
    digests = []
    for i in range(5):
        written = store.put_bytes(os.urandom(10_000))
        os.utime(store.path(written.digest), (1000 + i, 1000 + i))
        digests.append(written.digest)
    os.utime(store.path(digests[0]), (5000, 5000))  # the oldest, used again lately
    freed = store.trim(keep=[digests[1]])
    assert freed == 30_000
    assert [store.has(d) for d in digests] == [True, True, False, False, False]


def test_the_store_is_not_trimmed_while_another_run_uses_it(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store", limit=0)
    written = store.put_bytes(b"x" * 100)
    other = BlobStore(tmp_path / "store", limit=0)
    with other.using():
        assert store.trim() == 0
        assert store.has(written.digest)
    assert store.trim() == 100


def test_a_blob_a_killed_run_was_writing_is_removed_by_the_next(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    gone = store.tmp / stale.owned_name("blob").replace(f"-{os.getpid()}-", "-999999999-")
    gone.write_bytes(b"half a layer")
    mine = store.writer()  # a live run's partial blob stays
    BlobStore(tmp_path / "store")
    assert not gone.exists() and mine.tmp.exists()
    mine.discard()


def test_a_full_cache_disk_names_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = BlobStore(tmp_path / "store")
    writer = store.writer()

    class Full:
        def write(self, data: bytes) -> int:
            raise OSError(28, "No space left on device")

        def close(self) -> None:
            pass

    writer.fh = Full()  # type: ignore[assignment]
    with pytest.raises(DiskFullError) as info:
        writer.write(b"x")
    assert str(tmp_path / "store") in info.value.message
    assert "REPRO_EXPORT_CACHE_GB" in info.value.hint


def test_copying_blobs_stops_within_a_chunk_once_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    engine = saving([BASE, tar_of({"big.bin": os.urandom(3_000_000)}), code("x = 1\n")])
    store = BlobStore()
    export_(tmp_path, engine, store)
    cancel = threading.Event()
    cancel.set()
    folder = tmp_path / "b"
    folder.mkdir()
    with pytest.raises(gather.Cancelled):
        imagetar.write_image_files(
            folder, engine, ["repro/x:1"], store=store, image_id=image_id(engine.layers),
            cancel=cancel,
        )  # fmt: skip
    assert (folder / artifact.IMAGE_TARBALL).stat().st_size < 1_000_000  # the big layer: not copied
