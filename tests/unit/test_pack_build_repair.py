"""repro pack with a fake engine whose builds fail as real ones did (errors/build/): the
failure goes through the repair loop, the fix lands in the system layer, every round is
recorded, and what cannot be repaired reads well."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repro import pipeline
from repro.errors import BuildError
from repro.fetch import parse_source
from repro.models import Options
from tests.fakes import FakeEngine, LinesReporter

BUILD = Path(__file__).parent / "errors" / "build"
OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n'


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPRO_OFFLINE", "1")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "net-tool"
    path.mkdir()
    (path / "requirements.txt").write_text("netifaces==0.11.0\n")
    (path / "main.py").write_text("import netifaces\n")
    return path


def _pack(repo: Path, tmp_path: Path, engine: FakeEngine, **kw: object) -> pipeline.PackResult:
    options = Options(out=tmp_path / "out", python="3.11", no_smoke=True, **kw)  # type: ignore[arg-type]
    return pipeline.pack(
        parse_source(str(repo)),
        options,
        LinesReporter(),
        engine_factory=lambda: engine,  # type: ignore[arg-type,return-value]
        build_history=lambda name: None,
        pause=lambda seconds: None,
    )


def test_a_missing_compiler_is_installed_in_the_system_layer_and_recorded(
    repo: Path, tmp_path: Path
) -> None:
    engine = FakeEngine(build_logs=[(BUILD / "uv-gcc-missing.log").read_text()])
    result = _pack(repo, tmp_path, engine)
    first, second = engine.dockerfiles
    assert "apt-get install" not in first
    # the package goes into the apt layer before the virtual environment and every pip layer
    apt = second.index("--no-install-recommends gcc libc6-dev")
    assert apt < second.index("venv") < second.index("requirements.txt")
    assert "added by the build's repair): gcc, libc6-dev" in second
    manifest = json.loads((result.artifact_dir / "repro.json").read_text())
    (round1,) = manifest["repairs"]
    assert round1["stage"] == "build" and round1["image"] is None
    assert round1["failure"]["kind"] == "missing-compiler"
    assert round1["failure"]["package"] == "netifaces"
    assert round1["failure"]["command"] == "uv pip install -r /opt/repro/requirements.txt"
    assert [(c["action"], c["target"]) for c in round1["changes"]] == [
        ("add-build-package", "gcc"),
        ("add-build-package", "libc6-dev"),
    ]
    assert Path(round1["log"]).read_text() == (BUILD / "uv-gcc-missing.log").read_text()


def test_a_build_script_importing_numpy_is_built_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "lasso"
    path.mkdir()
    (path / "requirements.txt").write_text("glmnet==2.2.1\n")
    (path / "main.py").write_text("import glmnet\n")
    engine = FakeEngine(build_logs=[(BUILD / "uv-build-dependency.log").read_text()])
    result = _pack(path, tmp_path, engine)
    first, second = engine.dockerfiles
    assert "no-build-isolation" not in first
    # numpy goes in first, in the step of the requirements; glmnet then builds beside it
    step = second[second.index("COPY .repro/requirements.txt") :]
    assert step.index(" numpy wheel \\\n    && ") < step.index(
        "--no-build-isolation-package glmnet -r /opt/repro/requirements.txt"
    )
    manifest = json.loads((result.artifact_dir / "repro.json").read_text())
    (round1,) = manifest["repairs"]
    assert round1["failure"]["kind"] == "build-dependency"
    assert [(c["action"], c["target"], c["specifier"]) for c in round1["changes"]] == [
        ("build-with", "glmnet", "numpy")
    ]


def test_without_repairs_the_error_names_package_command_lines_and_log(
    repo: Path, tmp_path: Path
) -> None:
    engine = FakeEngine(build_logs=[(BUILD / "uv-gcc-missing.log").read_text()])
    with pytest.raises(BuildError) as raised:
        _pack(repo, tmp_path, engine, max_repairs=0)
    error = raised.value
    assert error.message.startswith("netifaces==0.11.0: error: command 'x86_64-linux-gnu-gcc'")
    assert "next would be: install the distribution package gcc for the build" in error.message
    detail = error.detail or ""
    assert "while installing the requirements: uv pip install -r" in detail
    assert "error: Failed to build `netifaces==0.11.0`" in detail
    assert "full log: " in detail
    assert "--mount" not in error.message + detail
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_network_error_is_retried_after_a_pause(repo: Path, tmp_path: Path) -> None:
    dns = (BUILD / "uv-index-dns.log").read_text()
    engine = FakeEngine(build_logs=[dns, dns])
    waits: list[float] = []
    options = Options(out=tmp_path / "out", python="3.11", no_smoke=True)
    result = pipeline.pack(
        parse_source(str(repo)),
        options,
        LinesReporter(),
        engine_factory=lambda: engine,  # type: ignore[arg-type,return-value]
        build_history=lambda name: None,
        pause=waits.append,
    )
    assert waits == [10.0, 30.0]
    assert [r.changes[0].action for r in result.repairs] == ["retry", "retry"]
    assert len(engine.dockerfiles) == 3 and engine.dockerfiles[0] == engine.dockerfiles[2]


def test_a_network_error_that_stays_names_the_host_class(repo: Path, tmp_path: Path) -> None:
    dns = (BUILD / "uv-index-dns.log").read_text()
    engine = FakeEngine(build_logs=[dns, dns, dns])
    with pytest.raises(BuildError) as raised:
        _pack(repo, tmp_path, engine)
    assert "the package index (pypi.invalid) did not answer" in raised.value.message
    assert "HTTPS_PROXY" in raised.value.hint
