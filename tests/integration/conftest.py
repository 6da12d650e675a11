from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests import fault_report
from tests.conftest import engine as engine


@pytest.fixture
def cleanup_images(engine: object) -> Iterator[list[str]]:
    """Tags a test creates; removed afterwards so runs do not pile up images."""
    tags: list[str] = []
    yield tags
    for tag in tags:
        engine.remove_image(tag)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- the engine as found


@dataclass(frozen=True)
class EngineState:
    """What a test may create on the engine and must remove again."""

    containers: frozenset[str]  # ids, stopped ones too
    untagged: frozenset[str]  # image ids no tag names (`<none>`)
    networks: frozenset[str]
    volumes: frozenset[str]
    tags: frozenset[str]  # every REPO:TAG (checked over the whole session)

    def new_in(self, after: EngineState, *, tags: bool) -> dict[str, list[str]]:
        kinds = ["containers", "untagged", "networks", "volumes", *(["tags"] if tags else [])]
        found = {k: sorted(getattr(after, k) - getattr(self, k)) for k in kinds}
        return {k: v for k, v in found.items() if v}


def _client() -> Any:
    import docker

    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception:  # no engine: the tests themselves fail (CI) or skip
        return None
    return client


def _state(client: Any) -> EngineState:
    images = client.images.list(all=False)
    return EngineState(
        containers=frozenset(c.id for c in client.containers.list(all=True)),
        untagged=frozenset(i.id for i in client.images.list(filters={"dangling": True})),
        networks=frozenset(n.id for n in client.networks.list()),
        volumes=frozenset(v.name for v in client.volumes.list()),
        tags=frozenset(t for i in images for t in i.tags),
    )


@pytest.fixture(scope="session")
def _session_engine_state() -> Iterator[tuple[Any, EngineState] | None]:
    client = _client()
    if client is None:
        yield None
        return
    before = _state(client)
    yield client, before
    left = before.new_in(_state(client), tags=True)
    if left:
        pytest.fail(f"the integration tests left on the engine: {left}")


@pytest.fixture(autouse=True)
def _engine_left_as_found(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test on the engine leaves no container, untagged image, network or volume it
    made; the session leaves no image tag either (a module's fixtures may keep an image
    for the module's tests)."""
    if request.node.get_closest_marker("docker") is None:
        yield
        return
    found = request.getfixturevalue("_session_engine_state")
    if found is None:
        yield
        return
    client, _ = found
    before = _state(client)
    yield
    left = before.new_in(_state(client), tags=False)
    fault_report.ENGINE_LEFT[request.node.nodeid] = len(left.get("containers", [])) + len(
        left.get("untagged", [])
    )
    if left:
        pytest.fail(f"{request.node.nodeid} left on the engine: {left}")
