"""Patterns found by pointing repro at real research repositories (docs/benchmarks.md,
"Real repositories"): each test is a small case written here that reproduces one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from repro import versions
from repro.infer import infer
from repro.models import BaseSettings, InferSettings
from repro.scan import scan
from tests.conftest import commit_all, write_files

# CompVis/taming-transformers: environment.yaml says python=3.8.5


def test_a_patch_level_python_pin_allows_its_minor() -> None:
    assert versions.python_allows("3.8", "==3.8.5")
    assert versions.python_allows("3.7", "==3.7.4")
    assert not versions.python_allows("3.9", "==3.8.5")
    assert versions.python_allows("3.8", ">=3.8.5,<3.9")
    assert not versions.python_allows("3.8", "!=3.8.*")


def test_a_conda_python_patch_pin_is_obeyed_not_ignored(tmp_path: Path) -> None:
    root = write_files(
        tmp_path,
        {
            "environment.yaml": "name: x\ndependencies:\n  - python=3.8.5\n  - numpy\n",
            "main.py": "import numpy\n",
        },
    )
    env = infer(scan(root), InferSettings(), commit_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    assert env.python.version == "3.8"
    assert not any("python=3.8.5" in c for c in env.conflicts)


# google-research/vision_transformer: requirements-tpu.txt beside requirements.txt

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"


def test_a_platform_variant_file_adds_no_extras_and_no_index() -> None:
    env = infer(
        scan(CORPUS / "platform-requirement-variants"),
        InferSettings(),
        commit_date=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
    )
    jax = next(r for r in env.requirements if r.name == "jax")
    assert jax.extras == () and "tpu" not in jax.pip_line()
    assert env.index_urls == ()


# google-research/vision_transformer: one stale classifier (3.7) against jax>=0.4.2 and a
# CI matrix that tests 3.10


def _vit_like(root: Path, ci: bool = True, requires: str = "") -> Path:
    setup = (
        "from setuptools import setup\n"
        "setup(name='vit', install_requires=['jax>=0.4.2', 'numpy'],"
        + (f" python_requires='{requires}'," if requires else "")
        + " classifiers=['Programming Language :: Python :: 3.7'])\n"
    )
    files = {"setup.py": setup, "vit/__init__.py": "", "vit/model.py": "import jax\n"}
    if ci:
        files[".github/workflows/build.yml"] = (
            "jobs:\n  build:\n    strategy:\n      matrix:\n"
            "        python-version: ['3.10']\n"
            "    steps:\n      - run: pip install .\n"
        )
    return write_files(root, files)


MAY_2024 = dt.datetime(2024, 5, 21, tzinfo=dt.UTC)


def test_a_stale_classifier_gives_way_to_what_the_requirements_can_install(tmp_path: Path) -> None:
    env = infer(scan(_vit_like(tmp_path)), InferSettings(), commit_date=MAY_2024)
    assert env.python.version == "3.10"  # the CI matrix, which jax 0.4.x has wheels for
    assert any(
        c.startswith(
            "ignored Python >=3.7,<3.8 from setup.py (classifiers: 3.7): no release of jax"
        )
        for c in env.conflicts
    )
    jax = next(r for r in env.requirements if r.name == "jax")
    assert jax.version is not None and not any("took the closest" in c for c in env.conflicts)


def test_without_other_hints_the_newest_installable_python_is_taken(tmp_path: Path) -> None:
    env = infer(scan(_vit_like(tmp_path, ci=False)), InferSettings(), commit_date=MAY_2024)
    assert env.python.version not in ("3.7", "3.8")


def test_a_declared_python_requires_is_not_overruled_by_wheels(tmp_path: Path) -> None:
    env = infer(scan(_vit_like(tmp_path, requires="<3.8")), InferSettings(), commit_date=MAY_2024)
    assert env.python.version == "3.7"  # the repository says so: its own contradiction
    assert any("as if they were unconstrained" in c for c in env.conflicts)


def test_jax_with_a_cuda11_extra_takes_the_last_release_built_for_cuda11() -> None:
    from repro import base_image
    from tests.unit.gpu_helpers import env as gpu_env

    env = gpu_env("3.10", "jax[cuda11_cudnn86]>=0.4.2", versions={"jax": "0.4.28"})
    base = base_image.select(env, BaseSettings())
    line = base_image.framework_lines(base)["jax"]
    assert line == "jax[cuda11_pip]==0.4.25"
    assert any(
        "the version chosen for the code's date was 0.4.28, which has no build for "
        "jax[cuda11_cudnn86]; 0.4.25 is the newest release that has one" in r
        for r in base.reasons
    )
    assert not any("pinned" in r for r in base.reasons)


# openai/gpt-2 (code last changed 2020-12, last commit 2024-01: a README edit),
# karpathy/nn-zero-to-hero, karpathy/llama2.c, karpathy/nanoGPT: versions must be as of
# the code, not of a later commit that touched only other files


def _commit(root: Path, files: dict[str, str], date: str) -> None:
    write_files(root, files)
    commit_all(root, date=date)


def test_versions_are_as_of_the_last_change_to_code_not_to_the_readme(tmp_path: Path) -> None:
    from repro import fetch

    root = tmp_path / "repo"
    root.mkdir()
    _commit(root, {"main.py": "import numpy\n", "README.md": "old\n"}, "2020-12-02T12:00:00Z")
    _commit(root, {"README.md": "new\n", "docs/index.md": "x\n"}, "2024-01-26T12:00:00Z")
    (tmp_path / "work").mkdir()
    checkout = fetch.fetch(fetch.parse_source(str(root), None), tmp_path / "work")
    assert checkout.commit_date.date() == dt.date(2024, 1, 26)
    assert checkout.code_date is not None and checkout.code_date.date() == dt.date(2020, 12, 2)
    env = infer(
        scan(checkout.path),
        InferSettings(),
        commit_date=checkout.commit_date,
        code_date=checkout.code_date,
    )
    assert env.as_of == dt.date(2020, 12, 2) and env.lock_cutoff == dt.date(2020, 12, 2)
    assert env.as_of_reason.startswith("last change to code or requirements 2020-12-02")
    # a later change to a requirements file counts
    _commit(root, {"requirements.txt": "numpy\n"}, "2024-03-01T12:00:00Z")
    (tmp_path / "work2").mkdir()
    again = fetch.fetch(fetch.parse_source(str(root), None), tmp_path / "work2")
    assert again.code_date is not None and again.code_date.date() == dt.date(2024, 3, 1)
    # --as-of still wins
    forced = infer(
        scan(checkout.path),
        InferSettings(as_of=dt.date(2019, 1, 1)),
        commit_date=checkout.commit_date,
        code_date=checkout.code_date,
    )
    assert forced.as_of == dt.date(2019, 1, 1)


def test_a_cpu_image_installs_jax_and_tensorflow_without_their_cuda_extras() -> None:
    # google-research/vision_transformer declares jax[cuda11_cudnn86]; --cpu installed it
    from repro import base_image
    from tests.unit.gpu_helpers import env as gpu_env

    env = gpu_env(
        "3.10",
        "jax[cuda11_cudnn86]>=0.4.2",
        "tensorflow[and-cuda]>=2.15",
        "numpy",
        versions={"jax": "0.4.25", "tensorflow": "2.16.1"},
    )
    assert base_image.cpu_lines(env) == {"jax": "jax==0.4.25", "tensorflow": "tensorflow==2.16.1"}
    base = base_image.select(env, BaseSettings(cpu=True))
    assert any("jax without its GPU extras (cuda11_cudnn86)" in r for r in base.reasons)


def test_a_notebook_installing_the_repository_itself_from_github_is_not_an_install(
    tmp_path: Path,
) -> None:
    # google-research/vision_transformer: lit.ipynb runs
    # `!pip install git+https://github.com/google-research/vision_transformer`
    import json

    cell = {
        "cell_type": "code",
        "metadata": {},
        "outputs": [],
        "execution_count": None,
        "source": [
            "!pip install -q git+https://github.com/Lab/Paper.git@main\n",
            "!pip install git+https://github.com/other/flaxformer\n",
        ],
    }
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    root = write_files(tmp_path, {"demo.ipynb": json.dumps(notebook), "paper/__init__.py": ""})
    env = infer(
        scan(root),
        InferSettings(),
        commit_date=MAY_2024,
        source_url="https://github.com/lab/paper",
    )
    urls = [r.url for r in env.requirements if r.url]
    assert urls == ["git+https://github.com/other/flaxformer"]
    assert any("installs this repository itself" in w for w in env.warnings)


# yunjey/pytorch-tutorial, carpedm20/DCGAN-tensorflow: a README's "Python 2.7 or 3.5+";
# erikbern/git-of-theseus: a CI matrix of 2.7 and 3.4. Code for both majors went to 2.7.

JULY_2018 = dt.datetime(2018, 7, 18, tzinfo=dt.UTC)
BOTH_MAJORS = "import json\nimport numpy\n\nprint(json.dumps({'n': numpy.zeros(2).tolist()}))\n"


def test_a_readme_naming_python_2_or_3_gives_the_newest_the_code_allows(tmp_path: Path) -> None:
    readme = (
        "# Tutorial\n\n## Dependencies\n\n"
        "* [Python 2.7 or 3.5+](https://www.continuum.io/downloads)\n* numpy\n"
    )
    root = write_files(tmp_path / "a", {"README.md": readme, "main.py": BOTH_MAJORS})
    env = infer(scan(root), InferSettings(), commit_date=JULY_2018)
    assert env.python.version == "3.6"  # the newest out for a year in July 2018, not 2.7
    assert any("names Python 2 and 3 as alternatives" in r for r in env.python.reasons)
    # the same README with Python 2 code: the code decides, 2.7
    py2 = write_files(tmp_path / "b", {"README.md": readme, "main.py": "print 'hello'\n"})
    assert infer(scan(py2), InferSettings(), commit_date=JULY_2018).python.version == "2.7"
    # "or Python 3.3+", "2.7/3.6", "3.x": read as alternatives too
    for line, newest in (("Python 2.7 or Python 3.3+", "3.6"), ("Python 2.7/3.5", "3.5")):
        text = f"# T\n\n## Requirements\n\n- {line}\n"
        root = write_files(tmp_path / line.replace(" ", "_").replace("/", "-"),
                           {"README.md": text, "main.py": BOTH_MAJORS})  # fmt: skip
        assert infer(scan(root), InferSettings(), commit_date=JULY_2018).python.version == newest


def test_a_readme_naming_one_python_still_pins_it(tmp_path: Path) -> None:
    readme = "# T\n\n## Requirements\n\n- Python 2.7\n"
    root = write_files(tmp_path, {"README.md": readme, "main.py": BOTH_MAJORS})
    assert infer(scan(root), InferSettings(), commit_date=JULY_2018).python.version == "2.7"


def test_a_ci_matrix_of_2_7_and_an_unbuildable_3_x_gives_python_3(tmp_path: Path) -> None:
    travis = 'language: python\npython:\n  - "2.7"\n  - "3.4"\n'
    root = write_files(tmp_path / "a", {".travis.yml": travis, "main.py": BOTH_MAJORS})
    env = infer(scan(root), InferSettings(), commit_date=JULY_2018)
    assert env.python.version == "3.5"
    assert any("3.5, the oldest it builds, stands in" in r for r in env.python.reasons)
    py2 = write_files(tmp_path / "b", {".travis.yml": travis, "main.py": "print 'hello'\n"})
    assert infer(scan(py2), InferSettings(), commit_date=JULY_2018).python.version == "2.7"
