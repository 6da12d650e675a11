"""What a run cleans up on the engine after others (repro/sweep.py), on a fake engine."""

from __future__ import annotations

from repro import sweep
from repro.engine import LABEL_MANAGED
from repro.errors import EngineError
from tests.fakes import FakeEngine

URL = "https://github.com/acme/paper"


def labels(url: str = URL, managed: str = "image") -> dict[str, str]:
    return {sweep.SOURCE_LABEL: url, LABEL_MANAGED: managed}


def test_a_repack_removes_the_image_its_tags_left_and_nothing_else() -> None:
    engine = FakeEngine(
        listed_images=[
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
    engine = FakeEngine(listed_images=[("sha256:mine", labels(), False, False)])
    assert sweep.untagged_images(engine, URL, keep="sha256:mine") == []


def test_an_engine_without_housekeeping_or_that_fails_is_left_alone() -> None:
    class Failing(FakeEngine):
        def labelled(
            self, kind: str, label: str, *, dangling: bool = False
        ) -> list[tuple[str, dict[str, str]]]:
            raise EngineError("lost the Docker engine while listing images")

    assert sweep.untagged_images(object(), URL, keep="x") == []
    assert sweep.untagged_images(Failing(), URL, keep="x") == []


def test_containers_of_dead_runs_of_this_host_are_removed() -> None:
    from repro import stale
    from repro.engine import LABEL_RUN

    engine = FakeEngine(
        containers=[
            ("dead", {LABEL_RUN: f"run-{stale.host()}-999999999-0123abcd"}),
            ("mine", {LABEL_RUN: stale.run_id()}),
            ("elsewhere", {LABEL_RUN: "run-otherhost-999999999-0123abcd"}),
            ("odd", {LABEL_RUN: "whatever"}),
        ]
    )
    assert sweep.dead_runs(engine) == ["dead"]
    assert engine.removed_containers == ["dead"]
