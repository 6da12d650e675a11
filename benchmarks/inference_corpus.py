#!/usr/bin/env python3
"""Precision and recall of requirement inference over the labelled corpus, repro vs pipreqs.

Both tools run on every fixtures/corpus/<case>/ in the same run; each case's
expected.json ``requirements`` is the truth. A tool's answer for a case is the set of
distributions it says the code needs (repro: its non-optional requirements; pipreqs:
every line it prints). Names are compared canonicalized (PEP 503); a URL requirement
counts as the project its URL names. Precision and recall are micro-averaged over the
corpus: true positives summed over cases, divided by everything a tool answered
(precision) or everything the truth holds (recall).

pipreqs 0.5.0 runs as a user runs it, ``pipreqs --print --mode no-pin --scan-notebooks``:
it first matches imports against the packages installed in the interpreter running it
(this script's), then asks PyPI's JSON API for the rest. Its ``--pypi-server`` points at a
small caching proxy on 127.0.0.1 that this script starts: the proxy asks pip's default
index's JSON API once per name and keeps the answer under ~/.cache/repro/pipreqs-pypi, so
a second run asks the index nothing (``--offline`` answers 404 for anything not cached).
A case on which pipreqs crashes (it stops at the first file Python 3 cannot parse) counts
as an empty answer.

    python benchmarks/inference_corpus.py [--offline] [--cases CASE ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from repro.infer import infer
from repro.merge import url_name
from repro.models import InferSettings
from repro.scan import scan

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fixtures" / "corpus"
CACHE = Path.home() / ".cache" / "repro" / "pipreqs-pypi"
WHEN = dt.datetime(2021, 6, 1, tzinfo=dt.timezone.utc)


# --------------------------------------------------------------------------- the PyPI proxy


def _upstream() -> str:
    """pip's default index's JSON API base, as pip itself names it."""
    from pip._internal.models.index import PyPI

    return PyPI.pypi_url.rstrip("/")


class _Proxy(http.server.BaseHTTPRequestHandler):
    offline = False
    upstream = ""
    context = ssl.create_default_context()

    def do_GET(self) -> None:
        m = re.match(r"^/pypi/([A-Za-z0-9._\-]+)/json$", self.path)
        if not m:
            self._reply(404, b"{}")
            return
        name = m.group(1)
        cached = CACHE / f"{name.lower()}.json"
        if cached.is_file():
            entry = json.loads(cached.read_text())
            self._reply(entry["status"], entry["body"].encode())
            return
        if self.offline:
            self._reply(404, b"{}")
            return
        try:
            with urllib.request.urlopen(
                f"{self.upstream}/{name}/json", context=self.context, timeout=60
            ) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, b"{}"
        except OSError:
            self._reply(502, b"{}")  # not cached: a passing failure
            return
        if status == 200:  # keep only what pipreqs reads: the name and the version
            info = json.loads(body).get("info", {})
            body = json.dumps(
                {"info": {k: info.get(k) for k in ("name", "version", "package_url")},
                 "releases": {}}
            ).encode()  # fmt: skip
        CACHE.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps({"status": status, "body": body.decode()}))
        self._reply(status, body)

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def start_proxy(offline: bool) -> tuple[http.server.ThreadingHTTPServer, str]:
    _Proxy.offline = offline
    _Proxy.upstream = "" if offline else _upstream()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/pypi/"


# --------------------------------------------------------------------------- the tools


def repro_answer(case: Path) -> set[str]:
    env = infer(scan(case), InferSettings(), commit_date=WHEN)
    return {
        canonicalize_name(r.name) if r.name else url_name(r.url)
        for r in env.requirements
        if not r.optional
    }


def pipreqs_answer(case: Path, server: str) -> tuple[set[str], str]:
    # nbconvert (used by --scan-notebooks) finds its templates under the interpreter's
    # prefix; in a virtual environment on a system Python they sit under the base prefix
    env = dict(os.environ)
    shares = [Path(p) / "share" / "jupyter" for p in (sys.prefix, sys.base_prefix)]
    env["JUPYTER_PATH"] = os.pathsep.join(str(s) for s in shares if s.is_dir())
    proc = subprocess.run(
        [sys.executable, "-m", "pipreqs.pipreqs", "--print", "--mode", "no-pin",
         "--scan-notebooks", "--pypi-server", server, str(case)],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no output"
        return set(), f"crashed: {last[:80]}"
    names = set()
    for line in proc.stdout.splitlines():
        name = re.split(r"[=<>~! ]", line.strip(), maxsplit=1)[0]
        if name:
            names.add(canonicalize_name(name))
    return names, ""


# --------------------------------------------------------------------------- scoring


@dataclass
class Score:
    tp: int = 0
    answered: int = 0
    truth: int = 0
    rows: list[tuple[str, int, int, int, str]] = field(default_factory=list)

    def add(self, case: str, answer: set[str], truth: set[str], note: str = "") -> None:
        hits = len(answer & truth)
        self.tp += hits
        self.answered += len(answer)
        self.truth += len(truth)
        wrong = sorted(answer - truth)
        missed = sorted(truth - answer)
        detail = "; ".join(
            x for x in (note, f"extra {', '.join(wrong)}" if wrong else "",
                        f"missed {', '.join(missed)}" if missed else "") if x
        )  # fmt: skip
        self.rows.append((case, hits, len(answer), len(truth), detail))

    @property
    def precision(self) -> float:
        return self.tp / self.answered if self.answered else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.truth if self.truth else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--offline", action="store_true", help="pipreqs gets cached answers only")
    parser.add_argument("--cases", nargs="*", help="only these cases")
    args = parser.parse_args()
    cases = sorted(p for p in CORPUS.iterdir() if (p / "expected.json").is_file())
    if args.cases:
        cases = [c for c in cases if c.name in args.cases]
    server, url = start_proxy(args.offline)
    scores = {"repro": Score(), "pipreqs": Score()}
    seconds = {"repro": 0.0, "pipreqs": 0.0}
    try:
        for case in cases:
            truth = {
                canonicalize_name(n)
                for n in json.loads((case / "expected.json").read_text())["requirements"]
            }
            start = time.perf_counter()
            scores["repro"].add(case.name, repro_answer(case), truth)
            seconds["repro"] += time.perf_counter() - start
            start = time.perf_counter()
            answer, note = pipreqs_answer(case, url)
            seconds["pipreqs"] += time.perf_counter() - start
            scores["pipreqs"].add(case.name, answer, truth, note)
    finally:
        server.shutdown()
    print(f"corpus: {len(cases)} cases, {scores['repro'].truth} true requirements\n")
    print("| tool | precision | recall | answered | correct | seconds |")
    print("|---|---|---|---|---|---|")
    for tool, score in scores.items():
        print(
            f"| {tool} | {score.precision:.3f} | {score.recall:.3f} | {score.answered} "
            f"| {score.tp} | {seconds[tool]:.1f} |"
        )
    for tool, score in scores.items():
        print(f"\n{tool}, per case (correct / answered / true):\n")
        print("| case | correct | answered | true | differences |")
        print("|---|---|---|---|---|")
        for case, hits, answered, true, detail in score.rows:
            print(f"| {case} | {hits} | {answered} | {true} | {detail} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
