#!/usr/bin/env python3
"""Regenerate repro/data/compat.json: GPU frameworks <-> CUDA <-> cuDNN <-> Python <-> driver.

Inputs (named in the output's ``sources``):

* ``scripts/compat_sources/sources.yaml`` -- the checked-in source table. Its rows were
  transcribed from the primary sources it lists (PyTorch's previous-versions page and
  RELEASE.md, TensorFlow's tested build configurations, JAX's changelog, NVIDIA's release
  notes and container-image tag lists, cog's Docker Hub scrape, ...), through the team's
  reference ../shared/reference/cuda-compat.md. Those pages are not reachable from the
  machine this project runs on, so the table is the input; edit it to refresh, citing the
  source of each change.
* ``scripts/compat_sources/pypi_releases.json`` -- each framework's releases on PyPI with the
  date of their first upload, used to pin an unpinned framework to the release current at
  the code's date. ``--refresh-pypi`` rewrites it from the PyPI JSON API (reachable here).
* ``scripts/compat_sources/jaxlib_history.json`` -- jaxlib 0.1.x (no longer on PyPI): each
  release's date, CUDA builds, Pythons and install line, read from the history of JAX's
  README by ``scripts/gen_jaxlib_history.py``.

The output expands the table's shorthand ("3.5-3.8", "2.1.0-2.1.2"), resolves each era's
install rule into every torch build (find-links page or index, local version label), and
lists every nvidia/cuda tag explicitly, so that repro itself holds no compatibility rule in
code. Usage::

    python scripts/gen_compat.py                 # from the checked-in inputs
    python scripts/gen_compat.py --refresh-pypi  # also refresh the PyPI release dates
    python scripts/gen_compat.py --check         # exit 1 if compat.json is out of date
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import ssl
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "scripts" / "compat_sources" / "sources.yaml"
PYPI_SNAPSHOT = ROOT / "scripts" / "compat_sources" / "pypi_releases.json"
JAXLIB_HISTORY = ROOT / "scripts" / "compat_sources" / "jaxlib_history.json"
OUT = ROOT / "repro" / "data" / "compat.json"
SCHEMA_VERSION = 2
PYPI_PROJECTS = ("torch", "torchvision", "torchaudio", "tensorflow", "tensorflow-gpu", "jax")

# Every distribution repro treats as a GPU framework (the rest of the data says how).
GPU_FRAMEWORKS = ("torch", "torchvision", "torchaudio", "tensorflow", "tensorflow-gpu", "jax",
                  "jaxlib", "paddlepaddle-gpu")  # fmt: skip


# --------------------------------------------------------------------------- shorthand


def _minors(text: str) -> list[str]:
    """``"2.7,3.5-3.8"`` -> ``["2.7", "3.5", "3.6", "3.7", "3.8"]`` (same major in a range)."""
    out: list[str] = []
    for part in str(text).split(","):
        part = part.strip()
        if "-" not in part:
            out.append(part)
            continue
        lo, hi = part.split("-")
        major, lo_minor = lo.split(".")
        hi_major, hi_minor = hi.split(".")
        if major != hi_major:
            raise ValueError(f"range {part!r} crosses a major version")
        out += [f"{major}.{m}" for m in range(int(lo_minor), int(hi_minor) + 1)]
    return out


def _patches(text: str) -> list[str]:
    """``"2.1.0-2.1.2"`` -> ``["2.1.0", "2.1.1", "2.1.2"]``; a single version stays one."""
    if "-" not in text:
        return [text]
    lo, hi = text.split("-")
    prefix, lo_patch = lo.rsplit(".", 1)
    hi_prefix, hi_patch = hi.rsplit(".", 1)
    if prefix != hi_prefix:
        raise ValueError(f"range {text!r} crosses a minor version")
    return [f"{prefix}.{p}" for p in range(int(lo_patch), int(hi_patch) + 1)]


def _cu(cuda: str) -> str:
    return "cu" + cuda.replace(".", "")


def _minor_of(version: str) -> str:
    return ".".join(version.split(".")[:2])


# --------------------------------------------------------------------------- PyPI


def _ssl_context() -> ssl.SSLContext:
    cafile = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    return ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()


def fetch_pypi(projects: tuple[str, ...]) -> dict[str, Any]:
    """Each project's final releases with the date of their first uploaded file."""
    context = _ssl_context()
    out: dict[str, dict[str, str]] = {}
    for name in projects:
        url = f"https://pypi.org/pypi/{name}/json"
        with urllib.request.urlopen(url, timeout=120, context=context) as response:
            data = json.load(response)
        releases: dict[str, str] = {}
        for version, files in data.get("releases", {}).items():
            try:
                parsed = Version(version)
            except InvalidVersion:
                continue
            times = [f["upload_time_iso_8601"][:10] for f in files if not f.get("yanked")]
            if parsed.is_prerelease or parsed.is_devrelease or not times:
                continue
            releases[version] = min(times)
        out[name] = dict(sorted(releases.items(), key=lambda kv: Version(kv[0])))
        print(f"PyPI {name}: {len(releases)} releases", file=sys.stderr)
    return {
        "fetched": dt.date.today().isoformat(),
        "source": "https://pypi.org/pypi/<name>/json (first non-yanked upload per final release)",
        "projects": out,
    }


# --------------------------------------------------------------------------- sections


def _drivers(src: dict[str, Any]) -> dict[str, Any]:
    toolkits = {}
    for minor, updates in src["toolkits"].items():
        toolkits[minor] = {"min_driver": updates["GA"], "updates": dict(updates)}
    return {"sources": src["sources"], "toolkits": toolkits, "families": dict(src["families"])}


def _nvidia_cuda(src: dict[str, Any]) -> dict[str, Any]:
    tags: list[dict[str, Any]] = []
    for rel in src["releases"]:
        cuda = rel["cuda"]
        for ubuntu in rel["ubuntu"]:
            for flavour in src["flavours"]:
                tags.append(_tag(cuda, flavour, ubuntu, None, None))
        for ubuntu in rel["cudnn_ubuntu"]:
            for flavour in src["cudnn_flavours"]:
                tags.append(_tag(cuda, flavour, ubuntu, rel["cudnn_tag"], rel["cudnn"]))
    deleted = [
        {"cuda": d["cuda"], "examples": d["tags"], "note": d.get("note", "")}
        for d in src["deleted"]["releases"]
    ]
    return {
        "sources": src["sources"],
        "repository": "nvidia/cuda",
        "tags": tags,
        "deleted": {"date": src["deleted"]["date"], "sources": src["deleted"]["sources"],
                    "releases": deleted},
    }  # fmt: skip


def _tag(cuda: str, flavour: str, ubuntu: str, cudnn_tag: str | None, cudnn: str | None) -> dict:
    middle = f"{cudnn_tag}-{flavour}" if cudnn_tag else flavour
    return {
        "tag": f"{cuda}-{middle}-ubuntu{ubuntu}",
        "cuda": cuda,
        "flavour": flavour,
        "ubuntu": ubuntu,
        "cudnn": cudnn,
    }


def _ubuntu_python(src: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"sources": src["sources"], "releases": {}}
    for ubuntu, row in src.items():
        if ubuntu == "sources":
            continue
        out["releases"][ubuntu] = {
            "codename": row["codename"],
            "default": row["default"],
            "distro": list(row["distro"]),
            "deadsnakes": list(row["deadsnakes"]),
            "packages": list(row["packages"]),
            "pip": row.get("pip", "pip"),
        }
    return out


def _torch(src: dict[str, Any], pypi: dict[str, dict[str, str]]) -> dict[str, Any]:
    eras = [(SpecifierSet(e["torch"]), e) for e in src["install"]]
    releases = []
    for row in src["releases"]:
        versions = _patches(row["torch"])
        visions = _paired(row["torchvision"], len(versions))
        audios = _paired(row["torchaudio"], len(versions))
        for torch, vision, audio in zip(versions, visions, audios, strict=True):
            era = next((e for spec, e in eras if Version(torch) in spec), None)
            builds = []
            for cuda in row["cuda"]:
                builds.append(_torch_build(cuda, row, era))
            release = {
                "torch": torch,
                "torchvision": vision,
                "torchaudio": audio,
                "python": _minors(row["python"]),
                "default_cuda": row["default"],
                "released": pypi.get("torch", {}).get(torch) or row.get("released"),
                "builds": builds,
                "sources": row["src"],
                "verified": row.get("verified", True),
            }
            if "wheel" in row:  # the file version of a post release (0.3.0.post4)
                release["wheel"] = row["wheel"]
            releases.append(release)
    releases += _torch_patches_from_pypi(releases, pypi)
    releases.sort(key=lambda r: Version(r["torch"]))
    return {
        "sources": src["sources"],
        "cpu_index": src["cpu_index"],
        "companion_local": dict(src["companion_local"]),
        "releases": releases,
    }


def _torch_patches_from_pypi(
    releases: list[dict[str, Any]], pypi: dict[str, dict[str, str]]
) -> list[dict[str, Any]]:
    """Patch releases PyPI has and the table lacks: they keep their minor's CUDA builds.

    The companions are the torchvision/torchaudio uploaded the same day (PyTorch releases
    them together), or none when that is not one release. A new minor is never guessed.
    """
    known = {r["torch"] for r in releases}
    newest_of_minor: dict[str, dict[str, Any]] = {}
    for row in releases:
        newest_of_minor[_minor_of(row["torch"])] = row
    added = []
    for version, date in pypi.get("torch", {}).items():
        base = newest_of_minor.get(_minor_of(version))
        if version in known or base is None or Version(version) < Version(base["torch"]):
            continue
        added.append(
            {
                **base,
                "torch": version,
                "torchvision": _same_day(pypi.get("torchvision", {}), date),
                "torchaudio": _same_day(pypi.get("torchaudio", {}), date),
                "released": date,
                "sources": [*base["sources"], "PYPI"],
                "verified": False,
                "inherited_from": base["torch"],
            }
        )
    return added


def _same_day(releases: dict[str, str], date: str) -> str | None:
    same = [v for v, d in releases.items() if d == date]
    return same[0] if len(same) == 1 else None


def _paired(text: str | None, count: int) -> list[str | None]:
    if text is None:
        return [None] * count
    values = _patches(text)
    if len(values) != count:
        raise ValueError(f"{text!r} does not pair with {count} torch versions")
    return list(values)


def _torch_build(cuda: str, row: dict[str, Any], era: dict[str, Any] | None) -> dict[str, Any]:
    """How one CUDA build of one torch release is installed, with the rule resolved."""
    cu = _cu(cuda)
    if cuda == "7.5" and row.get("cu75_url"):
        # before the per-CUDA wheel pages: one URL per Python, {abi} = cp36-cp36m, ...
        return {"cuda": cuda, "tag": cu, "local": "", "index_url": None, "find_links": None,
                "url": row["cu75_url"], "py2_abi": row["py2_abi"]}  # fmt: skip
    if row.get("install") == "none" or era is None:
        return {"cuda": cuda, "tag": cu, "local": None, "index_url": None, "find_links": None}
    if cuda == row["default"]:
        # PyPI's own wheel: plain version, no extra index.
        return {"cuda": cuda, "tag": cu, "local": "", "index_url": None, "find_links": None}
    index_url = row.get("index_url", era.get("index_url"))
    find_links = row.get("find_links", era.get("find_links"))
    return {
        "cuda": cuda,
        "tag": cu,
        "local": f"+{cu}" if era["local"] else "",
        "index_url": index_url.format(cu=cu) if index_url else None,
        "find_links": find_links.format(cu=cu) if find_links and not index_url else None,
    }


def _torch_arch(src: dict[str, Any], torch: dict[str, Any]) -> dict[str, Any]:
    """One row per torch range x CUDA build: its sm_ kernels and whether PTX comes along.

    Every row must name a CUDA build some torch release in the range has, and no build of
    a release may fall under two rows (so that a lookup has one answer).
    """
    variants = []
    for row in src["variants"]:
        spec = SpecifierSet(row["torch"])
        for cuda in row["cuda"]:
            covered = [
                r["torch"]
                for r in torch["releases"]
                if Version(r["torch"]) in spec and any(b["cuda"] == cuda for b in r["builds"])
            ]
            if not covered:
                raise ValueError(f"torch_arch: no torch {row['torch']} has a CUDA {cuda} build")
            variants.append(
                {
                    "torch": row["torch"],
                    "cuda": cuda,
                    "tag": _cu(cuda),
                    "sm": [f"sm_{s.strip()}" for s in str(row["sm"]).split(",")],
                    "ptx": row.get("ptx"),
                    "measured": row.get("measured"),
                    "sources": row["src"],
                    "verified": row.get("verified", True),
                }
            )
    for release in torch["releases"]:
        version = Version(release["torch"])
        for build in release["builds"]:
            rows = [
                v["torch"]
                for v in variants
                if v["cuda"] == build["cuda"] and version in SpecifierSet(v["torch"])
            ]
            if len(rows) > 1:
                raise ValueError(f"torch_arch: {release['torch']}+{build['tag']} is in {rows}")
    return {"sources": src["sources"], "variants": variants}


def _tensorflow(src: dict[str, Any], pypi: dict[str, dict[str, str]]) -> dict[str, Any]:
    rules = [(SpecifierSet(r["tf"]), r) for r in src["gpu_package"]]
    cpu_rules = [(SpecifierSet(r["tf"]), r["package"]) for r in src["cpu_package"]]
    releases = []
    for row in src["releases"]:
        lo, _, hi = row["tf"].partition("-")
        minors = [lo] if not hi else _minors(f"{lo}-{hi}")
        for minor in minors:
            rule = next(r for spec, r in rules if Version(f"{minor}.0") in spec)
            bundled = "and-cuda" in rule["extras"]
            releases.append(
                {
                    "minor": minor,
                    "cuda": row["cuda"],
                    "cudnn": row["cudnn"],
                    "python": _minors(row["python"]),
                    "package": rule["package"],
                    "cpu_package": next(
                        p for spec, p in cpu_rules if Version(f"{minor}.0") in spec
                    ),
                    "extras": list(rule["extras"]),
                    "bundled": bundled,
                    "versions": _versions_of(pypi, ("tensorflow", "tensorflow-gpu"), minor),
                    "sources": row.get("src", src["sources"]),
                    "verified": row.get("verified", True),
                }
            )
    return {
        "sources": src["sources"],
        "tensorflow_gpu_last": src["tensorflow_gpu_last"],
        "releases": releases,
    }


def _versions_of(
    pypi: dict[str, dict[str, str]], projects: tuple[str, ...], minor: str
) -> dict[str, str]:
    """Releases of ``minor`` on PyPI with their dates (first project that has each)."""
    out: dict[str, str] = {}
    for project in projects:
        for version, date in pypi.get(project, {}).items():
            if _minor_of(version) == minor and len(Version(version).release) >= 2:
                out.setdefault(version, date)
    return dict(sorted(out.items(), key=lambda kv: Version(kv[0])))


def _jax(
    src: dict[str, Any], pypi: dict[str, dict[str, str]], history: dict[str, Any]
) -> dict[str, Any]:
    jaxlib = _jaxlib(src["jaxlib_labelled"], history)
    pythons = sorted({p for r in jaxlib["releases"] for p in r["python"]}, key=_vkey)
    releases = []
    for row in src["releases"]:
        spec = SpecifierSet(row["jax"])
        versions = {v: d for v, d in pypi.get("jax", {}).items() if Version(v) in spec}
        labelled = bool(row.get("jaxlib_labelled"))
        releases.append(
            {
                "jax": row["jax"],
                # jaxlib-labelled rows: each jaxlib release says its own Pythons
                "python": pythons if labelled else _minors(row["python"]),
                "builds": [dict(b) for b in row.get("builds", ())],
                "jaxlib_labelled": labelled,
                "verified": row.get("verified", True),
                "versions": versions,
            }
        )
    return {"sources": src["sources"], "jaxlib": jaxlib, "releases": releases}


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _jaxlib(rules: dict[str, Any], history: dict[str, Any]) -> dict[str, Any]:
    """jaxlib 0.1.x releases with their CUDA builds (from the README history) and how each
    is installed: a wheel URL per CUDA folder, or ``jaxlib==V+cudaXYZ`` and find-links."""
    python_rules = [(SpecifierSet(r["jaxlib"]), _minors(r["python"])) for r in rules["python"]]
    newer = rules["serves_newer_minors"]
    releases = []
    for row in history.get("releases", ()):
        version = Version(row["version"])
        python = list(row["python"]) or next((p for spec, p in python_rules if version in spec), [])
        builds = []
        for cuda in row["cuda"]:
            tag = "cuda" + cuda.replace(".", "")
            build: dict[str, Any] = {
                "cuda": cuda,
                "tag": tag,
                "cudnn": rules["cudnn"][cuda.split(".")[0]],
                "serves_newer": version in SpecifierSet(newer["jaxlib"]) and cuda == newer["cuda"],
            }
            if row["install"] == "find_links":
                build["local"] = f"+{tag}"
                build["find_links"] = history["find_links"]
            else:
                build["url"] = history["url"].format(
                    cuda=tag, version=row["version"], python="{python}", platform=row["platform"]
                )
            builds.append(build)
        releases.append(
            {"jaxlib": row["version"], "released": row["date"], "python": python,
             "builds": builds}
        )  # fmt: skip
    return {"sources": rules["sources"], "generated_from": history.get("source"),
            "verified": False, "releases": releases}  # fmt: skip


def _packages(src: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for family in ("cupy", "mxnet"):
        fam = src[family]
        for project, cudas in fam["projects"].items():
            minors: list[str] = []
            for item in cudas:
                minors += _minors(item) if "-" in item else [item]
            out[project] = {
                "family": family,
                "cuda": minors,
                "bundled": fam["bundled"],
                "cudnn": fam.get("cudnn_by_cuda_major", {}).get(minors[0].split(".")[0]),
                "sources": fam["sources"],
                "verified": fam.get("verified", True),
            }
    for project in src["source_built"]["projects"]:
        out[project] = {
            "family": project,
            "cuda": [],
            "bundled": False,
            "cudnn": None,
            "source_built": True,
            "sources": src["source_built"]["sources"],
            "verified": True,
        }
    return dict(sorted(out.items()))


def _fallbacks(src: dict[str, Any], tensorflow: dict[str, Any]) -> dict[str, Any]:
    """The frameworks' own GPU images: tensorflow/tensorflow generated from the PyPI
    releases and the Python of each era, pytorch/pytorch as listed."""
    images: list[dict[str, Any]] = []
    tf = src["tensorflow"]
    eras = [(SpecifierSet(e["tf"]), e) for e in tf["eras"]]
    newest = Version(tf["newest"] + ".999")
    for release in tensorflow["releases"]:
        for version in release["versions"]:
            parsed = Version(version)
            era = next((e for spec, e in eras if parsed in spec), None)
            if era is None or parsed > newest:
                continue
            for suffix, python in (("-gpu", era["gpu"]), ("-gpu-py3", era["gpu_py3"])):
                if python is None:
                    continue
                tag = f"{version}{suffix}"
                images.append(
                    {
                        "image": f"{tf['image']}:{tag}",
                        "devel": None,
                        "framework": "tensorflow",
                        "version": version,
                        "cuda": release["cuda"],
                        "cudnn": release["cudnn"].split(".")[0],
                        "python": python,
                        "ubuntu": era["ubuntu"],
                        "verified_python": tag in tf["python_seen"],
                        "verified": tag in tf["seen"],
                        "system_cuda": tf["system_cuda"],
                        "sources": era["src"],
                    }
                )
    pt = src["pytorch"]
    for row in pt["images"]:
        images.append(
            {
                "image": f"pytorch/pytorch:{row['tag']}-runtime",
                "devel": f"pytorch/pytorch:{row['tag']}-devel",
                "framework": "torch",
                "version": row["torch"],
                "cuda": row["cuda"],
                "cudnn": row["cudnn"],
                "python": row["python"],
                "ubuntu": None,
                "verified_python": row["verified_python"],
                "verified": row["verified"],
                "system_cuda": pt["system_cuda"],
                "sources": src["sources"],
            }
        )
    return {"sources": src["sources"], "images": images}


def build(
    src: dict[str, Any], pypi_snapshot: dict[str, Any], jaxlib_history: dict[str, Any]
) -> dict[str, Any]:
    pypi = pypi_snapshot.get("projects", {})
    sources = [{"id": key, **value} for key, value in src["sources"].items()]
    packages = _packages(src["packages"])
    torch = _torch(src["torch"], pypi)
    tensorflow = _tensorflow(src["tensorflow"], pypi)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated": src["snapshot"],
        "generated_by": (
            "scripts/gen_compat.py from the checked-in table scripts/compat_sources/sources.yaml "
            "(transcribed from the sources below via ../shared/reference/cuda-compat.md: the "
            "live pages are not reachable from the build machine) and "
            "scripts/compat_sources/pypi_releases.json "
            f"(PyPI, fetched {pypi_snapshot.get('fetched')}) and "
            "scripts/compat_sources/jaxlib_history.json (scripts/gen_jaxlib_history.py)"
        ),
        "sources": sources,
        "python_image": "python:{python}-slim",
        "gpu_frameworks": sorted({*GPU_FRAMEWORKS, *packages}),
        "cpu_indexes": {
            "torch": src["torch"]["cpu_index"],
            "torchvision": src["torch"]["cpu_index"],
            "torchaudio": src["torch"]["cpu_index"],
        },
        "policy": dict(src["policy"]),
        "drivers": _drivers(src["drivers"]),
        "nvidia_cuda": _nvidia_cuda(src["nvidia_cuda"]),
        "ubuntu_python": _ubuntu_python(src["ubuntu_python"]),
        "torch": torch,
        "torch_arch": _torch_arch(src["torch_arch"], torch),
        "tensorflow": tensorflow,
        "jax": _jax(src["jax"], pypi, jaxlib_history),
        "packages": packages,
        "paddle": dict(src["paddle"]),
        "fallbacks": _fallbacks(src["fallbacks"], tensorflow),
    }


# --------------------------------------------------------------------------- output


def dumps(value: Any, indent: int = 0) -> str:
    """JSON with one line per small object, so that diffs of the data stay readable."""
    pad = " " * indent
    if isinstance(value, dict) and value and not _flat(value):
        items = [
            f"{pad} {json.dumps(k)}: {dumps(v, indent + 1).lstrip()}" for k, v in value.items()
        ]
        return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and not _flat(value):
        items = [dumps(v, indent + 1) for v in value]
        return pad + "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return pad + json.dumps(value, ensure_ascii=False)


def _flat(value: dict[str, Any] | list[Any]) -> bool:
    """A container printed on one line: scalars, or lists of scalars, and short enough."""
    items = value.values() if isinstance(value, dict) else value
    for item in items:
        if isinstance(item, dict):
            return False
        if isinstance(item, list) and any(isinstance(x, (dict, list)) for x in item):
            return False
    return len(json.dumps(value)) <= 200


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refresh-pypi", action="store_true", help="refetch PyPI release dates")
    parser.add_argument("--check", action="store_true", help="fail if compat.json is stale")
    args = parser.parse_args(argv)
    src = yaml.safe_load(SOURCES.read_text())
    if args.refresh_pypi:
        snapshot = fetch_pypi(PYPI_PROJECTS)
        PYPI_SNAPSHOT.write_text(dumps(snapshot) + "\n")
    snapshot = json.loads(PYPI_SNAPSHOT.read_text()) if PYPI_SNAPSHOT.exists() else {}
    history = json.loads(JAXLIB_HISTORY.read_text()) if JAXLIB_HISTORY.exists() else {}
    text = dumps(build(src, snapshot, history)) + "\n"
    if args.check:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is out of date: run scripts/gen_compat.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    data = json.loads(text)
    print(
        f"wrote {OUT}: {len(data['torch']['releases'])} torch releases, "
        f"{len(data['tensorflow']['releases'])} TensorFlow minors, "
        f"{len(data['nvidia_cuda']['tags'])} nvidia/cuda tags",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
