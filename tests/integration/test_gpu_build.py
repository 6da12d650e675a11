"""A GPU plan's Dockerfile builds on a stand-in carrying the very name repro chose.

No CUDA wheel is downloaded: the framework comes from a wheelhouse (``--find-links``).
The stand-in for ``nvidia/cuda:13.0.3-runtime-ubuntu24.04`` is Debian bookworm with its
Python 3.11 (scripts/standin-images.sh), so the plan uses Python 3.11; there is no GPU
here, so the smoke test runs on the CPU and the manifest says so.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from repro.cli import cli
from repro.engine import DockerEngine
from tests.conftest import FakeGitHub, require_images

pytestmark = [pytest.mark.docker, pytest.mark.network]

CHOSEN = "nvidia/cuda:13.0.3-runtime-ubuntu24.04"
TORCH_WHEELS = Path(os.environ.get("REPRO_TORCH_WHEELHOUSE", "/opt/wheels"))


def small_torch_wheel(folder: Path, version: str) -> Path:
    """A few-byte wheel named like torch's CUDA 13.0 build, so that nothing large downloads.

    It stands in for the framework's payload only; what is tested is the plan (base, lines,
    Python set-up, layers) and that its Dockerfile builds and runs.
    """
    folder.mkdir(parents=True, exist_ok=True)
    name = f"torch-{version}-cp311-cp311-linux_x86_64.whl"
    dist = f"torch-{version}.dist-info"
    files = {
        "torch/__init__.py": (
            f"__version__ = {version!r}\n"
            "class cuda:\n"
            "    @staticmethod\n"
            "    def is_available():\n"
            "        return False\n"
        ),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n",
        f"{dist}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: repro-test\nRoot-Is-Purelib: false\n"
            "Tag: cp311-cp311-linux_x86_64\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(folder / name, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return folder


def gpu_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "requirements.txt").write_text("torch==2.13.0\n")
    (root / "train.py").write_text(
        "import torch\nprint('torch', torch.__version__, 'cuda', torch.cuda.is_available())\n"
    )
    return root


def test_gpu_plan_builds_on_the_chosen_cuda_name(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, CHOSEN)
    url, sha = github.publish(gpu_repo(tmp_path / "src" / "gpu-paper"))
    wheels = small_torch_wheel(tmp_path / "wheels", "2.13.0+cu130")
    out = tmp_path / "out"
    tag = f"repro/acme-gpu-paper:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cu130"]

    plan = CliRunner().invoke(
        cli, ["inspect", url, "--json", "--find-links", str(wheels), "--python", "3.11"]
    )
    assert plan.exit_code == 0, plan.stderr
    planned = json.loads(plan.stdout)
    assert planned["base_image"]["name"] == CHOSEN  # the name the stand-in carries
    assert planned["cuda"]["cuda"] == "13.0" and planned["cuda"]["flavour"] == "runtime"
    assert planned["cuda"]["requirements"] == {"torch": "torch==2.13.0+cu130"}

    result = CliRunner().invoke(
        cli,
        [
            "pack", url, "--find-links", str(wheels), "--python", "3.11",
            "--smoke", "python train.py", "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(next(out.glob("*/repro.json")).read_text())
    assert manifest["base_image"]["name"] == CHOSEN and manifest["base_image"]["gpu"] is True
    assert manifest["base_image"]["python_source"] == "deadsnakes"
    assert manifest["smoke"]["passed"] is True
    assert manifest["smoke"]["gpu"] is False  # no GPU on this engine: it ran on the CPU
    assert "torch 2.13.0+cu130 cuda False" in manifest["smoke"]["log_tail"]
    assert "torch==2.13.0+cu130" in manifest["lock"]
    dockerfile = next(out.glob("*/Dockerfile")).read_text()
    assert f"FROM {CHOSEN}" in dockerfile and "ppa:deadsnakes/ppa" in dockerfile


@pytest.mark.slow
@pytest.mark.skipif(
    not list(TORCH_WHEELS.glob("torch-*cp311*.whl")),
    reason="no CPU torch wheel for Python 3.11 here",
)
def test_real_cpu_torch_on_a_cuda_base_with_cuda_option(
    engine: DockerEngine, github: FakeGitHub, tmp_path: Path, cleanup_images: list[str]
) -> None:
    """The real torch wheel of /opt/wheels is a CPU build: it asks no CUDA, so only --cuda
    makes the image a CUDA one; repro installs that wheel as it is and says so."""
    require_images(engine, CHOSEN)
    repo = tmp_path / "src" / "gpu-real"
    repo.mkdir(parents=True)
    (repo / "requirements.txt").write_text("torch\n")
    (repo / "train.py").write_text(
        "import torch\n"
        "x = torch.ones(3) * 2\n"
        "print('sum', float(x.sum()), torch.cuda.is_available())\n"
    )
    url, sha = github.publish(repo)
    tag = f"repro/acme-gpu-real:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cu130"]
    result = CliRunner().invoke(
        cli,
        [
            "pack", url, "--cuda", "13.0", "--find-links", str(TORCH_WHEELS),
            "--python", "3.11", "--smoke", "python train.py", "--out", str(tmp_path / "out"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(next((tmp_path / "out").glob("*/repro.json")).read_text())
    assert manifest["base_image"]["name"] == CHOSEN
    assert any("is a CPU build" in r for r in manifest["base_image"]["reasons"])
    assert "sum 6.0 False" in manifest["smoke"]["log_tail"]
    assert any(line.startswith("torch==2.13.0+cpu") for line in manifest["lock"])
