"""The artifact of a pack: manifest, SBOM, PAPER.md, Dockerfile, image (edge: fs, docker).

``write`` assembles ``repro.json`` (``manifest.build_manifest``) from the plan, the built
image, what the image holds (``probe.image_facts``), the smoke test and the repair rounds;
adds the CycloneDX SBOM (``sbom.py``) and ``PAPER.md``, the snippet for a paper's README
(:func:`paper_text`; ``repro push`` rewrites it pinned by digest); and writes the directory
atomically with the image's ``docker save`` and ``SHA256SUMS`` (``artifact.write``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from repro import artifact
from repro.engine import Engine, ImageInfo
from repro.manifest import build_manifest
from repro.models import JSON, BuiltImage, Checkout, ImageFacts, PackResult, Plan, SmokeResult
from repro.repair.values import Round

PAPER = "PAPER.md"


def artifact_path(out: Path, checkout: Checkout) -> Path:
    """Where ``pack`` writes the artifact of a checkout: ``OUT/<owner>-<name>-<short sha>``."""
    return out / f"{checkout.source.slug}-{checkout.short_sha}"


def write(
    dest: Path,
    engine: Engine,
    plan: Plan,
    image: BuiltImage,
    *,
    base_info: ImageInfo | None,
    facts: ImageFacts,
    smoke: SmokeResult | None,
    smoke_extra: JSON,
    repairs: Sequence[Round],
    oci: bool = False,
) -> PackResult:
    """Write the artifact of ``image`` into ``dest`` (atomically) and return the result."""
    info = engine.image_info(plan.tags[0])
    image_json = (
        {"tags": list(plan.tags), "size": info.size, "labels": dict(info.labels)} if info else {}
    )
    base_json = (
        {
            "id": base_info.id,
            "digest": base_info.repo_digests[0] if base_info.repo_digests else None,
        }
        if base_info
        else None
    )
    created = dt.datetime.now(dt.timezone.utc)

    # Imported here, not at the top: the SBOM library alone takes ~0.1 s to import, which
    # `repro inspect` and the time until the image is built need not pay.
    from repro import sbom

    system, licenses = _system_json(facts), _licenses_json(facts)
    sbom_summary = sbom.summary(facts.lock, system, licenses)

    def manifest_for(artifacts: object) -> JSON:
        return build_manifest(
            plan,
            image=image,
            image_info=image_json,
            base_info=base_json,
            smoke=smoke,
            lock=facts.lock,
            system=system,
            licenses=licenses,
            artifacts=artifacts,  # type: ignore[arg-type]
            smoke_extra=smoke_extra,
            repairs=[r.record for r in repairs],
            created=created,
            sbom=sbom_summary,
        )

    artifact.write(
        dest,
        engine=engine,
        refs=list(plan.tags),
        dockerfile=plan.dockerfile,
        manifest_for=manifest_for,
        extra_files=artifact_files(manifest_for(None)),  # SBOM, PAPER.md
        oci=oci,
    )
    manifest = json.loads((dest / artifact.MANIFEST).read_text())
    return PackResult(
        plan=plan,
        image=image,
        smoke=smoke,
        artifact_dir=dest,
        manifest=manifest,
        repairs=tuple(repairs),
    )


def _licenses_json(facts: ImageFacts) -> JSON:
    """The manifest's ``licenses``: what each installed package declares."""
    return {
        "python": {k: list(v) for k, v in facts.python_licenses.items()},
        "system": {k: list(v) for k, v in facts.system_licenses.items()},
    }


def _system_json(facts: ImageFacts) -> JSON:
    """The manifest's ``system``: the image's OS release and its installed system packages."""
    return {
        "os": dict(facts.os_release),
        "packages": [{"name": n, "version": v, "arch": a} for n, v, a in facts.system],
    }


# --------------------------------------------------------------------------- PAPER.md


def paper_text(manifest: Mapping[str, Any], *, artifact_dir: bool = True) -> str:
    """A section for a paper's README: how to run the code, where it comes from, how to check.

    Pinned by registry digest once pushed (the newest ``published`` entry); before that,
    the tarball's ``docker load`` and the image's tag.
    """
    from repro import sbom  # (slow to import: not before an artifact is written)

    source = manifest.get("source") or {}
    base = manifest.get("base_image") or {}
    cuda = manifest.get("cuda") or {}
    image = manifest.get("image") or {}
    smoke = manifest.get("smoke") or {}
    tags = [str(t) for t in manifest.get("tags") or []]
    published = [p for p in manifest.get("published") or [] if p.get("pinned")]
    gpu = " --gpus all" if base.get("gpu") else ""
    url = str(source.get("url") or "")
    commit = str(source.get("commit") or "")
    subdir = f" (folder `{source['subdir']}`)" if source.get("subdir") else ""
    when = str(source.get("commit_date") or "")[:10]

    lines = ["## Run the code of this paper", ""]
    lines.append(
        f"The code runs in a Docker image built from {url or 'this repository'}{subdir}"
        + (f" at commit `{commit}`" if commit else "")
        + (f" ({when})" if when else "")
        + ", with every dependency at the version it was tested with."
    )
    lines.append("")
    lines.append("```sh")
    if published:
        lines.append(f"docker run --rm -it{gpu} {published[-1]['pinned']}")
    else:
        if artifact_dir:
            lines.append("docker load -i image.tar.gz")
        lines.append(f"docker run --rm -it{gpu} {tags[0] if tags else '<image>'}")
    lines.append("```")
    lines.append("")
    python = (manifest.get("python") or {}).get("version")
    facts = ["The repository is at `/app`"]
    if python:
        facts.append(f"Python {python} with its packages is on the `PATH`")
    lines.append("; ".join(facts) + "; the container runs as an unprivileged user (uid 1000).")
    if gpu:
        driver = f" (NVIDIA driver ≥ {cuda['min_driver']})" if cuda.get("min_driver") else ""
        lines.append(
            f"It needs an NVIDIA GPU{driver} and the NVIDIA Container Toolkit for `--gpus all`;"
            f" CUDA {cuda.get('cuda', '')} is inside the image."
        )
    if image.get("id"):
        lines.append(f"Image id: `{image['id']}`.")
    if smoke.get("command"):
        verdict = "passed" if smoke.get("passed") else "was recorded"
        lines.append(
            f"Its smoke test ({smoke.get('kind', '')}: `{_command(smoke['command'])}`) {verdict}"
            " when it was built."
        )
    lines += ["", "### Check it", ""]
    if artifact_dir:
        lines.append(
            "The artifact directory (`image.tar.gz`, `repro.json`, `Dockerfile`,"
            f" `{sbom.FILENAME}`, `SHA256SUMS`) proves what the image is:"
        )
        lines += [
            "",
            "```sh",
            "sha256sum -c SHA256SUMS   # every file as published",
            "repro verify .            # load the image, rerun the smoke test, compare",
            "```",
            "",
            "`repro.json` records every decision (versions and why, the lock, the smoke"
            f" test); `{sbom.FILENAME}` lists every package (CycloneDX).",
        ]
    else:
        lines.append(
            "`repro verify ARTIFACT_DIR` checks the artifact directory `repro pack` wrote"
            " for this image (checksums, image id, smoke test)."
        )
    if not published and artifact_dir:
        lines += [
            "",
            "<!-- not pushed yet: `repro push . REGISTRY/NAME` pins the `docker run` line to"
            " a registry digest -->",
        ]
    return "\n".join(lines) + "\n"


def _command(argv: Sequence[Any]) -> str:
    text = " ".join(str(a) for a in argv)
    return text if len(text) <= 120 else text[:117] + "..."


def artifact_files(manifest: Mapping[str, Any]) -> dict[str, str]:
    """The publishing files ``repro pack`` adds to an artifact: the SBOM and PAPER.md."""
    from repro import sbom

    return {sbom.FILENAME: sbom.render(manifest), PAPER: paper_text(manifest)}
