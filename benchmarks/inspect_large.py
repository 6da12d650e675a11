#!/usr/bin/env python3
"""`repro inspect` on a generated repository of 5,000 Python files, against pipreqs.

The repository is shaped like a large research monorepo: 50 experiment folders of
scripts and 50 packages, each file 60-220 lines with a docstring, imports at the top,
classes and functions, some lazy imports inside functions, some ``try/except
ImportError`` blocks, some ``sys.path`` changes (and, with ``--py2-share``, files in
Python 2 syntax). It is committed to
a git repository (repro inspects committed files), then both tools run on it, each as a
user would run it, in the same run, several times; the best and median wall times are
reported.

    python benchmarks/inspect_large.py [--files 5000] [--runs 3] [--keep DIR]

pipreqs runs with ``--use-local`` (no PyPI look-ups, which would only slow it down) and
``--print``; repro runs ``repro inspect --json`` (everything up to the Dockerfile).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

THIRD_PARTY = [
    "numpy as np", "torch", "torch.nn as nn", "torch.nn.functional as F", "scipy.sparse",
    "pandas as pd", "matplotlib.pyplot as plt", "sklearn.metrics", "yaml", "tqdm",
    "h5py", "cv2", "PIL.Image", "tensorboardX", "einops", "requests", "networkx as nx",
]  # fmt: skip
COMMIT_DATE = "2021-06-01T12:00:00+00:00"
STDLIB = ["os", "sys", "json", "math", "time", "argparse", "logging", "collections", "random"]


def _body(rng: random.Random, lines: int) -> str:
    out = []
    n = 0
    while n < lines:
        kind = rng.random()
        name = f"f{rng.randrange(10**6)}"
        if kind < 0.5:
            block = f'''
            def {name}(x, y=None, *args, **kwargs):
                """Compute {name} of ``x``.

                Args:
                    x: the input, an array of shape (N, D).
                """
                total = 0
                for i in range(len(x)):
                    if i % 3 == 0:
                        total += x[i] * 2
                    else:
                        total -= x[i] // 3
                result = {{"value": total, "name": "{name}", "items": [a for a in args]}}
                return result
            '''
        elif kind < 0.8:
            block = f'''
            class C{name}(object):
                """A model component."""

                def __init__(self, dim=128, dropout=0.1):
                    self.dim = dim
                    self.dropout = dropout
                    self.layers = [dim * k for k in range(4)]

                def forward(self, x):
                    for layer in self.layers:
                        x = x * layer + self.dropout
                    return x
            '''
        elif kind < 0.9:
            block = f"""
            def {name}_plot(values):
                import matplotlib.pyplot as plt
                fig, ax = plt.subplots()
                ax.plot(values)
                return fig
            """
        else:
            block = f"""
            def {name}_msg(value):
                return "value: %s, formatted {{}}".format(value) + f" {{value!r}}"
            """
        text = textwrap.dedent(block)
        out.append(text)
        n += text.count("\n")
    return "".join(out)


def _module(rng: random.Random, package: str, siblings: list[str], py2: bool) -> str:
    head = [f'"""{package}: part of a generated research code base."""', ""]
    head += [f"import {m}" for m in rng.sample(STDLIB, 3)]
    head += [f"import {m}" for m in rng.sample(THIRD_PARTY, rng.randrange(2, 6))]
    head += [f"from {package} import {s}" for s in rng.sample(siblings, min(2, len(siblings)))]
    if rng.random() < 0.2:
        head += ["try:", "    import wandb", "except ImportError:", "    wandb = None"]
    if rng.random() < 0.05:
        head += ["sys.path.append(os.path.join(os.path.dirname(__file__), '..', 'lib'))"]
    body = _body(rng, rng.randrange(60, 220))
    if py2:
        body += "\ndef legacy():\n    print 'python 2'\n"
    return "\n".join(head) + "\n\n" + body


def generate(root: Path, files: int, py2_share: float = 0.0, seed: int = 7) -> None:
    rng = random.Random(seed)
    per_folder = files // 100
    written = 0
    for folder in range(100):
        is_pkg = folder % 2 == 0
        name = f"pkg{folder}" if is_pkg else f"exp{folder}"
        base = root / name
        base.mkdir(parents=True)
        mods = [f"m{i}" for i in range(per_folder)]
        if is_pkg:
            (base / "__init__.py").write_text('"""Package."""\n')
            written += 1
            mods = mods[:-1]
        for mod in mods:
            py2 = rng.random() < py2_share
            (base / f"{mod}.py").write_text(_module(rng, name, mods, py2))
            written += 1
    (root / "requirements.txt").write_text("numpy\ntorch\n")
    (root / "README.md").write_text("# generated\n\n```\npip install -r requirements.txt\n```\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    # dated like the research code it imitates; repro keeps the release histories it
    # fetches for a commit of that date, so only the first run asks PyPI for them
    dated = {**os.environ, "GIT_AUTHOR_DATE": COMMIT_DATE, "GIT_COMMITTER_DATE": COMMIT_DATE}
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
         "commit", "-qm", "generated"],
        check=True, env=dated,
    )  # fmt: skip
    print(f"generated {written} Python files in {root}")


def timed(argv: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + system, the tool and its children) per run."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            print(f"  {argv[0]} exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return walls, cpus


def stages(repo: Path) -> None:
    """Where one inspect's time goes, stage by stage, in this process."""
    import datetime as dt

    from repro import fetch, scratch
    from repro.infer import infer
    from repro.models import InferSettings
    from repro.scan import scan

    with scratch.workspace() as workdir:
        marks = [("start", time.perf_counter())]
        checkout = fetch.fetch(fetch.parse_source(str(repo)), workdir)
        marks.append(("fetch (git archive + extract)", time.perf_counter()))
        evidence = scan(checkout.path)
        marks.append(("scan", time.perf_counter()))
        infer(evidence, InferSettings(), commit_date=dt.datetime.fromisoformat(COMMIT_DATE))
        marks.append(("infer (merge + versions)", time.perf_counter()))
    marks.append(("remove the workspace", time.perf_counter()))
    print("one run, by stage (wall s): " + ", ".join(
        f"{name} {t - marks[i][1]:.2f}" for i, (name, t) in enumerate(marks[1:])
    ))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--py2-share",
        type=float,
        default=0.0,
        help="share of files with Python 2 syntax (pipreqs stops at the first one)",
    )
    parser.add_argument("--keep", type=Path, help="generate into DIR and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="repro-bench-"))
    repo = work / "repo"
    if not repo.exists():
        generate(repo, args.files, args.py2_share)
    bindir = Path(sys.executable).parent
    repro = (
        [str(bindir / "repro")] if (bindir / "repro").exists() else [sys.executable, "-m", "repro"]
    )
    tools = {
        "repro inspect --json": [*repro, "inspect", "--json", str(repo)],
        "pipreqs --use-local --print": [
            sys.executable, "-m", "pipreqs.pipreqs", "--use-local", "--print", str(repo),
        ],
    }  # fmt: skip
    # repro's bytecode, compiled as pip compiles an installation (an editable install run
    # with PYTHONDONTWRITEBYTECODE=1, as on this machine, would compile it at every start)
    package = Path(__file__).resolve().parents[1] / "repro"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    print("warm-up: one `repro inspect` (fills the release-history cache; not timed)")
    subprocess.run([*repro, "inspect", "--json", str(repo)], capture_output=True)
    stages(repo)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'tool':30} {'best wall s':>11} {'median wall s':>13} {'best cpu s':>10}  runs")
    for label, argv in tools.items():
        walls, cpus = timed(argv, args.runs)
        print(
            f"{label:30} {min(walls):11.2f} {statistics.median(walls):13.2f} "
            f"{min(cpus):10.2f}  {args.runs}"
        )
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
