from __future__ import annotations

from pathlib import Path

from repro.entrypoints import find
from repro.models import Evidence, SmokeSettings
from repro.smoke import discover, first_command, import_targets


def ev(*paths: str) -> Evidence:
    return Evidence(python_paths=paths)


def write(root: Path, files: dict[str, str]) -> tuple[str, ...]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return tuple(sorted(p for p in files if p.endswith(".py")))


def test_user_command_wins_and_is_the_only_one() -> None:
    plan = discover(ev("tests/test_a.py"), SmokeSettings(smoke="python train.py --help"), "3.11")
    (cmd,) = plan.candidates
    assert cmd.argv == ("sh", "-c", "python train.py --help") and cmd.kind == "user"
    assert cmd.reason == "given by the user (--smoke)"
    from_repo = discover(
        ev("a.py"),
        SmokeSettings(smoke="make check", smoke_origin="[tool.repro] smoke in pyproject.toml"),
        "3.11",
    )
    assert (
        from_repo.candidates[0].reason == "given by the user ([tool.repro] smoke in pyproject.toml)"
    )


def test_no_smoke() -> None:
    plan = discover(ev("a.py"), SmokeSettings(no_smoke=True), "3.11")
    assert plan.candidates == () and first_command(plan).kind == "none"


def test_order_is_tests_then_programs_then_imports(tmp_path: Path) -> None:
    paths = write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/core.py": "import numpy\n",
            "tests/test_a.py": "def test_a(): pass\n",
            "train.py": "import argparse\nif __name__ == '__main__':\n"
            "    argparse.ArgumentParser().parse_args()\n",
        },
    )
    plan = discover(ev(*paths), SmokeSettings(), "3.11", tmp_path)
    assert [c.kind for c in plan.candidates] == ["pytest", "entry-point", "import"]
    pytest_cmd = plan.candidates[0]
    assert pytest_cmd.argv[-1] == "tests" and pytest_cmd.extra_requirements == ("pytest",)
    assert "-m" in pytest_cmd.argv  # gpu/slow/network-marked tests are never selected
    assert plan.candidates[1].argv == ("python", "/opt/repro/help_check.py", "script:train.py")
    assert plan.candidates[2].argv[2:] == ("module:pkg", "module:pkg.core", "script:train.py")
    assert ("user", "no --smoke and no [tool.repro] smoke") in plan.considered
    assert discover(ev("tests/test_a.py"), SmokeSettings(), "2.7").candidates[
        0
    ].extra_requirements == ("pytest<5",)


def test_import_check_when_there_is_nothing_else() -> None:
    plan = discover(
        ev("train.py", "models/__init__.py", "models/net.py", "setup.py"), SmokeSettings(), "3.11"
    )
    (cmd,) = plan.candidates
    assert cmd.kind == "import"
    assert cmd.argv[:2] == ("python", "/opt/repro/import_check.py")
    assert cmd.argv[2:] == ("script:train.py", "module:models", "module:models.net")
    kinds = [k for k, _ in plan.considered]
    assert kinds == ["user", "pytest", "entry-point"]


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


def test_notebooks_only_when_asked(tmp_path: Path) -> None:
    paths = write(tmp_path, {"a.py": "x = 1\n"})
    (tmp_path / "demo.ipynb").write_text("{}")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "demo-checkpoint.ipynb").write_text("{}")
    assert discover(ev(*paths), SmokeSettings(), "3.11", tmp_path).notebooks is None
    plan = discover(ev(*paths), SmokeSettings(notebooks=True, cell_timeout=30), "3.11", tmp_path)
    assert plan.notebooks is not None
    assert plan.notebooks.argv == (
        "env",
        "REPRO_CELL_TIMEOUT=30",
        "python",
        "/opt/repro/notebook_check.py",
        "notebook:demo.ipynb",
    )
    assert set(plan.notebooks.extra_requirements) == {"nbclient", "nbformat", "ipykernel"}
    py2 = discover(ev(*paths), SmokeSettings(notebooks=True), "2.7", tmp_path)
    assert py2.notebooks is None and py2.considered[0][0] == "notebook"


# --------------------------------------------------------------------------- entry points


def test_console_scripts_modules_and_cli_scripts(tmp_path: Path) -> None:
    paths = write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "g"\n[project.scripts]\n'
            'greet = "greeter.cli:main"\nother = "somedep.cli:main"\n',
            "greeter/__init__.py": "",
            "greeter/__main__.py": "from greeter.cli import main\nmain()\n",
            "greeter/cli.py": "import argparse\n"
            "def main(): argparse.ArgumentParser().parse_args()\n",
            "train.py": "import click\n@click.command()\ndef main(): pass\n"
            "if __name__ == '__main__':\n    main()\n",
            "loop.py": "import sys\nwhile True: pass\n",  # no CLI library: would run, not parse
            "tool.py": "import argparse\nargparse.ArgumentParser().parse_args()\n",  # no guard
            "main.py": "from absl import app\ndef main(argv): pass\nif __name__ == '__main__':\n"
            "    app.run(main)\n",
        },
    )
    found = find(tmp_path, paths)
    assert [e.check_spec for e in found] == [
        "console:greet=greeter.cli:main",
        "module:greeter",
        "absl-script:main.py",  # absl exits 1 after --help
        "script:train.py",
    ]


def test_setup_py_and_setup_cfg_console_scripts(tmp_path: Path) -> None:
    paths = write(
        tmp_path,
        {
            "setup.py": "from setuptools import setup\nsetup(name='x', entry_points={"
            "'console_scripts': ['run-x = x.main:cli']})\n",
            "setup.cfg": "[options.entry_points]\nconsole_scripts =\n    cfg-x = x.main:other\n",
            "x/__init__.py": "",
            "x/main.py": "import tensorflow as tf\nflags = tf.app.flags\n",
        },
    )
    found = find(tmp_path, paths)
    assert [e.check_spec for e in found] == [
        "absl-console:cfg-x=x.main:other",
        "absl-console:run-x=x.main:cli",
    ]


def test_python2_scripts_are_read_as_text(tmp_path: Path) -> None:
    paths = write(
        tmp_path,
        {
            "train.py": "import argparse\nprint 'hello'\nif __name__ == \"__main__\":\n"
            "    argparse.ArgumentParser().parse_args()\n",
        },
    )
    assert [e.spec for e in find(tmp_path, paths)] == ["script:train.py"]


def test_a_notebook_only_repository_gets_an_import_check_of_what_its_notebooks_import() -> None:
    # karpathy/nn-zero-to-hero: lectures as notebooks, no .py file; smoke was "none"
    from repro.scan import scan

    root = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "notebook-only"
    plan = discover(scan(root), SmokeSettings(), "3.11", root)
    cmd = first_command(plan)
    assert cmd.kind == "import"
    assert cmd.argv[:2] == ("python", "/opt/repro/import_check.py")
    modules = [a.removeprefix("module:") for a in cmd.argv[2:]]
    assert modules == sorted(modules) and "pandas" in modules
    assert all("." not in m for m in modules)  # top-level modules, never `from X import Name`
    assert "the notebooks are not run" in cmd.reason


def test_files_importing_what_repro_cannot_install_are_left_out_and_named(tmp_path: Path) -> None:
    # karpathy/neuraltalk: py_caffe_feat_extract.py imports caffe (built with Caffe, not on
    # PyPI); the pack failed on it although the other programs work
    from repro.scan import scan

    write(
        tmp_path,
        {
            "driver.py": "import argparse\nimport numpy\n"
            "if __name__ == '__main__':\n    argparse.ArgumentParser().parse_args()\n",
            "caffe_features.py": "import argparse\nimport caffe\n"
            "if __name__ == '__main__':\n    argparse.ArgumentParser().parse_args()\n",
            "tests/test_caffe.py": "import caffe\n",
            "tests/test_driver.py": "import driver\n",
        },
    )
    missing = {"caffe": "Caffe's Python bindings are built with Caffe"}
    plan = discover(scan(tmp_path), SmokeSettings(), "3.11", tmp_path, missing=missing)
    pytest_cmd, help_cmd, import_cmd = plan.candidates
    assert "--ignore=tests/test_caffe.py" in pytest_cmd.argv
    assert "script:caffe_features.py" not in help_cmd.argv
    assert "script:driver.py" in help_cmd.argv
    assert not any("caffe_features" in a for a in import_cmd.argv)
    assert "left out, importing what repro cannot install: caffe_features.py (caffe)" in (
        help_cmd.reason
    )
    everything = discover(scan(tmp_path), SmokeSettings(), "3.11", tmp_path)
    assert "script:caffe_features.py" in everything.candidates[1].argv


def test_when_every_file_imports_what_repro_cannot_install_none_is_left_out(
    tmp_path: Path,
) -> None:
    # leaving them all out would pass a pack whose image runs none of the code
    from repro.scan import scan

    write(tmp_path, {"analysis.py": "import labtools_internal\nprint('ok')\n"})
    missing = {"labtools_internal": "no known distribution provides it"}
    plan = discover(scan(tmp_path), SmokeSettings(), "3.11", tmp_path, missing=missing)
    assert plan.candidates and "script:analysis.py" in " ".join(plan.candidates[0].argv)
    assert not any("left out" in c.reason for c in plan.candidates)
