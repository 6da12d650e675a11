"""`repro lab` without a daemon: the lab layer's Dockerfile, the server's command line, the
wait for the server, Ctrl-C removing the container (a stand-in engine)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from repro import in_image, lab, signals
from repro.engine import ContainerStatus, ServiceSpec
from repro.errors import ReproError, UsageError
from tests.fakes import FakeEngine

SIDE = lab.ImageSide(
    python="/opt/venv/bin/python", version="3.11", jupyterlab=False, ipykernel=False, uid=1000
)


def test_the_lab_layer_is_a_venv_of_its_own_on_top_of_the_packed_image() -> None:
    text = lab.lab_dockerfile("repro-lab:0123456789ab-base", SIDE, buildkit=True)
    lines = text.splitlines()
    assert "FROM repro-lab:0123456789ab-base" in lines
    assert "/opt/venv/bin/python -m venv /opt/repro/lab" in text
    assert "/opt/repro/lab/bin/python -m pip install jupyterlab" in text
    # nothing is installed into the packed environment itself
    assert "/opt/venv/bin/pip" not in text and "/opt/venv/bin/python -m pip" not in text
    assert "--mount=type=secret,id=repro-ca" in text  # the CA reaches pip as a secret
    assert "--mount=type=cache,target=/root/.cache/pip" in text
    assert "RUN /opt/repro/lab/bin/python /opt/repro/lab_kernel.py /opt/venv/bin/python" in text
    assert lines[-1] == "USER 1000"  # the image's user again
    classic = lab.lab_dockerfile("repro-lab:0123456789ab-base", SIDE, buildkit=False)
    assert "--mount" not in classic and "pip install --no-cache-dir jupyterlab" in classic


@pytest.mark.parametrize("python", ["/opt/venv/bin/python; rm -rf /", "python\nRUN x", ""])
def test_a_strange_python_path_never_reaches_the_dockerfile(python: str) -> None:
    side = lab.ImageSide(python=python, version="3.11", jupyterlab=False, ipykernel=False, uid=0)
    with pytest.raises(UsageError):
        lab.lab_dockerfile("repro-lab:x-base", side, buildkit=True)


def test_the_server_listens_inside_and_the_url_names_localhost_and_the_token() -> None:
    argv = lab.server_argv(["/opt/repro/lab/bin/jupyter", "lab"])
    assert argv[:2] == ["/opt/repro/lab/bin/jupyter", "lab"]
    assert "--ip=0.0.0.0" in argv and "--no-browser" in argv and "--port=8888" in argv
    assert not any("token" in a for a in argv)  # the token travels in JUPYTER_TOKEN only
    assert lab.url(49153, "abc") == "http://127.0.0.1:49153/lab?token=abc"
    assert lab.lab_tag("sha256:" + "f" * 64) == "repro-lab:ffffffffffff"


class LabEngine(FakeEngine):
    """The shared fake engine with services: a 'server' that answers its status checks
    (stops after the first with ``stops``; Ctrl-C after ``interrupt_after``); runs (the
    lab's probe) print ``probe_output``."""

    def __init__(
        self, *, probe_output: str = "", stops: bool = False, interrupt_after: int = 0
    ) -> None:
        super().__init__(script=lambda argv: (0, probe_output))
        self.stops = stops
        self.interrupt_after = interrupt_after
        self.checks = 0
        self.started: list[ServiceSpec] = []

    def start_service(self, spec: ServiceSpec) -> str:
        self.started.append(spec)
        return "c0ffee"

    def container_status(self, container_id: str) -> ContainerStatus:
        self.checks += 1
        if self.interrupt_after and self.checks > self.interrupt_after:
            raise signals.Interrupted(signal.SIGINT)
        running = not (self.stops and self.checks > 1)
        return ContainerStatus(
            running=running, exit_code=None if running else 1, ports={lab.PORT: 49153}
        )

    def container_logs(self, container_id: str, *, tail: int = 40) -> str:
        return "jupyter: cannot start\n"

    def remove_container(self, container_id: str) -> None:
        self.removed.append(container_id)


def _serve(
    engine: LabEngine, monkeypatch: pytest.MonkeyPatch, *, answers: bool = True, **kw: Any
) -> tuple[int, list[str]]:
    shown: list[str] = []
    monkeypatch.setattr(lab, "_answers", lambda port, token: answers and port == 49153)
    monkeypatch.setattr(lab.time, "sleep", lambda s: None)
    how = lab.Serve(image="repro-lab:abc", command=["jupyter", "lab"], **kw)
    status = lab.serve(engine, how, info=lambda m: None, show=shown.append, token="t0k")  # type: ignore[arg-type]
    return status, shown


def test_ctrl_c_stops_the_server_and_removes_its_container(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = LabEngine(interrupt_after=3)
    status, shown = _serve(engine, monkeypatch, host_port=0)
    assert status == 0
    assert shown == ["http://127.0.0.1:49153/lab?token=t0k"]
    assert engine.removed == ["c0ffee"]
    (spec,) = engine.started
    assert spec.ports == ((8888, 0),) and spec.env["JUPYTER_TOKEN"] == "t0k"
    assert spec.workdir == "/app" and spec.network == "bridge"


def test_sigterm_also_removes_the_container_then_ends_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = LabEngine()

    def term(container_id: str) -> ContainerStatus:
        raise signals.Interrupted(signal.SIGTERM)

    monkeypatch.setattr(engine, "container_status", term)
    with pytest.raises(signals.Interrupted):
        _serve(engine, monkeypatch)
    assert engine.removed == ["c0ffee"]


def test_a_server_that_stops_is_an_error_with_its_output(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = LabEngine(stops=True)
    with pytest.raises(ReproError, match="stopped before answering") as info:
        _serve(engine, monkeypatch, answers=False)
    assert "jupyter: cannot start" in info.value.detail
    assert engine.removed == ["c0ffee"]


def test_no_network_means_no_published_port(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = LabEngine()
    with pytest.raises(UsageError, match="--network none"):
        _serve(engine, monkeypatch, network="none")
    assert engine.started == []


def test_probe_reads_the_images_python(monkeypatch: pytest.MonkeyPatch) -> None:
    out = '{"python": "/opt/venv/bin/python", "version": "3.9", "jupyterlab": false, '
    out += '"ipykernel": true, "uid": 1000}\n'
    side = lab.probe(LabEngine(probe_output=out), "img")  # type: ignore[arg-type]
    assert side == lab.ImageSide(
        python="/opt/venv/bin/python", version="3.9", jupyterlab=False, ipykernel=True, uid=1000
    )
    old = out.replace('"3.9"', '"2.7"')
    with pytest.raises(UsageError, match="JupyterLab needs Python 3"):
        lab.probe(LabEngine(probe_output=old), "img")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="no Python 3"):
        lab.probe(LabEngine(probe_output="sh: python: not found\n"), "img")  # type: ignore[arg-type]


def test_the_kernel_writer_is_shipped(tmp_path: Path) -> None:

    text = in_image.read("lab_kernel.py")
    assert "ipykernel_launcher" in text and "sys.path.extend" in text
    compile(text, "lab_kernel.py", "exec")
