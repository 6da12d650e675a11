#!/usr/bin/env python3
"""A peer's test suite as a benchmark: repo2docker's own test repositories, packed by repro.

repo2docker (Binder's builder) keeps one small repository per configuration it supports
under ``tests/<buildpack>/<case>/``, each with a ``verify`` script that must pass inside
the image it builds. This script reads ``tests/venv/*`` and ``tests/conda/*`` (nested
cases too, e.g. ``venv/start/postBuild``) from a snapshot of jupyterhub/repo2docker with
git (nothing of it is copied into this project), and for every case:

1. extracts the case with ``git archive`` into a temporary folder and commits it (dated
   2024-03-01: where a repository does not name its Python, the date's Python, 3.11, is
   one this machine's stand-in images have; no verify script depends on the date);
2. judges its scope (below); an in-scope case is packed with ``repro pack`` as a user
   runs it, then its ``verify`` is run inside the image with ``repro run IMAGE -- ./verify``
   (no network, the image's user, the repository at /app);
3. records passed / failed (why: the last lines of the pack or the verify), or out of
   scope (why), or, where the Python the repository asks for has no base image on this
   machine, what repro planned (``repro inspect --json``) against what verify asserts.

Out of scope, judged by hand from each case's files (``OUT_OF_SCOPE`` below, each with the
line of the case that decides it): R, Julia, conda-only packages with no PyPI counterpart,
and verify scripts that assert repo2docker's own image layout rather than anything the
repository declares (its default Python 3.10 when none is named, ``/srv/conda``,
micromamba, ``$REPO_DIR``, its ``--appendix``). A postBuild that runs npm is in scope:
repro gives such an image Node.js and npm, as Binder's carries them (docs/binder.md).

    python benchmarks/binder_suite.py [--repo2docker GIT_DIR] [--only CASE ...] [--json FILE]

GIT_DIR defaults to the snapshot the ``fetch`` tool brings
(/work/.mirror/jupyterhub+repo2docker/repo); any clone of jupyterhub/repo2docker works.
Prints a Markdown table (docs/benchmarks.md, "Binder").
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GIT = Path("/work/.mirror/jupyterhub+repo2docker/repo")
DATE = "2024-03-01T12:00:00+00:00"
# case → (why it is out of scope, the case's file and line that show it)
OUT_OF_SCOPE = {
    "venv/default": (
        "no files at all; verify asserts repo2docker's defaults (Python 3.10, jupyter, a "
        "file its --appendix writes)",
        "verify: assert sys.version_info[:2] == (3, 10)",
    ),
    "venv/numpy": (
        "verify asserts repo2docker's default Python, 3.10, which the repository does not "
        "ask for (repro chooses by the code's date)",
        "verify: assert sys.version_info[:2] == (3, 10)",
    ),
    "venv/py35": (
        "verify runs repo2docker's kernel Python by its path",
        "verify: #!/srv/conda/envs/kernel/bin/python",
    ),
    "venv/usr-bin": (
        "no files at all; verify asserts repo2docker's layout",
        "verify: os.environ['REPO_DIR'], ~/.local/bin on PATH",
    ),
    "conda/downgrade": (
        "conda-only packages (a C++ kernel) with no PyPI counterpart; verify reads conda's "
        "package list",
        "environment.yml: xeus-cling=0.6.0",
    ),
    "conda/py-r-postbuild-file": ("R", "environment.yml: r-base, r-digest"),
    "conda/py2": (
        "verify asserts repo2docker's two environments (a Python 3.10 server, a Python 2 "
        "kernel environment, micromamba)",
        "verify: micromamba env list",
    ),
    "conda/py35-binder-dir": (
        "verify asserts repo2docker's layout (server Python 3.10, $KERNEL_PYTHON_PREFIX, "
        "micromamba 2.8.1)",
        "verify: mamba_version = ...",
    ),
    "conda/py36-postBuild": (
        "postBuild installs with mamba and verify compares conda environments",
        "postBuild: mamba install -y make",
    ),
    "conda/r3.6-target-repo-dir-flag": ("R", "environment.yml: r-base=3.6"),
}
# What a verify asserts about Python, for cases this machine cannot build (no base image)
ASSERTED_PYTHON = re.compile(r"sys\.version_info\[:2\] == \((\d), (\d+)\)")


@dataclass
class Case:
    name: str
    status: str  # passed, failed, out of scope, not built here
    why: str = ""
    python: str = ""
    seconds: float = 0.0


def git(git_dir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def cases(git_dir: Path) -> list[str]:
    """Every folder under tests/venv and tests/conda holding a verify script."""
    names = git(git_dir, "ls-tree", "-r", "--name-only", "HEAD", "tests/venv", "tests/conda")
    found = sorted(
        p.removeprefix("tests/").removesuffix("/verify")
        for p in names.splitlines()
        if p.endswith("/verify")
    )
    return found


def extract(git_dir: Path, case: str, dest: Path) -> Path:
    """The case's files as a git repository of its own at ``dest`` (modes kept)."""
    data = subprocess.run(
        ["git", f"--git-dir={git_dir}", "archive", "HEAD", f"tests/{case}"],
        capture_output=True,
        check=True,
    ).stdout
    prefix = f"tests/{case}/"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if not member.name.startswith(prefix) or member.issym() or member.islnk():
                continue
            member.name = member.name[len(prefix) :]
            if member.name:
                tar.extract(member, dest, filter="tar")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.org",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.org",
        "GIT_AUTHOR_DATE": DATE,
        "GIT_COMMITTER_DATE": DATE,
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", case]):
        subprocess.run(["git", *args], cwd=dest, env=env, check=True, capture_output=True)
    return dest


def repro(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "repro", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _tail(text: str, lines: int = 3) -> str:
    kept = [ln.strip() for ln in text.strip().splitlines() if ln.strip()][-lines:]
    return " / ".join(kept)[:300]


def run_case(git_dir: Path, case: str, work: Path) -> Case:
    if case in OUT_OF_SCOPE:
        why, evidence = OUT_OF_SCOPE[case]
        return Case(name=case, status="out of scope", why=f"{why} ({evidence})")
    repo = extract(git_dir, case, work / case.replace("/", "-"))
    started = time.monotonic()
    out = work / "out"
    packed = repro("pack", str(repo), "--out", str(out))
    seconds = time.monotonic() - started
    if packed.returncode != 0:
        missing = re.search(r"base image (python:\S+) is not on this engine", packed.stderr)
        if missing:
            return _planned_only(case, repo, missing.group(1), seconds)
        return Case(
            name=case, status="failed", why=f"pack: {_tail(packed.stderr)}", seconds=seconds
        )
    tag = re.search(r"^image\s+(\S+)", packed.stdout, re.M)
    python = re.search(r"Python (\d\.\d+), base image", packed.stderr)
    if tag is None:
        return Case(name=case, status="failed", why="pack printed no image", seconds=seconds)
    verify = repro("run", tag.group(1), "--", "./verify", timeout=600)
    seconds = time.monotonic() - started
    also = re.search(r"^also\s+(.+)$", packed.stdout, re.M)
    _remove([tag.group(1), *(also.group(1).split(", ") if also else [])])
    status = "passed" if verify.returncode == 0 else "failed"
    why = (
        ""
        if status == "passed"
        else f"verify exit {verify.returncode}: {_tail(verify.stdout + verify.stderr)}"
    )
    return Case(
        name=case,
        status=status,
        why=why,
        python=python.group(1) if python else "",
        seconds=seconds,
    )


def _remove(tags: list[str]) -> None:
    """The case's image: not kept on the engine once judged."""
    sys.path.insert(0, str(ROOT))
    from repro.engine import DockerEngine

    engine = DockerEngine()
    for tag in tags:
        engine.remove_image(tag)


def _planned_only(case: str, repo: Path, image: str, seconds: float) -> Case:
    """The Python the repository asks for has no base image here: check the plan instead."""
    plan = repro("inspect", str(repo), "--json")
    doc = json.loads(plan.stdout) if plan.returncode == 0 else {}
    planned = str((doc.get("python") or {}).get("version", ""))
    verify = (repo / "verify").read_text(errors="replace")
    asserted = ASSERTED_PYTHON.search(verify)
    want = f"{asserted.group(1)}.{asserted.group(2)}" if asserted else ""
    agree = "as verify asserts" if want == planned else f"verify asserts {want or '?'}"
    installs = sorted(r["name"] for r in doc.get("requirements", []) if not r.get("optional"))
    return Case(
        name=case,
        status="not built here",
        why=f"repro plans Python {planned} ({agree}) and {', '.join(installs) or 'no package'} "
        f"on {image}, which this machine lacks (no registry; stand-ins: 2.7, 3.9, 3.11, 3.13)",
        python=planned,
        seconds=seconds,
    )


def table(results: list[Case]) -> str:
    rows = ["| case | result | Python | seconds | why |", "|---|---|---|---|---|"]
    for r in results:
        secs = f"{r.seconds:.0f}" if r.seconds else ""
        rows.append(f"| `{r.name}` | {r.status} | {r.python} | {secs} | {r.why} |")
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return "\n".join(rows) + f"\n\n{len(results)} cases: {summary}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo2docker", type=Path, default=DEFAULT_GIT, help="its git dir")
    parser.add_argument("--only", nargs="*", default=[], help="cases to run (e.g. venv/py2)")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    git_dir = args.repo2docker
    if (git_dir / ".git").is_dir():
        git_dir = git_dir / ".git"
    head = git(git_dir, "rev-parse", "HEAD").strip()
    names = [c for c in cases(git_dir) if not args.only or c in args.only]
    results = []
    with tempfile.TemporaryDirectory(prefix="repro-binder-suite-") as tmp:
        for case in names:
            result = run_case(git_dir, case, Path(tmp))
            print(f"{case}: {result.status} {result.why}", file=sys.stderr, flush=True)
            results.append(result)
    print(f"repo2docker {head[:12]}, {platform.machine()}, {time.strftime('%Y-%m-%d')}\n")
    print(table(results))
    if args.json:
        args.json.write_text(
            json.dumps({"repo2docker": head, "cases": [asdict(r) for r in results]}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
