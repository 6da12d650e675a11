"""The compatibility data is consistent, regenerable, and every pick it leads to is sound.

Property tests draw framework releases, Pythons, host drivers, ``--cuda`` and the need to
compile from the data itself, and check each pick: the image exists in the tag list (or
is a listed fallback), satisfies every constraint, and is the same when asked again.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from repro import base_image, compat
from repro.compat import major_of, minor_key, minor_of
from repro.errors import InferenceError
from repro.models import BaseImage, BaseSettings, HostGpu
from tests.unit.gpu_helpers import compiles_cuda, env

ROOT = Path(__file__).resolve().parents[2]
DATA = compat.load()
TAG_NAMES = {t.name for t in DATA.tags}
FALLBACK_NAMES = {f.image for f in DATA.fallbacks} | {f.devel for f in DATA.fallbacks if f.devel}
DRIVERS = sorted(set(DATA.min_drivers.values()), key=compat.driver_key)


# --------------------------------------------------------------------------- the data


def test_data_is_versioned_and_names_its_sources() -> None:
    raw = json.loads((ROOT / "repro" / "data" / "compat.json").read_text())
    assert raw["schema_version"] == compat.SCHEMA_VERSION
    assert raw["generated"] and "scripts/gen_compat.py" in raw["generated_by"]
    ids = {s["id"] for s in raw["sources"]}
    assert {"S7", "S10", "S13", "S14", "S16", "S17"} <= ids
    for release in raw["torch"]["releases"]:
        assert set(release["sources"]) <= ids


def test_data_matches_its_generator_and_source_table() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_compat", ROOT / "scripts" / "gen_compat.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.main(["--check"]) == 0, "run scripts/gen_compat.py"
    assert gen._minors("2.7,3.5-3.8") == ["2.7", "3.5", "3.6", "3.7", "3.8"]
    assert gen._patches("2.1.0-2.1.2") == ["2.1.0", "2.1.1", "2.1.2"]


def test_tags_are_unique_and_every_cuda_has_a_driver() -> None:
    assert len(TAG_NAMES) == len(DATA.tags)
    for tag in DATA.tags:
        assert DATA.min_driver(tag.minor), tag.name
        assert tag.ubuntu in DATA.ubuntu, tag.name
        assert (tag.cudnn is None) == ("cudnn" not in tag.tag), tag.name
        assert tag.tag.startswith(f"{tag.cuda}-") and tag.tag.endswith(f"-ubuntu{tag.ubuntu}")


def test_deleted_releases_have_no_tags_but_fallbacks_do_not_overlap() -> None:
    tag_minors = set(DATA.tag_minors())
    for minor in DATA.deleted:
        if minor_key(minor) < (11, 0):
            assert minor not in tag_minors, minor
    for fb in DATA.fallbacks:
        assert fb.cuda in DATA.deleted and fb.cuda not in tag_minors, fb.image


SM = re.compile(r"^sm_[1-9][0-9]?[0-9]$")


def test_torch_arch_rows_are_well_formed_and_name_real_builds() -> None:
    raw = json.loads((ROOT / "repro" / "data" / "compat.json").read_text())
    ids = {s["id"] for s in raw["sources"]}
    assert DATA.torch_arch
    for row in DATA.torch_arch:
        where = f"{row.torch} {row.tag}"
        assert row.sm and all(SM.match(s) for s in row.sm), where
        keys = [compat.capability_key(s) for s in row.sm]
        assert keys == sorted(set(keys)), where  # ascending, no repeats
        assert row.tag == "cu" + row.cuda.replace(".", ""), where
        assert row.ptx in (True, False, None) and row.measured in ("pip", "conda", None), where
        assert row.verified == (row.measured is not None), where  # carried-over rows are not
        assert row.sources and set(row.sources) <= ids, where
        spec = SpecifierSet(row.torch)
        named = [
            r.torch
            for r in DATA.torch
            if Version(r.torch) in spec and any(b.cuda == row.cuda for b in r.builds)
        ]
        assert named, f"{where} names no torch CUDA build in the data"


def test_each_torch_build_has_at_most_one_kernel_list() -> None:
    for release in DATA.torch:
        for build in release.builds:
            rows = [
                a
                for a in DATA.torch_arch
                if a.cuda == build.cuda and Version(release.torch) in SpecifierSet(a.torch)
            ]
            assert len(rows) <= 1, (release.torch, build.tag)
            if Version(release.torch) >= Version("1.0"):  # 0.4 is not in the sources
                assert rows, (release.torch, build.tag)


def test_every_torch_build_is_installable_as_described() -> None:
    for release in DATA.torch:
        cudas = [b.cuda for b in release.builds]
        assert release.default_cuda is None or release.default_cuda in cudas, release.torch
        for build in release.builds:
            assert build.tag == "cu" + build.cuda.replace(".", "")
            assert DATA.min_driver(build.cuda), (release.torch, build.cuda)
            if build.local is None:
                continue
            if build.cuda == release.default_cuda:
                assert build.local == "" and not build.index_url and not build.find_links
            else:  # an index, a find-links page, or (CUDA 7.5 of torch 0.1-0.3) a wheel URL
                ways = (build.index_url, build.find_links, build.url)
                assert sum(bool(w) for w in ways) == 1, (release.torch, build)
        assert release.python == tuple(sorted(release.python, key=minor_key))


def test_tensorflow_rows_cover_each_minor_once() -> None:
    minors = [r.minor for r in DATA.tensorflow]
    assert len(minors) == len(set(minors))
    for r in DATA.tensorflow:
        assert r.bundled == ("and-cuda" in r.extras)
        assert DATA.min_driver(r.cuda)


def test_ubuntu_python_sources_do_not_overlap() -> None:
    for u in DATA.ubuntu.values():
        assert not set(u.distro) & set(u.deadsnakes), u.ubuntu
        assert u.default in u.distro


# --------------------------------------------------------------------------- properties


def _check_pick(base: BaseImage, python: str, host: HostGpu | None, devel: bool) -> None:
    assert base.cuda is not None and base.gpu
    choice = base.cuda
    if choice.fallback:
        assert base.name in FALLBACK_NAMES
        fb = next(f for f in DATA.fallbacks if base.name in (f.image, f.devel))
        assert fb.python == python and fb.cuda == choice.cuda
        assert base.python_source == "image" and not base.venv
    else:
        assert base.name in TAG_NAMES
        tag = next(t for t in DATA.tags if t.name == base.name)
        assert tag.minor == choice.cuda and tag.ubuntu == choice.ubuntu
        assert tag.flavour == choice.flavour
        assert DATA.ubuntu[tag.ubuntu].source(python) == base.python_source
        assert (tag.cudnn is None) == (choice.cudnn is None)
        if choice.cudnn:
            assert tag.cudnn is not None and major_of(tag.cudnn) == choice.cudnn
    assert choice.flavour == ("devel" if devel else "runtime")
    assert choice.min_driver == DATA.min_driver(choice.cuda)
    if host is not None and choice.driver_ok:
        assert compat.driver_key(host.driver) >= compat.driver_key(choice.min_driver or "0")


def _select(environment, options, host, devel):  # type: ignore[no-untyped-def]
    return base_image.select(
        environment, options, host=host, evidence=compiles_cuda() if devel else None
    )


torch_case = st.sampled_from([r for r in DATA.torch if any(b.local is not None for b in r.builds)])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    release=torch_case,
    data=st.data(),
    host=st.none() | st.sampled_from(DRIVERS).map(lambda d: HostGpu(driver=d)),
    devel=st.booleans(),
    companions=st.booleans(),
)
def test_torch_picks_exist_fit_and_are_stable(release, data, host, devel, companions) -> None:  # type: ignore[no-untyped-def]
    python = data.draw(st.sampled_from(release.python))
    reqs = [f"torch=={release.torch}"]
    if companions and release.torchvision:
        reqs.append("torchvision")
    environment = env(python, *reqs)
    try:
        base = _select(environment, BaseSettings(), host, devel)
    except InferenceError as exc:
        assert "\n" not in exc.message and exc.message.startswith("no GPU base image fits")
        return
    _check_pick(base, python, host, devel)
    assert base.cuda is not None
    lines = dict(base.cuda.requirements)
    line = lines["torch"]
    urls = base.cuda.index_urls + base.cuda.find_links
    matching = [
        b
        for b in release.builds
        if b.local is not None
        and (
            line.endswith(release.wheel_version + b.local)
            or (b.wheel_url(python) is not None and line.endswith(f"@ {b.wheel_url(python)}"))
        )
    ]
    # builds without a local label (torch 1.0-1.1) differ only by their find-links page
    build = next(b for b in matching if (b.index_url or b.find_links) in (urls or (None,)))
    # The wheel's CUDA, its index and the base agree: same minor, or the base is newer
    # (the wheel carries its CUDA; the base's driver requirement is then the stricter).
    assert minor_key(base.cuda.cuda) >= minor_key(build.cuda)
    if not devel and base.cuda.cuda != build.cuda and not base.cuda.fallback:
        assert int(major_of(base.cuda.cuda)) >= int(major_of(build.cuda))
    if devel and not base.cuda.fallback:
        assert major_of(base.cuda.cuda) == major_of(build.cuda)  # nvcc's major matches torch's
    expected_index = build.index_url or build.find_links
    assert (base.cuda.index_urls + base.cuda.find_links) == (
        (expected_index,) if expected_index else ()
    )
    if "torchvision" in lines:
        assert lines["torchvision"].endswith(f"{release.torchvision}{build.local}")
    assert _select(environment, BaseSettings(), host, devel) == base  # stable


tf_case = st.sampled_from(DATA.tensorflow)


@settings(max_examples=100, deadline=None)
@given(release=tf_case, data=st.data(), devel=st.booleans())
def test_tensorflow_picks_hold_its_cuda_and_cudnn(release, data, devel) -> None:  # type: ignore[no-untyped-def]
    versions = list(release.versions)
    if not versions:
        return
    version = data.draw(st.sampled_from(versions))
    python = data.draw(st.sampled_from(release.python))
    environment = env(python, f"tensorflow=={version}")
    try:
        base = _select(environment, BaseSettings(), None, devel)
    except InferenceError as exc:
        assert "\n" not in exc.message
        return
    _check_pick(base, python, None, devel)
    assert base.cuda is not None
    if release.bundled:
        assert base.cuda.cudnn is None
        assert major_of(base.cuda.cuda) == major_of(release.cuda)
        assert minor_key(base.cuda.cuda) >= minor_key(release.cuda)
    else:
        assert base.cuda.cuda == release.cuda
        assert base.cuda.cudnn == major_of(release.cudnn)
    assert _select(environment, BaseSettings(), None, devel) == base


@settings(max_examples=100, deadline=None)
@given(
    cuda=st.sampled_from(DATA.tag_minors()),
    python=st.sampled_from(["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]),
    devel=st.booleans(),
)
def test_cuda_option_is_honoured_or_refused_plainly(cuda, python, devel) -> None:  # type: ignore[no-untyped-def]
    environment = env(python, "numpy")
    try:
        base = _select(environment, BaseSettings(cuda=cuda), None, devel)
    except InferenceError as exc:
        assert f"--cuda {cuda}" in exc.message
        # only when no tag of that CUDA can install this Python
        ubuntus = {t.ubuntu for t in DATA.tags_for(cuda)}
        assert all(DATA.ubuntu[u].source(python) is None for u in ubuntus)
        return
    _check_pick(base, python, None, devel)
    assert base.cuda is not None and base.cuda.cuda == cuda
    # tie-break: the newest patch of that CUDA among the tags that fit
    fitting = [
        t
        for t in DATA.tags_for(cuda)
        if t.flavour == base.cuda.flavour
        and t.cudnn is None
        and DATA.ubuntu[t.ubuntu].source(python)
    ]
    assert base.name == fitting[0].name


@pytest.mark.parametrize("minor", DATA.tag_minors())
def test_tags_for_orders_newest_patch_then_newest_ubuntu(minor: str) -> None:
    tags = DATA.tags_for(minor)
    keys = [t.sort_key() for t in tags]
    assert keys == sorted(keys, reverse=True)
    assert all(minor_of(t.cuda) == minor for t in tags)


CAPABILITIES = ["3.7", "5.2", "6.1", "7.0", "7.5", "8.0", "8.6", "8.9", "9.0", "10.0", "12.0"]
NEWEST_DRIVER = DRIVERS[-1]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    release=torch_case,
    data=st.data(),
    caps=st.lists(st.sampled_from(CAPABILITIES), min_size=1, max_size=2),
)
def test_torch_picks_say_truly_whether_the_host_gpu_runs_them(release, data, caps) -> None:  # type: ignore[no-untyped-def]
    python = data.draw(st.sampled_from(release.python))
    host = HostGpu(
        driver=NEWEST_DRIVER, gpus=tuple(f"GPU ({c})" for c in caps), capabilities=tuple(caps)
    )
    try:
        base = base_image.select(env(python, f"torch=={release.torch}"), BaseSettings(), host=host)
    except InferenceError:
        return
    assert base.cuda is not None
    chosen = next(r for r in base.reasons if r.startswith("chosen: torch "))
    tag = chosen.split()[2].split("+")[1]  # "chosen: torch 1.7.1+cu110 (...)"
    cuda = next(b.cuda for b in release.builds if b.tag == tag)
    arch = DATA.torch_arch_for(release.torch, cuda)
    if arch is None:
        assert base.cuda.arch_ok is None
        return
    runs = all(arch.covers(c) for c in caps)
    assert base.cuda.arch_ok is runs
    assert any("has no kernels" in w for w in base.warnings) is (not runs)
    if not runs:  # then no other build of this release runs on every GPU and has an image
        for build in release.builds:
            other = DATA.torch_arch_for(release.torch, build.cuda)
            if build.tag != tag and other and all(other.covers(c) for c in caps):
                pinned = env(python, f"torch=={release.torch}+{build.tag}")
                with pytest.raises(InferenceError):
                    base_image.select(pinned, BaseSettings(), host=host)
