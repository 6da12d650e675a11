"""The smoke test: find the commands that prove an image works, run them in isolated
containers, and judge what they proved (docs/smoke.md).

``discover.py``   evidence → ``SmokePlan``: the strategies, in the order they are tried
                  (the user's command, the tests, the programs' ``--help``, an import
                  check; the notebooks with ``--notebooks``); reads files only.
``run.py``        engine × image × plan → ``Outcome``: each strategy in a container with
                  no network, as uid 1000, under memory, process and time limits, until
                  one proves something (edge: docker).
``judge.py``      a run's output → per-target results, what was left out and why, and
                  the ``Attempt``/``Outcome`` values (pure).
"""

from repro.dockerfile import HELP_CHECK, IMPORT_CHECK, NOTEBOOK_CHECK
from repro.smoke.discover import (
    DESELECT,
    KIND_ORDER,
    MAX_IMPORT_TARGETS,
    MAX_NOTEBOOKS,
    MAX_TESTS,
    NOTEBOOK_REQUIREMENTS,
    PYTEST,
    discover,
    first_command,
    import_targets,
    notebook_imports,
)
from repro.smoke.judge import (
    Attempt,
    Outcome,
    Reported,
    Status,
    parse_collected,
    parse_pytest,
    parse_targets,
    select_tests,
)
from repro.smoke.run import (
    MEMORY,
    PIDS,
    SMOKE_ENV,
    SMOKE_USER,
    TEST_BUDGET,
    Info,
    Runner,
    Tested,
    attempt_one,
    execute,
    gpu_use,
    outcome_json,
    run,
    run_plan,
    run_with_output,
    test_image,
)

__all__ = [
    "DESELECT",
    "HELP_CHECK",
    "IMPORT_CHECK",
    "KIND_ORDER",
    "MAX_IMPORT_TARGETS",
    "MAX_NOTEBOOKS",
    "MAX_TESTS",
    "MEMORY",
    "NOTEBOOK_CHECK",
    "NOTEBOOK_REQUIREMENTS",
    "PIDS",
    "PYTEST",
    "SMOKE_ENV",
    "SMOKE_USER",
    "TEST_BUDGET",
    "Attempt",
    "Info",
    "Outcome",
    "Reported",
    "Runner",
    "Status",
    "Tested",
    "attempt_one",
    "discover",
    "execute",
    "first_command",
    "gpu_use",
    "import_targets",
    "notebook_imports",
    "outcome_json",
    "parse_collected",
    "parse_pytest",
    "parse_targets",
    "run",
    "run_plan",
    "run_with_output",
    "select_tests",
    "test_image",
]
