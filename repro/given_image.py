"""``--base-image IMAGE``: what the image has, read from its config and, where that is
silent, one short probe container (edge: docker, through the Engine interface).

The config answers first: ``PYTHON_VERSION`` (the official python images), ``CUDA_VERSION``
and ``NV_CUDNN_VERSION``/``CUDNN_VERSION`` (nvidia/cuda and the images built on it), and
the labels. Where it is silent about Python or CUDA, a container of the image runs a POSIX
shell script (no network, a minute at most) that asks ``python3``, ``python`` and
``python2`` for their version and whether they have pip and venv, reads /etc/os-release,
and lists the CUDA runtime and cuDNN libraries and ``nvcc``. ``parse`` turns both into
``GivenImage`` (pure); the planner decides what the image can serve.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from repro.engine import Engine, RunLimits
from repro.errors import BuildError, EngineError
from repro.models import GivenImage

# One line per fact: "python CMD X.Y", "pip CMD", "venv CMD", "os ID=..", "lib NAME", "nvcc".
PROBE = r"""
for c in python3 python python2; do
  if command -v "$c" >/dev/null 2>&1; then
    v=$("$c" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) \
      && echo "python $c $v"
    "$c" -c 'import pip' >/dev/null 2>&1 && echo "pip $c"
    "$c" -c 'import venv, ensurepip' >/dev/null 2>&1 && echo "venv $c"
  fi
done
[ -r /etc/os-release ] && grep -E '^(ID|VERSION_ID)=' /etc/os-release | sed 's/^/os /'
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         /usr/lib/x86_64-linux-gnu /usr/lib64 /opt/conda/lib; do
  for f in "$d"/libcudart.so.* "$d"/libcudnn.so.*; do [ -e "$f" ] && echo "lib ${f##*/}"; done
done
{ command -v nvcc || ls /usr/local/cuda/bin/nvcc; } >/dev/null 2>&1 && echo nvcc
echo done
"""
PROBE_TIMEOUT = 60.0


def _minor(version: str) -> str | None:
    found = re.match(r"(\d+)\.(\d+)", version.strip())
    return f"{found.group(1)}.{found.group(2)}" if found else None


def needs_probe(env: Mapping[str, str]) -> bool:
    """The config says nothing of the Python or of the CUDA inside."""
    return "PYTHON_VERSION" not in env or "CUDA_VERSION" not in env


def parse(
    name: str, env: Mapping[str, str], labels: Mapping[str, str], output: str | None
) -> GivenImage:
    """The facts of the config (``env``, ``labels``) and of the probe's ``output`` (None:
    no probe ran, or it failed). The probe's answers win where both speak."""
    evidence: list[str] = []
    python = _minor(env.get("PYTHON_VERSION", ""))
    interpreter = "python" if python else None
    if python:
        evidence.append(f"config: PYTHON_VERSION={env['PYTHON_VERSION']}")
    cuda = _minor(env.get("CUDA_VERSION", "") or labels.get("com.nvidia.cuda.version", ""))
    if cuda:
        evidence.append(f"config: CUDA_VERSION={env.get('CUDA_VERSION') or cuda}")
    cudnn_text = env.get("NV_CUDNN_VERSION") or env.get("CUDNN_VERSION") or ""
    cudnn_text = cudnn_text or labels.get("com.nvidia.cudnn.version", "")
    cudnn = _minor(cudnn_text) or (cudnn_text.split(".")[0] if cudnn_text else None)
    if cudnn:
        evidence.append(f"config: cuDNN {cudnn_text}")
    pip = venv = bool(python)  # the official python images have both
    pythons: list[str] = [python] if python else []
    nvcc = False
    os_id = os_version = ""
    if output is not None:
        found: list[tuple[str, str]] = []
        pips: set[str] = set()
        venvs: set[str] = set()
        libs: list[str] = []
        for line in output.splitlines():
            word, _, rest = line.strip().partition(" ")
            if word == "python" and len(rest.split()) == 2:
                command, version = rest.split()
                if _minor(version):
                    found.append((command, version))
            elif word == "pip":
                pips.add(rest)
            elif word == "venv":
                venvs.add(rest)
            elif word == "os":
                key, _, value = rest.partition("=")
                value = value.strip().strip('"')
                os_id, os_version = (value, os_version) if key == "ID" else (os_id, value)
            elif word == "lib":
                libs.append(rest)
            elif word == "nvcc":
                nvcc = True
        evidence += [f"probe: {c} -> Python {v}" for c, v in found]
        # python3 first; a Python 2 only when no Python 3 answers
        threes = [(c, v) for c, v in found if v.startswith("3.")]
        if threes or found:
            interpreter, python = (threes or found)[0]
            pip, venv = interpreter in pips, interpreter in venvs
        else:  # the probe ran and no interpreter answered: whatever the config says
            interpreter = python = None
            pip = venv = False
        pythons = sorted({v for _, v in found}, key=_key)
        lib_cuda, lib_cudnn = _from_libs(libs)
        if lib_cuda and not cuda:
            cuda = lib_cuda
            evidence.append(f"probe: libcudart -> CUDA {lib_cuda}")
        if lib_cudnn and not cudnn:
            cudnn = lib_cudnn
            evidence.append(f"probe: libcudnn -> cuDNN {lib_cudnn}")
        if nvcc:
            evidence.append("probe: nvcc found")
    return GivenImage(
        name=name,
        python=python,
        interpreter=interpreter,
        pythons=tuple(pythons),
        pip=pip,
        venv=venv,
        cuda=cuda,
        cudnn=cudnn,
        nvcc=nvcc,
        os=f"{os_id} {os_version}".strip(),
        probed=output is not None,
        evidence=tuple(evidence),
    )


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _from_libs(names: list[str]) -> tuple[str | None, str | None]:
    """CUDA and cuDNN from library file names (``libcudart.so.11.0``, ``libcudnn.so.8``)."""
    cuda = cudnn = None
    for name in names:
        version = name.split(".so.", 1)[1] if ".so." in name else ""
        if name.startswith("libcudart") and version:
            minor = _minor(version)
            if minor and (cuda is None or _key(minor) > _key(cuda)):
                cuda = minor
        elif name.startswith("libcudnn.") and version:
            best = _minor(version) or version.split(".")[0]
            if cudnn is None or len(best) > len(cudnn):
                cudnn = best
    return cuda, cudnn


def probe(engine: Engine, name: str) -> GivenImage:
    """What ``name`` holds: its config, and a probe container where that is silent.
    A missing image is pulled; one that cannot be had is a usage error."""
    info = engine.image_info(name)
    if info is None:
        try:
            engine.pull(name)
        except EngineError as exc:
            reason = exc.message.removeprefix(f"cannot pull {name}: ")
            # as for any base image the engine lacks (probe.ensure_base_images)
            raise BuildError(
                f"base image {name} is not on this engine and cannot be pulled: {reason}",
                step=f"FROM {name}",
                hint="docker pull it where a registry is reachable, or name a local image "
                "with --base-image (or leave it out: repro picks one)",
            ) from exc
        info = engine.image_info(name)
    env = dict(info.env) if info is not None else {}
    labels = dict(info.labels) if info is not None else {}
    output = None
    if needs_probe(env):
        limits = RunLimits(timeout=PROBE_TIMEOUT, entrypoint=("sh", "-c"))
        result = engine.run(name, [PROBE], limits)
        if result.exit_code == 0 and "done" in result.output:
            output = result.output
    return parse(name, env, labels, output)
