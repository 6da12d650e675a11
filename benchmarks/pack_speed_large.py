#!/usr/bin/env python3
"""The whole pack of a large image (torch), against the naive route, side by side in one run.

The fixture is fixtures/repos/torch-mnist (``import torch``, a two-step training run as
its smoke test), committed to a local git repository dated 2026-11-02. repro packs it as
a user with a wheelhouse would: ``repro pack REPO --cpu --find-links WHEELS --smoke
"python train.py --steps 2"`` (WHEELS: the folder holding the CPU torch wheel for Python
3.11, /opt/wheels here). The *naive route* is what people write by hand, built from the
same clone, then ``docker save | gzip`` of its image:

    FROM python:3.11-slim
    WORKDIR /app
    COPY . /app
    RUN pip install --find-links http://GATEWAY:PORT/ --trusted-host GATEWAY torch==VERSION

(the same wheel, pinned to its version (PyPI's newer torch would bring GBs of CUDA
libraries), served over HTTP from this machine on the engine's bridge: a wheel in the
build context would be copied into the naive image by ``COPY .``; torch's dependencies
come from PyPI on both sides; behind a TLS-intercepting proxy the CA bundle named by
$PIP_CERT is mounted as a BuildKit secret, as repro does).

Each run, for both sides: (1) cold (repro in a build-cache namespace of its own with an
empty repro cache, the baseline with ``--no-cache``); (2) a one-line change to train.py,
committed the same day, packed again; (2c) another, packed with ``--no-smoke`` (what is
left of repro's own work without the smoke test, which here imports torch and trains).
repro is timed as a user runs it, a new process each time, with where the time went
(clone, scan, plan, build, facts, smoke, export) read from its output as it comes.
Medians over the runs are printed as a Markdown table.

With ``--cuda`` the wheel is PyPI's own torch for Linux, a CUDA build whose CUDA
libraries come as dependencies from PyPI (several GB): repro packs without ``--cpu``, so
it plans a GPU image on the ``nvidia/cuda`` base its torch needs (a stand-in here: no
GPU, the smoke test runs on the CPU); the naive route installs the same wheel, and pip
fetches the CUDA libraries from PyPI, as it would for anyone.

    python benchmarks/pack_speed_large.py [--runs 3] [--wheels /opt/wheels] [--cuda]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pack_speed import (
    BASE,
    ROOT,
    Sides,
    Timed,
    commit_change,
    git,
    prepare,
)

from repro.engine import DockerEngine

DAY = "2026-11-02T12:00:00+00:00"
SMOKE = "python train.py --steps 2"
BASELINE = """\
FROM {base}
WORKDIR /app
COPY . /app
RUN {mount}pip install --find-links {url} --trusted-host {host} torch=={version}
"""
GATEWAY_FORMAT = "{{(index .IPAM.Config 0).Gateway}}"
STAGES = ("fetch", "scan", "infer", "build", "built", "smoke", "export")


def make_fixture(dest: Path) -> Path:
    shutil.copytree(ROOT / "fixtures" / "repos" / "torch-mnist", dest)
    git(dest, "init", "-q", "-b", "main", date=DAY)
    git(dest, "add", "-A", date=DAY)
    git(dest, "commit", "-q", "-m", "paper", date=DAY)
    return dest


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(folder: Path, host: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    """``folder`` over HTTP on ``host`` (the engine's bridge), on a free port."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}/"


def bridge_gateway() -> str:
    given = os.environ.get("REPRO_TEST_BRIDGE_GATEWAY")
    if given:
        return given
    out = subprocess.run(
        ["docker", "network", "inspect", "bridge", "--format", GATEWAY_FORMAT],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


class LargeSides(Sides):
    def __init__(
        self,
        repo: Path,
        work: Path,
        cli: tuple[list[str], dict[str, str]],
        wheels: Path,
        url: str,
        *,
        cuda: bool,
    ) -> None:
        super().__init__(repo, work, cli)
        host = url.split("//", 1)[1].split(":", 1)[0]
        mount = "--mount=type=secret,id=ca PIP_CERT=/run/secrets/ca " if self.ca else ""
        version = torch_wheel(wheels, cuda=cuda).name.split("-")[1]
        self.baseline_file.write_text(
            BASELINE.format(base=BASE, mount=mount, url=url, host=host, version=version)
        )
        self.extra = [*([] if cuda else ["--cpu"]), "--find-links", str(wheels), "--smoke", SMOKE]


def torch_wheel(wheels: Path, *, cuda: bool) -> Path:
    """The torch wheel for Python 3.11 in ``wheels``: PyPI's own (CUDA) build with
    ``cuda``, else a ``+cpu`` one (StopIteration when there is none)."""
    return next(w for w in sorted(wheels.glob("torch-*cp311*.whl")) if ("+cpu" in w.name) != cuda)


def stages(timed: Timed) -> dict[str, float]:
    """Seconds spent in each part of the pack, from the times its lines came."""
    marks = {k: v for k, v in timed.marks.items() if k in STAGES}
    order = [k for k in STAGES if k in marks] + ["end"]
    marks["end"] = timed.seconds
    out = {"start": marks.get("fetch", 0.0)}
    names = {
        "fetch": "clone",
        "scan": "scan",
        "infer": "plan",
        "build": "build",
        "built": "facts",
        "smoke": "smoke",
        "export": "export",
    }
    for here, after in itertools.pairwise(order):
        out[names[here]] = out.get(names[here], 0.0) + marks[after] - marks[here]
    return out


def one_run(sides: LargeSides, engine: DockerEngine, work: Path, i: int) -> dict[str, object]:
    ns = f"bench-{uuid.uuid4().hex[:10]}"
    cache = work / f"cache-{i}"
    out: dict[str, object] = {}

    def case(key: str, label: str, *, cold: bool = False, smoke: bool = True) -> None:
        print(f"run {i + 1}: {label}", file=sys.stderr)
        options = sides.extra
        if not smoke:
            sides.extra = [*options[: options.index("--smoke")], "--no-smoke"]
        try:
            mine, tag = sides.repro(ns, cache)
        finally:
            sides.extra = options
        theirs = sides.baseline(cold=cold)
        export = sides.baseline_export()
        out[key] = {
            "ready": mine.marks["built"],
            "full": mine.seconds,
            "stages": stages(mine),
            "baseline_build": theirs.seconds,
            "baseline_export": export,
            "naive": theirs.seconds + export,
            "tag": tag,
        }

    case("cold", "cold", cold=True)
    commit_change(sides.repo, "train.py", f"# run {i} {uuid.uuid4().hex}\n", date=DAY)
    case("source", "one-line source change")
    commit_change(sides.repo, "train.py", f"# again {uuid.uuid4().hex}\n", date=DAY)
    case("no_smoke", "one-line source change, --no-smoke", smoke=False)
    tag = str(out["source"]["tag"])  # type: ignore[index]
    mine, theirs = engine.image_info(tag), engine.image_info(sides.baseline_tag)
    out["size"] = {"repro": mine.size if mine else 0, "baseline": theirs.size if theirs else 0}
    git(sides.repo, "reset", "-q", "--hard", "HEAD~2")
    sides.cleanup(engine)
    return out


def report(rows: list[dict[str, object]], info: dict[str, str]) -> str:
    def med(key: str, field: str) -> float:
        return statistics.median(float(r[key][field]) for r in rows)  # type: ignore[index]

    out = ["| machine | |", "|---|---|", *(f"| {k} | {v} |" for k, v in info.items()), ""]
    out += [
        f"Medians of {len(rows)} run(s), seconds.",
        "",
        "| case | repro image ready | repro full pack | naive build | naive `docker save "
        "\\| gzip` | naive route | naive ÷ repro (full pack) |",
        "|---|---|---|---|---|---|---|",
    ]
    cases = (
        ("cold", "1. cold"),
        ("source", "2. one-line source change"),
        ("no_smoke", "2c. the same, `--no-smoke`"),
    )
    for key, label in cases:
        full, naive = med(key, "full"), med(key, "naive")
        out.append(
            f"| {label} | {med(key, 'ready'):.2f} | {full:.2f} | {med(key, 'baseline_build'):.2f} "
            f"| {med(key, 'baseline_export'):.2f} | {naive:.2f} | {naive / full:.1f}× |"
        )
    parts = ["start", "clone", "scan", "plan", "build", "facts", "smoke", "export"]
    out += ["", "| repro, where the time went | " + " | ".join(parts) + " |"]
    out.append("|---|" + "---|" * len(parts))
    for key, label in cases:
        cells = []
        for part in parts:
            values = [float(r[key]["stages"].get(part, 0.0)) for r in rows]  # type: ignore[index]
            cells.append(f"{statistics.median(values):.2f}")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    size = rows[-1]["size"]
    assert isinstance(size, dict)
    out += [
        "",
        f"Image sizes (last run): repro {size['repro'] / 1e6:.1f} MB, "
        f"naive {size['baseline'] / 1e6:.1f} MB.",
    ]
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wheels", type=Path, default=Path("/opt/wheels"))
    parser.add_argument("--cuda", action="store_true", help="the wheel is PyPI's CUDA build")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()
    try:
        torch_wheel(args.wheels, cuda=args.cuda)
    except StopIteration:
        kind = "CUDA (not +cpu)" if args.cuda else "+cpu"
        print(f"no {kind} torch wheel for Python 3.11 in {args.wheels}", file=sys.stderr)
        return 2
    ready = prepare()
    if ready is None:
        return 2
    cli, engine, info = ready
    server, url = serve(args.wheels, bridge_gateway())
    try:
        with tempfile.TemporaryDirectory(prefix="repro-bench-large-") as tmp:
            work = Path(tmp)
            repo = make_fixture(work / "torch")
            sides = LargeSides(repo, work, cli, args.wheels, url, cuda=args.cuda)
            rows = []
            try:
                for i in range(args.runs):
                    rows.append(one_run(sides, engine, work, i))
            finally:
                sides.cleanup(engine)
    finally:
        server.shutdown()
    text = report(rows, info)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "runs": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
