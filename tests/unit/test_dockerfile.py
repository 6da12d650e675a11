"""The rendered Dockerfile, compared whole against golden files (review their diffs).

Set REPRO_UPDATE_GOLDEN=1 to rewrite the golden files after an intended change.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from repro.dockerfile import Recipe, render
from repro.models import BaseImage, CudaChoice
from tests.unit.recipes import CASES

GOLDEN = Path(__file__).parent / "golden"


def test_optional_layer_comes_after_the_rest_and_cannot_fail_the_build() -> None:
    rendered = render(CASES["uv-optional"])
    text = rendered.dockerfile
    assert rendered.files[".repro/requirements-optional.txt"] == "simplejson\nmatplotlib>=2\n"
    assert text.index("/opt/repro/requirements.txt") < text.index("requirements-optional.txt")
    layer = text[text.index("COPY .repro/requirements-optional.txt") :].split("\nCOPY ")[0]
    # each on its own, held to what is installed, a failure recorded and passed over
    assert '"$req"' in layer and "--constraint /opt/repro/installed-before-optional.txt" in layer
    assert '|| echo "$req" >> /opt/repro/optional-dropped.txt' in layer
    assert "--exclude-newer 2018-03-01T00:00:00Z" in layer
    # without optional imports there is no such layer
    assert "requirements-optional" not in render(CASES["uv-lock"]).dockerfile


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_dockerfile_matches_golden(case: str) -> None:
    text = render(CASES[case]).dockerfile
    path = GOLDEN / f"{case}.Dockerfile"
    if os.environ.get("REPRO_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_source_is_copied_after_every_install() -> None:
    text = render(CASES["cpu-framework"]).dockerfile
    assert text.index("COPY --chown=1000:1000 src/") > text.rindex("pip install")
    assert text.index("requirements-framework.txt") < text.index("/opt/repro/requirements.txt")


def test_secrets_are_mounted_never_copied() -> None:
    text = render(CASES["gpu-torch"]).dockerfile
    assert "--mount=type=secret,id=repro-ca" in text
    assert "COPY" not in "".join(ln for ln in text.splitlines() if "secret" in ln)
    assert "ENV PIP_CERT" not in text and "ENV SSL_CERT_FILE" not in text


def test_requirement_files_are_rendered_with_the_dockerfile() -> None:
    files = render(CASES["cpu-framework"]).files
    assert files[".repro/requirements-framework.txt"] == "torch==2.13.0+cpu\n"
    assert files[".repro/requirements.txt"] == "numpy\nscipy>=1.7\n"
    assert "def main(argv)" in files[".repro/import_check.py"]


def test_libraries_a_repair_adds_come_after_every_python_package() -> None:
    # adding libGL after a failed smoke test must not reinstall torch: its layer stays cached
    text = render(CASES["repair-runtime-packages"]).dockerfile
    apt = text.index("apt-get install -y --no-install-recommends libgl1 libglib2.0-0")
    assert apt > text.rindex("-r /opt/repro/requirements.txt")
    assert apt < text.index("COPY --chown=1000:1000 src/")
    assert "apt-get" not in render(CASES["uv-lock"]).dockerfile


def test_a_package_built_without_isolation_finds_what_its_build_imports() -> None:
    # a build repair for glmnet's setup.py, which imports numpy: numpy (at the lock's date)
    # goes in first, then the requirements with glmnet built in the environment
    made = dataclasses.replace(
        CASES["uv-lock"], build_first=("numpy<1.24",), no_build_isolation=("glmnet",)
    )
    text = render(made).dockerfile
    first = text.index("'numpy<1.24' wheel")
    assert text.index("--exclude-newer 2024-03-01T00:00:00Z", text.rindex("RUN ", 0, first)) < first
    rest = text.index("--no-build-isolation-package glmnet -r /opt/repro/requirements.txt")
    assert first < rest
    assert "no-build-isolation" not in render(CASES["uv-lock"]).dockerfile
    # pip (Python 2.7): the whole install without isolation, held to the date too
    old = dataclasses.replace(
        CASES["py27-date-constraints"], build_first=("numpy",), no_build_isolation=("glmnet",)
    )
    text = render(old).dockerfile
    assert "--constraint /opt/repro/constraints-date.txt numpy wheel \\\n    && " in text
    assert "--no-build-isolation -r /opt/repro/requirements.txt" in text


def _python_cases() -> list[tuple[str, str, str]]:
    from repro import compat

    data = compat.load()
    return [
        (u.ubuntu, python, source)
        for u in data.ubuntu.values()
        for source, pythons in (("apt", u.distro), ("deadsnakes", u.deadsnakes))
        for python in pythons
    ]


@pytest.mark.parametrize(("ubuntu", "python", "source"), _python_cases())
def test_python_on_every_ubuntu_the_data_can_emit(ubuntu: str, python: str, source: str) -> None:
    """Each Ubuntu x Python the data allows: the right archive, a venv, nothing else."""
    from repro import compat

    release = compat.load().ubuntu[ubuntu]
    packages = release.apt_packages(python, devel=False)
    base = BaseImage(
        name=f"nvidia/cuda:12.6.3-runtime-ubuntu{ubuntu}",
        python=python,
        python_source=source,  # type: ignore[arg-type]
        gpu=True,
        cuda=CudaChoice(
            cuda="12.6",
            cudnn=None,
            flavour="runtime",
            min_driver=None,
            python_packages=packages,
            pip=release.pip,
        ),
        reasons=(),
        variant="x",
    )
    recipe = Recipe(base=base, source_url="u", commit="c" * 40, requirements=("numpy",))
    text = render(recipe).dockerfile
    assert ("ppa:deadsnakes/ppa" in text) == (source == "deadsnakes")
    assert f"apt-get install -y --no-install-recommends {' '.join(packages)};" in text
    assert f"python{python}-venv" in packages
    assert f"    python{python} -m venv /opt/venv \\\n" in text
    assert "export PIP_INDEX_URL=https://pypi.org/simple; }" in text
    pip = "pip" if release.pip == "pip" else f"'{release.pip}'"  # xenial: pip 8 needs a cap
    assert f"/opt/venv/bin/python -m pip install --upgrade {pip}\n" in text
    # the new pip is in place before anything installs
    assert text.index("--upgrade") < text.index("-r /opt/repro/requirements.txt")
