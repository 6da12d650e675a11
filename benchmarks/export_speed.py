#!/usr/bin/env python3
"""repro's image export against ``docker save | gzip``, side by side in one run.

The export is the last stage of ``repro pack``: ``image.tar.gz``, a docker archive that
``docker load`` takes back. repro writes it from its blob store (docs/performance.md,
"Export"): each layer compressed once (gzip on every core), kept by its diff id, reused
by every later export that holds it. The naive route is what people type:
``docker save IMAGE | gzip > image.tar.gz`` (gzip's default level, one core).

Two images, built on the real engine from the ``python:3.11-slim`` stand-in, each in two
versions that differ by one line of code (the last layer):

- small: base + an "environment" layer of about 190 MB (copies of the base's /usr/lib,
  /usr/share and /usr/bin: real binaries and text, compressing as real environments do)
  + the code, like the numpy + scipy image of benchmarks/pack_speed.py;
- large: base + about ``--large-mb`` MB of such copies (a torch-sized environment) + code.

For each, with an empty blob store at the start:

1. cold: export of version 1 (every layer compressed);
2. one-line change: export of version 2 (only the code layer is new);
3. unchanged: export of version 2 again (nothing changed since the last export);

and the naive route for the same image each time. Also timed: ``docker save > /dev/null``
alone (the engine's part, which no exporter avoids when it asks the engine), and the gzip
compressors on the small image's largest layer (repro's threads, pigz, gzip). Every
tarball repro writes is checked: ``gzip -t``, and for the last one of each image
``docker load``.

    python benchmarks/export_speed.py [--large-mb 800] [--runs 1] [--json FILE]

(Disk: about four times ``--large-mb`` free, for the image, Docker's own copy while it
saves, the store and the tarballs.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from repro import artifact, compress  # noqa: E402
from repro.engine import DockerEngine  # noqa: E402

BASE = "python:3.11-slim"
DOCKER = "/usr/bin/docker"
COPIES = ("/usr/lib", "/usr/share", "/usr/bin")  # about 194 MB on the stand-in


def env_dockerfile(copies: int) -> str:
    steps = " && ".join(
        f"cp -a {src} /opt/env/{i}{src.replace('/', '-')}" for i in range(copies) for src in COPIES
    )
    return f"FROM {BASE}\nRUN mkdir -p /opt/env && {steps}\n"


def code_dockerfile(env: str, code: str) -> str:
    return f"FROM {env}\nRUN printf '{code}\\n' > /opt/train.py\n"


def build(tag: str, text: str, work: Path) -> None:
    context = work / f"ctx-{tag.replace('/', '-').replace(':', '-')}"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(text)
    subprocess.run(
        [DOCKER, "build", "-q", "-t", tag, str(context)],
        check=True,
        capture_output=True,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )


def layers(tag: str) -> list[str]:
    argv = [DOCKER, "image", "inspect", "--format", "{{json .RootFS.Layers}}", tag]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return [str(x) for x in json.loads(out)]


def timed(fn: Callable[[], object]) -> float:
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def naive(tag: str, out: Path) -> float:
    return timed(
        lambda: subprocess.run(
            ["sh", "-c", f'{DOCKER} save "$0" | gzip > "$1"', tag, str(out)], check=True
        )
    )


def save_only(tag: str) -> float:
    return timed(
        lambda: subprocess.run([DOCKER, "save", tag], check=True, stdout=subprocess.DEVNULL)
    )


def repro_export(engine: DockerEngine, tag: str, dest: Path) -> float:
    if dest.exists():
        shutil.rmtree(dest)
    return timed(
        lambda: artifact.write(
            dest,
            engine=engine,
            refs=[tag],
            dockerfile="FROM scratch\n",
            manifest_for=lambda files: {"files": dict(files)},
        )
    )


def checked(folder: Path) -> None:
    """``gzip -t`` of the tarball repro wrote, then the folder goes."""
    subprocess.run(["gzip", "-t", str(folder / artifact.IMAGE_TARBALL)], check=True)
    shutil.rmtree(folder)


def compressors(work: Path, tag: str) -> dict[str, float]:
    """Seconds to gzip the largest layer's bytes: repro's threads, pigz -3, gzip -3, gzip -6."""
    archive = work / "layers.tar"
    subprocess.run([DOCKER, "save", "-o", str(archive), tag], check=True)
    unpacked = work / "layers"
    unpacked.mkdir()
    subprocess.run(["tar", "-xf", str(archive), "-C", str(unpacked)], check=True)
    archive.unlink()
    layer = max((p for p in unpacked.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    size = layer.stat().st_size
    out: dict[str, float] = {"layer_mb": size / 1e6}

    def ours() -> None:
        sink = open(os.devnull, "wb")  # noqa: SIM115
        gz = compress.ParallelGzip(sink.write, level=compress.LEVELS[compress.GZIP])
        with open(layer, "rb") as fh:
            while chunk := fh.read(1 << 20):
                gz.write(chunk)
        gz.close()
        sink.close()

    out["repro threads (level 3)"] = timed(ours)
    for name, argv in (
        ("pigz -3", ["pigz", "-3", "-c"]),
        ("gzip -3", ["gzip", "-3", "-c"]),
        ("gzip -6 (default)", ["gzip", "-6", "-c"]),
    ):
        if shutil.which(argv[0]) is None:
            continue
        with open(layer, "rb") as src, open(os.devnull, "wb") as dst:
            out[name] = timed(lambda a=argv, s=src, d=dst: subprocess.run(a, stdin=s, stdout=d))
    shutil.rmtree(unpacked)
    return out


def one_image(
    engine: DockerEngine, name: str, copies: int, work: Path, runs: int
) -> dict[str, object]:
    env, tag1, tag2 = (f"repro/bench-export-{name}:{v}" for v in ("env", "v1", "v2"))
    rows: list[dict[str, float]] = []
    sizes: dict[str, int] = {}
    try:
        # both versions on one environment image: the same layers below the code, whatever
        # the build cache keeps on a shared engine
        build(env, env_dockerfile(copies), work)
        build(tag1, code_dockerfile(env, "print(1)"), work)
        build(tag2, code_dockerfile(env, "print(2)"), work)
        one, two = layers(tag1), layers(tag2)  # a one-line change: only the last layer differs
        assert one[:-1] == two[:-1] and one[-1] != two[-1], (one, two)
        info = engine.image_info(tag2)
        for run in range(runs):
            cache = work / f"cache-{name}-{run}"
            os.environ["REPRO_CACHE_DIR"] = str(cache)
            row: dict[str, float] = {}
            # each tarball checked, then removed (disk: the large image's are GBs)
            row["cold repro"] = repro_export(engine, tag1, work / "a")
            checked(work / "a")
            row["cold naive"] = naive(tag1, work / "naive.tar.gz")
            row["change repro"] = repro_export(engine, tag2, work / "b")
            checked(work / "b")
            row["change naive"] = naive(tag2, work / "naive.tar.gz")
            row["unchanged repro"] = repro_export(engine, tag2, work / "c")
            row["unchanged naive"] = naive(tag2, work / "naive.tar.gz")
            row["docker save alone"] = save_only(tag2)
            subprocess.run(["gzip", "-t", str(work / "c" / artifact.IMAGE_TARBALL)], check=True)
            sizes = {
                "repro image.tar.gz": (work / "c" / artifact.IMAGE_TARBALL).stat().st_size,
                "naive image.tar.gz": (work / "naive.tar.gz").stat().st_size,
                "store": sum(p.stat().st_size for p in (cache / "blobs").rglob("*") if p.is_file()),
            }
            rows.append(row)
            print(name, run + 1, json.dumps({k: round(v, 2) for k, v in row.items()}), flush=True)
            shutil.rmtree(cache)
        # the tarball repro wrote loads back as the very image
        engine.remove_image(tag2)
        subprocess.run(
            [DOCKER, "load", "-q", "-i", str(work / "c" / artifact.IMAGE_TARBALL)],
            check=True,
            capture_output=True,
        )
        loaded = engine.image_info(tag2)
        assert loaded is not None and info is not None and loaded.id == info.id, "load failed"
        comp = compressors(work, tag2) if name == "small" else {}
    finally:
        for tag in (tag1, tag2, env):
            subprocess.run([DOCKER, "rmi", "-f", tag], capture_output=True)
        for leftover in ("a", "b", "c"):
            shutil.rmtree(work / leftover, ignore_errors=True)
        (work / "naive.tar.gz").unlink(missing_ok=True)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    return {
        "image_mb": (info.size if info else 0) / 1e6,
        "medians": med,
        "runs": rows,
        "sizes": sizes,
        "compressors": comp,
    }


def report(results: dict[str, dict[str, object]]) -> str:
    out = [
        "| image | case | repro | `docker save \\| gzip` | naive ÷ repro |",
        "|---|---|---|---|---|",
    ]
    for name, res in results.items():
        med: dict[str, float] = res["medians"]  # type: ignore[assignment]
        label = f"{name} ({res['image_mb']:.0f} MB)"
        for case, text in (
            ("cold", "1. cold (empty store)"),
            ("change", "2. one-line change"),
            ("unchanged", "3. unchanged image"),
        ):
            r, n = med[f"{case} repro"], med[f"{case} naive"]
            out.append(f"| {label} | {text} | {r:.2f} s | {n:.2f} s | {n / r:.1f}× |")
        out.append(
            f"| {label} | `docker save > /dev/null` alone | | {med['docker save alone']:.2f} s | |"
        )
    out.append("")
    out.append("| image | repro image.tar.gz | naive image.tar.gz | blob store |")
    out.append("|---|---|---|---|")
    for name, res in results.items():
        s: dict[str, int] = res["sizes"]  # type: ignore[assignment]
        out.append(
            f"| {name} | {s['repro image.tar.gz'] / 1e6:.1f} MB | "
            f"{s['naive image.tar.gz'] / 1e6:.1f} MB | {s['store'] / 1e6:.1f} MB |"
        )
    out.append("")
    out.append("| image | layer | compressor | seconds | MB/s |")
    out.append("|---|---|---|---|---|")
    for name, res in results.items():
        c: dict[str, float] = dict(res["compressors"])  # type: ignore[call-overload]
        if not c:
            continue
        mb = c.pop("layer_mb")
        for k, v in c.items():
            out.append(f"| {name} | {mb:.0f} MB | {k} | {v:.2f} | {mb / v:.0f} |")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-mb", type=int, default=800, help="0: the small image only")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    engine = DockerEngine()
    if engine.image_info(BASE) is None:
        raise SystemExit(f"{BASE} is missing: run scripts/standin-images.sh")
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        work = Path(tmp)
        results["small"] = one_image(engine, "small", 1, work, args.runs)
        if args.large_mb:
            copies = max(1, round(args.large_mb / 194))
            results["large"] = one_image(engine, "large", copies, work, args.runs)
    machine = {
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "load average at the end": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    print(json.dumps(machine))
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
