"""Binder configuration read as repo2docker reads it (repro/scan/binder.py, docs/binder.md):
where it lies, which environment file wins, what becomes a build step, what is named in a
warning; and the Dockerfile steps it adds (golden files: REPRO_UPDATE_GOLDEN=1 rewrites)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path

import pytest

from repro import infer
from repro.dockerfile import Recipe, render, with_binder
from repro.errors import NothingToPackError
from repro.fetch import parse_source
from repro.manifest import build_manifest
from repro.models import BaseImage, InferSettings, Options
from repro.report import QuietReporter, plan_text
from repro.scan import scan
from repro.scan.binder import node_use
from tests.conftest import FIXTURES, make_repo, write_files

GOLDEN = Path(__file__).parent / "golden"
WHEN = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)


def _declared(root: Path) -> dict[str, tuple[str, str]]:
    """name → (origin kind, origin path) of every declared requirement."""
    return {r.name: (r.origin.kind, r.origin.path) for r in scan(root).declared}


def _statuses(root: Path) -> dict[str, str]:
    config = scan(root).binder
    assert config is not None
    return {f.path: f.status for f in config.files}


def test_a_binder_folder_wins_over_the_roots_files() -> None:
    evidence = scan(FIXTURES / "binder-folder")
    config = evidence.binder
    assert config is not None
    assert (config.folder, config.environment) == ("binder", "python")
    assert config.apt_packages == ("tree",) and config.apt_file == "binder/apt.txt"
    assert config.post_build == "binder/postBuild" and config.start == "binder/start"
    assert len(config.post_build_sha256) == 64
    assert _statuses(FIXTURES / "binder-folder") == {
        "binder/requirements.txt": "used",
        "binder/runtime.txt": "used",
        "binder/apt.txt": "used",
        "binder/postBuild": "used",
        "binder/start": "used",
        "requirements.txt": "hint",
        "runtime.txt": "ignored",
        "apt.txt": "ignored",
        "postBuild": "ignored",
    }
    kinds = {r.name: r.origin.kind for r in evidence.declared}
    assert kinds == {"six": "requirements", "colorama": "shadowed"}
    # only binder/runtime.txt speaks for Python: the root's python-3.13 is not read
    assert [
        (h.specifier, h.origin.path) for h in evidence.python_hints if h.strength == "declared"
    ] == [("==3.9.*", "binder/runtime.txt")]


def test_the_folders_runtime_sets_python_and_a_shadowed_file_installs_nothing_alone() -> None:
    evidence = scan(FIXTURES / "binder-folder")
    env = infer.infer(evidence, InferSettings(), commit_date=WHEN)
    assert env.python.version == "3.9"
    installed = {r.name for r in env.requirements if not r.optional}
    assert installed == {"six"}
    colorama = next(r for r in env.requirements if r.name == "colorama")
    assert (
        colorama.optional and "no import or declared file corroborates it" in colorama.reasons[-1]
    )
    # without binder/runtime.txt, the code's date alone chooses another Python
    plain = dataclasses.replace(
        evidence,
        python_hints=tuple(h for h in evidence.python_hints if h.origin.kind != "python-version"),
    )
    other = infer.infer(plain, InferSettings(), commit_date=WHEN)
    assert other.python.version != "3.9"


def test_at_the_root_environment_yml_wins_over_requirements_txt() -> None:
    evidence = scan(FIXTURES / "binder-root")
    config = evidence.binder
    assert config is not None
    assert (config.folder, config.why, config.environment) == ("", "apt.txt", "conda")
    assert _statuses(FIXTURES / "binder-root")["requirements.txt"] == "hint"
    kinds = {(r.name, r.origin.kind) for r in evidence.declared}
    assert ("colorama", "shadowed") in kinds and ("six", "conda") in kinds
    env = infer.infer(evidence, InferSettings(), commit_date=WHEN)
    assert {r.name for r in env.requirements if not r.optional} == {"six"}
    assert env.python.version == "3.9"


@pytest.mark.parametrize("case", ["binder-folder", "binder-root", "binder-node"])
def test_binder_fixtures_give_what_expected_json_says(case: str) -> None:
    expected = json.loads((FIXTURES / case / "expected.json").read_text())
    evidence = scan(FIXTURES / case)
    env = infer.infer(evidence, InferSettings(), commit_date=WHEN)
    assert env.python.version == expected["python"]
    assert sorted(r.name for r in env.requirements if not r.optional) == expected["requirements"]
    assert evidence.binder is not None
    assert list(evidence.binder.apt_packages) == expected["apt"]
    assert evidence.binder.node == expected.get("node", "")


def test_a_shadowed_requirement_the_code_imports_is_installed_at_its_version(
    tmp_path: Path,
) -> None:
    write_files(
        tmp_path,
        {
            "binder/requirements.txt": "six\n",
            "requirements.txt": "requests==2.31.0\n",
            "main.py": "import requests\nimport six\n",
        },
    )
    env = infer.infer(scan(tmp_path), InferSettings(), commit_date=WHEN)
    requests = next(r for r in env.requirements if r.name == "requests")
    assert not requests.optional and requests.specifier == "==2.31.0"


SETUP = "from setuptools import setup\nsetup(name='{name}', install_requires=['toolz'])\n"


def test_a_pipfile_wins_over_requirements_txt_and_setup_py(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "Pipfile": '[packages]\nattrs = "*"\n',
            "requirements.txt": "colorama\n",
            "setup.py": SETUP.format(name="x"),
            "postBuild": "#!/bin/sh\n",
        },
    )
    assert _declared(tmp_path) == {
        "attrs": ("pipfile", "Pipfile"),
        "colorama": ("shadowed", "requirements.txt"),
        "toolz": ("shadowed", "setup.py"),
    }
    assert scan(tmp_path).binder.environment == "pipfile"  # type: ignore[union-attr]


def test_setup_py_is_used_at_the_root_and_a_folder_shadows_it(tmp_path: Path) -> None:
    write_files(tmp_path, {"setup.py": SETUP.format(name="pkg"), "start": '#!/bin/sh\nexec "$@"\n'})
    assert _declared(tmp_path) == {"toolz": ("setup.py", "setup.py")}
    write_files(tmp_path, {"binder/requirements.txt": "attrs\n"})
    assert _declared(tmp_path) == {
        "attrs": ("requirements", "binder/requirements.txt"),
        "toolz": ("shadowed", "setup.py"),
    }
    # the package's own name is still its own code, not something to install
    assert any(h.topic == "project-name" and h.value == "pkg" for h in scan(tmp_path).hints)


def test_dot_binder_is_read_when_both_folders_exist(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {".binder/requirements.txt": "attrs\n", "binder/requirements.txt": "toolz\n"},
    )
    evidence = scan(tmp_path)
    assert evidence.binder is not None and evidence.binder.folder == ".binder"
    assert _declared(tmp_path) == {
        "attrs": ("requirements", ".binder/requirements.txt"),
        "toolz": ("shadowed", "binder/requirements.txt"),
    }
    assert any("both .binder/ and binder/" in w for w in evidence.warnings)


def test_files_repro_cannot_honour_are_named_in_warnings(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "binder/install.R": 'install.packages("digest")\n',
            "binder/Project.toml": '[deps]\nPlots = "91a5bcdd-55d7-5caf-9e0b-520d859cae80"\n',
            "binder/runtime.txt": "r-4.1-2022-01-01\n",
            "binder/apt.yaml": "sources: []\n",
            "binder/Dockerfile": "FROM scratch\n",
            "binder/environment.yml": "dependencies:\n  - numpy\n  - r-digest\n",
        },
    )
    evidence = scan(tmp_path)
    warned = "\n".join(evidence.warnings)
    for name in ("install.R", "Project.toml", "runtime.txt", "apt.yaml", "Dockerfile"):
        assert f"binder/{name}:" in warned, name
    assert "r runtime 'r-4.1-2022-01-01' is not built" in warned
    assert "R package r-digest is not installed" in warned
    # r-4.1 is never read as Python 4.1
    assert not [h for h in evidence.python_hints if h.origin.path == "binder/runtime.txt"]
    statuses = _statuses(tmp_path)
    assert statuses["binder/install.R"] == "unsupported"
    assert statuses["binder/runtime.txt"] == "unsupported"
    assert {r.name for r in evidence.declared} == {"numpy"}


def test_apt_txt_lines_that_are_not_package_names_never_reach_a_shell(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "apt.txt": "# tools\ngfortran\nlibgl1-mesa-glx  # for opencv\ngfortran\n"
            "curl; rm -rf /\n$(reboot)\nlibc6:amd64\n",
            "main.py": "print(1)\n",
        },
    )
    evidence = scan(tmp_path)
    assert evidence.binder is not None
    assert evidence.binder.apt_packages == ("gfortran", "libgl1-mesa-glx", "libc6:amd64")
    assert sum("is not a Debian package name, skipped" in w for w in evidence.warnings) == 2


@pytest.mark.parametrize(
    ("text", "specifier"),
    [
        ("python-3.7\n", "==3.7.*"),
        ("python-3\n", "==3.*"),
        ("python-2.7-2019-01-01\n", "==2.7.*"),
        ("3.10.4\n", "==3.10.*"),
        ("r-4.1\n", None),
        ("julia-1.6\n", None),
    ],
)
def test_runtime_txt(tmp_path: Path, text: str, specifier: str | None) -> None:
    write_files(tmp_path, {"runtime.txt": text, "main.py": "x = 1\n"})
    found = [h.specifier for h in scan(tmp_path).python_hints if h.origin.path == "runtime.txt"]
    assert found == ([specifier] if specifier else [])


def test_binder_files_alone_are_something_to_pack(tmp_path: Path) -> None:
    write_files(tmp_path, {"apt.txt": "gfortran\n", "README.md": "# x\n"})
    assert scan(tmp_path).binder is not None
    empty = tmp_path / "empty"
    write_files(empty, {"README.md": "# nothing\n"})
    with pytest.raises(NothingToPackError, match="Binder configuration"):
        scan(empty)


def test_a_readme_binder_badge_makes_it_a_binder_repository(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "README.md": "[![Binder](https://mybinder.org/badge_logo.svg)]"
            "(https://mybinder.org/v2/gh/acme/x/HEAD)\n",
            "Pipfile": '[packages]\nattrs = "*"\n',
            "requirements.txt": "colorama\n",
        },
    )
    evidence = scan(tmp_path)
    assert evidence.binder is not None and "mybinder.org" in evidence.binder.why
    assert _declared(tmp_path)["colorama"] == ("shadowed", "requirements.txt")


def test_without_binder_files_every_declaration_is_read_as_before(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {"environment.yml": "dependencies:\n  - numpy\n", "setup.py": SETUP.format(name="x")},
    )
    evidence = scan(tmp_path)
    assert evidence.binder is None
    assert _declared(tmp_path) == {
        "numpy": ("conda", "environment.yml"),
        "toolz": ("setup.py", "setup.py"),
    }


def test_environment_yml_beside_requirements_txt_is_binders_rule_everywhere(
    tmp_path: Path,
) -> None:
    """repo2docker's documented rule (its tests/conda/py310-requirements-file): the
    requirements.txt beside an environment.yml is not installed; repro weighs it as hints."""
    write_files(
        tmp_path,
        {"environment.yml": "dependencies:\n  - numpy\n", "requirements.txt": "colorama\n"},
    )
    evidence = scan(tmp_path)
    assert evidence.binder is not None
    assert evidence.binder.why == "environment.yml beside requirements.txt"
    assert _declared(tmp_path) == {
        "numpy": ("conda", "environment.yml"),
        "colorama": ("shadowed", "requirements.txt"),
    }


# --------------------------------------------------------------------------- Dockerfile

CPU39 = BaseImage(
    name="python:3.9-slim",
    python="3.9",
    python_source="image",
    gpu=False,
    cuda=None,
    reasons=(),
    variant="py3.9-cpu",
)


def _binder_recipe(buildkit: bool, case: str = "binder-folder") -> Recipe:
    config = scan(FIXTURES / case).binder
    assert config is not None
    recipe = Recipe(
        base=CPU39,
        source_url=f"https://github.com/acme/{case}",
        commit="f" * 40,
        requirements=("six==1.16.0",),
        installer="uv",
        exclude_newer="2024-03-01T00:00:00Z",
        buildkit=buildkit,
        runtime_packages=("libgomp1",),
    )
    return with_binder(recipe, config)


@pytest.mark.parametrize("case", ["binder-buildkit", "binder-classic", "binder-node"])
def test_binder_steps_match_golden(case: str) -> None:
    fixture = "binder-node" if case == "binder-node" else "binder-folder"
    text = render(_binder_recipe(case != "binder-classic", fixture)).dockerfile
    path = GOLDEN / f"{case}.Dockerfile"
    if os.environ.get("REPRO_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_post_build_runs_as_the_user_after_the_code_and_start_wraps_every_command() -> None:
    text = render(_binder_recipe(buildkit=True)).dockerfile
    lines = text.rstrip("\n").splitlines()
    source = lines.index("COPY --chown=1000:1000 src/ /app/")
    post = next(i for i, ln in enumerate(lines) if "./binder/postBuild" in ln)
    user = lines.index("USER repro")
    assert source < user < post
    assert "apt-get install -y --no-install-recommends tree" in text
    assert "repro-fixture-package-that-does-not-exist" not in text  # the root's apt.txt
    assert "--mount=type=secret,id=repro-ca,uid=1000" in text
    assert lines[-2:] == ['ENTRYPOINT ["/opt/repro/start"]', 'CMD ["bash"]']
    # the lock is taken again after postBuild, which may install packages
    assert lines.index("RUN python -m pip freeze --all > /opt/repro/lock.txt", post) > post


def test_the_manifest_and_inspect_say_where_each_file_went(tmp_path: Path) -> None:
    from repro import pipeline, scratch

    src = tmp_path / "repo"
    make_repo(FIXTURES / "binder-folder", src)
    with scratch.workspace() as work:
        prepared = pipeline.prepare(
            parse_source(str(src)),
            Options(),
            work,
            QuietReporter(),
            probe_gpu=lambda: None,
        )
    manifest = json.loads(json.dumps(build_manifest(prepared.plan)))
    binder = manifest["binder"]
    assert binder["folder"] == "binder" and binder["apt"]["packages"] == ["tree"]
    assert binder["post_build"]["path"] == "binder/postBuild"
    assert {"path": "postBuild", "status": "ignored"}.items() <= binder["files"][-1].items()
    colorama = next(r for r in manifest["requirements"] if r["name"] == "colorama")
    assert colorama["origins"][0]["kind"] == "shadowed"
    text = plan_text(prepared.plan)
    assert "Binder     configuration in binder/ (binder/ folder)" in text
    assert "postBuild  binder/postBuild runs in the build, as the image's user" in text


# --------------------------------------------------------------------------- node and npm


@pytest.mark.parametrize(
    ("script", "found"),
    [
        ("#!/bin/bash\nset -e\nnpm install --global cowsay\n", "runs npm (line 3)"),
        ("cd js && npx webpack\n", "runs npx (line 1)"),
        ("FOO=1 node build.js\n", "runs node (line 1)"),
        ("set -e\nVERSION=$(/usr/bin/node --version)\n", "runs node (line 2)"),
        ("if true; then\n  sudo npm i -g x\nfi\n", "runs npm (line 2)"),
        (
            "jupyter labextension install \\\n  @jupyter-widgets/jupyterlab-manager\n",
            "runs jupyter labextension install (line 1), which builds with node",
        ),
        (
            "jupyter lab build --minimize=False\n",
            "runs jupyter lab build (line 1), which builds with node",
        ),
        # in a comment, as an argument, in a string, or a jupyter command without node: nothing
        ("# npm install --global cowsay\npip install numpy  # then npm\n", ""),
        ('echo "run npm install yourself"; echo npm\n', ""),
        ("jupyter labextension list\njupyter lab --help\n", ""),
        ("python -m pip install -r requirements.txt\n", ""),
    ],
)
def test_node_use_reads_the_scripts_commands_not_its_words(script: str, found: str) -> None:
    assert node_use(script) == found


def _node_recipe(tmp_path: Path, post_build: str, buildkit: bool = True) -> Recipe:
    write_files(tmp_path, {"binder/postBuild": post_build, "run.py": "print(1)\n"})
    config = scan(tmp_path).binder
    assert config is not None
    recipe = Recipe(
        base=CPU39, source_url="https://github.com/acme/node", commit="f" * 40, buildkit=buildkit
    )
    return with_binder(recipe, config)


def test_a_post_build_running_npm_gets_node_npm_and_a_global_prefix_it_owns(
    tmp_path: Path,
) -> None:
    recipe = _node_recipe(tmp_path, "#!/bin/bash\nset -e\nnpm install --global semver\n")
    assert recipe.node == "binder/postBuild runs npm (line 3)"
    # python:3.9-slim: bullseye, whose nodejs ships node and whose npm ships npm
    assert {"nodejs", "npm"} <= set(recipe.system_packages)
    text = render(recipe).dockerfile
    lines = text.splitlines()
    assert "# nodejs, npm: binder/postBuild runs npm (line 3), and Binder's image carries" in text
    assert "apt-get install -y --no-install-recommends nodejs npm" in text
    prefix = lines.index("RUN install -d -o 1000 -g 1000 /opt/npm")
    env = lines.index("ENV NPM_CONFIG_PREFIX=/opt/npm PATH=/opt/npm/bin:$PATH")
    post = next(i for i, ln in enumerate(lines) if "./binder/postBuild" in ln)
    assert prefix < lines.index("USER repro") < post and env < post
    # node trusts the CA bundle of the build (a TLS-intercepting proxy), never kept in a layer
    run = "\n".join(lines[post - 3 : post + 1])
    assert "NODE_EXTRA_CA_CERTS=/run/secrets/repro-ca" in run
    assert "--mount=type=cache,target=/home/repro/.npm,uid=1000,gid=1000" in run
    assert "ENV NODE_EXTRA_CA_CERTS" not in text


def test_a_post_build_without_node_adds_nothing_of_it(tmp_path: Path) -> None:
    recipe = _node_recipe(tmp_path, "#!/bin/bash\n# npm would need node\npip install six\n")
    assert recipe.node == "" and recipe.system_packages == ()
    text = render(recipe).dockerfile
    assert "nodejs" not in text and "/opt/npm" not in text and ".npm" not in text


def test_inspect_and_the_manifest_say_why_node_is_there(tmp_path: Path) -> None:
    from repro import pipeline, scratch

    src = tmp_path / "repo"
    make_repo(FIXTURES / "binder-node", src)
    with scratch.workspace() as work:
        prepared = pipeline.prepare(
            parse_source(str(src)), Options(), work, QuietReporter(), probe_gpu=lambda: None
        )
    node = json.loads(json.dumps(build_manifest(prepared.plan)))["binder"]["node"]
    assert node["why"] == "binder/postBuild runs npm (line 5)"
    assert node["npm_prefix"] == "/opt/npm"
    text = plan_text(prepared.plan)
    assert "  node       binder/postBuild runs npm (line 5): Node.js and npm from the" in text
    assert "apt-get install -y --no-install-recommends nodejs npm" in prepared.plan.dockerfile
