"""Clean up what earlier runs left behind on the Docker engine.

A run killed with SIGKILL leaves its smoke container running: every container repro makes
carries the run's id (``io.github.repro.run``, :func:`repro.stale.run_id`), and the next
pack removes those of runs of this host that are gone (:func:`dead_runs`).

A re-pack of a commit builds a new image (its ``org.opencontainers.image.created`` label
differs) and moves the tags to it; the old image, named by no tag, would stay on the
engine as one more ``<none>`` image per run. After each build, repro removes its own
images of the same source that no tag names any more, never forcing: an image that a
container still uses stays. Packs of one repository take turns (``pipeline.pack``'s run
lock), so no other run of that source is using one. The images of earlier repair rounds
of the same pack go as soon as the next one is built (:func:`superseded`).
"""

from __future__ import annotations

from contextlib import suppress
from typing import Protocol, runtime_checkable

from repro import stale
from repro.engine import LABEL_RUN, Engine
from repro.errors import EngineError
from repro.models import LABEL_MANAGED

SOURCE_LABEL = "org.opencontainers.image.source"


@runtime_checkable
class Housekeeping(Protocol):
    """The engine calls clean-up needs (the docker engine has them; test fakes may not)."""

    def labelled(
        self, kind: str, label: str, *, dangling: bool = False
    ) -> list[tuple[str, dict[str, str]]]: ...
    def remove_container(self, container_id: str) -> None: ...
    def remove_unused_image(self, image_id: str) -> bool: ...


def untagged_images(engine: object, source_url: str, *, keep: str) -> list[str]:
    """Remove repro's images of ``source_url`` that no tag names (all but ``keep``);
    return the ids removed. An engine that cannot list them is left as it is."""
    if not isinstance(engine, Housekeeping):
        return []
    try:
        found = engine.labelled("images", f"{SOURCE_LABEL}={source_url}", dangling=True)
    except EngineError:
        return []
    removed = []
    for image_id, labels in found:
        if image_id == keep or labels.get(LABEL_MANAGED) != "image":
            continue
        with suppress(EngineError):
            if engine.remove_unused_image(image_id):
                removed.append(image_id)
    return removed


def dead_runs(engine: object) -> list[str]:
    """Remove the containers of runs of this host that are gone (a run killed with
    SIGKILL leaves its smoke container running); return their ids."""
    if not isinstance(engine, Housekeeping):
        return []
    try:
        found = engine.labelled("containers", LABEL_RUN)
    except EngineError:
        return []
    removed = []
    for container_id, labels in found:
        if not stale.abandoned(labels.get(LABEL_RUN, ""), "run"):
            continue
        with suppress(EngineError):
            engine.remove_container(container_id)
            removed.append(container_id)
    return removed


def superseded(engine: Engine, images: list[str], *, keep: str) -> None:
    """Images of earlier repair rounds: untagged now, removed so they do not pile up."""
    while images:
        old = images.pop()
        if old == keep:
            continue
        with suppress(EngineError):
            engine.remove_image(old)
