"""Trying the smoke strategies in order, judging each target, on a scripted engine."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from repro.models import SmokeCommand, SmokePlan
from repro.smoke import (
    DESELECT,
    HELP_CHECK,
    IMPORT_CHECK,
    PYTEST,
    Runner,
    execute,
    parse_collected,
    parse_pytest,
    select_tests,
)
from tests.fakes import FakeEngine, Script

ERRORS = Path(__file__).parent / "errors"


def runner(script: Script, **kw: Any) -> tuple[Runner, FakeEngine]:
    engine = FakeEngine(script=script)
    return Runner(engine=engine, image="sha256:abc", **kw), engine  # type: ignore[arg-type]


PYTEST_CMD = SmokeCommand(
    argv=(*PYTEST, "-m", DESELECT, "tests"), kind="pytest", reason="tests", extra_requirements=()
)


def imports(*targets: str) -> SmokeCommand:
    return SmokeCommand(argv=("python", IMPORT_CHECK, *targets), kind="import", reason="imports")


def check_output(lines: Mapping[str, str]) -> str:
    """The import/help check's output: ok, or FAIL with a tail."""
    out = []
    for spec, error in lines.items():
        if not error:
            out.append(f"ok   {spec}")
        elif error.startswith("SKIP"):
            out.append(f"SKIP {spec}  -> {error[5:]}")
        else:
            out.append(f"FAIL {spec}  -> {error.splitlines()[-1]}")
            out += [f"     | {ln}" for ln in error.splitlines()]
    return "\n".join(out) + "\n"


def test_every_run_is_isolated() -> None:
    r, engine = runner(lambda argv: (0, "ok   module:a\n"), timeout=30)
    execute(r, SmokePlan(candidates=(imports("module:a"),)))
    ((_, _, limits),) = engine.runs
    assert limits.network == "none"
    assert limits.user == "1000:1000"
    assert limits.mem_bytes == 4 * 1024**3 and limits.pids == 1024
    assert limits.timeout == 30 and limits.gpus is False
    assert limits.env is not None and limits.env["HOME"] == "/tmp"
    assert r.limits_json()["mounts"] == []


# --------------------------------------------------------------------------- pytest

RUN_OUTPUT = (ERRORS / "pytest-run.txt").read_text()
COLLECTED = [
    "tests/test_a.py::test_ok",
    "tests/test_a.py::test_data",
    "tests/test_a.py::test_assert",
    "tests/test_a.py::test_param[a b]",
    "tests/test_a.py::test_skip",
]


def test_pytest_output_parsers() -> None:
    collected = parse_collected((ERRORS / "pytest-collection-error.txt").read_text())
    assert (
        collected[0] == "tests/test_a.py::test_ok"
        and "tests/test_a.py::test_param[a b]" in collected
    )
    statuses = parse_pytest(RUN_OUTPUT)
    assert statuses["tests/test_a.py::test_ok"] == ("PASSED", "")
    assert statuses["tests/test_a.py::test_data"][0] == "FAILED"
    assert statuses["tests/test_a.py::test_data"][1].startswith("FileNotFoundError")
    assert statuses["tests/test_a.py::test_skip"] == ("SKIPPED", "")


def test_tests_are_spread_over_files_and_bounded() -> None:
    ids = [f"tests/test_a.py::t{i}" for i in range(30)] + [
        "tests/test_b.py::t0",
        "tests/test_b.py::t1",
    ]
    chosen = select_tests(ids, limit=5)
    assert chosen == [
        "tests/test_a.py::t0",
        "tests/test_a.py::t1",
        "tests/test_a.py::t2",
        "tests/test_b.py::t0",
        "tests/test_b.py::t1",
    ]


def test_tests_needing_data_are_left_out_and_the_rest_rerun_alone() -> None:
    def script(argv: tuple[str, ...]) -> tuple[int | None, str]:
        if "--collect-only" in argv:
            return 0, "\n".join(COLLECTED) + "\n5 tests collected\n"
        if "tests/test_a.py::test_data" in argv:
            # the assertion failure is fixed in this run: only data is missing
            return 1, RUN_OUTPUT.replace(
                "FAILED tests/test_a.py::test_assert - assert 2.0 == 3", ""
            ).replace("tests/test_a.py::test_assert FAILED", "tests/test_a.py::test_assert PASSED")
        return 0, "tests/test_a.py::test_ok PASSED\n3 passed\n"

    r, engine = runner(script)
    outcome = execute(r, SmokePlan(candidates=(PYTEST_CMD,)))
    attempt = outcome.main
    assert attempt is not None and attempt.status == "passed" and outcome.passed
    assert attempt.collected == 5
    assert [t.target for t in attempt.excluded] == [
        "tests/test_a.py::test_data",
        "tests/test_a.py::test_skip",
    ]
    assert "needs data" in attempt.excluded[0].reason
    # the recorded command is the rerun, without the left-out tests
    assert "tests/test_a.py::test_data" not in attempt.command.argv
    assert "tests/test_a.py::test_ok" in attempt.command.argv
    assert len(engine.runs) == 3  # collect, run, rerun


def test_a_failing_test_fails_the_smoke_test_with_its_reason() -> None:
    def script(argv: tuple[str, ...]) -> tuple[int | None, str]:
        if "--collect-only" in argv:
            return 0, "\n".join(COLLECTED) + "\n"
        return 1, RUN_OUTPUT

    r, _ = runner(script)
    outcome = execute(r, SmokePlan(candidates=(PYTEST_CMD, imports("module:a"))))
    assert not outcome.passed and len(outcome.attempts) == 1  # no fall-through
    failure = outcome.failure
    assert failure is not None and failure.kind == "error"
    assert failure.line == "assert 2.0 == 3" and failure.target == "tests/test_a.py::test_assert"


def test_a_collection_error_that_repro_can_fix_stops_there() -> None:
    collect = (ERRORS / "pytest-collection-error.txt").read_text()
    r, _ = runner(lambda argv: (1, collect))
    outcome = execute(r, SmokePlan(candidates=(PYTEST_CMD,)))
    failure = outcome.failure
    assert failure is not None and failure.kind == "missing-module" and failure.subject == "yaml"


def test_when_every_test_needs_data_the_import_check_decides() -> None:
    def script(argv: tuple[str, ...]) -> tuple[int | None, str]:
        if "--collect-only" in argv:
            return 0, "tests/test_a.py::test_data\n"
        if argv[1] == IMPORT_CHECK:
            return 0, "ok   module:a\n"
        return 1, (
            "tests/test_a.py::test_data FAILED\nFAILED tests/test_a.py::test_data - "
            "FileNotFoundError: [Errno 2] No such file or directory: 'data/x.csv'\n"
        )

    r, _ = runner(script)
    plan = SmokePlan(candidates=(PYTEST_CMD, imports("module:a")), considered=(("user", "none"),))
    outcome = execute(r, plan)
    assert [a.status for a in outcome.attempts] == ["inconclusive", "passed"]
    assert outcome.passed
    rows = outcome.discovery_json()
    assert [(row["kind"], row["status"]) for row in rows] == [
        ("user", "not found"),
        ("pytest", "inconclusive"),
        ("import", "passed"),
    ]


def test_no_tests_collected_is_inconclusive() -> None:
    r, _ = runner(
        lambda argv: (5, "no tests ran\n") if "--collect-only" in argv else (0, "ok   module:a\n")
    )
    outcome = execute(r, SmokePlan(candidates=(PYTEST_CMD, imports("module:a"))))
    assert outcome.attempts[0].note == "no tests collected" and outcome.passed


# --------------------------------------------------------------------------- checks


def test_import_check_fixable_failures_come_first() -> None:
    yaml = (ERRORS / "py311-module-not-found.txt").read_text()
    bug = "Traceback (most recent call last):\nValueError: bad config"
    output = check_output({"module:a": bug, "module:b": yaml, "module:c": ""})
    r, _ = runner(lambda argv: (1, output))
    outcome = execute(r, SmokePlan(candidates=(imports("module:a", "module:b", "module:c"),)))
    failure = outcome.failure
    assert failure is not None and failure.kind == "missing-module" and failure.target == "module:b"
    main = outcome.main
    assert main is not None and len(main.failures) == 2
    assert main.note.startswith("2 of 3 module(s) failed")


def test_a_module_that_needs_a_gpu_is_left_out() -> None:
    cuda = (ERRORS / "torch-no-nvidia-driver.txt").read_text()

    def script(argv: tuple[str, ...]) -> tuple[int | None, str]:
        if "module:gpu" in argv:
            return 1, check_output({"module:gpu": cuda, "module:cpu": ""})
        return 0, check_output({"module:cpu": ""})

    r, _ = runner(script)
    outcome = execute(r, SmokePlan(candidates=(imports("module:gpu", "module:cpu"),)))
    main = outcome.main
    assert outcome.passed and main is not None
    assert main.command.argv == ("python", IMPORT_CHECK, "module:cpu")
    assert main.excluded[0].target == "module:gpu" and "needs cuda" in main.excluded[0].reason


def test_scripts_that_drive_a_raspberry_pis_pins_are_left_out_and_the_rest_proves_the_image() -> (
    None
):
    """RPi.GPIO and gpiozero refuse to load off a Pi: no image can change that, so those
    scripts are left out (named, with why) and the repository's other code decides."""
    rpi = (ERRORS / "rpi-gpio-off-a-pi.txt").read_text()
    gpiozero = (ERRORS / "gpiozero-no-pin-factory.txt").read_text()
    every = {"script:doorbell.py": rpi, "script:fan.py": gpiozero, "module:sensors": ""}

    def script(argv: tuple[str, ...]) -> tuple[int | None, str]:
        asked = {t: every[t] for t in argv[2:]}
        return (1 if any(asked.values()) else 0), check_output(asked)

    r, _ = runner(script)
    outcome = execute(r, SmokePlan(candidates=(imports(*every),)))
    main = outcome.main
    assert outcome.passed and main is not None
    assert main.command.argv == ("python", IMPORT_CHECK, "module:sensors")
    assert [(t.target, t.reason) for t in main.excluded] == [
        (
            "script:doorbell.py",
            "needs hardware: RuntimeError: This module can only be run on a Raspberry Pi!",
        ),
        (
            "script:fan.py",
            "needs hardware: gpiozero.exc.BadPinFactory: Unable to load any default pin factory!",
        ),
    ]


def test_help_check_skips_are_left_out_and_absl_passes_in_the_image() -> None:
    help_cmd = SmokeCommand(
        argv=("python", HELP_CHECK, "script:a.py", "absl-script:b.py"),
        kind="entry-point",
        reason="programs",
    )

    def script(argv: tuple[str, ...]) -> tuple[int | None, str]:
        if "script:a.py" in argv:
            return 0, "SKIP script:a.py  -> exit 2 without a traceback\nok   absl-script:b.py\n"
        return 0, "ok   absl-script:b.py\n"

    r, _ = runner(script)
    outcome = execute(r, SmokePlan(candidates=(help_cmd,)))
    main = outcome.main
    assert outcome.passed and main is not None
    assert main.command.argv[2:] == ("absl-script:b.py",)


def test_a_user_command_is_classified_as_a_whole() -> None:
    user = SmokeCommand(argv=("sh", "-c", "python train.py"), kind="user", reason="user")
    libgl = (ERRORS / "py311-ctypes-libgl.txt").read_text()
    r, _ = runner(lambda argv: (1, libgl))
    outcome = execute(r, SmokePlan(candidates=(user, imports("module:a"))))
    failure = outcome.failure
    assert failure is not None and failure.kind == "shared-library"
    assert len(outcome.attempts) == 1


def test_a_timeout_is_reported_as_such() -> None:
    user = SmokeCommand(argv=("sh", "-c", "sleep 99"), kind="user", reason="user")
    r, _ = runner(lambda argv: (None, "epoch 1\n"), timeout=5)
    outcome = execute(r, SmokePlan(candidates=(user,)))
    failure = outcome.failure
    assert failure is not None and failure.kind == "timeout"
    main = outcome.main
    assert main is not None and main.result is not None and main.result.timed_out


def test_notebooks_run_after_a_pass_and_their_failure_counts() -> None:
    nb = SmokeCommand(
        argv=(
            "env",
            "REPRO_CELL_TIMEOUT=5",
            "python",
            "/opt/repro/notebook_check.py",
            "notebook:a.ipynb",
        ),
        kind="notebook",
        reason="notebooks",
    )

    def script(argv: tuple[str, ...]) -> tuple[int | None, str]:
        if "notebook:a.ipynb" in argv:
            return 1, check_output({"notebook:a.ipynb": "ValueError: shapes do not match"})
        return 0, "ok   module:a\n"

    r, _ = runner(script)
    outcome = execute(r, SmokePlan(candidates=(imports("module:a"),), notebooks=nb))
    assert not outcome.passed
    assert outcome.failing is outcome.notebooks
    failure = outcome.failure
    assert failure is not None and failure.target == "notebook:a.ipynb"
