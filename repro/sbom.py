"""The software bill of materials of a packed image: CycloneDX JSON from the manifest (pure).

The SBOM lists what the final environment is made of: the base image, the repository at
its commit, every Python distribution of the lock (``pip freeze --all`` taken inside the
built image) and every installed system package of the image (dpkg's status file, read
inside it), each with a package URL (purl) and the licences it declares (the manifest's
``licenses``: package metadata, Debian copyright files). It is made with cyclonedx-python-lib,
the CycloneDX project's own library, so the document follows the schema rather than our
reading of it. Every value comes from the manifest, so the same manifest gives the same
bytes (the serial number is derived from the image id and the creation time).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from cyclonedx.exception.factory import InvalidSpdxLicenseException
from cyclonedx.model import ExternalReference, ExternalReferenceType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

try:  # its home since cyclonedx-python-lib 11.x; earlier releases have only the old one
    from cyclonedx.contrib.license.factories import LicenseFactory
except ImportError:  # pragma: no cover - cyclonedx-python-lib < 11.x
    from cyclonedx.factory.license import LicenseFactory  # type: ignore[no-redef,unused-ignore]
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from repro import __version__

FILENAME = "sbom.cdx.json"
FORMAT = "CycloneDX"
SPEC_VERSION = "1.6"
_NAMESPACE = uuid.UUID("0f7d6a52-7d0c-4a55-9d7a-6b1a8f6d5e01")  # repro's, for uuid5 serials
_GITHUB = re.compile(r"^https://github\.com/(?P<owner>[^/]+)/(?P<name>[^/]+?)(?:\.git)?/?$")


def render(manifest: Mapping[str, Any]) -> str:
    """The CycloneDX 1.6 JSON document for a packed image's manifest."""
    return JsonV1Dot6(bom(manifest)).output_as_string(indent=2) + "\n"


def summary(
    lock: Sequence[str],
    system: Mapping[str, Any] | None = None,
    licenses: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest's ``sbom`` field: where the SBOM is, how many packages it lists and how
    many of them name a licence."""
    python = _packages(list(lock), licenses)
    debs = _system_packages(system or {}, licenses)
    return {
        "file": FILENAME,
        "format": FORMAT,
        "spec_version": SPEC_VERSION,
        "packages": len(python),
        "system_packages": len(debs),
        "with_licenses": len([c for c in python + debs if c.licenses]),
    }


def bom(manifest: Mapping[str, Any]) -> Bom:
    source = manifest.get("source") or {}
    base = manifest.get("base_image") or {}
    image = manifest.get("image") or {}
    tags = [str(t) for t in manifest.get("tags") or []]
    image_id = str(image.get("id") or "")
    created = _parse_time(str(manifest.get("created") or ""))

    repository, _, tag = tags[0].rpartition(":") if tags else ("repro/image", "", "latest")
    subject = Component(
        type=ComponentType.CONTAINER,
        name=repository,
        version=tag,
        bom_ref="image",
        description=f"{source.get('url', '')} at {source.get('commit', '')}, packed by repro",
        properties=_properties(
            {
                "repro:image-id": image_id,
                "repro:python": str((manifest.get("python") or {}).get("version") or ""),
                "repro:lock-cutoff": str(manifest.get("lock_cutoff") or ""),
                "repro:variant": str(base.get("variant") or ""),
            }
        ),
    )
    base_component = _image_component(str(base.get("name") or ""), base)
    code = _source_component(source)
    licenses = manifest.get("licenses") or {}
    packages = _packages(manifest.get("lock") or [], licenses) + _system_packages(
        manifest.get("system") or {}, licenses
    )

    tools = ToolRepository(
        components=[Component(type=ComponentType.APPLICATION, name="repro", version=__version__)]
    )
    doc = Bom(
        serial_number=uuid.uuid5(_NAMESPACE, f"{image_id}|{manifest.get('created', '')}"),
        metadata=BomMetaData(tools=tools, component=subject, timestamp=created),
        components=[c for c in (base_component, code) if c is not None] + packages,
    )
    doc.register_dependency(
        subject, [c for c in (base_component, code) if c is not None] + packages
    )
    return doc


def _packages(lock: list[Any], licenses: Mapping[str, Any] | None = None) -> list[Component]:
    """One component per line of ``pip freeze --all``; a purl for every pinned one."""
    declared = (licenses or {}).get("python") or {}
    out: dict[str, Component] = {}
    for raw in lock:
        line = str(raw).strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-e "):
            m = re.search(r"#egg=([A-Za-z0-9_.-]+)", line)
            if m:
                name = canonicalize_name(m.group(1))
                out.setdefault(name, _package(m.group(1), None, line, declared.get(name)))
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        pinned = [s.version for s in req.specifier if s.operator in ("==", "===")]
        version = pinned[0] if pinned else None
        name = canonicalize_name(req.name)
        out.setdefault(
            name, _package(req.name, version, line if req.url else "", declared.get(name))
        )
    return [out[k] for k in sorted(out)]


def _system_packages(
    system: Mapping[str, Any], licenses: Mapping[str, Any] | None = None
) -> list[Component]:
    """One component per installed system package (dpkg), with a ``pkg:deb`` purl whose
    namespace is the distribution (``debian``, ``ubuntu``) and whose ``distro`` qualifier
    names its release (``debian-12``)."""
    declared = (licenses or {}).get("system") or {}
    os_release = system.get("os") or {}
    vendor = str(os_release.get("id") or "debian").lower()
    release = str(os_release.get("version_id") or "")
    distro = f"{vendor}-{release}" if release else ""
    out: dict[str, Component] = {}
    for entry in system.get("packages") or []:
        if not isinstance(entry, Mapping) or not entry.get("name"):
            continue
        name, version = str(entry["name"]), str(entry.get("version") or "")
        arch = str(entry.get("arch") or "")
        qualifiers = {k: v for k, v in (("arch", arch), ("distro", distro)) if v}
        ref = f"deb:{name}:{arch}" if arch else f"deb:{name}"
        out.setdefault(
            ref,
            Component(
                type=ComponentType.LIBRARY,
                name=name,
                version=version or None,
                purl=PackageURL(
                    type="deb",
                    namespace=vendor,
                    name=name,
                    version=version or None,
                    qualifiers=qualifiers or None,
                ),
                bom_ref=ref,
                licenses=_licenses(declared.get(name)),
            ),
        )
    return [out[k] for k in sorted(out)]


def _licenses(names: Any) -> list[Any]:
    """CycloneDX licences for the names a package declares: one SPDX expression as an
    expression; otherwise one licence each, by SPDX id where the name is one (``MIT``,
    ``mit``), else by name (``BSD License``, Debian's ``GPL-2+``)."""
    if not isinstance(names, list) or not names:
        return []
    factory = LicenseFactory()
    if len(names) == 1:
        return [factory.make_from_string(str(names[0]))]

    def one(name: str) -> Any:  # several: a list may not hold expressions
        try:
            return factory.make_with_id(name)
        except InvalidSpdxLicenseException:
            return factory.make_with_name(name)

    return [one(str(n)) for n in names]


def _package(name: str, version: str | None, direct: str, licenses: Any = None) -> Component:
    canonical = canonicalize_name(name)
    purl = PackageURL(type="pypi", name=canonical, version=version) if version else None
    return Component(
        type=ComponentType.LIBRARY,
        name=name,
        version=version,
        purl=purl,
        bom_ref=f"pypi:{canonical}",
        properties=_properties({"repro:lock-line": direct}),
        licenses=_licenses(licenses),
    )


def _image_component(name: str, base: Mapping[str, Any]) -> Component | None:
    """The base image, by registry digest when it has one, else by tag."""
    if not name:
        return None
    ref, _, tag = name.rpartition(":") if ":" in name.split("/")[-1] else (name, "", "latest")
    parts = ref.split("/")
    registry = parts[0] if len(parts) > 1 and ("." in parts[0] or ":" in parts[0]) else ""
    path = parts[1:] if registry else parts
    namespace = "/".join(path[:-1]) or None
    digest = str(base.get("digest") or "")
    digest = digest.partition("@")[2] or digest if digest else ""
    qualifiers = {"tag": tag} if digest else {}
    if registry:
        qualifiers["repository_url"] = registry
    purl = PackageURL(
        type="docker",
        namespace=namespace,
        name=path[-1],
        version=digest or tag,
        qualifiers=qualifiers or None,
    )
    return Component(
        type=ComponentType.CONTAINER,
        name=name,
        version=digest or tag,
        purl=purl,
        bom_ref="base-image",
        properties=_properties({"repro:image-id": str(base.get("id") or "")}),
    )


def _source_component(source: Mapping[str, Any]) -> Component | None:
    """The repository at its commit (a ``pkg:github`` purl for GitHub repositories)."""
    url = str(source.get("url") or "")
    commit = str(source.get("commit") or "")
    if not commit:
        return None
    m = _GITHUB.match(url)
    purl = (
        PackageURL(
            type="github", namespace=m["owner"].lower(), name=m["name"].lower(), version=commit
        )
        if m
        else None
    )
    refs = []
    if url.startswith(("https://", "http://", "ssh://", "git@", "file://")):
        refs.append(ExternalReference(type=ExternalReferenceType.VCS, url=XsUri(url)))
    subdir = str(source.get("subdir") or "")
    return Component(
        type=ComponentType.APPLICATION,
        name=f"{source.get('owner', '')}/{source.get('name', '')}".strip("/"),
        version=commit,
        purl=purl,
        bom_ref="source",
        external_references=refs,
        properties=_properties({"repro:subdir": subdir}),
    )


def _properties(values: Mapping[str, str]) -> list[Property]:
    return [Property(name=k, value=v) for k, v in values.items() if v]


def _parse_time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
