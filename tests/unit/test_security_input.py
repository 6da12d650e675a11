"""Bad input never gives a traceback (docs/security.md, guarantee 5).

Each hostile or broken repository gets one clear line: a warning when the rest of the
repository can still be packed, an error with exit status 2 when nothing is left.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from repro.cli import cli
from tests.conftest import FakeGitHub, git, make_repo, write_files


def inspect(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["inspect", *args])
    out = result.stdout + result.stderr
    assert "Traceback" not in out and "internal error" not in out, out
    assert result.exception is None or isinstance(result.exception, SystemExit), out
    return result.exit_code, out


BROKEN: dict[str, dict[str, str | bytes]] = {
    "malformed requirements": {
        "requirements.txt": (
            "numpy>=1,<<2\nscipy===\n-r missing.txt\n-r requirements.txt\n--frobnicate\n"
            "foo @ \n-e\n[extras]\n-c ../../etc/passwd\n-r /etc/passwd\nrequests\n"
        ),
        "main.py": "import requests\n",
    },
    "setup.py that is not Python": {
        "setup.py": "<?php system($_GET['c']); ?>\nsetup(install_requires=[\n",
        "pkg/__init__.py": "import numpy\n",
    },
    "invalid TOML": {
        "pyproject.toml": "[project\ndependencies = ['numpy'\n",
        "main.py": "import numpy\n",
    },
    "wrong types in pyproject": {
        "pyproject.toml": (
            "[project]\ndependencies = {numpy = 1}\nrequires-python = 3\n"
            "optional-dependencies = ['x']\n[tool.poetry]\ndependencies = ['numpy']\n"
            "[tool.poetry.group]\ndev = 5\n"
        ),
        "main.py": "import numpy\n",
    },
    "invalid YAML": {"environment.yml": "dependencies: [numpy\n  - : :\n", "a.py": "import os\n"},
    "YAML that is not a mapping": {
        "environment.yml": "- just\n- a list\n",
        "conda-env.yaml": "!!python/object/apply:os.system ['echo pwned']\n",
        "a.py": "import os\n",
    },
    "invalid notebooks": {
        "broken.ipynb": '{"cells": [',
        "list.ipynb": "[1, 2, 3]",
        "cells-not-list.ipynb": '{"cells": {"a": 1}}',
        "source-not-text.ipynb": '{"cells": [{"cell_type": "code", "source": 42}]}',
        "deep.ipynb": "[" * 100_000 + "]" * 100_000,
        "binary.ipynb": b"\x00\x01\x02\xff",
        "ok.py": "import numpy\n",
    },
    "binary and non-UTF-8 .py files": {
        "binary.py": b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)),
        "latin1.py": "# caf\xe9\nimport numpy\n".encode("latin-1"),
        "utf16.py": "import scipy\n".encode("utf-16"),
        "bom.py": b"\xef\xbb\xbfimport requests\n",
        "nul-in-middle.py": b"import os\n" + b"\x00" * 10,
    },
    "odd file names": {
        "a\nb.py": "import numpy\n",
        "tab\tname.py": "import os\n",
        "-rf.py": "import os\n",
        "$(touch pwned).py": "import os\n",
        "requirements.txt": "numpy\n",
    },
    "tool.repro with wrong types": {
        "pyproject.toml": "[tool.repro]\nsmoke = 5\npins = 'x'\ncpu = 'yes'\n",
        "main.py": "import numpy\n",
    },
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_files_are_skipped_with_a_warning(case: str, tmp_path: Path) -> None:
    root = write_files(tmp_path / "repo", BROKEN[case])
    code, out = inspect(str(root))
    assert code == 0, out
    assert "Python " in out  # a plan was made from what could be read


def test_each_broken_file_is_named_in_a_warning(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {}
    for case in ("malformed requirements", "invalid TOML", "invalid YAML", "invalid notebooks"):
        files.update(BROKEN[case])
    files["setup.py"] = BROKEN["setup.py that is not Python"]["setup.py"]
    files["binary.py"] = BROKEN["binary and non-UTF-8 .py files"]["binary.py"]
    code, out = inspect(str(write_files(tmp_path / "repo", files)))
    assert code == 0, out
    for expected in (
        "requirements.txt:1: cannot parse 'numpy>=1,<<2'",
        "requirements.txt:3: included file 'missing.txt' not found",
        "requirements.txt:9: included file '../../etc/passwd' not found",
        "pyproject.toml: invalid TOML",
        "environment.yml: invalid YAML",
        "broken.ipynb: not valid notebook JSON",
        "deep.ipynb: not valid notebook JSON (RecursionError)",
        "setup.py: not valid Python 3",
        "binary.py: binary content in a .py file, skipped",
    ):
        assert expected in out, expected


def test_bad_repo_settings_are_a_clear_usage_error(tmp_path: Path) -> None:
    for n, (table, message) in enumerate((
        ("as-of = 'yesterday'", "as-of must be a date"),
        ("python = 'banana'", "not a Python repro can build"),
        ("nonsense = 1", "unknown [tool.repro] keys: nonsense"),
        ("base-image = 'python:3.11\\nRUN --mount=type=secret,id=x cat /run/secrets/x'",
         "is not an image reference"),
    )):  # fmt: skip
        root = write_files(
            tmp_path / f"case{n}",
            {"pyproject.toml": f"[tool.repro]\n{table}\n", "a.py": "import os\n"},
        )
        code, out = inspect(str(root), "--dockerfile")
        assert code == 2, out
        assert message in out and "repro: error:" in out
        assert "FROM " not in out  # no Dockerfile was printed


def test_index_urls_from_the_repository_cannot_inject_shell(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "repo",
        {
            "requirements.txt": (
                '--extra-index-url "https://x.example/simple;cat${IFS}/run/secrets/repro-pipconf"'
                "\nnumpy\n"
            ),
            "a.py": "import numpy\n",
        },
    )
    code, out = inspect(str(root), "--dockerfile")
    assert code == 0, out
    assert "'https://x.example/simple;cat${IFS}/run/secrets/repro-pipconf'" in out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("plain-empty", "nothing to pack"),
        ("git-no-commits", "is a git repository with no commits"),
        ("remote-no-commits", "is an empty repository (no commits)"),
        ("only-data", "nothing to pack"),
    ],
)
def test_empty_repositories(make: str, message: str, tmp_path: Path, github: FakeGitHub) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    spec = str(root)
    if make == "git-no-commits":
        git("init", "-q", cwd=root)
    elif make == "remote-no-commits":
        bare = github.root / "acme" / "empty"
        bare.mkdir(parents=True)
        git("init", "-q", "--bare", cwd=bare)
        spec = "https://github.com/acme/empty"
    elif make == "only-data":
        write_files(root, {"data.csv": "a,b\n1,2\n", "README.md": "# data\n"})
    code, out = inspect(spec)
    assert code == 2, out
    assert message in out and "repro: error:" in out


@pytest.mark.slow
def test_a_2gb_file_costs_neither_memory_nor_disk(tmp_path: Path) -> None:
    """Sparse files: nothing writes 2 GB here; repro must not read one into memory."""
    root = tmp_path / "repo"
    write_files(root, {"main.py": "import numpy\n", "requirements.txt": "numpy\n"})
    for name in ("weights.py", "data.bin"):
        with open(root / name, "wb") as fh:
            fh.truncate(2 * 1024**3)
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    # The peak is read by the process itself (VmHWM starts afresh at exec): the rusage a
    # parent sees also counts the pages of the forked test process before exec.
    probe = (
        "import atexit, sys, runpy\n"
        "def peak():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            sys.stderr.write('PEAK_KIB ' + line.split()[1] + '\\n')\n"
        "atexit.register(peak)\n"
        "sys.argv = ['repro', 'inspect', sys.argv[1]]\n"
        "runpy.run_module('repro', run_name='__main__')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(root)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "weights.py: 2048 MiB .py file not scanned" in out
    peak_kib = int(next(ln.split()[1] for ln in out.splitlines() if ln.startswith("PEAK_KIB")))
    assert peak_kib < 400 * 1024, f"peak memory {peak_kib // 1024} MiB"
    assert list(tmp_path.glob("repro-*")) == []  # the workspace is gone


def _fast_import_repo(bare: Path, files: int, per_dir: int = 1000) -> None:
    """A commit of ``files`` small files, written straight into a bare repository."""
    git("init", "-q", "--bare", cwd=bare)
    lines = [
        "blob\nmark :1\ndata 2\nx\n",
        "commit refs/heads/main\nmark :2\ncommitter A <a@example.org> 1709294400 +0000\n"
        "data 4\nbig\n",
        "M 100644 inline main.py\ndata 13\nimport numpy\n",
        "M 100644 inline requirements.txt\ndata 6\nnumpy\n",
    ]
    lines += [
        f"M 100644 :1 data/d{i // per_dir:04d}/f{i % per_dir:04d}.txt\n" for i in range(files)
    ]
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=bare,
        input="".join(lines).encode(),
        check=True,
        capture_output=True,
    )
    git("symbolic-ref", "HEAD", "refs/heads/main", cwd=bare)


@pytest.mark.slow
def test_a_repository_of_100000_files(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path
    if Path("/dev/shm").is_dir():  # the checkout on tmpfs: the same work, less disk wait
        work = Path(tempfile.mkdtemp(prefix="repro-test-", dir="/dev/shm"))
    monkeypatch.setattr(tempfile, "tempdir", str(work))
    try:
        _inspect_many_files(github)
        assert list(work.glob("repro-*")) == []  # 100,000 files extracted, and removed
    finally:
        if work != tmp_path:
            shutil.rmtree(work, ignore_errors=True)


def _inspect_many_files(github: FakeGitHub) -> None:
    bare = github.root / "acme" / "many-files"
    bare.mkdir(parents=True)
    _fast_import_repo(bare, 100_000)
    code, out = inspect("https://github.com/acme/many-files")
    assert code == 0, out
    assert "numpy" in out and "requirements.txt:1" in out


def test_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    root = write_files(tmp_path / "repo", {"main.py": "import numpy\n", "secret.py": "x = 1\n"})
    (root / "secret.py").chmod(0)
    code, out = inspect(str(root))
    assert code == 0, out
    assert "skipped secret.py: cannot read it" in out


def test_same_repository_as_git_and_plain_folder_agree_on_bad_input(
    tmp_path: Path,
) -> None:
    files: dict[str, str | bytes] = dict(BROKEN["invalid notebooks"])
    files.update(BROKEN["binary and non-UTF-8 .py files"])
    src = write_files(tmp_path / "src", files)
    make_repo(src, tmp_path / "as-git")
    plain_code, plain = inspect(str(src))
    git_code, in_git = inspect(str(tmp_path / "as-git"))
    assert plain_code == git_code == 0
    for line in ("binary.py: binary content", "deep.ipynb: not valid notebook JSON"):
        assert line in plain and line in in_git
