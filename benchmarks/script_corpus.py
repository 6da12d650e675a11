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

    python benchmarks/script_corpus.py [--offline] [--cases CASE ...] [--json OUT]
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


def repro_answer(folder: Path, offline: bool) -> Answer:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if offline:
        env["REPRO_OFFLINE"] = "1"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "repro", "inspect", "--json", str(folder)],
        capture_output=True, text=True, timeout=600, env=env,
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
    )


def system_packages(manifest: dict[str, Any]) -> list[str]:
    """The Debian packages repro's manifest says the code's modules come from."""
    found: list[str] = []
    for item in manifest.get("system_packages") or []:
        found.append(item["package"] if isinstance(item, dict) else str(item))
    return found


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


def measure(cases: list[Case], offline: bool, workers: int) -> dict[str, Any]:
    server, url = start_proxy(offline)
    answers: dict[str, tuple[Answer, Answer]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="script-corpus-") as tmp:
            folders = {c.name: copy_case(c, Path(tmp)) for c in cases}

            def both(case: Case) -> tuple[str, tuple[Answer, Answer]]:
                folder = folders[case.name]
                return case.name, (repro_answer(folder, offline), pipreqs(folder, url))

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


def as_json(result: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {
            tool: {
                "names": sorted(a.names),
                "system": sorted(a.system),
                "python": a.python,
                "note": a.note,
                "unresolved": a.unresolved,
                "seconds": round(a.seconds, 2),
            }
            for tool, a in zip(("repro", "pipreqs"), pair, strict=True)
        }
        for name, pair in result["answers"].items()
    }


def commit_of() -> str:
    proc = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return proc.stdout.strip() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--offline", action="store_true", help="no PyPI: REPRO_OFFLINE=1 and "
                        "pipreqs' cached answers only")  # fmt: skip
    parser.add_argument("--cases", nargs="*", help="only these cases")
    parser.add_argument("--json", type=Path, help="also write every answer here")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    cases = load_cases(args.cases)
    result = measure(cases, args.offline, args.workers)
    print(report(cases, result, commit_of()))
    if args.json:
        args.json.write_text(json.dumps(as_json(result), indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
