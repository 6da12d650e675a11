"""The failure classifier, on error texts captured from real interpreters (see errors/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.repair import Context, classify, diagnose

ERRORS = Path(__file__).parent / "errors"

# file → (kind, subject, what the user must see in the line)
EXPECTED = {
    "py311-module-not-found.txt": ("missing-module", "yaml", "No module named 'yaml'"),
    "py27-no-module.txt": ("missing-module", "yaml", "No module named yaml"),
    "py311-import-chain.txt": ("missing-module", "ujson", "ujson"),
    "numpy-removed-submodule.txt": (
        "missing-module",
        "numpy.testing.decorators",
        "numpy.testing.decorators",
    ),
    "py311-cannot-import-name.txt": ("missing-name", "json.legacy_mean", "legacy_mean"),
    "py27-cannot-import-name.txt": ("missing-name", "json.legacy_mean", "legacy_mean"),
    "py311-no-attribute.txt": ("missing-name", "json.legacy_dumps", "legacy_dumps"),
    "py27-no-attribute.txt": ("missing-name", "js.legacy_dumps", "legacy_dumps"),
    "numpy-np-float.txt": ("missing-name", "numpy.float", "has no attribute 'float'"),
    "py311-ctypes-libgl.txt": ("shared-library", "libGL.so.1", "libGL.so.1"),
    "py311-ctypes-libgomp.txt": ("shared-library", "libgomp.so.1", "libgomp.so.1"),
    "py27-ctypes-libgomp.txt": ("shared-library", "libgomp.so.1", "libgomp.so.1"),
    "py311-py2-print.txt": ("wrong-python", "SyntaxError", "Missing parentheses"),
    "py27-walrus.txt": ("wrong-python", "SyntaxError", "invalid syntax"),
    "py311-file-not-found.txt": ("data", "", "data/train.csv"),
    "py27-ioerror.txt": ("data", "", "data/train.csv"),
    "torch-load-missing-file.txt": ("data", "", "checkpoints/model.pt"),
    "torch-no-nvidia-driver.txt": ("cuda", "", "Found no NVIDIA driver"),
    "urllib-no-network.txt": ("network", "", "Name or service not known"),
    "rpi-gpio-off-a-pi.txt": ("hardware", "", "can only be run on a Raspberry Pi"),
    # before the error, the fallbacks it tried name modules it lacks: none would help
    "gpiozero-no-pin-factory.txt": ("hardware", "", "Unable to load any default pin factory"),
    "py311-lxml-split-project.txt": (
        "install-advice",
        "lxml_html_clean",
        "now a separate project lxml_html_clean",
    ),
    # the fallback no project provides: the module the code wanted first is the one named
    "py313-pydub-audioop-fallback.txt": ("missing-module", "audioop", "'audioop'"),
    # the same in repro's smoke output, where the last module is named once more
    "py313-pydub-smoke-output.txt": ("missing-module", "audioop", "'audioop'"),
    "pytest-collection-error.txt": ("missing-module", "yaml", "No module named 'yaml'"),
}


def test_every_captured_text_has_an_expectation() -> None:
    assert sorted(p.name for p in ERRORS.glob("*.txt")) == sorted([*EXPECTED, "pytest-run.txt"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_error_texts_are_classified(name: str) -> None:
    kind, subject, shown = EXPECTED[name]
    failure = classify((ERRORS / name).read_text())
    assert failure.kind == kind
    assert failure.subject == subject
    assert shown in failure.line
    assert "\n" not in failure.line


def test_missing_name_keeps_the_module_and_its_path() -> None:
    failure = classify((ERRORS / "py311-cannot-import-name.txt").read_text())
    assert (failure.module, failure.name) == ("json", "legacy_mean")
    assert failure.path == "/usr/lib/python3.11/json/__init__.py"
    # Python 2 does not name the module: it is read from the traceback's source line
    failure27 = classify((ERRORS / "py27-cannot-import-name.txt").read_text())
    assert (failure27.module, failure27.name) == ("json", "legacy_mean")


def test_python2_attribute_error_names_the_alias_and_the_calling_file() -> None:
    failure = classify((ERRORS / "py27-no-attribute.txt").read_text())
    assert failure.module == "js" and failure.caller == "attr.py"


def test_syntax_error_points_at_the_file_and_line() -> None:
    failure = classify((ERRORS / "py311-py2-print.txt").read_text())
    assert failure.path == "/tmp/p2.py" and failure.lineno == 2
    assert failure.source == 'print "hello"'
    # repro's import check reports scripts without a traceback
    check = classify("FAIL script:train.py  -> SyntaxError: invalid syntax (train.py, line 7)")
    assert check.kind == "wrong-python" and (check.path, check.lineno) == ("train.py", 7)


def test_cuda_wins_over_the_warning_that_mentions_a_missing_module() -> None:
    # torch prints "Failed to initialize NumPy: No module named 'numpy'" as a warning
    failure = classify((ERRORS / "torch-no-nvidia-driver.txt").read_text())
    assert failure.kind == "cuda"


def test_cuda_libraries_are_not_system_packages() -> None:
    text = "ImportError: libcudart.so.11.0: cannot open shared object file: No such file"
    failure = classify(text)
    assert failure.kind == "cuda" and failure.subject == "libcudart.so.11.0"


def test_tensorflow_cpu_log_noise_is_not_the_failure() -> None:
    # TensorFlow logs this on every machine without CUDA, also when the failure is else
    text = (
        "2024-01-01 W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not "
        "load dynamic library 'libcudart.so.11.0'; dlerror: libcudart.so.11.0: cannot open "
        "shared object file: No such file or directory\n"
        "I tensorflow/stream_executor/cuda/cudart_stub.cc:29] Ignore above cudart dlerror if "
        "you do not have a GPU set up on your machine.\n"
        "Traceback (most recent call last):\n"
        '  File "train.py", line 3, in <module>\n'
        "ModuleNotFoundError: No module named 'tensorflow_addons'\n"
    )
    failure = classify(text)
    assert failure.kind == "missing-module" and failure.subject == "tensorflow_addons"


def test_circular_import_is_the_codes_own_error() -> None:
    text = (
        "ImportError: cannot import name 'Model' from partially initialized module 'net' "
        "(most likely due to a circular import) (/app/net/__init__.py)"
    )
    assert classify(text).kind == "error"


def test_flags_from_the_engine() -> None:
    assert classify("Killed", oom_killed=True).kind == "memory"
    assert classify("epoch 1 ...", timed_out=True).kind == "timeout"
    assert classify("FAIL module:slow  -> timed out after 60s or killed (signal 9)").kind == (
        "timeout"
    )


def test_a_fork_bomb_is_named_by_the_process_limit_not_its_last_cut_line() -> None:
    # many forks write at once: the last line is often cut short ("sh: 1:")
    text = "sh: 1: Cannot fork\nsh: 1: Cannot fork\nsh: 1:\n"
    failure = classify(text)
    assert failure.kind == "processes" and "Cannot fork" in failure.line
    diagnosis = diagnose(failure, Context(python="3.11"))
    assert "process limit" in diagnosis.message and "Cannot fork" in diagnosis.message
    threads = "RuntimeError: can't start new thread\n"
    assert classify(threads).kind == "processes"


def test_an_ordinary_exception_is_an_error_with_its_line() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/app/train.py", line 9, in <module>\n'
        "    main()\n"
        "ValueError: learning rate must be positive\n"
    )
    failure = classify(text, target="script:train.py")
    assert failure.kind == "error"
    assert failure.line == "ValueError: learning rate must be positive"
    assert failure.summary() == "ValueError: learning rate must be positive (script:train.py)"


def test_no_exception_at_all_keeps_the_last_line() -> None:
    assert classify("assert 2.0 == 3").line == "assert 2.0 == 3"
    assert classify("").line == "no output"


def test_the_registry_names_every_kind_and_what_repro_does_about_it() -> None:
    from repro.repair import KINDS, Failure

    names = [k.name for k in KINDS]
    assert len(names) == len(set(names))
    # a kind repro fixes has a proposal; the fall-back kind is last and detects nothing
    assert all(k.fix is not None for k in KINDS if k.handling == "fix")
    assert names[-1] == "error" and KINDS[-1].detect is None
    assert Failure(kind="shared-library", line="x").fixable
    assert Failure(kind="network", line="x").excusable
    with pytest.raises(ValueError, match="unknown failure kind 'no-such-kind'"):
        Failure(kind="no-such-kind", line="x")
