"""What a run cleans up on the engine after others (repro/sweep.py), on a fake engine."""

from __future__ import annotations

from repro import sweep
from repro.engine import LABEL_MANAGED
from repro.errors import EngineError

URL = "https://github.com/acme/paper"


class Engine:
    """Images as (id, labels, tagged, in use); records what was removed."""

    def __init__(self, images: list[tuple[str, dict[str, str], bool, bool]]) -> None:
        self.images = images
        self.removed: list[str] = []

    def labelled(
        self, kind: str, label: str, *, dangling: bool = False
    ) -> list[tuple[str, dict[str, str]]]:
        key, _, value = label.partition("=")
        return [
            (i, labels)
            for i, labels, tagged, _ in self.images
            if labels.get(key) == value and not (dangling and tagged)
        ]

    def remove_container(self, container_id: str) -> None:
        raise AssertionError("no container to remove here")

    def remove_unused_image(self, image_id: str) -> bool:
        in_use = next(used for i, _, _, used in self.images if i == image_id)
        if not in_use:
            self.removed.append(image_id)
        return not in_use


def labels(url: str = URL, managed: str = "image") -> dict[str, str]:
    return {sweep.SOURCE_LABEL: url, LABEL_MANAGED: managed}


def test_a_repack_removes_the_image_its_tags_left_and_nothing_else() -> None:
    engine = Engine(
        [
            ("sha256:old", labels(), False, False),  # the last pack's image, untagged now
            ("sha256:new", labels(), True, False),  # this pack's (tagged)
            ("sha256:run", labels(), False, True),  # untagged, but a container uses it
            ("sha256:other", labels("https://github.com/acme/other"), False, False),
            ("sha256:user", {sweep.SOURCE_LABEL: URL}, False, False),  # not repro's
        ]
    )
    assert sweep.untagged_images(engine, URL, keep="sha256:new") == ["sha256:old"]
    assert engine.removed == ["sha256:old"]


def test_this_runs_own_image_is_kept_even_untagged() -> None:
    engine = Engine([("sha256:mine", labels(), False, False)])
    assert sweep.untagged_images(engine, URL, keep="sha256:mine") == []


def test_an_engine_without_housekeeping_or_that_fails_is_left_alone() -> None:
    class Failing(Engine):
        def labelled(
            self, kind: str, label: str, *, dangling: bool = False
        ) -> list[tuple[str, dict[str, str]]]:
            raise EngineError("lost the Docker engine while listing images")

    assert sweep.untagged_images(object(), URL, keep="x") == []
    assert sweep.untagged_images(Failing([]), URL, keep="x") == []


class Containers(Engine):
    def __init__(self, containers: list[tuple[str, dict[str, str]]]) -> None:
        super().__init__([])
        self.containers = containers

    def labelled(
        self, kind: str, label: str, *, dangling: bool = False
    ) -> list[tuple[str, dict[str, str]]]:
        assert kind == "containers"
        return [(c, labels) for c, labels in self.containers if label in labels]

    def remove_container(self, container_id: str) -> None:
        self.removed.append(container_id)


def test_containers_of_dead_runs_of_this_host_are_removed() -> None:
    from repro import stale
    from repro.engine import LABEL_RUN

    engine = Containers(
        [
            ("dead", {LABEL_RUN: f"run-{stale.host()}-999999999-0123abcd"}),
            ("mine", {LABEL_RUN: stale.run_id()}),
            ("elsewhere", {LABEL_RUN: "run-otherhost-999999999-0123abcd"}),
            ("odd", {LABEL_RUN: "whatever"}),
        ]
    )
    assert sweep.dead_runs(engine) == ["dead"]
    assert engine.removed == ["dead"]
