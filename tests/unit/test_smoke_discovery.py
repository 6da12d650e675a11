from __future__ import annotations

from repro.models import Evidence, Options
from repro.smoke import discover, import_targets


def ev(*paths: str) -> Evidence:
    return Evidence(python_paths=paths)


def test_user_command_wins() -> None:
    cmd = discover(ev("tests/test_a.py"), Options(smoke="python train.py --help"), "3.11")
    assert cmd.argv == ("sh", "-c", "python train.py --help") and cmd.kind == "user"


def test_no_smoke() -> None:
    assert discover(ev("a.py"), Options(no_smoke=True), "3.11").kind == "none"


def test_tests_run_with_pytest_which_is_added() -> None:
    cmd = discover(
        ev("pkg/__init__.py", "tests/test_a.py", "tests/unit/test_b.py"), Options(), "3.11"
    )
    assert cmd.kind == "pytest"
    assert cmd.argv[-1] == "tests"
    assert cmd.extra_requirements == ("pytest",)
    assert discover(ev("tests/test_a.py"), Options(), "2.7").extra_requirements == ("pytest<5",)


def test_import_check_when_there_are_no_tests() -> None:
    cmd = discover(
        ev("train.py", "models/__init__.py", "models/net.py", "setup.py"), Options(), "3.11"
    )
    assert cmd.kind == "import"
    assert cmd.argv[:2] == ("python", "/opt/repro/import_check.py")
    assert cmd.argv[2:] == ("script:train.py", "module:models", "module:models.net")


def test_import_targets_understand_src_layout_and_skip_docs() -> None:
    targets = import_targets(
        [
            "src/pkg/__init__.py",
            "src/pkg/core.py",
            "docs/conf.py",
            "scripts/run.py",
            "loose/tool.py",
        ]
    )
    assert targets == ["module:pkg", "module:pkg.core", "script:loose/tool.py"]
