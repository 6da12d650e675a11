#!/usr/bin/env python3
"""Regenerate repro/data/releases.json: release dates of the core ML packages, from PyPI.

For each package below, PyPI's JSON API (``https://pypi.org/pypi/NAME/json``) is read and,
for every final (non pre-release) version, the script keeps:

- ``date``: the UTC date of the release's first uploaded file (what an ``--exclude-newer``
  cutoff compares against, at the resolution repro uses: whole days);
- ``requires_python``: the release's ``Requires-Python``, when it states one;
- ``wheels``: the interpreter tags of its wheels that install on Linux x86_64
  (``cp37``, ``py3``, ``py2``, ``cp37-abi3`` for a stable-ABI wheel built for 3.7 and later);
- ``sdist``: whether a source distribution exists; ``yanked`` when every file is yanked.

Each package records when it was fetched and PyPI's serial number at that moment, so a
refresh can be told apart from the data it replaced. repro reads this file offline
(``repro inspect`` never needs the network for these packages); other packages are
fetched on demand by ``repro/pypi.py`` and kept in the user's cache.

Usage: scripts/gen_releases.py [--out PATH] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from repro.pypi import PACKAGE_URL, fetch_json
from repro.releases import condense

# Frameworks and the libraries the API rules talk about, then what they pull in most often
# (their transitive dependencies decide whether an old lock resolves at all).
PACKAGES = """
torch torchvision torchaudio tensorflow tensorflow-gpu tensorflow-cpu keras tf-keras
tensorflow-estimator tensorboard tensorflow-probability tensorflow-addons tensorflow-hub
jax jaxlib flax optax dm-haiku chex numpy scipy scikit-learn pandas networkx librosa
transformers tokenizers huggingface-hub safetensors accelerate datasets sentencepiece
sacremoses matplotlib pillow scikit-image imageio opencv-python h5py numba llvmlite
joblib threadpoolctl soundfile audioread resampy statsmodels patsy seaborn sympy mpmath
theano mxnet gym tqdm pyyaml protobuf absl-py grpcio six wrapt gast astor termcolor
opt-einsum keras-applications keras-preprocessing markdown werkzeug mock python-dateutil
pytz pyparsing cycler kiwisolver fonttools packaging certifi urllib3 idna chardet
charset-normalizer requests filelock typing-extensions jinja2 markupsafe fsspec regex
decorator cython future setuptools django flask gensim ipython statsmodels theano
""".split()  # noqa: SIM905 (names read best as words)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = Path(__file__).resolve().parent.parent / "repro" / "data" / "releases.json"
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--only", nargs="*", help="refresh only these packages")
    args = parser.parse_args(argv)
    names = args.only or PACKAGES
    old: dict[str, object] = {}
    if args.out.is_file() and args.only:
        old = json.loads(args.out.read_text())["packages"]
    packages: dict[str, object] = dict(old)
    with cf.ThreadPoolExecutor(max_workers=4) as pool:
        futures = {pool.submit(fetch_json, PACKAGE_URL.format(name=n)): n for n in names}
        for future in cf.as_completed(futures):
            name = futures[future]
            doc, serial = future.result()
            packages[name] = condense(doc, serial=serial, fetched=_now())
            print(f"{name}: {len(packages[name]['releases'])} releases", file=sys.stderr)  # type: ignore[index]
    data = {
        "schema_version": 1,
        "generated": _now(),
        "generated_by": "scripts/gen_releases.py",
        "source": "PyPI JSON API, "
        + PACKAGE_URL.format(name="NAME")
        + " (upload_time_iso_8601, requires_python, filenames, yanked)",
        "packages": {k: packages[k] for k in sorted(packages)},
    }
    args.out.write_text(json.dumps(data, indent=0, sort_keys=False) + "\n")
    return 0


def _now() -> str:
    return (
        dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )


if __name__ == "__main__":
    sys.exit(main())
