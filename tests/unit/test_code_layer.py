"""The code layer repro lays itself (repro/codelayer.py): which Dockerfiles allow it, the
layer's bytes, the image config, the thin archive, and the fallback when the engine does
not take it. The real engine's side is tests/integration/test_code_layer.py."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from repro import build, codelayer, fetching, pipeline, probe
from repro.blobstore import BlobStore, LayerBlob
from repro.dockerfile import render
from repro.engine import ImageInfo, LogSink
from repro.errors import EngineError
from repro.fetch import parse_source
from repro.models import BuildSettings, CodeLayer, Options
from tests.conftest import commit_all, write_files
from tests.fakes import FakeEngine, LinesReporter
from tests.unit.recipes import CASES

MTIME = 1_700_000_000


def spec(**changes: Any) -> CodeLayer:
    rendered = render(CASES["cpu-framework"]).code_layer
    assert rendered is not None
    return dataclasses.replace(rendered, **changes)


def tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "train.py").write_text("print('train')\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "run.sh", 0o755)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "weights.pt").write_bytes(b"\0" * 100)
    os.symlink("train.py", root / "main.py")
    return root


def members(store: BlobStore, layer: LayerBlob) -> list[tarfile.TarInfo]:
    raw = gzip.decompress(store.read_bytes(layer.digest))
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == layer.diff_id
    assert len(raw) == layer.diff_size
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        return tar.getmembers()


# --------------------------------------------------------------------------- when


def test_a_plain_last_step_is_laid_and_the_rest_is_what_the_builder_builds() -> None:
    rendered = render(CASES["cpu-framework"])
    laid = rendered.code_layer
    assert laid is not None
    # the environment's Dockerfile is the Dockerfile up to its last step, word for word
    assert rendered.dockerfile.startswith(laid.env_dockerfile.rstrip("\n"))
    rest = rendered.dockerfile[len(laid.env_dockerfile.rstrip("\n")) :]
    assert laid.copy in rest and "COPY" not in laid.env_dockerfile.split("pip freeze")[-1]
    # every setting of the last step is one the layer's config carries
    assert f"WORKDIR {laid.workdir}\n" in rest
    assert "".join(f"ENV {k}={v}\n" for k, v in laid.env) in rest
    assert f"USER {laid.user}\n" in rest
    assert f"CMD {json.dumps(list(laid.cmd))}\n" in rest


@pytest.mark.parametrize(
    "change",
    [{"post_build": "postBuild"}, {"start": "start"}, {"node": "postBuild runs npm"}],
)
def test_binder_steps_after_the_copy_leave_the_whole_dockerfile_to_the_builder(
    change: dict[str, str],
) -> None:
    recipe = dataclasses.replace(CASES["cpu-framework"], **change)
    assert render(recipe).code_layer is None


def test_code_compiled_in_an_earlier_stage_is_left_to_the_builder() -> None:
    multi = next(r for r in CASES.values() if r.runtime_base)
    assert render(dataclasses.replace(multi, build_extensions=True)).code_layer is None
    assert render(dataclasses.replace(multi, build_extensions=False)).code_layer is not None


# --------------------------------------------------------------------------- the layer


def test_the_layer_holds_the_copy_owned_by_the_user_with_modes_and_links(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    src = tree(tmp_path / "src")
    layer, files, metadata = codelayer.write_layer(
        src, spec(), store, mtime=MTIME, skip=frozenset({"weights.pt"})
    )
    got = members(store, layer)
    assert [m.name for m in got] == [
        "app", "app/main.py", "app/pkg", "app/pkg/__init__.py", "app/run.sh", "app/train.py"
    ]  # fmt: skip
    assert files == 4  # the large file left out, as the build context leaves it out
    assert not metadata
    assert all(m.uid == m.gid == 1000 and m.mtime == MTIME for m in got)
    by = {m.name: m for m in got}
    assert by["app"].isdir() and by["app"].mode == 0o755
    assert by["app/run.sh"].mode == 0o755 and by["app/train.py"].mode == 0o644
    assert by["app/main.py"].issym() and by["app/main.py"].linkname == "train.py"
    assert store.layer(layer.diff_id, "gzip") == layer


def test_the_same_tree_at_the_same_commit_gives_the_same_layer(tmp_path: Path) -> None:
    def lay(src: Path, store: str) -> LayerBlob:
        return codelayer.write_layer(src, spec(), BlobStore(tmp_path / store), mtime=MTIME)[0]

    one = lay(tree(tmp_path / "a"), "s1")
    b = tree(tmp_path / "b")
    for path in b.rglob("*"):  # extracted at another time: the layer does not change
        os.utime(path, (1, 1), follow_symlinks=False)
    two = lay(b, "s2")
    assert (one.diff_id, one.digest) == (two.diff_id, two.digest)
    (b / "train.py").write_text("print('changed')\n")
    assert lay(b, "s3").diff_id != one.diff_id


# --------------------------------------------------------------------------- the config


ENV_DOC = {
    "Id": "sha256:" + "e" * 64,
    "Created": "2026-12-01T10:00:00.5Z",
    "Architecture": "amd64",
    "Os": "linux",
    "Config": {
        "Hostname": "",
        "AttachStdin": False,
        "Env": ["PATH=/opt/venv/bin:/usr/bin", "PYTHONPATH=/old"],
        "Cmd": ["python3"],
        "Labels": {"io.github.repro.managed": "image"},
        "User": "",
        "Volumes": None,
    },
    "RootFS": {"Type": "layers", "Layers": ["sha256:" + "1" * 64, "sha256:" + "2" * 64]},
}
HISTORY = [  # newest first, as the engine answers
    {"Created": 1764583200, "CreatedBy": "RUN pip freeze", "Size": 134, "Comment": "buildkit"},
    {"Created": 1764583100, "CreatedBy": "ENV A=b", "Size": 0},
    {"Created": 1764583000, "CreatedBy": "/bin/sh -c #(nop) ADD file", "Size": 1000},
]
LAYER = LayerBlob(
    diff_id="sha256:" + "3" * 64, kind="gzip", digest="sha256:" + "4" * 64, size=10, crc32=0,
    diff_size=20,
)  # fmt: skip


def test_the_config_is_the_environments_with_the_layer_and_the_last_steps_settings() -> None:
    config = codelayer.image_config(ENV_DOC, HISTORY, LAYER, spec(env=(("PYTHONPATH", "/app"),)))
    inner = config["config"]
    assert inner["Env"] == ["PATH=/opt/venv/bin:/usr/bin", "PYTHONPATH=/app"]  # replaced in place
    assert inner["WorkingDir"] == "/app" and inner["User"] == "repro" and inner["Cmd"] == ["bash"]
    assert inner["Labels"] == {"io.github.repro.managed": "image"}
    assert "Hostname" not in inner and "AttachStdin" not in inner and "Volumes" not in inner
    assert config["rootfs"]["diff_ids"] == [*ENV_DOC["RootFS"]["Layers"], LAYER.diff_id]  # type: ignore[index]
    assert config["created"] == ENV_DOC["Created"]
    history = config["history"]
    assert [h.get("created_by") for h in history[:3]] == [
        "/bin/sh -c #(nop) ADD file", "ENV A=b", "RUN pip freeze"
    ]  # fmt: skip
    added = history[3:]
    assert added[0]["created_by"].startswith("COPY --chown=1000:1000 src/ /app/")
    assert "empty_layer" not in added[0] and all(h["empty_layer"] for h in added[1:])
    # one history entry with a layer for each layer of the image
    assert sum(not h.get("empty_layer") for h in history) == len(config["rootfs"]["diff_ids"])


def test_a_history_that_does_not_match_the_layers_is_left_out() -> None:
    config = codelayer.image_config(ENV_DOC, HISTORY[:1], LAYER, spec())
    assert [h["comment"] for h in config["history"]] == ["repro"] * 5


def test_a_new_variable_is_added_after_the_others() -> None:
    doc = {**ENV_DOC, "Config": {"Env": ["PATH=/usr/bin"]}}
    config = codelayer.image_config(doc, [], LAYER, spec(env=(("PYTHONPATH", "/app:/app/src"),)))
    assert config["config"]["Env"] == ["PATH=/usr/bin", "PYTHONPATH=/app:/app/src"]


# --------------------------------------------------------------------------- the archive


def test_the_thin_archive_names_every_layer_and_holds_only_the_new_one(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    layer, _, _ = codelayer.write_layer(tree(tmp_path / "src"), spec(), store, mtime=MTIME)
    config = json.dumps(codelayer.image_config(ENV_DOC, HISTORY, layer, spec())).encode()
    diff_ids = [*ENV_DOC["RootFS"]["Layers"], layer.diff_id]  # type: ignore[index]
    image_id = codelayer.write_thin_archive(
        tmp_path / "thin.tar", store, config=config, diff_ids=diff_ids, layer=layer, tags=["a:b"]
    )
    assert image_id == "sha256:" + hashlib.sha256(config).hexdigest()
    with tarfile.open(tmp_path / "thin.tar") as tar:
        names = tar.getnames()
        (entry,) = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        held = tar.extractfile(f"{layer.diff_id[7:]}/layer.tar").read()  # type: ignore[union-attr]
        assert tar.extractfile(f"{image_id[7:]}.json").read() == config  # type: ignore[union-attr]
    assert entry["Layers"] == [f"{d[7:]}/layer.tar" for d in diff_ids]
    assert entry["RepoTags"] == ["a:b"] and entry["Config"] == f"{image_id[7:]}.json"
    assert len(names) == 3  # manifest, config, the one new layer
    assert held == store.read_bytes(layer.digest)


# --------------------------------------------------------------------------- the build


class LayingEngine:
    """An engine that builds (records which Dockerfile) and lays, or refuses the layer."""

    buildkit = True
    lays_code = True

    def __init__(self, *, refuse: bool) -> None:
        self.refuse = refuse
        self.built: list[str] = []
        self.loaded: list[Path] = []
        self.removed: list[str] = []
        self.loaded_id = ""

    def build(
        self,
        context: Path,
        *,
        tags: Sequence[str],
        labels: Mapping[str, str],
        secrets: Mapping[str, Path],
        on_line: LogSink,
        dockerfile: str = "Dockerfile",
    ) -> tuple[str, float, str]:
        self.built.append(dockerfile)
        return "sha256:" + ("e" if dockerfile != "Dockerfile" else "f") * 64, 0.1, ""

    def image_document(self, ref: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return dict(ENV_DOC), list(HISTORY)

    def load(self, path: Path) -> list[str]:
        if self.refuse:
            raise EngineError(f"cannot load {path}: open layer.tar: no such file")
        with tarfile.open(path) as tar:
            (entry,) = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        self.loaded_id = "sha256:" + entry["Config"].removesuffix(".json")
        return list(entry["RepoTags"])

    def image_info(self, ref: str) -> ImageInfo | None:
        return ImageInfo(id=self.loaded_id, repo_digests=(), size=1, labels={}, created="")

    def remove_unused_image(self, image_id: str) -> bool:
        self.removed.append(image_id)
        return True


def build_with(engine: LayingEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``build_prepared`` of a small repository's plan on ``engine``; (image, what was said)."""
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    root = tmp_path / "paper"
    write_files(root, {"main.py": "import json\n", "weights.pt": "x"})
    commit_all(root)
    said = LinesReporter()
    checkout = fetching.fetch_checkout(parse_source(str(root)), tmp_path / "work", said)
    scanned = pipeline.scan_checkout(
        checkout,
        Options(python="3.11"),
        said,
        probe_gpu=lambda: None,
        probe_image=lambda name: None,  # type: ignore[arg-type,return-value]
    )
    prepared = pipeline.plan_for(scanned, said)
    image = build.build_prepared(
        engine,  # type: ignore[arg-type]
        checkout.path.parent,
        prepared,
        BuildSettings(),
        said,
        first_round=True,
        log=tmp_path / "build.log",
    )
    return image, said.lines


def test_the_builder_builds_the_environment_and_repro_lays_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = LayingEngine(refuse=False)
    image, said = build_with(engine, tmp_path, monkeypatch)
    assert engine.built == [codelayer.ENV_DOCKERFILE]
    assert image.id == engine.loaded_id and image.code_layer["files"] >= 1
    assert engine.removed == ["sha256:" + "e" * 64]  # the untagged environment image
    # the code holds no package metadata: the facts are the environment's
    assert image.facts_key == codelayer.environment_key(ENV_DOC)
    assert any(line.startswith("code layer laid by repro: ") for line in said)
    # the store knows the image: the export asks the engine only for what it lacks
    record = BlobStore().image(image.id)
    assert record is not None and record.diff_ids[-1] == image.code_layer["diff_id"]


def test_an_engine_that_does_not_take_the_layer_gets_the_whole_dockerfile_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = LayingEngine(refuse=True)
    image, said = build_with(engine, tmp_path, monkeypatch)
    assert engine.built == [codelayer.ENV_DOCKERFILE, "Dockerfile"]
    assert image.id == "sha256:" + "f" * 64 and image.code_layer is None
    assert image.facts_key == ""
    assert any("the code layer was not laid (cannot load" in line for line in said)


def test_code_with_package_metadata_is_flagged(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    (src / "pkg.egg-info").mkdir()
    (src / "pkg.egg-info" / "PKG-INFO").write_text("Name: pkg\n")
    _, _, metadata = codelayer.write_layer(src, spec(), BlobStore(tmp_path / "s"), mtime=MTIME)
    assert metadata


def test_the_environments_facts_serve_again_without_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    answer = {"lock": ["numpy==2.0.0"], "modules": {"numpy": "numpy"}, "os": {"id": "debian"}}

    def script(argv: tuple[str, ...]) -> tuple[int | None, str]:
        return (0, json.dumps(answer)) if argv[:2] == ("python", "-c") else (0, "")

    engine = FakeEngine(script=script)
    key = codelayer.environment_key(ENV_DOC)
    first = probe.image_facts(engine, "sha256:" + "1" * 64, key=key)  # type: ignore[arg-type]
    second = probe.image_facts(engine, "sha256:" + "2" * 64, key=key)  # type: ignore[arg-type]
    assert first == second and first.lock == ("numpy==2.0.0",)
    assert len(engine.runs) == 1  # the second image is not run
    probe.image_facts(engine, "sha256:" + "3" * 64)  # type: ignore[arg-type]
    assert len(engine.runs) == 2  # without a key, it is
    other = {**ENV_DOC, "Config": {"Env": ["PATH=/elsewhere"]}}
    assert codelayer.environment_key(other) != key  # another PATH may find another python
