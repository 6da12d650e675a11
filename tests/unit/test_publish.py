"""Publishing without a daemon: destinations, the paper snippet, the SBOM, resealing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from repro import artifact, export, in_image, publish, sbom
from repro.errors import EngineError, UsageError, VerifyError
from repro.verify import check_files
from tests.fakes import FakeEngine, RegistryEngine

SHA = "0123456789abcdef0123456789abcdef01234567"
IMAGE_ID = "sha256:" + "ab" * 32
DIGEST = "sha256:" + "cd" * 32


def manifest(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "created": "2026-11-26T13:22:05Z",
        "source": {
            "url": "https://github.com/acme/paper",
            "owner": "acme",
            "name": "paper",
            "subdir": "",
            "commit": SHA,
            "commit_date": "2024-03-01T12:00:00Z",
        },
        "python": {"version": "3.11"},
        "base_image": {
            "name": "python:3.11-slim",
            "id": "sha256:" + "11" * 32,
            "digest": None,
            "gpu": False,
            "variant": "py3.11-cpu",
        },
        "cuda": None,
        "tags": ["repro/acme-paper:0123456", "repro/acme-paper:0123456-py3.11-cpu"],
        "image": {"id": IMAGE_ID},
        "smoke": {"command": ["python", "-m", "pytest", "-q"], "kind": "pytest", "passed": True},
        "lock": ["numpy==1.26.4", "Pillow==10.2.0", "pip==24.0", "torch==2.13.0+cpu"],
        "lock_cutoff": "2024-03-01",
        "published": [],
    }
    doc.update(changes)
    return doc


# --------------------------------------------------------------------------- destinations


@pytest.mark.parametrize(
    ("text", "repository", "tag"),
    [
        ("ghcr.io/lab/paper", "ghcr.io/lab/paper", None),
        ("127.0.0.1:5000/acme/cli-tool:v1.2", "127.0.0.1:5000/acme/cli-tool", "v1.2"),
        ("localhost:5000/paper", "localhost:5000/paper", None),
        ("lab/paper:camera-ready", "lab/paper", "camera-ready"),
    ],
)
def test_destinations(text: str, repository: str, tag: str | None) -> None:
    dest = publish.parse_destination(text)
    assert (dest.repository, dest.tag) == (repository, tag)


def test_the_registry_of_a_destination() -> None:
    assert publish.parse_destination("ghcr.io/lab/paper").registry == "ghcr.io"
    assert publish.parse_destination("localhost:5000/p").registry == "localhost:5000"
    assert publish.parse_destination("lab/paper").registry == "docker.io"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Lab/Paper", "is not an image name"),
        ("ghcr.io/lab/paper@sha256:abc", "not a digest"),
        ("ghcr.io/lab/paper:", "is not an image name"),
        ("", "is not an image name"),
    ],
)
def test_bad_destinations(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        publish.parse_destination(text)


def test_credentials_need_both_halves() -> None:
    assert publish.credentials(None, None) is None
    assert publish.credentials("alice", "pw") == {"username": "alice", "password": "pw"}
    with pytest.raises(UsageError, match="both a username and a password"):
        publish.credentials("alice", None)
    with pytest.raises(UsageError):
        publish.credentials(None, "pw")


# --------------------------------------------------------------------------- the snippet


def test_the_snippet_before_a_push_loads_the_tarball() -> None:
    text = export.paper_text(manifest())
    assert "docker load -i image.tar.gz\ndocker run --rm -it repro/acme-paper:0123456\n" in text
    assert f"at commit `{SHA}` (2024-03-01)" in text
    assert "repro verify ." in text and "sha256sum -c SHA256SUMS" in text
    assert "not pushed yet" in text and "--gpus" not in text


def test_the_snippet_after_a_push_is_pinned_by_the_newest_digest() -> None:
    pushes = [
        {"pinned": "ghcr.io/lab/paper@sha256:" + "00" * 32},
        {"pinned": f"ghcr.io/lab/paper@{DIGEST}"},
    ]
    text = export.paper_text(manifest(published=pushes))
    assert f"```sh\ndocker run --rm -it ghcr.io/lab/paper@{DIGEST}\n```" in text
    assert "docker load" not in text and "not pushed yet" not in text
    assert f"Image id: `{IMAGE_ID}`" in text


def test_a_gpu_image_asks_for_gpus_and_names_the_driver() -> None:
    doc = manifest(
        base_image={"name": "nvidia/cuda:12.6.3-runtime-ubuntu22.04", "gpu": True},
        cuda={"cuda": "12.6", "min_driver": "560.28"},
        published=[{"pinned": f"ghcr.io/lab/paper@{DIGEST}"}],
    )
    text = export.paper_text(doc)
    assert f"docker run --rm -it --gpus all ghcr.io/lab/paper@{DIGEST}" in text
    assert "NVIDIA driver ≥ 560.28" in text and "CUDA 12.6" in text


def test_push_errors_get_a_hint_naming_the_registry() -> None:
    dest = publish.parse_destination("registry.lab.org:5000/paper")
    assert "docker login registry.lab.org:5000" in publish._push_hint(
        "cannot push x: no basic auth credentials", dest
    )
    assert "insecure-registries" in publish._push_hint(
        "cannot push x: http: server gave HTTP response to HTTPS client", dest
    )
    assert "listening at registry.lab.org:5000" in publish._push_hint(
        "cannot push x: dial tcp: connection refused", dest
    )


# --------------------------------------------------------------------------- the SBOM


def test_the_sbom_is_valid_cyclonedx_listing_the_lock_and_the_base() -> None:
    text = sbom.render(manifest())
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc = json.loads(text)
    purls = {c["name"]: c.get("purl") for c in doc["components"]}
    assert purls["numpy"] == "pkg:pypi/numpy@1.26.4"
    assert purls["Pillow"] == "pkg:pypi/pillow@10.2.0"
    assert purls["torch"] == "pkg:pypi/torch@2.13.0%2Bcpu"
    assert purls["python:3.11-slim"] == "pkg:docker/python@3.11-slim"
    assert purls["acme/paper"] == f"pkg:github/acme/paper@{SHA}"
    assert doc["metadata"]["component"]["name"] == "repro/acme-paper"
    (deps,) = [d for d in doc["dependencies"] if d["ref"] == "image"]
    assert len(deps["dependsOn"]) == 2 + 4
    assert sbom.summary(manifest()["lock"])["packages"] == 4


SYSTEM = {
    "os": {"id": "ubuntu", "version_id": "22.04", "version_codename": "jammy"},
    "packages": [
        {"name": "libc6", "version": "2.35-0ubuntu3.8", "arch": "amd64"},
        {"name": "libc6", "version": "2.35-0ubuntu3.8", "arch": "i386"},  # multiarch
        {"name": "tzdata", "version": "2024a-0ubuntu0.22.04", "arch": "all"},
        {"name": "libcudnn8", "version": "8.9.7.29-1+cuda12.2", "arch": "amd64"},
    ],
}


def test_the_sbom_lists_the_images_system_packages_with_deb_purls() -> None:
    text = sbom.render(manifest(system=SYSTEM))
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc = json.loads(text)
    debs = sorted(c["purl"] for c in doc["components"] if c["purl"].startswith("pkg:deb/"))
    assert debs == [
        "pkg:deb/ubuntu/libc6@2.35-0ubuntu3.8?arch=amd64&distro=ubuntu-22.04",
        "pkg:deb/ubuntu/libc6@2.35-0ubuntu3.8?arch=i386&distro=ubuntu-22.04",
        "pkg:deb/ubuntu/libcudnn8@8.9.7.29-1%2Bcuda12.2?arch=amd64&distro=ubuntu-22.04",
        "pkg:deb/ubuntu/tzdata@2024a-0ubuntu0.22.04?arch=all&distro=ubuntu-22.04",
    ]
    (deps,) = [d for d in doc["dependencies"] if d["ref"] == "image"]
    assert len(deps["dependsOn"]) == 2 + 4 + 4
    counts = sbom.summary(manifest()["lock"], SYSTEM)
    assert (counts["packages"], counts["system_packages"]) == (4, 4)
    # a manifest without the field (an older repro.json) still renders, with no debs
    assert not [
        c for c in json.loads(sbom.render(manifest()))["components"] if "deb" in c.get("purl", "")
    ]


def test_the_image_facts_script_reads_dpkgs_installed_packages_only() -> None:

    script = in_image.read("image_facts.py")
    status = (
        "Package: base-files\nStatus: install ok installed\nArchitecture: amd64\n"
        "Version: 12.4+deb12u5\nDescription: Debian base system\n multi-line\n continued\n\n"
        "Package: removed-pkg\nStatus: deinstall ok config-files\nArchitecture: amd64\n"
        "Version: 1.0\n\n"
        "Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a\n"
    )
    namespace: dict[str, Any] = {"__name__": "image_facts", "open": _no_files}
    exec(compile(script, "image_facts.py", "exec"), namespace)  # defines dpkg_installed
    assert namespace["dpkg_installed"](status) == [
        ["base-files", "12.4+deb12u5", "amd64"],
        ["tzdata", "2024a", "all"],
    ]


def _image_facts_functions() -> dict[str, Any]:

    script = in_image.read("image_facts.py")
    namespace: dict[str, Any] = {"__name__": "image_facts", "open": _no_files}
    exec(compile(script, "image_facts.py", "exec"), namespace)
    return namespace


def _metadata(text: str) -> Any:
    from email.parser import Parser

    return Parser().parsestr(text)


def test_the_image_facts_script_reads_the_licences_packages_declare() -> None:
    declared = _image_facts_functions()["declared_licenses"]
    classifiers = (
        "Classifier: License :: OSI Approved :: BSD License\n"
        "Classifier: License :: OSI Approved :: BSD License\n"
        "Classifier: Programming Language :: Python\n"
    )
    # an SPDX expression wins over everything else
    assert declared(
        _metadata("Name: a\nLicense-Expression: MIT OR Apache-2.0\nLicense: MIT\n")
    ) == ["MIT OR Apache-2.0"]
    # a short License field is the licence; a whole licence text pasted there is not
    assert declared(_metadata(f"Name: b\nLicense: BSD-3-Clause\n{classifiers}")) == ["BSD-3-Clause"]
    long_text = "Copyright (c) 2005-2024, NumPy Developers.\n        All rights reserved."
    assert declared(_metadata(f"Name: c\nLicense: {long_text}\n{classifiers}")) == ["BSD License"]
    assert declared(_metadata("Name: d\nLicense: UNKNOWN\n")) == []
    assert declared(
        _metadata("Name: e\nClassifier: License :: OSI Approved\nClassifier: License :: Freeware\n")
    ) == ["Freeware"]


def test_the_image_facts_script_reads_debians_machine_readable_copyright_files() -> None:
    read = _image_facts_functions()["copyright_licenses"]
    dep5 = (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: zlib\n\n"
        "Files: *\nCopyright: 1995-2022 Jean-loup Gailly and Mark Adler\nLicense: Zlib\n\n"
        "Files: debian/*\nCopyright: 2004 Mark Brown\nLicense: GPL-2+\n\n"
        "License: Zlib\n This software is provided 'as-is', ...\n"
    )
    assert read(dep5) == ["Zlib", "GPL-2+"]
    old_format = "Format: http://dep.debian.net/deps/dep5\n\nFiles: *\nLicense: MIT\n"
    assert read(old_format) == ["MIT"]
    # free-form copyright files name no licence field to trust
    assert read("This is the Debian package of foo.\nLicense: see below\n") == []


def test_the_sbom_names_each_packages_licences() -> None:
    licenses = {
        "python": {"numpy": ["BSD-3-Clause"], "pillow": ["HPND"], "pip": ["MIT OR Apache-2.0"]},
        "system": {"libc6": ["LGPL-2.1+", "GPL-2+", "mit"], "tzdata": ["public-domain"]},
    }
    text = sbom.render(manifest(system=SYSTEM, licenses=licenses))
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    found = {c["bom-ref"]: c.get("licenses") for c in json.loads(text)["components"]}
    assert found["pypi:numpy"] == [{"license": {"id": "BSD-3-Clause"}}]
    assert found["pypi:pip"] == [{"expression": "MIT OR Apache-2.0"}]
    assert found["pypi:torch"] is None  # declared nothing: no guess
    assert sorted(found["deb:libc6:amd64"], key=json.dumps) == sorted(
        [
            {"license": {"id": "LGPL-2.1+"}},  # an SPDX id (a deprecated one)
            {"license": {"name": "GPL-2+"}},  # Debian's short name, not SPDX's
            {"license": {"id": "MIT"}},  # "mit", as SPDX spells it
        ],
        key=json.dumps,
    )
    assert found["deb:tzdata:all"] == [{"license": {"name": "public-domain"}}]
    counts = sbom.summary(manifest()["lock"], SYSTEM, licenses)
    assert counts["with_licenses"] == 3 + 3  # numpy, Pillow, pip; libc6 twice, tzdata


def _no_files(*args: object, **kwargs: object) -> None:
    raise OSError("not in an image")


def test_the_sbom_is_the_same_for_the_same_manifest() -> None:
    assert sbom.render(manifest()) == sbom.render(manifest())
    other = manifest(image={"id": "sha256:" + "ef" * 32})
    assert (
        json.loads(sbom.render(other))["serialNumber"]
        != json.loads(sbom.render(manifest()))["serialNumber"]
    )


def test_a_base_image_with_a_registry_digest_is_named_by_it() -> None:
    base = {"name": "nvidia/cuda:12.6.3-runtime-ubuntu22.04", "digest": f"nvidia/cuda@{DIGEST}"}
    doc = json.loads(sbom.render(manifest(base_image=base)))
    (component,) = [c for c in doc["components"] if c["bom-ref"] == "base-image"]
    assert component["purl"] == (f"pkg:docker/nvidia/cuda@{DIGEST}?tag=12.6.3-runtime-ubuntu22.04")


# --------------------------------------------------------------------------- pushing


def registry_engine(image_id: str, tags: list[str], *, fail: str = "") -> RegistryEngine:
    """The image on the engine under ``tags`` (none: only in the artifact's tarball)."""
    return RegistryEngine(image_id, tags, tarball_tags=manifest()["tags"], fail=fail, digest=DIGEST)


def write_artifact(tmp_path: Path) -> Path:
    dest = tmp_path / "acme-paper-0123456"
    doc = manifest()

    artifact.write(
        dest,
        engine=FakeEngine(images=()),  # the image is not on the engine: it is saved
        refs=doc["tags"],
        dockerfile="FROM python:3.11-slim\n",
        manifest_for=lambda files: {**doc, "artifacts": dict(files)},
        extra_files={sbom.FILENAME: sbom.render(doc), export.PAPER: export.paper_text(doc)},
    )
    return dest


def test_pushing_an_artifact_records_the_digest_and_reseals_it(tmp_path: Path) -> None:
    dest = write_artifact(tmp_path)
    tarball_inode = (dest / "image.tar.gz").stat().st_ino
    engine = registry_engine(IMAGE_ID, [])  # not on the engine: loaded from the tarball
    destination = publish.parse_destination("127.0.0.1:5000/lab/paper")
    done = publish.push(str(dest), destination, engine, auth={"username": "u", "password": "p"})

    assert engine.pushed == [
        ("127.0.0.1:5000/lab/paper:0123456", {"username": "u", "password": "p"})
    ]
    assert engine.loaded == 1
    assert "127.0.0.1:5000/lab/paper:0123456" not in engine.refs  # loaded only for the push
    assert done.pinned == f"127.0.0.1:5000/lab/paper@{DIGEST}"
    doc = json.loads((dest / "repro.json").read_text())
    (entry,) = doc["published"]
    assert entry["digest"] == DIGEST and entry["tag"] == "0123456"
    assert f"docker run --rm -it {done.pinned}" in (dest / "PAPER.md").read_text()
    assert check_files(dest)[0].ok  # every file still matches SHA256SUMS
    assert doc["artifacts"]["PAPER.md"]["sha256"] == artifact.sha256_file(dest / "PAPER.md")
    assert (dest / "image.tar.gz").stat().st_ino == tarball_inode  # linked, not copied
    assert not list(tmp_path.glob(".*"))  # no staging left behind

    # pushing the same tag again replaces the entry; another tag adds one
    publish.push(str(dest), destination, engine)
    publish.push(str(dest), publish.parse_destination("127.0.0.1:5000/lab/paper:v1"), engine)
    doc = json.loads((dest / "repro.json").read_text())
    assert [p["tag"] for p in doc["published"]] == ["0123456", "v1"]
    ok = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=dest, capture_output=True)
    assert ok.returncode == 0


def test_a_failed_push_changes_nothing(tmp_path: Path) -> None:
    dest = write_artifact(tmp_path)
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    engine = registry_engine(IMAGE_ID, manifest()["tags"], fail="no basic auth credentials")
    with pytest.raises(EngineError) as exc:
        publish.push(str(dest), publish.parse_destination("ghcr.io/lab/paper"), engine)
    assert exc.value.hint.startswith("log in to ghcr.io first")
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before


def test_a_changed_artifact_is_never_pushed(tmp_path: Path) -> None:
    dest = write_artifact(tmp_path)
    (dest / "Dockerfile").write_text("FROM evil\n")
    engine = registry_engine(IMAGE_ID, manifest()["tags"])
    with pytest.raises(VerifyError, match="Dockerfile does not match SHA256SUMS"):
        publish.push(str(dest), publish.parse_destination("ghcr.io/lab/paper"), engine)
    assert engine.pushed == []
