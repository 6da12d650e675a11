"""The smoke run's GPU request, as the docker SDK receives it (a fake docker client)."""

from __future__ import annotations

from typing import Any

import docker.types
import pytest

from repro import engine as engine_mod
from repro.engine import DockerEngine, RunLimits


class FakeContainer:
    def __init__(self) -> None:
        self.attrs: dict[str, Any] = {"State": {"OOMKilled": False}}

    def start(self) -> None: ...
    def wait(self, timeout: float) -> dict[str, int]:
        return {"StatusCode": 0}

    def logs(self, stdout: bool, stderr: bool) -> bytes:
        return b"ok\n"

    def reload(self) -> None: ...
    def remove(self, force: bool) -> None: ...


class FakeContainers:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    def create(self, image: str, **kwargs: Any) -> FakeContainer:
        self.created.append({"image": image, **kwargs})
        return FakeContainer()


class FakeClient:
    def __init__(self, info: dict[str, Any] | None = None) -> None:
        self.containers = FakeContainers()
        self._info = info or {}

    def info(self) -> dict[str, Any]:
        return self._info


def engine_with(client: FakeClient) -> DockerEngine:
    engine = DockerEngine.__new__(DockerEngine)  # no daemon: the client is the fake
    engine._sdk = client  # type: ignore[assignment]
    engine._connecting = None
    engine._cli = None
    return engine


@pytest.mark.parametrize("gpus", [True, False])
def test_run_requests_every_gpu_only_when_asked(gpus: bool) -> None:
    client = FakeClient()
    result = engine_with(client).run("img", ["python", "-c", "1"], RunLimits(gpus=gpus))
    assert result.exit_code == 0
    (call,) = client.containers.created
    if gpus:
        (request,) = call["device_requests"]
        assert isinstance(request, docker.types.DeviceRequest)
        assert request["Count"] == -1 and request["Capabilities"] == [["gpu"]]
    else:
        assert call["device_requests"] is None
    assert call["network_mode"] == "none" and call["cap_drop"] == ["ALL"]


@pytest.mark.parametrize(
    ("info", "local", "device", "hook", "expected"),
    [
        ({"Runtimes": {"runc": {}, "nvidia": {}}}, True, True, False, True),
        ({"Runtimes": {"runc": {}, "nvidia": {}}}, True, False, False, False),  # no GPU here
        ({"Runtimes": {"runc": {}, "nvidia": {}}}, False, False, False, True),  # remote engine
        ({"Runtimes": {"runc": {}}}, True, True, True, True),  # --gpus through the hook
        ({"Runtimes": {"runc": {}}}, True, True, False, False),
        (
            {"Runtimes": {"runc": {}}, "DiscoveredDevices": [{"ID": "nvidia.com/gpu=all"}]},
            False,
            False,
            False,
            True,
        ),  # CDI
        (
            {"Runtimes": {"runc": {}}},
            False,
            True,
            True,
            False,
        ),  # a remote host's devices are unknown
    ],
)
def test_gpu_available_needs_a_runtime_and_a_device(
    monkeypatch: pytest.MonkeyPatch,
    info: dict[str, Any],
    local: bool,
    device: bool,
    hook: bool,
    expected: bool,
) -> None:
    monkeypatch.setattr(
        engine_mod.shutil, "which", lambda name: "/usr/bin/" + name if hook else None
    )
    assert engine_mod.engine_has_gpus(info, local=local, device=device) is expected


def test_gpu_available_asks_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(engine_mod.shutil, "which", lambda name: None)
    engine = engine_with(FakeClient({"Runtimes": {"runc": {}}}))
    assert engine.gpu_available() is False
