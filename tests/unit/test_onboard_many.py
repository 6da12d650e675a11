"""run/shell/pack-many without a daemon: the list file, the job runner, the docker line."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import pytest
from click.testing import CliRunner

from repro import many, onboard
from repro.cli import cli
from repro.errors import SmokeFailure, SourceError, UsageError
from repro.models import Options, Source
from repro.repair import Change, Round
from repro.report import QuietReporter

# --------------------------------------------------------------------------- the list


def test_the_list_file_skips_comments_blanks_and_repeats(tmp_path: Path) -> None:
    listing = tmp_path / "papers.txt"
    listing.write_text(
        "# lab papers, 2024\n"
        "\n"
        "acme/paper-a\n"
        "  https://github.com/acme/paper-b#readme   # the fragment stays\n"
        "acme/paper-c@v1.0  # a tag\n"
        "acme/paper-a\n"
    )
    jobs = many.read_list(listing)
    assert [(j.number, j.source, j.line) for j in jobs] == [
        (1, "acme/paper-a", 3),
        (2, "https://github.com/acme/paper-b#readme", 4),
        (3, "acme/paper-c@v1.0", 5),
    ]


def test_a_bad_list_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        many.read_list(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    with pytest.raises(UsageError, match="lists no sources"):
        many.read_list(empty)
    two = tmp_path / "two.txt"
    two.write_text("acme/a --cpu\n")
    with pytest.raises(UsageError, match=r"two.txt:1: one source per line"):
        many.read_list(two)


# --------------------------------------------------------------------------- the runner


def fake_result(source: str, repaired: bool) -> Any:
    round_ = Round(
        number=1,
        failure="ModuleNotFoundError: No module named 'yaml'",
        changes=(Change(action="add-requirement", target="PyYAML"),),
        record={},
    )
    return SimpleNamespace(
        smoke=SimpleNamespace(command=SimpleNamespace(kind="pytest")),
        repairs=[round_] if repaired else [],
        artifact_dir=Path("out") / source.replace("/", "-"),
        plan=SimpleNamespace(
            tags=[f"repro/{source.replace('/', '-')}:abc1234"],
            checkout=SimpleNamespace(commit="abc1234" + "0" * 33),
        ),
    )


def test_one_failure_stops_nothing_and_jobs_run_side_by_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running, peak, lock = [0], [0], threading.Lock()

    def pack(parsed: Source, options: Options, reporter: Any, **_: Any) -> Any:
        source = parsed.spec
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            reporter.stage("build", source)
            time.sleep(0.2)
            if source == "acme/broken":
                raise SmokeFailure("smoke test failed (exit 1): boom", hint="look inside")
            if source == "acme/buggy":
                raise KeyError("oops")
            return fake_result(source, repaired=source == "acme/fixable")
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(many.pipeline, "pack", pack)
    sources = ["acme/ok", "acme/broken", "acme/fixable", "acme/buggy"]
    jobs = [many.Job(number=i + 1, source=s, line=i + 1) for i, s in enumerate(sources)]
    lines: list[str] = []
    results = many.pack_many(
        jobs,
        Options(),
        workers=2,
        say=lines.append,
        engine_factory=lambda: None,  # type: ignore[arg-type,return-value]
    )
    assert [(r.job.source, r.status) for r in results] == [
        ("acme/ok", "packed"),
        ("acme/broken", "failed"),
        ("acme/fixable", "repaired"),
        ("acme/buggy", "failed"),
    ]
    assert peak[0] == 2  # --jobs 2: two at once, never more
    assert (
        results[1].error == "smoke test failed (exit 1): boom" and results[1].hint == "look inside"
    )
    assert results[1].exit_status == 1
    assert results[3].error == "internal error: KeyError: 'oops'"
    assert results[2].repairs == (
        "ModuleNotFoundError: No module named 'yaml' → add-requirement PyYAML",
    )
    assert "[1/4] acme/ok: build" in lines
    assert any(line.startswith("[4/4 done, 2 failed]") for line in lines)

    table = many.summary_table(results).splitlines()
    assert table[0].split() == ["source", "status", "time", "result"]
    assert table[2].split()[:2] == ["acme/broken", "failed"]
    assert table[2].endswith("smoke test failed (exit 1): boom")
    doc = many.report(results, list_file=Path("papers.txt"), workers=2)
    assert doc["counts"] == {"packed": 1, "repaired": 1, "failed": 2, "cancelled": 0}
    assert doc["results"][0]["artifact"] == str(Path("out") / "acme-ok")
    json.dumps(doc)  # serialisable as it is


def test_a_cancelled_job_stops_at_its_next_report() -> None:
    cancel = threading.Event()
    job = many.Job(number=1, source="acme/a", line=1)
    reporter = many.JobReporter(job, 1, lambda _l: None, cancel)
    reporter.log("#5 [3/9] RUN pip install")
    cancel.set()
    with pytest.raises(many.Cancelled):
        reporter.log("#5 [3/9] RUN pip install ...")


def test_the_report_is_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "out" / "pack-many.json"
    many.write_report(path, {"schema_version": 1})
    assert json.loads(path.read_text()) == {"schema_version": 1}
    assert [p.name for p in path.parent.iterdir()] == ["pack-many.json"]


# --------------------------------------------------------------------------- the container


def target(**changes: Any) -> onboard.Target:
    fields: dict[str, Any] = {"image": "sha256:abc", "gpu": False, "kind": "image"}
    fields.update(changes)
    return onboard.Target(**fields)


def test_the_container_line_isolated_by_default() -> None:
    argv = onboard.container_argv(
        target(),
        ["python", "train.py"],
        network="none",
        root=False,
        mount=None,
        gpus=False,
        tty=False,
    )
    assert argv[1:] == [
        "run",
        "--rm",
        "-i",
        "--network",
        "none",
        "--label",
        "io.github.repro.managed=shell",
        "sha256:abc",
        "python",
        "train.py",
    ]


def test_mount_gpus_and_the_host_user(tmp_path: Path) -> None:
    argv = onboard.container_argv(
        target(gpu=True),
        ["bash"],
        network="bridge",
        root=False,
        mount=tmp_path,
        gpus=True,
        tty=True,
    )
    text = " ".join(argv)
    assert f"--mount type=bind,source={tmp_path},target=/app" in text
    assert f"--user {os.getuid()}:{os.getgid()}" in text
    assert "--gpus all" in text and " -t " in text and "--network bridge" in text
    assert ("--env HOME=/tmp" in text) == (os.getuid() != 1000)
    root = onboard.container_argv(
        target(), ["bash"], network="none", root=True, mount=tmp_path, gpus=False, tty=False
    )
    assert "--user 0" in " ".join(root) and "HOME" not in " ".join(root)


def test_mount_takes_a_local_source_else_the_current_directory(tmp_path: Path) -> None:
    assert onboard.mount_dir(target(local_dir=tmp_path / "repo"), tmp_path) == tmp_path / "repo"
    assert onboard.mount_dir(target(), tmp_path) == tmp_path.resolve()


def test_a_remote_engine_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "ssh://gpu-server")
    assert onboard.remote_engine() == "ssh://gpu-server"
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")
    assert onboard.remote_engine() == ""


def test_an_unknown_target_names_every_kind_it_tried(tmp_path: Path) -> None:
    class NoImages:
        def image_info(self, ref: str) -> None:
            return None

    with pytest.raises(SourceError, match="not an artifact directory, an image on this engine"):
        onboard.resolve(
            "not a source!",
            Options(),
            QuietReporter(),
            engine=NoImages(),  # type: ignore[arg-type]
        )


# --------------------------------------------------------------------------- the engine's client


def test_ssh_hosts_use_the_system_ssh_client(monkeypatch: pytest.MonkeyPatch) -> None:
    from repro import engine

    seen: dict[str, Any] = {}
    monkeypatch.setattr(engine.docker, "from_env", lambda **kw: seen.update(kw) or "client")
    monkeypatch.setenv("DOCKER_HOST", "ssh://lab@gpu-server")
    assert engine._client_from_environment() == "client"
    assert seen["use_ssh_client"] is True
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.5:2376")
    engine._client_from_environment()
    assert seen["use_ssh_client"] is False


# --------------------------------------------------------------------------- the command line


def _params(name: str) -> set[str]:
    command = cli.commands[name]
    assert isinstance(command, click.Command)
    return {p.name for p in command.params if p.name}


def test_run_shell_and_pack_many_take_packs_build_options() -> None:
    pack = _params("pack") - {"source", "push_to", "username", "password_stdin", "quiet"}
    for name in ("run", "shell", "pack-many"):
        assert pack <= _params(name), name


def test_pack_many_refuses_options_that_name_one_image(tmp_path: Path) -> None:
    listing = tmp_path / "l.txt"
    listing.write_text("acme/a\n")
    result = CliRunner().invoke(cli, ["pack-many", str(listing), "--tag", "lab/x:1"])
    assert result.exit_code == 2 and "--tag names one image" in result.stderr
    result = CliRunner().invoke(cli, ["pack-many", str(listing), "--ref", "v1"])
    assert result.exit_code == 2 and "OWNER/NAME@REF" in result.stderr


def test_run_needs_a_command() -> None:
    result = CliRunner().invoke(cli, ["run", "acme/paper"])
    assert result.exit_code == 2 and "Missing argument" in result.output


def test_inspect_ends_with_how_to_get_inside(github: Any) -> None:
    url, _ = github.publish("paper-cpu")
    result = CliRunner().invoke(cli, ["inspect", url])
    assert result.exit_code == 0, result.stderr
    tail = result.stdout.rstrip().splitlines()[-4:]
    assert tail[0] == "Next (each packs first, once)"
    assert tail[1].split()[:3] == ["repro", "shell", url]
    assert tail[2].split()[:5] == ["repro", "run", url, "--", "CMD"]


def test_sources_of_one_repository_take_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    active: dict[str, int] = {}
    overlap: list[str] = []
    lock = threading.Lock()

    def pack(parsed: Source, options: Options, reporter: Any, **_: Any) -> Any:
        source = parsed.spec
        repo = source.split("@")[0].removeprefix("https://github.com/")
        with lock:
            active[repo] = active.get(repo, 0) + 1
            if active[repo] > 1:
                overlap.append(repo)
        time.sleep(0.15)
        with lock:
            active[repo] -= 1
        return fake_result(source, repaired=False)

    monkeypatch.setattr(many.pipeline, "pack", pack)
    sources = ["acme/a@v1", "https://github.com/acme/a", "acme/b", "acme/a@v2"]
    jobs = [many.Job(number=i + 1, source=s, line=i + 1) for i, s in enumerate(sources)]
    results = many.pack_many(
        jobs,
        Options(),
        workers=4,
        say=lambda _l: None,
        engine_factory=lambda: None,  # type: ignore[arg-type,return-value]
    )
    assert [r.status for r in results] == ["packed"] * 4
    assert overlap == []  # one git mirror: never fetched into by two packs at once
