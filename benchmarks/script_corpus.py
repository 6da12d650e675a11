#!/usr/bin/env python3
"""repro and pipreqs over the script corpus: what each script needs, and which Python.

Every case of fixtures/scripts/ (single-file scripts and small script folders, README.md
there) is copied without its expected.json into a fresh folder with no history, as a
downloaded script would be, and given to both tools in the same run:

- repro as a user runs it: ``python -m repro inspect --json FOLDER`` (this checkout's
  repro). Its answer is the manifest's non-optional requirements, its system packages (when
  it names any) and its Python.
- pipreqs 0.5.0 as benchmarks/inference_corpus.py runs it (``--print --mode no-pin``,
  its ``--pypi-server`` pointed at that script's caching proxy of PyPI's JSON API): every
  line it prints. A case on which it stops (Python 2 code) is an empty answer.

(a) Resolution. A case's *needs* are its ``distributions`` and its ``system_packages``; a
need is met when the tool names one of its alternatives (a system need also by its Debian
package). Recall is needs met over all needs. Precision is the names a tool answers that
meet a need over every name it answers, leaving out names the case lists as ``optional``
(installing what the code can use is neither right nor wrong). A name meeting no need is a
false positive, counted by kind: the case's own or private module installed from PyPI
(own-module), a same-named PyPI project guessed for an import that is something else
(name-squat: ``serial``, ``jwt``, ``bpy`` inside Blender, ``urllib2``), or other.

(b) Python detection: precision and recall of "needs Python 2" against each case's
``python_major``, for repro and for a naive detector (Python 2 when some file does not
parse as Python 3), with every case either gets wrong.

(c) ``--pack``: every case is packed with repro's normal ``repro pack --cpu`` (its own
smoke test and repairs), then its entry script runs for 20 s in the image without network
(``docker run --network none``, ``timeout 20 python ENTRY``), and how it ends is classified:
``ModuleNotFoundError``, ``ImportError`` and ``SyntaxError`` are failures of the pack; a
timeout (it was still running), a clean exit, a usage error or any other exception (no
display, no device, no network, a missing input file) are the script's own business. A
script that only runs inside an application, or imports a module its author kept, is
expected to end with an ImportError and is counted apart. When the Python repro chooses has
no stand-in base image on this engine, the pack is rerun with the ``--python`` repro's own
error suggests, and the row says so. Each case's result is kept under
~/.cache/repro/script-pack/COMMIT/ (a rerun skips it, ``--refresh`` does not), so the run can
stop and resume, and ``--cases`` runs a subset.

    python benchmarks/script_corpus.py [--offline] [--cases CASE ...] [--json OUT]
    python benchmarks/script_corpus.py --pack [--cases CASE ...] [--refresh]
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inference_corpus import pipreqs_answer, start_proxy

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fixtures" / "scripts"
PACK_CACHE = Path.home() / ".cache" / "repro" / "script-pack"
RUN_SECONDS = 20
DOCKER = "/usr/bin/docker"  # the CLI with BuildKit (briefing: the first on PATH lacks buildx)

# --------------------------------------------------------------------------- the corpus


@dataclass
class Case:
    name: str
    path: Path
    expected: dict[str, Any]

    @property
    def needs(self) -> list[tuple[str, frozenset[str]]]:
        """(label, acceptable names) per need; a system need's Debian packages are
        written ``deb:NAME`` among its names."""
        out = []
        for item in self.expected["distributions"]:
            names = item if isinstance(item, list) else [item]
            out.append((names[0], frozenset(canonicalize_name(n) for n in names)))
        for item in self.expected["system_packages"]:
            debs = {f"deb:{n}" for n in item["debian"].values()}
            pips = {canonicalize_name(n) for n in item["pip"]}
            out.append((f"{item['module']} (system)", frozenset(debs | pips)))
        return out

    @property
    def optional(self) -> set[str]:
        names: set[str] = set()
        for item in self.expected["optional"]:
            names.update(canonicalize_name(n) for n in (item if isinstance(item, list) else [item]))
        return names

    def imported_names(self) -> set[str]:
        """Top-level names the code imports, canonicalized: what a same-name guess installs."""
        names: set[str] = set()
        pattern = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w., ]+))", re.M)
        for py in self.path.rglob("*.py"):
            for m in pattern.finditer(py.read_text(encoding="utf-8", errors="replace")):
                if m.group(1):
                    names.add(m.group(1).split(".")[0])
                else:
                    for part in m.group(2).split(","):
                        names.add(part.split()[0].split(".")[0] if part.split() else "")
        return {canonicalize_name(n) for n in names if n}

    def own(self) -> set[str]:
        return {
            canonicalize_name(m.split(".")[0])
            for m in self.expected["own_modules"] + self.expected["private_modules"]
        }


def load_cases(only: list[str] | None) -> list[Case]:
    cases = [
        Case(p.name, p, json.loads((p / "expected.json").read_text()))
        for p in sorted(CORPUS.iterdir())
        if (p / "expected.json").is_file()
    ]
    if only:
        unknown = set(only) - {c.name for c in cases}
        if unknown:
            raise SystemExit(f"no such case: {', '.join(sorted(unknown))}")
        cases = [c for c in cases if c.name in only]
    return cases


def copy_case(case: Case, into: Path) -> Path:
    """The case's files in a fresh folder of its own name, without expected.json."""
    dest = into / case.name
    shutil.copytree(case.path, dest, ignore=shutil.ignore_patterns("expected.json"))
    return dest


# --------------------------------------------------------------------------- the tools


@dataclass
class Answer:
    names: set[str] = field(default_factory=set)  # canonical distribution names
    system: set[str] = field(default_factory=set)  # "deb:NAME"
    python: str = ""  # "2.7", "3.11"; "" when the tool does not say
    note: str = ""  # crash, error
    seconds: float = 0.0
    unresolved: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)  # applications the code runs inside


def repro_answer(folder: Path, offline: bool, repro: Path) -> Answer:
    # run from the checkout: `python -m` puts the working directory first on sys.path,
    # ahead of PYTHONPATH, so another working directory's repro would be measured
    env = dict(os.environ, PYTHONPATH=str(repro))
    if offline:
        env["REPRO_OFFLINE"] = "1"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "repro", "inspect", "--json", str(folder)],
        capture_output=True, text=True, timeout=600, env=env, cwd=repro,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return Answer(note=f"repro failed: {last[:100]}", seconds=seconds)
    manifest = json.loads(proc.stdout)
    names = {
        canonicalize_name(r["name"])
        for r in manifest.get("requirements", [])
        if r.get("name") and not r.get("optional")
    }
    return Answer(
        names=names,
        system={f"deb:{p}" for p in system_packages(manifest)},
        python=str((manifest.get("python") or {}).get("version", "")),
        seconds=seconds,
        unresolved=sorted(u["module"] for u in manifest.get("unresolved", [])),
        hosts=host_applications(manifest),
    )


def system_packages(manifest: dict[str, Any]) -> list[str]:
    """The Debian packages repro's manifest says the code's modules come from (its
    ``imports`` of kind ``system``; manifests before that field have none)."""
    return sorted(
        {
            i["provider"]
            for i in manifest.get("imports") or []
            if i.get("kind") == "system" and not i.get("optional")
        }
    )


def host_applications(manifest: dict[str, Any]) -> list[str]:
    """The applications repro says the code runs inside (``imports`` of kind ``host``)."""
    return sorted({i["provider"] for i in manifest.get("imports") or [] if i.get("kind") == "host"})


def pipreqs(folder: Path, server: str) -> Answer:
    start = time.perf_counter()
    names, note = pipreqs_answer(folder, server)
    return Answer(names=names, note=note, seconds=time.perf_counter() - start)


# --------------------------------------------------------------------------- scoring


@dataclass
class Score:
    needs: int = 0
    met: int = 0
    answered: int = 0  # names answered, optional ones left out
    correct: int = 0
    fp_own: list[str] = field(default_factory=list)
    fp_squat: list[str] = field(default_factory=list)
    fp_other: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rows: list[tuple[str, str]] = field(default_factory=list)  # (case, differences)

    def add(self, case: Case, answer: Answer) -> None:
        needs = case.needs
        offered = answer.names | answer.system
        met = [label for label, names in needs if names & offered]
        missed = [label for label, names in needs if not names & offered]
        acceptable = set().union(*(names for _, names in needs)) if needs else set()
        scored = answer.names - case.optional
        right = scored & acceptable
        wrong = scored - acceptable
        own, imported = case.own(), case.imported_names()
        self.needs += len(needs)
        self.met += len(met)
        self.answered += len(scored) + len(answer.system)
        self.correct += len(right) + len(answer.system & acceptable)
        kinds = []
        for name in sorted(wrong):
            if name in own:
                self.fp_own.append(f"{case.name}: {name}")
                kinds.append(f"{name} (own module)")
            elif name in imported:
                self.fp_squat.append(f"{case.name}: {name}")
                kinds.append(f"{name} (same-name guess)")
            else:
                self.fp_other.append(f"{case.name}: {name}")
                kinds.append(name)
        wrong_system = sorted(answer.system - acceptable)
        self.fp_other += [f"{case.name}: {s}" for s in wrong_system]
        self.seconds += answer.seconds
        detail = "; ".join(
            x
            for x in (
                answer.note,
                f"extra {', '.join(kinds + wrong_system)}" if kinds or wrong_system else "",
                f"missed {', '.join(missed)}" if missed else "",
            )
            if x
        )
        if detail:
            self.rows.append((case.name, detail))

    @property
    def precision(self) -> float:
        return self.correct / self.answered if self.answered else 0.0

    @property
    def recall(self) -> float:
        return self.met / self.needs if self.needs else 0.0


@dataclass
class Detection:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    missed: list[str] = field(default_factory=list)  # needs 2, said 3
    wrong: list[str] = field(default_factory=list)  # needs 3, said 2

    def add(self, case: Case, says_two: bool, what: str) -> None:
        needs_two = case.expected["python_major"] == 2
        if needs_two and says_two:
            self.tp += 1
        elif needs_two:
            self.fn += 1
            self.missed.append(f"{case.name} ({what})")
        elif says_two:
            self.fp += 1
            self.wrong.append(f"{case.name} ({what})")
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0


def fails_python3_parse(case: Case) -> bool:
    for py in case.path.rglob("*.py"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SyntaxWarning)
                ast.parse(py.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            return True
    return False


# --------------------------------------------------------------------------- (a) and (b)


def measure(
    cases: list[Case], offline: bool, workers: int, repro: Path, repro_offline: bool,
    *, with_pipreqs: bool = True,
) -> dict[str, Any]:  # fmt: skip
    server, url = start_proxy(offline)
    answers: dict[str, tuple[Answer, Answer]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="script-corpus-") as tmp:
            folders = {c.name: copy_case(c, Path(tmp)) for c in cases}

            def both(case: Case) -> tuple[str, tuple[Answer, Answer]]:
                folder = folders[case.name]
                theirs = pipreqs(folder, url) if with_pipreqs else Answer(note="not run")
                return case.name, (repro_answer(folder, repro_offline, repro), theirs)

            with ThreadPoolExecutor(max_workers=workers) as pool:
                for name, pair in pool.map(both, cases):
                    answers[name] = pair
                    print(f"  {name}", file=sys.stderr)
    finally:
        server.shutdown()
    scores = {"repro": Score(), "pipreqs": Score()}
    detection = {"repro": Detection(), "naive": Detection()}
    for case in cases:
        mine, theirs = answers[case.name]
        scores["repro"].add(case, mine)
        scores["pipreqs"].add(case, theirs)
        detection["repro"].add(case, mine.python.startswith("2"), f"Python {mine.python or '?'}")
        detection["naive"].add(case, fails_python3_parse(case), "parse")
    return {"scores": scores, "detection": detection, "answers": answers}


def report(cases: list[Case], result: dict[str, Any], commit: str) -> str:
    scores: dict[str, Score] = result["scores"]
    detection: dict[str, Detection] = result["detection"]
    py2 = sum(c.expected["python_major"] == 2 for c in cases)
    out = [
        f"corpus: {len(cases)} cases ({py2} Python 2), {scores['repro'].needs} needs; "
        f"commit {commit}, {dt.date.today().isoformat()}",
        "",
        "(a) resolution",
        "",
        "| tool | precision | recall | answered | correct | needs met | own-module FP "
        "| same-name FP | other FP | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for tool, s in scores.items():
        out.append(
            f"| {tool} | {s.precision:.3f} | {s.recall:.3f} | {s.answered} | {s.correct} "
            f"| {s.met}/{s.needs} | {len(s.fp_own)} | {len(s.fp_squat)} | {len(s.fp_other)} "
            f"| {s.seconds:.0f} |"
        )
    named, wrong_host = host_findings(cases, result["answers"])
    hosts = [c for c in cases if c.expected["host_application"]]
    out += [
        "",
        f"repro names the application for {len(named)} of {len(hosts)} scripts that run inside "
        f"one; an application claimed for a script that runs outside any: "
        f"{', '.join(wrong_host) or 'none'}",
    ]
    out += ["", "(b) needs Python 2", "", "| detector | precision | recall | TP | FP | FN |"]
    out.append("|---|---|---|---|---|---|")
    for tool, d in detection.items():
        out.append(f"| {tool} | {d.precision:.3f} | {d.recall:.3f} | {d.tp} | {d.fp} | {d.fn} |")
    for tool, d in detection.items():
        out.append("")
        out.append(f"{tool}: Python 2 code given 3: {', '.join(d.missed) or 'none'}")
        out.append(f"{tool}: Python 3 code given 2: {', '.join(d.wrong) or 'none'}")
    for tool, s in scores.items():
        out += ["", f"{tool}, false positives by kind:"]
        out.append(f"- own-module: {', '.join(s.fp_own) or 'none'}")
        out.append(f"- same-name guess: {', '.join(s.fp_squat) or 'none'}")
        out.append(f"- other: {', '.join(s.fp_other) or 'none'}")
    for tool, s in scores.items():
        out += ["", f"{tool}, every case that differs from the truth:", ""]
        out += ["| case | differences |", "|---|---|"]
        out += [f"| {case} | {detail} |" for case, detail in s.rows]
    return "\n".join(out)


def host_findings(
    cases: list[Case], answers: dict[str, tuple[Answer, Answer]]
) -> tuple[list[str], list[str]]:
    """Host-application cases where repro names the right application, and cases that run
    outside any application for which it claims one."""
    named, wrong = [], []
    for case in cases:
        said = [h.lower() for h in answers[case.name][0].hosts]
        truth = case.expected["host_application"]
        if truth and any(truth.replace("-", " ") in h for h in said):
            named.append(case.name)
        elif not truth and said:
            wrong.append(f"{case.name} ({', '.join(said)})")
    return named, wrong


def as_json(result: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {
            tool: {
                "names": sorted(a.names),
                "system": sorted(a.system),
                "python": a.python,
                "note": a.note,
                "unresolved": a.unresolved,
                "hosts": a.hosts,
                "seconds": round(a.seconds, 2),
            }
            for tool, a in zip(("repro", "pipreqs"), pair, strict=True)
        }
        for name, pair in result["answers"].items()
    }


# --------------------------------------------------------------------------- (c) pack and run

BAD = ("ModuleNotFoundError", "ImportError", "SyntaxError")
EXCEPTION = re.compile(
    r"^(?:[\w.]+\.)?(\w+(?:Error|Exception|Exit|Interrupt|Warning)|error)\b[:]?(.*)$"
)


def pack_one(case: Case, repro: Path) -> dict[str, Any]:
    """Pack the case as a user would, run its entry for RUN_SECONDS without network, and
    say how it ended."""
    env = dict(os.environ, PYTHONPATH=str(repro))
    row: dict[str, Any] = {"case": case.name, "python_moved": ""}
    with tempfile.TemporaryDirectory(prefix="script-pack-") as tmp:
        folder = copy_case(case, Path(tmp))
        out = Path(tmp) / "out"
        argv = [sys.executable, "-m", "repro", "pack", str(folder), "--cpu", "--out", str(out)]
        start = time.perf_counter()
        # cwd: `python -m` puts the working directory first on sys.path, before PYTHONPATH
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=3600, env=env, cwd=repro
        )
        # as a user would: follow a hint that names another Python ("--python 3.13 uses a
        # base image this engine has"; "--python 3.12" for a module 3.13 removed), twice
        tried: list[str] = []
        while proc.returncode != 0 and len(tried) < 2:
            hint = re.search(r"^repro: hint: .*?--python (\d\.\d+)", proc.stderr, re.M)
            if hint is None or hint.group(1) in tried:
                break
            tried.append(hint.group(1))
            row["python_moved"] = hint.group(1)
            proc = subprocess.run(
                [*argv, "--python", hint.group(1)], capture_output=True, text=True,
                timeout=3600, env=env, cwd=repro,
            )  # fmt: skip
        row["pack_seconds"] = round(time.perf_counter() - start, 1)
        manifests = sorted(out.glob("*/repro.json"))
        if proc.returncode != 0 or not manifests:
            lines = [x for x in proc.stderr.strip().splitlines() if x.strip()]
            errors = [x for x in lines if x.startswith("repro: error")] or lines[-1:]
            row.update(outcome="pack failed", cause=(errors[-1] if errors else "no output")[:300])
            _remove_partial_images(proc.stderr)
            return row
        manifest = json.loads(manifests[0].read_text())
        tags = manifest.get("tags") or []
        row["python"] = (manifest.get("python") or {}).get("version", "")
        row["smoke"] = ((manifest.get("smoke") or {}).get("status")) or ""
        try:
            row.update(run_entry(tags[0], case.expected["entry"]))
        finally:
            for tag in tags:
                subprocess.run([DOCKER, "rmi", "-f", tag], capture_output=True)
    return row


def _remove_partial_images(stderr: str) -> None:
    """A failed pack may leave its image tagged: remove what its output names."""
    for tag in set(re.findall(r"(repro/[\w.-]+:[\w.-]+)", stderr)):
        subprocess.run([DOCKER, "rmi", "-f", tag], capture_output=True)


def run_entry(image: str, entry: str) -> dict[str, Any]:
    # `timeout` under sh, not as the container's first process: coreutils 9.10's (Debian
    # testing, the python:3.14-slim stand-in) exits 125 at once when it is process 1
    proc = subprocess.run(
        [DOCKER, "run", "--rm", "--network", "none", image,
         "sh", "-c", 'timeout "$0" python "$1"', str(RUN_SECONDS), entry],
        capture_output=True, text=True, timeout=RUN_SECONDS + 120,
    )  # fmt: skip
    return classify(proc.returncode, proc.stdout + proc.stderr)


def classify(code: int, output: str) -> dict[str, Any]:
    """How a run ended: ``ran`` (still running at the limit, or exited 0), ``usage`` (an
    argparse/optparse usage error or a usage message), ``exception`` (the last traceback's
    exception, by name) or ``exit N``."""
    if code == 124:
        return {"outcome": "ran", "cause": f"still running after {RUN_SECONDS} s"}
    if code == 0:
        return {"outcome": "ran", "cause": "exited 0"}
    lines = [x.rstrip() for x in output.splitlines() if x.strip()]
    if "Traceback (most recent call last):" in output:
        last = lines[-1] if lines else ""
        m = EXCEPTION.match(last.strip())
        name = m.group(1) if m else last.split(":")[0]
        return {"outcome": name if name in BAD else "exception", "cause": last[:200]}
    if any(x.lower().startswith("usage:") for x in lines) or code == 2:
        return {"outcome": "usage", "cause": (lines[-1] if lines else "")[:200]}
    return {"outcome": f"exit {code}", "cause": (lines[-1] if lines else "")[:200]}


def run_packs(cases: list[Case], *, refresh: bool, repro: Path, workers: int) -> int:
    """Pack and run the cases (categories taken in turn, so that a run stopped early is
    still a sample of every kind), ``workers`` at a time, keeping each result."""
    commit = commit_of(repro)
    cache = PACK_CACHE / commit
    cache.mkdir(parents=True, exist_ok=True)
    by_category: dict[str, list[Case]] = {}
    for case in cases:
        by_category.setdefault(case.expected["category"], []).append(case)
    queues = list(by_category.values())
    ordered = [q[i] for i in range(max(map(len, queues), default=0)) for q in queues if i < len(q)]

    def one(case: Case) -> dict[str, Any]:
        kept = cache / f"{case.name}.json"
        if kept.is_file() and not refresh:
            row: dict[str, Any] = json.loads(kept.read_text())
            return row
        print(f"  packing {case.name}", file=sys.stderr)
        row = pack_one(case, repro)
        kept.write_text(json.dumps(row, indent=1) + "\n")
        return row

    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(one, ordered))
    print(pack_report(cases, rows, commit))
    return 0


def pack_report(cases: list[Case], rows: list[dict[str, Any]], commit: str) -> str:
    by_name = {c.name: c for c in cases}
    expected_import_errors = {
        c.name for c in cases if c.expected["host_application"] or c.expected["private_modules"]
    }
    bad = [r for r in rows if r["outcome"] in BAD and r["case"] not in expected_import_errors]
    failed = [r for r in rows if r["outcome"] == "pack failed"]
    outcomes: dict[str, int] = {}
    for r in rows:
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
    out = [
        f"pack and run over {len(rows)} cases; commit {commit}, {dt.date.today().isoformat()}",
        "",
        f"ImportError, ModuleNotFoundError or SyntaxError: {len(bad)} of {len(rows)} "
        f"({len(bad) / len(rows):.1%}); packs that failed: {len(failed)}; scripts expected to "
        f"need their application or a private module: "
        f"{len([r for r in rows if r['case'] in expected_import_errors])}",
        "",
        "| outcome | cases |",
        "|---|---|",
    ]
    out += [f"| {k} | {v} |" for k, v in sorted(outcomes.items(), key=lambda kv: -kv[1])]
    out += ["", "| case | Python | outcome | cause |", "|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["outcome"] == "ran", r["case"])):
        py = r.get("python", "")
        if r.get("python_moved"):
            py = f"{r['python_moved']} (stand-in)"
        note = " (expected)" if r["case"] in expected_import_errors else ""
        cause = str(r.get("cause", "")).replace("|", "\\|")
        if r["case"] in by_name:
            out.append(f"| {r['case']} | {py} | {r['outcome']}{note} | {cause} |")
    return "\n".join(out)


def commit_of(root: Path) -> str:
    proc = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return proc.stdout.strip() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--offline", action="store_true", help="no PyPI: REPRO_OFFLINE=1 and "
                        "pipreqs' cached answers only")  # fmt: skip
    parser.add_argument(
        "--offline-repro", action="store_true", help="REPRO_OFFLINE=1 for repro alone (its "
        "answer then uses only shipped and cached data; pipreqs still asks PyPI)"
    )  # fmt: skip
    parser.add_argument(
        "--repro-only", action="store_true", help="leave pipreqs out (its answers do not depend "
        "on repro: one run of it serves a before and an after)"
    )  # fmt: skip
    parser.add_argument("--cases", nargs="*", help="only these cases")
    parser.add_argument("--json", type=Path, help="also write every answer here")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--repro", type=Path, default=ROOT, help="the checkout whose repro is measured (default: "
        "this one; another checkout gives a before/after on the same corpus)"
    )  # fmt: skip
    parser.add_argument("--pack", action="store_true", help="(c): pack and run every case")
    parser.add_argument("--refresh", action="store_true", help="--pack: ignore kept results")
    args = parser.parse_args()
    cases = load_cases(args.cases)
    if args.pack:
        return run_packs(
            cases, refresh=args.refresh, repro=args.repro.resolve(), workers=args.workers
        )
    result = measure(
        cases, args.offline, args.workers, args.repro.resolve(), args.offline or args.offline_repro,
        with_pipreqs=not args.repro_only,
    )  # fmt: skip
    print(report(cases, result, commit_of(args.repro)))
    if args.json:
        args.json.write_text(json.dumps(as_json(result), indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
