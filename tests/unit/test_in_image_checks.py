"""repro's in-image checks (repro/in_image/*_check.py), run here on small programs of our own.

They are plain Python 2/3 scripts; the integration tests run them inside images. Here
they run with this interpreter, on files written by the test, never on a repository.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from repro.smoke import parse_targets

DATA = Path(__file__).resolve().parents[2] / "repro" / "in_image"

ABSL_LIKE = """
import sys
# absl's --help prints the flags and exits 1
if "--help" in sys.argv:
    print("USAGE: main.py [flags]")
    print("flags:\\n  --lr: learning rate")
    sys.exit(1)
"""
ARGPARSE = """
import argparse
if __name__ == "__main__":
    argparse.ArgumentParser(description="train").parse_args()
"""
CRASHES = """
import json
from json import legacy_mean
"""
NOT_HELP = """
import sys
sys.exit(2)
"""


def run_check(script: str, *specs: str, cwd: Path) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, str(DATA / script), *specs],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout


def test_help_check_accepts_absl_exit_1_and_skips_programs_without_a_traceback(
    tmp_path: Path,
) -> None:
    for name, text in {
        "absl_main.py": ABSL_LIKE,
        "train.py": ARGPARSE,
        "broken.py": CRASHES,
        "odd.py": NOT_HELP,
    }.items():
        (tmp_path / name).write_text(text)
    code, out = run_check(
        "help_check.py",
        "absl-script:absl_main.py",
        "script:absl_main.py",
        "script:train.py",
        "script:broken.py",
        "script:odd.py",
        cwd=tmp_path,
    )
    assert code == 1
    got = {r.spec: (r.status, r.reason) for r in parse_targets(out)}
    assert got["absl-script:absl_main.py"] == ("ok", "")
    assert got["script:absl_main.py"][0] == "SKIP"  # not known as absl: not a pass
    assert got["script:train.py"] == ("ok", "")
    assert got["script:broken.py"][0] == "FAIL"
    assert "cannot import name 'legacy_mean'" in got["script:broken.py"][1]
    assert got["script:odd.py"] == (
        "SKIP",
        "exit 2 without a traceback: --help is not its help flag",
    )
    broken = next(r for r in parse_targets(out) if r.spec == "script:broken.py")
    assert any("Traceback (most recent call last)" in line for line in broken.tail)


def test_help_check_calls_console_scripts_as_functions(tmp_path: Path) -> None:
    (tmp_path / "tool").mkdir()
    (tmp_path / "tool" / "__init__.py").write_text("")
    (tmp_path / "tool" / "cli.py").write_text(
        "import argparse, sys\n"
        "def main():\n"
        "    assert sys.argv == ['greet', '--help']\n"
        "    argparse.ArgumentParser(prog='greet').parse_args()\n"
    )
    code, out = run_check("help_check.py", "console:greet=tool.cli:main", cwd=tmp_path)
    assert code == 0, out


def test_import_check_imports_modules_and_only_the_imports_of_scripts(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "bad.py").write_text("import labtools_internal\n")
    (tmp_path / "train.py").write_text("import os\nraise SystemExit('training started!')\n")
    (tmp_path / "py2.py").write_text("print 'hello'\n")
    code, out = run_check(
        "import_check.py",
        "module:pkg",
        "module:pkg.bad",
        "script:train.py",
        "script:py2.py",
        cwd=tmp_path,
    )
    assert code == 1
    got = {r.spec: r for r in parse_targets(out)}
    assert got["module:pkg"].status == "ok"
    assert got["script:train.py"].status == "ok"  # its body never ran
    assert (
        got["module:pkg.bad"].reason == "ModuleNotFoundError: No module named 'labtools_internal'"
    )
    assert got["module:pkg.bad"].tail[-1] == got["module:pkg.bad"].reason
    assert got["script:py2.py"].reason.startswith("SyntaxError: Missing parentheses")
    assert got["script:py2.py"].reason.endswith("(py2.py, line 1)")


def test_a_deep_fallback_keeps_the_module_tried_first_for_the_repair(tmp_path: Path) -> None:
    # pydub's shape: a package several files deep tries a module, then its fallback
    pkg = tmp_path / "audio"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .segment import Segment\n")
    (pkg / "segment.py").write_text("from .effects import info\nSegment = 1\n")
    # files between: the traceback outgrows a short tail
    for here, there in (("effects", "silence"), ("silence", "mediainfo"), ("mediainfo", "utils")):
        (pkg / f"{here}.py").write_text(f"from .{there} import info\n")
    (pkg / "utils.py").write_text(
        "try:\n    import audioop_gone\nexcept ImportError:\n    import pyaudioop_gone as x\n"
        "info = 1\n"
    )
    (tmp_path / "podcast.py").write_text("from audio import Segment\n")
    code, out = run_check("import_check.py", "script:podcast.py", cwd=tmp_path)
    assert code == 1
    (result,) = parse_targets(out)
    assert result.reason == "ModuleNotFoundError: No module named 'pyaudioop_gone'"
    assert "ModuleNotFoundError: No module named 'audioop_gone'" in result.tail
