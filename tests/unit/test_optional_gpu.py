"""A GPU framework imported only inside functions is optional when another one is imported at
module level: it no longer adds gigabytes or moves the CUDA base (repro/optional_gpu.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from repro import infer
from repro.errors import UsageError
from repro.models import Environment, InferSettings
from repro.releases import ShippedIndex
from repro.scan import scan
from repro.scan.imports import scan_source
from tests.conftest import write_files

WHEN = dt.datetime(2021, 6, 1, tzinfo=dt.timezone.utc)

LOGGER = """\
import os


class Logger:
    def __init__(self, path):
        self.path = path

    def tensorboard(self):
        import tensorflow as tf
        return tf.summary.create_file_writer(self.path)
"""


def _infer(root: Path, **options: object) -> Environment:
    return infer.infer(
        scan(root), InferSettings(**options), commit_date=WHEN, releases=ShippedIndex()
    )  # type: ignore[arg-type]


def _reqs(environment: Environment) -> dict[str, bool]:
    return {r.name: r.optional for r in environment.requirements}


def test_a_logger_importing_tensorflow_lazily_does_not_make_it_a_framework(tmp_path: Path) -> None:
    write_files(
        tmp_path, {"train.py": "import torch\nfrom logger import Logger\n", "logger.py": LOGGER}
    )
    environment = _infer(tmp_path)
    assert _reqs(environment) == {"tensorflow": True, "torch": False}
    tf = next(r for r in environment.requirements if r.name == "tensorflow")
    note = tf.reasons[-1]
    assert "logger.py:9 in Logger.tensorboard" in note
    assert "--with tensorflow installs it" in note
    assert note in environment.warnings


def test_with_keeps_it(tmp_path: Path) -> None:
    write_files(tmp_path, {"train.py": "import torch\n", "logger.py": LOGGER})
    assert _reqs(_infer(tmp_path, with_frameworks=("tensorflow",))) == {
        "tensorflow": False,
        "torch": False,
    }


def test_with_a_name_nothing_imports_is_a_usage_error(tmp_path: Path) -> None:
    write_files(tmp_path, {"train.py": "import torch\n"})
    with pytest.raises(UsageError, match="--with jax: nothing in the repository imports it"):
        _infer(tmp_path, with_frameworks=("jax",))


def test_a_declared_framework_is_never_demoted(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {"train.py": "import torch\n", "logger.py": LOGGER, "requirements.txt": "tensorflow\n"},
    )
    assert _reqs(_infer(tmp_path))["tensorflow"] is False


def test_the_only_framework_imported_in_main_is_the_framework(tmp_path: Path) -> None:
    # def main(): import torch -- the usual script: nothing else is imported at module level
    write_files(tmp_path, {"run.py": "def main():\n    import torch\n    torch.zeros(1)\n"})
    assert _reqs(_infer(tmp_path)) == {"torch": False}


def test_two_lazy_frameworks_stay_frameworks(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {"a.py": "def f():\n    import torch\n", "b.py": "def g():\n    import jax\n"},
    )
    reqs = _reqs(_infer(tmp_path))
    assert reqs["torch"] is False and reqs["jax"] is False


def test_the_scope_of_an_import_is_the_function_around_it() -> None:
    source = (
        "import torch\n"
        "class Model:\n"
        "    import numpy\n"  # a class body runs at import: module level
        "    def export(self):\n"
        "        import onnx\n"
        "        def inner():\n"
        "            from jax import numpy\n"
        "try:\n"
        "    import cupy\n"
        "except ImportError:\n"
        "    cupy = None\n"
        "x = 1\n"
        "def late():\n"
        "    import tensorflow\n"
    )
    sites = {s.module: s.scope for s in scan_source(source, "m.py", whole=True).sites}
    assert sites["torch"] == "" and sites["numpy"] == "" and sites["cupy"] == ""
    assert sites["onnx"] == "Model.export"
    assert sites["jax"] == "Model.export.inner"
    assert sites["tensorflow"] == "late"


def test_the_fast_path_and_the_python_2_reader_keep_the_scope_too() -> None:
    fast = scan_source("import torch\n\n\ndef tb():\n    import tensorflow as tf\n", "f.py")
    assert {s.module: s.scope for s in fast.sites} == {"torch": "", "tensorflow": "tb"}
    py2 = scan_source('import torch\nprint "x"\ndef tb():\n    import tensorflow\n', "p.py")
    assert {s.module: s.scope for s in py2.sites} == {"torch": "", "tensorflow": "tb"}
