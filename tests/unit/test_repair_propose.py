"""From a classified failure to a change of the plan (or a diagnosis), and applying it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from repro.models import Environment, Origin, PythonChoice, Requirement
from repro.repair import (
    Change,
    Context,
    Failure,
    KnownRelease,
    apply_changes,
    classify,
    diagnose,
    propose,
    system_package_for,
    system_packages,
)

ERRORS = Path(__file__).parent / "errors"
NUMPY = ["1.22.4", "1.23.5", "1.24.0", "1.24.4", "1.25.2", "1.26.0", "1.26.4", "2.0.0rc1"]


def numpy_history(name: str) -> list[KnownRelease]:
    return [KnownRelease(version=v) for v in NUMPY] if name == "numpy" else []


def ctx(**kw: object) -> Context:
    base: dict[str, object] = {"python": "3.11", "releases": numpy_history}
    base.update(kw)
    return Context(**base)  # type: ignore[arg-type]


def numpy_req(specifier: str = "", kind: str = "requirements") -> Requirement:
    return Requirement(
        name="numpy",
        specifier=specifier,
        origins=(Origin(kind=kind, path="requirements.txt", line=1),),  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- missing module


def test_missing_module_adds_the_distribution_the_import_map_names() -> None:
    failure = classify((ERRORS / "py311-module-not-found.txt").read_text())
    proposal = propose(failure, ctx())
    assert proposal.diagnosis is None
    (change,) = proposal.changes
    assert (change.action, change.target) == ("add-requirement", "PyYAML")
    assert "'yaml' is provided by PyYAML" in change.reason


def test_the_repositorys_own_module_is_not_installed_from_pypi() -> None:
    failure = Failure(
        kind="missing-module", line="No module named 'model.layers'", module="model.layers"
    )
    proposal = propose(failure, ctx(local_modules=frozenset({"model"})))
    assert not proposal.changes and proposal.diagnosis is not None
    assert "own module" in proposal.diagnosis.message


def test_a_module_a_later_python_removed_moves_to_the_newest_python_that_has_it() -> None:
    # python-telegram-bot 13 imports imghdr, gone in Python 3.13: the code's own imports
    # never show it, the smoke test does
    failure = Failure(
        kind="missing-module", line="ModuleNotFoundError: No module named 'imghdr'", module="imghdr"
    )
    here = ("2.7", "3.9", "3.13", "3.11", "3.12", "3.14")
    proposal = propose(failure, ctx(python="3.14", pythons=here))
    (change,) = proposal.changes
    assert (change.action, change.target) == ("set-python", "3.12")
    assert "'imghdr' left the standard library in Python 3.13" in change.reason

    # the user chose the Python: not changed, but the one that would work is named
    chosen = propose(failure, ctx(python="3.14", pythons=here, python_hard=True))
    assert not chosen.changes and chosen.diagnosis is not None
    assert "Python 3.12 is the newest that has it" in chosen.diagnosis.message
    assert "Python 3.14 was chosen (--python)" in chosen.diagnosis.message
    assert chosen.diagnosis.hint == "--python 3.12"
    # tried already, or no older Python here: said
    tried = Change(action="set-python", target="3.12", reason="", basis="")
    assert not propose(failure, ctx(python="3.14", pythons=here, previous=(tried,))).changes
    assert not propose(failure, ctx(python="3.14", pythons=("3.13", "3.14"))).changes


def test_an_unknown_module_is_never_guessed_as_a_pypi_name() -> None:
    failure = Failure(kind="missing-module", line="No module named 'labtools'", module="labtools")
    proposal = propose(failure, ctx())
    assert not proposal.changes and proposal.diagnosis is not None
    assert "no known distribution provides 'labtools'" in proposal.diagnosis.message
    assert "--pin" in proposal.diagnosis.hint


def test_a_module_the_map_lacks_is_added_when_the_index_look_up_verifies_it() -> None:
    """A module repro's data does not map (a package imported it without declaring it) is
    asked of the verified look-up; its project is added with the look-up's evidence."""
    asked: list[str] = []

    def look_up(module: str) -> tuple[str, str] | None:
        asked.append(module)
        if module == "labtools":
            return "lab-tools", "PyPI project lab-tools ships top-level module labtools"
        return None

    failure = Failure(
        kind="missing-module", line="No module named 'labtools.io'", module="labtools.io"
    )
    (change,) = propose(failure, ctx(look_up=look_up)).changes
    assert (change.action, change.target) == ("add-requirement", "lab-tools")
    assert "ships top-level module labtools" in change.reason
    assert asked == ["labtools"]
    # none accepted: the same diagnosis as without a look-up
    other = Failure(kind="missing-module", line="No module named 'zzq'", module="zzq")
    proposal = propose(other, ctx(look_up=look_up))
    assert not proposal.changes and proposal.diagnosis is not None
    assert "no known distribution provides 'zzq'" in proposal.diagnosis.message
    # a generic name (a private settings module) is never asked about
    generic = Failure(
        kind="missing-module", line="No module named 'credentials'", module="credentials"
    )
    assert not propose(generic, ctx(look_up=look_up)).changes
    assert asked == ["labtools", "zzq"]


def test_an_import_error_naming_a_split_off_project_adds_it_once_pypi_knows_it() -> None:
    failure = classify((ERRORS / "py311-lxml-split-project.txt").read_text())

    def history(name: str) -> list[KnownRelease]:
        return [KnownRelease(version="0.4.1")] if name == "lxml_html_clean" else []

    (change,) = propose(failure, ctx(releases=history)).changes
    assert (change.action, change.target) == ("add-requirement", "lxml_html_clean")
    assert change.basis == "the error message"

    # a name PyPI does not know is not installed; nor is the same advice followed twice
    unknown = propose(failure, ctx(releases=lambda name: []))
    assert not unknown.changes and unknown.diagnosis is not None
    assert "does not know 'lxml_html_clean'" in unknown.diagnosis.message
    again = propose(failure, ctx(releases=history, previous=(change,)))
    assert not again.changes and again.diagnosis is not None


def test_adding_the_same_distribution_twice_stops() -> None:
    failure = classify((ERRORS / "py311-module-not-found.txt").read_text())
    done = (Change(action="add-requirement", target="PyYAML"),)
    proposal = propose(failure, ctx(previous=done))
    assert not proposal.changes and proposal.diagnosis is not None


def test_a_removed_submodule_of_an_installed_package_lowers_its_version() -> None:
    failure = classify((ERRORS / "numpy-removed-submodule.txt").read_text())
    proposal = propose(failure, ctx(installed={"numpy": "1.26.4"}))
    (change,) = proposal.changes
    assert (change.action, change.target, change.specifier) == (
        "bound-requirement",
        "numpy",
        "<1.26.0",
    )


# --------------------------------------------------------------------------- version too new


def test_an_api_rule_gives_the_bound_with_its_source() -> None:
    failure = classify((ERRORS / "numpy-np-float.txt").read_text())
    proposal = propose(failure, ctx(installed={"numpy": "1.26.4"}, requirements=(numpy_req(),)))
    (change,) = proposal.changes
    assert (change.action, change.specifier) == ("bound-requirement", "<1.24")
    assert "API rule np-builtin-aliases" in change.reason
    assert "numpy 1.23.5" in change.reason
    # with a lower bound declared, it is kept
    kept = propose(failure, ctx(installed={"numpy": "1.26.4"}, requirements=(numpy_req(">=1.20"),)))
    assert kept.changes[0].specifier == ">=1.20,<1.24"
    # the rule once tried and still failing: the release history takes over
    again = propose(
        failure,
        ctx(installed={"numpy": "1.23.5"}, requirements=(numpy_req(),), previous=(change,)),
    )
    assert again.changes[0].specifier == "<1.23.5"


def missing(name: str) -> Failure:
    return Failure(
        kind="missing-name",
        line=f"ImportError: cannot import name '{name}' from 'numpy'",
        module="numpy",
        name=name,
    )


def test_without_a_rule_it_steps_back_one_series_then_two() -> None:
    failure = missing("legacy_helper")  # no API rule knows it
    first = propose(failure, ctx(installed={"numpy": "1.26.4"}, requirements=(numpy_req(),)))
    (change,) = first.changes
    assert change.specifier == "<1.26.0"
    assert "numpy.legacy_helper is missing from numpy 1.26.4" in change.reason
    assert "numpy 1.25.2 before 1.26.0" in change.reason
    # still failing on 1.25.2: two series further back
    second = propose(
        failure, ctx(installed={"numpy": "1.25.2"}, requirements=(numpy_req(),), previous=(change,))
    )
    assert second.changes[0].specifier == "<1.24.0"


def test_lower_bounds_of_the_requirement_are_kept() -> None:
    failure = missing("legacy_helper")
    proposal = propose(
        failure, ctx(installed={"numpy": "1.26.4"}, requirements=(numpy_req(">=1.20"),))
    )
    assert proposal.changes[0].specifier == ">=1.20,<1.26.0"
    too_high = propose(
        failure, ctx(installed={"numpy": "1.26.4"}, requirements=(numpy_req(">=1.26"),))
    )
    assert too_high.diagnosis is not None and "matches no release" in too_high.diagnosis.message


def test_a_version_the_user_pinned_is_not_overruled() -> None:
    failure = classify((ERRORS / "numpy-np-float.txt").read_text())
    proposal = propose(
        failure,
        ctx(installed={"numpy": "1.26.4"}, requirements=(numpy_req("==1.26.4", kind="user"),)),
    )
    assert proposal.diagnosis is not None and "fixed by the user" in proposal.diagnosis.message


def test_releases_for_another_python_are_not_candidates() -> None:
    def history(name: str) -> list[KnownRelease]:
        return [
            KnownRelease(version="1.0", requires_python=">=3.12"),
            KnownRelease(version="0.9", requires_python=">=3.6"),
            KnownRelease(version="0.8", yanked=True),
            KnownRelease(version="2.0"),
        ]

    failure = Failure(
        kind="missing-name", line="cannot import name 'f' from 'lib'", module="lib", name="f"
    )
    proposal = propose(
        failure,
        ctx(installed={"lib": "2.0"}, module_dists={"lib": "lib"}, releases=history, python="3.9"),
    )
    assert proposal.changes[0].specifier == "<2.0"
    assert "lib 0.9" in proposal.changes[0].reason


def test_no_older_release_left() -> None:
    failure = Failure(kind="missing-name", line="x", module="lib", name="f")
    proposal = propose(
        failure,
        ctx(
            installed={"lib": "1.0"},
            module_dists={"lib": "lib"},
            releases=lambda n: [KnownRelease(version="1.0")],
        ),
    )
    assert proposal.diagnosis is not None and "no older release" in proposal.diagnosis.message


def test_a_name_missing_from_the_repositorys_own_module_is_a_code_error() -> None:
    failure = classify(
        "ImportError: cannot import name 'Net' from 'models' (/app/models/__init__.py)"
    )
    proposal = propose(failure, ctx(local_modules=frozenset({"models"})))
    assert proposal.diagnosis is not None and "own code" in proposal.diagnosis.message


def test_a_python2_alias_is_resolved_from_the_failing_file(tmp_path: Path) -> None:
    (tmp_path / "attr.py").write_text("import numpy as js\nx = js.legacy_dumps({})\n")
    failure = classify((ERRORS / "py27-no-attribute.txt").read_text())
    proposal = propose(failure, ctx(python="2.7", checkout=tmp_path, installed={"numpy": "1.26.4"}))
    assert proposal.changes and proposal.changes[0].target == "numpy"


# --------------------------------------------------------------------------- python


def test_python2_code_under_python3_switches_to_27() -> None:
    failure = classify((ERRORS / "py311-py2-print.txt").read_text())
    proposal = propose(failure, ctx(pythons=("2.7", "3.9", "3.11", "3.13")))
    (change,) = proposal.changes
    assert (change.action, change.target) == ("set-python", "2.7")
    assert 'print "hello"' in change.reason


def test_python3_syntax_under_python2_switches_to_python3(tmp_path: Path) -> None:
    failure = classify((ERRORS / "py27-walrus.txt").read_text())
    proposal = propose(failure, ctx(python="2.7", pythons=("2.7", "3.9", "3.11")))
    assert proposal.changes[0].target == "3.11"


def test_new_syntax_on_an_old_python3_moves_up() -> None:
    failure = Failure(
        kind="wrong-python",
        line="SyntaxError: invalid syntax",
        subject="SyntaxError",
        path="/app/train.py",
        lineno=3,
        source="match command:",
    )
    proposal = propose(failure, ctx(python="3.9", pythons=("2.7", "3.9", "3.11")))
    assert proposal.changes[0].target == "3.11"
    again = propose(failure, ctx(python="3.11", pythons=("2.7", "3.9", "3.11")))
    assert again.diagnosis is not None and "--python" in again.diagnosis.hint


def test_python2_is_read_from_the_checkout_when_the_output_does_not_show_the_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "train.py").write_text("import os\nexcept_me = 1\nprint 'loss', 3\n")
    failure = classify("FAIL script:train.py  -> SyntaxError: invalid syntax (train.py, line 3)")
    proposal = propose(failure, ctx(checkout=tmp_path, pythons=("2.7", "3.11")))
    assert proposal.changes[0].target == "2.7"


def test_a_syntax_error_inside_an_installed_package_is_not_a_python_switch() -> None:
    failure = Failure(
        kind="wrong-python",
        line="SyntaxError: invalid syntax",
        path="/opt/venv/lib/python3.7/site-packages/lib/x.py",
    )
    proposal = propose(failure, ctx(python="3.7", pythons=("3.7", "3.11")))
    assert proposal.diagnosis is not None and "installed package" in proposal.diagnosis.message


# --------------------------------------------------------------------------- system packages


def test_shared_libraries_map_to_debian_packages_per_release() -> None:
    assert system_package_for("libGL.so.1", "bookworm") == "libgl1"
    assert system_package_for("libglib-2.0.so.0", "bookworm") == "libglib2.0-0"
    assert system_package_for("libglib-2.0.so.0", "trixie") == "libglib2.0-0t64"
    assert system_package_for("libgomp.so.1", "jammy") == "libgomp1"  # not checked: default
    assert system_package_for("libtiff.so.6", "bullseye") == ""  # checked: not in bullseye
    assert system_package_for("sndfile", "bookworm") == "libsndfile1"  # an alias
    # sounddevice: "OSError: PortAudio library not found" (the alias in another case)
    assert system_package_for("PortAudio", "bookworm") == "libportaudio2"
    assert system_package_for("libsndfile.so", "bookworm") == "libsndfile1"  # a dev name
    assert system_package_for("libnothing.so.9", "bookworm") == ""
    # the official python:*-slim images: "_tkinter" is built, Tcl/Tk is not installed
    tk = classify("ImportError: libtk8.6.so: cannot open shared object file: No such file")
    assert (tk.kind, system_package_for(tk.subject, "trixie")) == ("shared-library", "libtk8.6")


def test_missing_shared_library_adds_its_package() -> None:
    failure = classify((ERRORS / "py311-ctypes-libgomp.txt").read_text())
    proposal = propose(failure, ctx(os_codename="bookworm"))
    (change,) = proposal.changes
    assert (change.action, change.target) == ("add-system-package", "libgomp1")
    assert change.reason == "libgomp.so.1 is in the Debian package libgomp1 on bookworm"
    again = propose(failure, ctx(os_codename="bookworm", previous=(change,)))
    assert again.diagnosis is not None and "did not provide" in again.diagnosis.message
    unknown = propose(Failure(kind="shared-library", line="x", subject="libfoo.so.3"), ctx())
    assert unknown.diagnosis is not None and "no data maps libfoo.so.3" in unknown.diagnosis.message


# --------------------------------------------------------------------------- diagnoses


def test_a_library_a_package_looks_for_itself_is_installed_by_its_alias() -> None:
    # python-magic finds libmagic with ctypes.util and says so in its own words
    failure = classify(
        "Traceback (most recent call last):\n"
        '  File "/usr/local/lib/python3.11/site-packages/magic/loader.py", line 49\n'
        "ImportError: failed to find libmagic.  Check your installation\n"
    )
    assert (failure.kind, failure.subject) == ("shared-library", "libmagic")
    (change,) = propose(failure, ctx(os_codename="bookworm")).changes
    assert (change.action, change.target) == ("add-system-package", "libmagic1")


def test_a_removed_module_behind_a_fallback_moves_the_python() -> None:
    failure = classify((ERRORS / "py313-pydub-audioop-fallback.txt").read_text())
    (change,) = propose(failure, ctx(python="3.13", pythons=("3.11", "3.12", "3.13"))).changes
    assert (change.action, change.target) == ("set-python", "3.12")


def test_what_cannot_be_fixed_is_explained_in_one_line_with_a_hint() -> None:
    cuda = classify((ERRORS / "torch-no-nvidia-driver.txt").read_text())
    on_cpu = diagnose(cuda, ctx(gpu_fallback=True))
    assert "needs a GPU, and this engine has none" in on_cpu.message
    assert "NVIDIA" in on_cpu.hint
    data = diagnose(classify((ERRORS / "torch-load-missing-file.txt").read_text()), ctx())
    assert "needs data" in data.message and "--smoke" in data.hint
    pins = diagnose(classify((ERRORS / "rpi-gpio-off-a-pi.txt").read_text()), ctx())
    assert "drives a board's hardware" in pins.message and "Raspberry Pi" in pins.message
    assert "--no-smoke" in pins.hint
    net = diagnose(classify((ERRORS / "urllib-no-network.txt").read_text()), ctx())
    assert "network" in net.message
    for d in (on_cpu, data, net):
        assert "\n" not in d.message and d.hint
    # propose() on a kind it cannot fix gives the same diagnosis
    assert propose(cuda, ctx(gpu_fallback=True)).diagnosis == on_cpu


# --------------------------------------------------------------------------- apply


def env(*reqs: Requirement) -> Environment:
    return Environment(
        python=PythonChoice(version="3.11", reasons=()),
        requirements=reqs,
        as_of=dt.date(2024, 1, 1),
    )


def test_apply_adds_and_bounds_requirements_as_repair_evidence() -> None:
    changes = (
        Change(action="add-requirement", target="PyYAML", reason="'yaml' is provided by PyYAML"),
        Change(action="bound-requirement", target="numpy", specifier="<1.26.0", reason="np.float"),
        Change(action="add-system-package", target="libgomp1", reason="libgomp.so.1"),
    )
    out = apply_changes(env(numpy_req(">=1.20")), changes)
    numpy, yaml = out.requirements
    assert numpy.pip_line() == "numpy<1.26.0"
    assert numpy.origins[-1].kind == "repair"
    assert "smoke-test repair 2: np.float" in numpy.reasons[-1]
    assert "overrules >=1.20 from requirements.txt:1" in numpy.reasons[-1]
    assert yaml.name == "PyYAML" and yaml.layer == "main" and not yaml.optional
    assert yaml.origins[0].kind == "repair"
    assert system_packages(changes) == ("libgomp1",)


def test_apply_picks_the_wheelhouse_version_inside_the_new_bound() -> None:
    req = Requirement(name="repro-fixture-oldapi", version="2.0")
    change = Change(action="bound-requirement", target="repro-fixture-oldapi", specifier="<2.0")
    out = apply_changes(env(req), (change,), {"repro-fixture-oldapi": ["1.0", "2.0"]})
    assert out.requirements[0].pip_line() == "repro-fixture-oldapi==1.0"


def test_an_optional_requirement_the_code_needs_after_all_is_installed() -> None:
    req = Requirement(name="torch", optional=True, layer="framework")
    out = apply_changes(env(req), (Change(action="add-requirement", target="torch"),))
    assert not out.requirements[0].optional and out.requirements[0].layer == "framework"


def test_apply_keeps_the_date_rule_for_pip_installs_and_the_explained_choice() -> None:
    from repro.models import VersionChoice

    old = Requirement(name="numpy", version="1.26.4", reasons=("as of 2024-01-01",))
    environment = Environment(
        python=PythonChoice(version="3.7", reasons=()),
        requirements=(old,),
        date_constraints=("numpy==1.26.4", "scipy==1.11.0"),
        choices=(VersionChoice(name="numpy", version="1.26.4", specifier="", chain=("dated",)),),
    )
    change = Change(
        action="bound-requirement", target="numpy", specifier="<1.24", reason="np.float"
    )

    def dated(name: str, specifier: str) -> str | None:
        return "1.23.5" if (name, specifier) == ("numpy", "<1.24") else None

    out = apply_changes(environment, (change,), dated=dated)
    assert out.requirements[0].pip_line() == "numpy==1.23.5"
    assert out.date_constraints == ("numpy==1.23.5", "scipy==1.11.0")
    (choice,) = out.choices
    assert choice.version == "1.23.5" and choice.specifier == "<1.24"
    assert choice.chain[-1].startswith("smoke-test repair 1: np.float")
