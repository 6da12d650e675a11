#!/usr/bin/env python3
"""`repro pack` against a naive Dockerfile, side by side in one run, on the real engine.

The fixture is fixtures/repos/paper-cpu (numpy + scipy, a pytest test), with its two
requirements pinned (numpy==1.26.4, scipy==1.12.0) so that both sides install the same
packages, committed to a local git repository dated 2024-03-01. The baseline is what
people write by hand, built from the same clone (``docker build .`` in it):

    FROM python:3.11-slim
    WORKDIR /app
    COPY . /app
    RUN pip install -r requirements.txt

(``WORKDIR`` makes the relative path work; on a machine behind a TLS-intercepting proxy
the CA bundle named by $PIP_CERT is mounted as a BuildKit secret, as repro does.)

Each run, for both sides:

1. cold: an empty build cache with the base image present. repro builds in a cache
   namespace of its own ($REPRO_BUILD_CACHE_NS: every layer and package-cache mount
   fresh) with an empty repro cache; the baseline builds with ``--no-cache``. Nothing is
   pruned: other builds on the engine keep their caches.
2. a one-line change to train.py, committed (same day), packed again;
   2b. the same, committed a day later: the lock cutoff moves (docs/versions.md);
3. one requirement added (networkx==3.2.1, no dependencies), packed again: what each
   side downloads, read from the build logs;
4. image sizes, against base image + installed environment + source;
5. ``repro inspect`` of a generated repository of 5,000 Python files, against pipreqs
   (``--use-local --print``), each as a user runs it.

repro is timed as a user runs it (``repro pack REPO``, a new process each time): "image
ready" is when repro reports the image built; "full pack" adds the smoke test and the
export of image.tar.gz. The *naive route* is the baseline's build plus
``docker save | gzip`` of its image (what a user types to have a tarball too), timed
after each baseline build. Medians over the runs are printed as a Markdown table.

    python benchmarks/pack_speed.py [--runs 3] [--files 5000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from repro import __version__  # noqa: E402
from repro.dockerfile import UV_VERSION  # noqa: E402
from repro.engine import DockerEngine, RunLimits, find_buildkit_cli  # noqa: E402

BASE = "python:3.11-slim"
PINS = "numpy==1.26.4\nscipy==1.12.0\n"
ADDED = "networkx==3.2.1"
DAY = "2024-03-01T12:00:00+00:00"
NEXT_DAY = "2024-03-02T12:00:00+00:00"
BASELINE = """\
FROM {base}
WORKDIR /app
COPY . /app
RUN {mount}pip install -r requirements.txt
"""


# --------------------------------------------------------------------------- running


@dataclass
class Timed:
    seconds: float
    code: int
    lines: list[str]
    marks: dict[str, float] = field(default_factory=dict)  # event → seconds from start

    def fail(self, what: str) -> None:
        if self.code != 0:
            tail = "\n".join(self.lines[-30:])
            raise SystemExit(f"{what} failed (exit {self.code}):\n{tail}")


def run_timed(argv: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> Timed:
    """Run ``argv``, timestamping every output line (stdout and stderr together)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env=env,
        cwd=cwd,
    )
    lines: list[str] = []
    marks: dict[str, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        now = time.monotonic() - start
        line = line.rstrip("\n")
        lines.append(line)
        m = re.match(r"^==> (\w+)", line)
        if m:
            marks.setdefault(m.group(1), now)
        if line.startswith("    built sha256:"):
            marks["built"] = now
    code = proc.wait()
    return Timed(seconds=time.monotonic() - start, code=code, lines=lines, marks=marks)


def git(repo: Path, *args: str, date: str = DAY) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.org",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.org",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
    }
    out = subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def make_fixture(dest: Path) -> Path:
    shutil.copytree(ROOT / "fixtures" / "repos" / "paper-cpu", dest)
    (dest / "requirements.txt").write_text(PINS)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "paper")
    return dest


def commit_change(repo: Path, path: str, text: str, date: str = DAY) -> None:
    target = repo / path
    target.write_text(target.read_text() + text)
    git(repo, "commit", "-q", "-am", f"change {path}", date=date)


class Sides:
    """repro and the baseline, with what both need to run."""

    def __init__(self, repo: Path, work: Path, cli: tuple[list[str], dict[str, str]]) -> None:
        self.repo = repo
        self.work = work
        self.cli, self.cli_env = cli
        self.ca = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE") or ""
        self.baseline_tag = f"repro-bench/baseline:{uuid.uuid4().hex[:8]}"
        mount = "--mount=type=secret,id=ca PIP_CERT=/run/secrets/ca " if self.ca else ""
        self.baseline_file = work / "baseline.Dockerfile"
        self.baseline_file.write_text(BASELINE.format(base=BASE, mount=mount))
        self.repro_tags: set[str] = set()
        self.baseline_ids: set[str] = set()
        self.extra: list[str] = []  # more options for `repro pack`

    def repro(self, ns: str, cache: Path) -> tuple[Timed, str]:
        """``repro pack`` of the fixture; the timings and the image's first tag."""
        env = {**os.environ, "REPRO_BUILD_CACHE_NS": ns, "REPRO_CACHE_DIR": str(cache)}
        out = self.work / "out"
        argv = [sys.executable, "-m", "repro", "pack", str(self.repo), "-v", "--out", str(out)]
        argv += self.extra
        timed = run_timed(argv, env)
        shutil.rmtree(out, ignore_errors=True)  # the artifacts: hundreds of MB each
        timed.fail("repro pack")
        tag = ""
        for line in timed.lines:
            if line.startswith(("image     ", "also      ")):
                tags = line.split(None, 1)[1].split(", ")
                self.repro_tags.update(tags)
                tag = tag or tags[0]
        return timed, tag

    def baseline(self, *, cold: bool) -> Timed:
        iid = self.work / "iid"
        argv = [*self.cli, "--progress=plain", "-f", str(self.baseline_file)]
        argv += ["-t", self.baseline_tag, "--iidfile", str(iid)]
        if cold:
            argv.append("--no-cache")
        if self.ca:
            argv += ["--secret", f"id=ca,src={self.ca}"]
        argv.append(str(self.repo))
        timed = run_timed(argv, {**os.environ, **self.cli_env})
        timed.fail("baseline docker build")
        self.baseline_ids.add(iid.read_text().strip())
        return timed

    def baseline_export(self) -> float:
        """Seconds of the naive export of the baseline image: ``docker save | gzip``."""
        dest = self.work / "baseline.tar.gz"
        start = time.monotonic()
        cmd = f'{self.cli[0]} save "$0" | gzip > "$1"'
        subprocess.run(["sh", "-c", cmd, self.baseline_tag, str(dest)], check=True)
        seconds = time.monotonic() - start
        dest.unlink()
        return seconds

    def cleanup(self, engine: DockerEngine) -> None:
        """Remove every image this benchmark made (never anything else)."""
        for ref in [*sorted(self.repro_tags), self.baseline_tag, *sorted(self.baseline_ids)]:
            engine.remove_image(ref)
        self.repro_tags.clear()
        self.baseline_ids.clear()


# --------------------------------------------------------------------------- reading logs


def uv_downloads(lines: Sequence[str]) -> tuple[int | None, list[str]]:
    """From repro's build log: uv's "Prepared N packages" (fetched, not from the cache)
    and the names uv printed as it downloaded them (files over ~1 MiB)."""
    prepared: int | None = 0
    names: list[str] = []
    for line in lines:
        m = re.search(r"Prepared (\d+) packages? in", line)
        if m:
            prepared = (prepared or 0) + int(m.group(1))
        m = re.search(r"\bDownloading (\S+) \(", line)
        if m and "uv-" not in m.group(1):
            names.append(m.group(1))
    return prepared, names


def build_steps(lines: Sequence[str]) -> dict[str, str]:
    """BuildKit's plain log (as ``repro -v`` shows it) → {step: CACHED | DONE | ERROR}."""
    names: dict[str, str] = {}
    state: dict[str, str] = {}
    for raw in lines:
        line = raw.removeprefix("    | ")
        m = re.match(r"^#(\d+) \[[^\]]+\] (.*)$", line)
        if m:
            names[m.group(1)] = m.group(2)
            continue
        m = re.match(r"^#(\d+) (CACHED|DONE|ERROR)", line)
        if m and m.group(1) in names:
            state[names[m.group(1)]] = m.group(2)
    return state


def pip_downloads(lines: Sequence[str]) -> list[str]:
    names = []
    for line in lines:
        m = re.search(r"\bDownloading (\S+?)-\d[^ ]*\.(?:whl|tar\.gz)\b", line)
        if m:
            names.append(m.group(1))
    return names


def du(engine: DockerEngine, image: str, *paths: str) -> dict[str, int]:
    script = "du -sb " + " ".join(paths) + " 2>/dev/null; true"
    out = engine.run(image, ["sh", "-c", script], RunLimits(user="0", timeout=120)).output
    sizes = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[0].isdigit():
            sizes[parts[1]] = int(parts[0])
    return sizes


# --------------------------------------------------------------------------- large repo

THIRD_PARTY = ["numpy", "scipy", "torch", "pandas", "yaml", "tqdm", "sklearn", "matplotlib"]


def make_large_repo(dest: Path, files: int, seed: int = 7) -> Path:
    """A monorepo-shaped tree of ``files`` Python files, committed."""
    rng = random.Random(seed)
    dest.mkdir(parents=True)
    packages = max(1, files // 100)
    written = 0
    for p in range(packages):
        pkg = dest / f"pkg{p:03d}"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        written += 1
        for m in range(files // packages - 1):
            if written >= files:
                break
            imports = [*rng.sample(THIRD_PARTY, 3), "os", "json", "math"]
            local = f"from pkg{rng.randrange(packages):03d} import m{rng.randrange(50):03d}"
            body = "\n\n".join(
                textwrap.dedent(
                    f'''
                    def f{k}(x, y=None):
                        """Step {k} of the pipeline."""
                        total = 0
                        for i in range(len(x)):
                            total += x[i] * {k}
                        return {{"value": total, "step": {k}}}


                    class Model{k}(object):
                        def forward(self, x):
                            return [v * {k} for v in x]
                    '''
                )
                for k in range(rng.randrange(4, 9))
            )
            text = "\n".join(f"import {i}" for i in imports) + f"\n{local}\n{body}\n"
            (pkg / f"m{m:03d}.py").write_text(text)
            written += 1
    (dest / "requirements.txt").write_text("numpy\nscipy\n")
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "large")
    return dest


# --------------------------------------------------------------------------- the run


def machine(engine_cli: list[str]) -> dict[str, str]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024**2:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    docker = subprocess.run(
        [engine_cli[0], "version", "--format", "{{.Client.Version}} / {{.Server.Version}}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "os": f"{platform.system()} {platform.release()}",
        "cpu": f"{cpu} ({os.cpu_count()} cores)",
        "memory": mem,
        "docker (client / engine)": docker,
        "builder": " ".join(engine_cli[1:]) + " (BuildKit)",
        "python (repro)": platform.python_version(),
        "repro": f"{__version__} ({commit})",
        "uv in the image": UV_VERSION,
    }


def one_run(sides: Sides, engine: DockerEngine, work: Path, i: int) -> dict[str, object]:
    ns = f"bench-{uuid.uuid4().hex[:10]}"
    cache = work / f"cache-{i}"
    out: dict[str, object] = {}

    def case(key: str, label: str, *, cold: bool = False) -> tuple[Timed, Timed, str]:
        print(f"run {i + 1}: {label}", file=sys.stderr)
        mine, tag = sides.repro(ns, cache)
        theirs = sides.baseline(cold=cold)
        naive = theirs.seconds + sides.baseline_export()
        out[key] = (mine.marks["built"], mine.seconds, theirs.seconds, naive)
        out[f"{key}_stages"] = mine.marks
        out[f"{key}_downloads"] = uv_downloads(mine.lines)
        out[f"{key}_baseline_downloads"] = pip_downloads(theirs.lines)
        return mine, theirs, tag

    case("cold", "cold", cold=True)
    commit_change(sides.repo, "train.py", f"# run {i} {uuid.uuid4().hex}\n")
    warm, _, _ = case("source", "one-line source change")
    runs = {k: v for k, v in build_steps(warm.lines).items() if k.startswith("RUN ")}
    out["source_steps"] = (len(runs), sum(v == "CACHED" for v in runs.values()))
    commit_change(sides.repo, "train.py", "# next day\n", date=NEXT_DAY)
    case("next_day", "source change committed a day later")
    commit_change(sides.repo, "requirements.txt", f"{ADDED}\n", date=NEXT_DAY)
    _, _, tag = case("added", "one requirement added")

    repro_info = engine.image_info(tag)
    base_info = engine.image_info(BASE)
    baseline_info = engine.image_info(sides.baseline_tag)
    assert repro_info and base_info and baseline_info
    parts = du(engine, tag, "/opt/venv", "/app", "/opt/repro")
    pip_cache = du(engine, sides.baseline_tag, "/root/.cache/pip").get("/root/.cache/pip", 0)
    out["size"] = {
        "repro": repro_info.size,
        "baseline": baseline_info.size,
        "base": base_info.size,
        "expected": base_info.size + sum(parts.values()),
        "parts": parts,
        "baseline_pip_cache": pip_cache,
    }
    # Back to the first commit for the next run; this run's images go.
    git(sides.repo, "reset", "-q", "--hard", "HEAD~3")
    sides.cleanup(engine)
    return out


def inspect_bench(work: Path, files: int, runs: int) -> dict[str, object]:
    repo = make_large_repo(work / "large", files)
    env = {**os.environ, "REPRO_CACHE_DIR": str(work / "inspect-cache")}
    repro_times, pipreqs_times = [], []
    pipreqs = shutil.which("pipreqs")
    for _ in range(runs):
        t = run_timed([sys.executable, "-m", "repro", "inspect", str(repo), "--json"], env)
        t.fail("repro inspect")
        repro_times.append(t.seconds)
        if pipreqs:
            p = run_timed([pipreqs, "--use-local", "--print", str(repo)], env)
            p.fail("pipreqs")
            pipreqs_times.append(p.seconds)
    return {
        "files": files,
        "repro": statistics.median(repro_times),
        "pipreqs": statistics.median(pipreqs_times) if pipreqs_times else None,
    }


def _med(rows: list[dict[str, object]], key: str, index: int) -> float:
    return statistics.median(float(r[key][index]) for r in rows)  # type: ignore[index]


def report(rows: list[dict[str, object]], insp: dict[str, object], info: dict[str, str]) -> str:
    mb = 1e6
    out = ["| machine | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in info.items()]
    out += [
        "",
        f"Medians of {len(rows)} run(s), seconds. repro *image ready*: until repro reports "
        "the image built (process start, clone, scan, inference, build); *full pack* adds "
        "reading the lock, the smoke test and the export of image.tar.gz; the *naive route* "
        "is the baseline build and `docker save | gzip` of its image.",
        "",
        "| case | repro image ready | repro full pack | baseline build "
        "| baseline ÷ repro (image ready) | naive route | naive ÷ repro (full pack) |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in (
        ("cold", "1. cold (empty build cache, base present)"),
        ("source", "2. one-line source change (same day)"),
        ("next_day", "2b. one-line source change, committed a day later"),
        ("added", f"3. one requirement added ({ADDED})"),
    ):
        ready, full, base, naive = (_med(rows, key, k) for k in range(4))
        out.append(
            f"| {label} | {ready:.2f} | {full:.2f} | {base:.2f} | {base / ready:.1f}× "
            f"| {naive:.2f} | {naive / full:.1f}× |"
        )
    last = rows[-1]
    steps, cached = last["source_steps"]  # type: ignore[misc]
    out += ["", f"2. build steps after the source change: {cached} CACHED of {steps} RUN steps."]
    for key, label in (
        ("added", f"3. after adding {ADDED}"),
        ("next_day", "2b. after the next-day commit"),
        ("cold", "1. cold"),
    ):
        prepared, names = last[f"{key}_downloads"]  # type: ignore[misc]
        theirs = last[f"{key}_baseline_downloads"]
        out.append(
            f"{label}: repro (uv) fetched {prepared} package(s) "
            f"(named in the log: {', '.join(names) or '-'}); "
            f"baseline (pip) downloaded {len(theirs)}: {', '.join(theirs) or '-'}."  # type: ignore[arg-type]
        )
    size = last["size"]
    assert isinstance(size, dict)
    over = size["repro"] / size["expected"] - 1
    parts = ", ".join(f"{k} {v / mb:.1f}" for k, v in size["parts"].items())
    out += [
        "",
        "| 4. image size (last run) | MB |",
        "|---|---|",
        f"| base image {BASE} | {size['base'] / mb:.1f} |",
        f"| + installed environment, source, repro's files ({parts}) "
        f"| {(size['expected'] - size['base']) / mb:.1f} |",
        f"| = expected | {size['expected'] / mb:.1f} |",
        f"| repro image | {size['repro'] / mb:.1f} ({over:+.1%} of expected) |",
        f"| baseline image (its pip cache: {size['baseline_pip_cache'] / mb:.1f}) "
        f"| {size['baseline'] / mb:.1f} |",
        f"| baseline ÷ repro | {size['baseline'] / size['repro']:.2f}× |",
        "",
    ]
    repro_s = float(insp["repro"])  # type: ignore[arg-type]
    if insp.get("pipreqs") is not None:
        theirs_s = float(insp["pipreqs"])  # type: ignore[arg-type]
        ratio, pipreqs = f"{theirs_s / repro_s:.2f}×", f"{theirs_s:.2f}"
    else:
        ratio, pipreqs = "-", "(pipreqs not installed)"
    out += [
        f"| 5. inspect, {insp['files']} files (median) | seconds |",
        "|---|---|",
        f"| repro inspect --json | {repro_s:.2f} |",
        f"| pipreqs --use-local --print | {pipreqs} |",
        f"| pipreqs ÷ repro | {ratio} |",
    ]
    return "\n".join(out) + "\n"


def prepare() -> tuple[tuple[list[str], dict[str, str]], DockerEngine, dict[str, str]] | None:
    """What every pack benchmark needs: the BuildKit client, the engine with the base
    image, repro's bytecode compiled, the machine's facts; None (said why) when missing."""
    cli = find_buildkit_cli()
    if cli is None:
        print("no BuildKit-capable docker client found", file=sys.stderr)
        return None
    # repro's bytecode, compiled as pip compiles an installation (an editable install run
    # with PYTHONDONTWRITEBYTECODE=1, as on this machine, would compile it at every start)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "repro")], check=True)
    engine = DockerEngine()
    if engine.image_info(BASE) is None:
        print(f"{BASE} is not on the engine (scripts/standin-images.sh)", file=sys.stderr)
        return None
    return cli, engine, machine(cli[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()

    ready = prepare()
    if ready is None:
        return 2
    cli, engine, info = ready
    with tempfile.TemporaryDirectory(prefix="repro-bench-") as tmp:
        work = Path(tmp)
        repo = make_fixture(work / "paper")
        sides = Sides(repo, work, cli)
        rows = []
        try:
            for i in range(args.runs):
                rows.append(one_run(sides, engine, work, i))
        finally:
            sides.cleanup(engine)
        print("inspect on a large repository", file=sys.stderr)
        insp = inspect_bench(work, args.files, args.runs)
    text = report(rows, insp, info)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "runs": rows, "inspect": insp}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
