"""What an engine and a built image hold, read by asking them (edge: docker).

``image_facts`` runs one short container in a built image (``repro/in_image/image_facts.py``):
its lock, which distribution provides each top-level module, its OS release, its Debian
packages and the licences every package declares. ``ensure_base_images`` makes sure every
image a Dockerfile starts from is on the engine, ``local_pythons`` lists the Pythons
whose CPU base image the engine has (for the hints and the repairs that switch Python),
and ``os_codename`` reads the release a base image runs (for a build repair's packages).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from packaging.utils import canonicalize_name

from repro import base_image, cache, contents, given_image, in_image, infer
from repro import dockerfile as df
from repro.engine import DockerEngine, Engine, ImageInfo, RunLimits
from repro.errors import BuildError, EngineError
from repro.models import JSON, GivenImage, ImageFacts, Plan
from repro.repair import explain
from repro.report import Reporter


def image_facts(engine: Engine, image: str, *, key: str = "") -> ImageFacts:
    """The lock, installed modules and OS release of a built image (one short run).

    ``key``: a digest of what the facts depend on, when that is known (the environment
    repro laid code on, ``BuiltImage.facts_key``): the answer is kept in the cache under
    it, and serves again without a run."""
    kept = cache.subdir("facts") / f"{key.removeprefix('sha256:')}.json" if key else None
    doc: JSON = {}
    if kept is not None:
        with contextlib.suppress(OSError, ValueError):
            doc = json.loads(kept.read_text())
    if not doc:
        doc = _ask(engine, image)
        if kept is not None and doc.get("modules") is not None:
            with contextlib.suppress(OSError):
                kept.write_text(json.dumps(doc))
    return _facts(doc)


def _ask(engine: Engine, image: str) -> JSON:
    script = in_image.read("image_facts.py")
    result = engine.run(image, ["python", "-c", script], RunLimits(timeout=120))
    try:
        doc = json.loads(result.output.strip().splitlines()[-1]) if result.exit_code == 0 else {}
    except (ValueError, IndexError):
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    if not doc:  # no Python on PATH as expected: the lock file alone
        plain = engine.run(image, ["cat", "/opt/repro/lock.txt"], RunLimits(timeout=60))
        lines = plain.output.splitlines() if plain.exit_code == 0 else []
        doc = {"lock": [ln.strip() for ln in lines if ln.strip()]}
    return doc


def _facts(doc: JSON) -> ImageFacts:
    return ImageFacts(
        lock=tuple(str(x) for x in doc.get("lock", [])),
        modules={str(k): str(v) for k, v in (doc.get("modules") or {}).items()},
        os_codename=str((doc.get("os") or {}).get("version_codename", "")),
        os_release=tuple(sorted((str(k), str(v)) for k, v in (doc.get("os") or {}).items())),
        system=tuple(
            (str(p[0]), str(p[1]), str(p[2]))
            for p in doc.get("system") or []
            if isinstance(p, list) and len(p) == 3
        ),
        python_licenses=_licenses(doc, "python", canonicalize_name),
        system_licenses=_licenses(doc, "system", str),
    )


def _licenses(doc: JSON, kind: str, key: Callable[[str], str]) -> dict[str, tuple[str, ...]]:
    """``licenses.<kind>`` of the image's answer: package → licence names, as strings, at
    most 20 names of 200 characters each (the answer comes from packages' own metadata)."""
    section = doc.get("licenses")
    found = section.get(kind) if isinstance(section, dict) else None
    if not isinstance(found, dict):
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for name, names in found.items():
        if isinstance(names, list) and names:
            out[key(str(name))] = tuple(str(n)[:200] for n in names[:20])
    return dict(sorted(out.items()))


def ensure_base_images(engine: Engine, plan: Plan, info: Callable[[str], None]) -> ImageInfo | None:
    """Every image the Dockerfile starts from is on the engine, pulled if need be, before
    the build: a missing one is one line naming it and why, not a failed build step.
    Returns what the engine knows of the base image."""
    found: dict[str, ImageInfo] = {}
    for ref in df.external_images(plan.dockerfile):
        image = engine.image_info(ref)
        if image is not None:
            found[ref] = image
            continue
        info(f"base image {ref} is not on this engine: pulling it")
        try:
            engine.pull(ref)
        except EngineError as exc:
            reason = exc.message.removeprefix(f"cannot pull {ref}: ")
            raise BuildError(
                f"base image {ref} is not on this engine and cannot be pulled: {reason}",
                step=f"FROM {ref}",
                hint=explain.missing_base_hint(plan, ref, local_pythons(engine)),
            ) from exc
    return found.get(plan.base.name) or engine.image_info(plan.base.name)


def local_pythons(engine: Engine) -> tuple[str, ...]:
    """The Pythons whose CPU base image this engine has."""
    return tuple(
        v
        for v in infer.known_pythons()
        if engine.image_info(base_image.python_image(v)) is not None
    )


def repair_pythons(engine: Engine) -> tuple[str, ...]:
    """Pythons a repair may switch to: those with a base image here, else all repro knows."""
    return local_pythons(engine) or infer.known_pythons()


def os_codename(engine: Engine, image: str) -> str:
    """The release ``image`` runs (``VERSION_CODENAME`` of its /etc/os-release, else what
    the contents data calls its ID and VERSION_ID); "" when the image does not say."""
    try:
        result = engine.run(image, ["cat", "/etc/os-release"], RunLimits(timeout=60))
    except EngineError:
        return ""
    if result.exit_code != 0:
        return ""
    fields = {
        key: value.strip().strip('"')
        for key, _, value in (line.partition("=") for line in result.output.splitlines())
    }
    codename = fields.get("VERSION_CODENAME", "")
    return codename or contents.codename_of(fields.get("ID", ""), fields.get("VERSION_ID", ""))


def base_image_given(
    name: str, probe_image: Callable[[str], GivenImage] | None, reporter: Reporter
) -> GivenImage | None:
    """What ``--base-image`` holds; None (with a warning) when no engine answers."""
    try:
        if probe_image is not None:
            given = probe_image(name)
        else:
            given = given_image.probe(DockerEngine(use_buildkit=False), name)
    except EngineError as exc:
        reporter.warn(
            f"--base-image {name} could not be probed ({exc.message}): planned for the "
            "Python inferred, not for what the image has"
        )
        return None
    python = f"Python {given.python} ({given.interpreter})" if given.python else "no Python"
    cuda = f", CUDA {given.cuda}" if given.cuda else ""
    reporter.info(f"{python}{cuda}: {'; '.join(given.evidence) or 'nothing read'}")
    return given
