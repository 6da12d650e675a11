"""What a failed build changes in the plan: the packages from the contents data, a release
with a wheel or another Python, the weakest of two conflicting pins, a retry; and the
error a user reads when nothing can be done."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from repro.buildlog import BuildFailure, Conflict, classify
from repro.models import Origin, Requirement
from repro.releases import PackageReleases, Release
from repro.repair import Change
from repro.repair import build as build_repair
from repro.repair import propose_build as propose
from repro.repair.build import BuildContext

BUILD = Path(__file__).parent / "errors" / "build"
FETCHED = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _req(name: str, specifier: str = "", *kinds: str, version: str | None = None) -> Requirement:
    origins = tuple(Origin(kind=k, path=f"{k}.txt", line=1) for k in kinds)  # type: ignore[arg-type]
    return Requirement(name=name, specifier=specifier, version=version, origins=origins)


def _release(version: str, date: str, *wheels: str, sdist: bool = True) -> Release:
    return Release(
        version=version, date=dt.date.fromisoformat(date), wheels=frozenset(wheels), sdist=sdist
    )


SCRYPT = PackageReleases(
    name="scrypt",
    fetched=FETCHED,
    releases=(
        _release("0.8.20", "2022-02-21", "cp36", "cp37", "cp38", "cp39", "cp310"),
        _release("0.8.22", "2024-03-01", "cp39", "cp310", "cp312"),
        _release("0.8.24", "2024-03-01", "cp39", "cp310", "cp311", "cp312"),
        _release("0.9.4", "2025-08-05", "cp311", "cp312", "cp313"),
    ),
)
PSYCOPG2 = PackageReleases(
    name="psycopg2", fetched=FETCHED, releases=(_release("2.9.9", "2023-10-03"),)
)
GLMNET = PackageReleases(
    name="glmnet",
    fetched=FETCHED,
    releases=(_release("2.2.1", "2020-06-04", "cp36", "cp37", "cp38"),),
)
SETUPTOOLS = PackageReleases(
    name="setuptools",
    fetched=FETCHED,
    releases=(
        _release("47.3.1", "2020-06-01", "py3"),
        _release("47.3.2", "2020-07-06", "py3"),
        _release("69.1.1", "2024-02-23", "py3"),
    ),
)
HISTORIES = {"scrypt": SCRYPT, "psycopg2": PSYCOPG2, "glmnet": GLMNET, "setuptools": SETUPTOOLS}


def _context(**kw: object) -> BuildContext:
    base: dict[str, object] = {
        "python": "3.11",
        "codename": "bookworm",
        "history": HISTORIES.get,
        "pythons": ("3.9", "3.13"),
    }
    return BuildContext(**{**base, **kw})  # type: ignore[arg-type]


def _gcc_missing(package: str, version: str) -> BuildFailure:
    return BuildFailure(
        kind="missing-compiler",
        line="error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory",
        subject="x86_64-linux-gnu-gcc",
        package=package,
        version=version,
    )


# --------------------------------------------------------------------------- packages


def test_a_missing_compiler_installs_the_package_that_ships_it() -> None:
    failure = classify((BUILD / "uv-gcc-missing.log").read_text())
    proposal = propose(
        failure, _context(requirements=(_req("netifaces", "==0.11.0", "requirements"),))
    )
    change, libc = proposal.changes
    assert (change.action, change.target) == ("add-build-package", "gcc")
    assert "netifaces==0.11.0" in change.reason and "bookworm" in change.reason
    assert "data/contents.json" in change.basis
    # gcc only recommends the C library's headers, and repro installs without recommends
    assert (libc.action, libc.target) == ("add-build-package", "libc6-dev")
    assert "stdio.h" in libc.reason


def test_config_programs_and_headers_come_from_the_contents_data() -> None:
    for name, package in [
        ("uv-pg-config.log", "libpq-dev"),
        ("uv-mysql-config.log", "libmariadb-dev-compat"),
        ("uv-gdal-config.log", "libgdal-dev"),
        ("uv-pkg-config.log", "pkgconf"),
        ("uv-rust-missing.log", "rustc"),
        ("uv-git-missing.log", "git"),
        ("uv-python-h-missing.log", "libpython3.11-dev"),
        ("uv-ffi-h-missing.log", "libffi-dev"),
        ("uv-evdev-kernel-headers.log", "linux-libc-dev"),
    ]:
        failure = classify((BUILD / name).read_text())
        change = propose(failure, _context(history=None)).changes[0]
        assert (change.action, change.target) == ("add-build-package", package), name
    header = BuildFailure(kind="missing-header", line="fatal error: Python.h", subject="Python.h")
    (change,) = propose(header, _context(python="3.9", codename="bullseye")).changes
    assert change.target == "libpython3.9-dev"


def test_the_release_decides_the_package_name() -> None:
    failure = BuildFailure(kind="missing-program", line="x", subject="mysql_config")
    (change,) = propose(failure, _context(codename="jammy")).changes
    assert change.target == "libmysqlclient-dev"


def test_a_package_already_installed_is_not_installed_again() -> None:
    failure = BuildFailure(kind="missing-program", line="pg_config not found", subject="pg_config")
    previous = (Change(action="add-build-package", target="libpq-dev"),)
    proposal = propose(failure, _context(previous=previous))
    assert not proposal.changes and proposal.diagnosis is not None
    assert "libpq-dev installed" in proposal.diagnosis.message


def test_a_file_no_package_ships_is_a_diagnosis() -> None:
    failure = BuildFailure(kind="missing-header", line="x", subject="nowhere/at-all.h", package="p")
    proposal = propose(failure, _context())
    assert proposal.diagnosis is not None and "no package of bookworm" in proposal.diagnosis.message


# --------------------------------------------------------------------------- wheels


def test_a_version_repro_chose_moves_to_a_release_with_a_wheel_before_compiling() -> None:
    context = _context(
        requirements=(_req("scrypt", "", "import"),), lock_cutoff=dt.date(2022, 6, 1)
    )
    changes = propose(_gcc_missing("scrypt", "0.8.20"), context).changes
    assert [(c.action, c.target, c.specifier) for c in changes] == [
        ("bound-requirement", "scrypt", "==0.8.24"),  # the first later one with cp311
        ("exempt-cutoff", "scrypt", "2024-03-02"),  # uploaded after the cutoff
    ]
    assert build_repair.cutoff_exemptions(changes) == ("scrypt=2024-03-02",)


def test_a_declared_pin_keeps_its_version_and_gets_the_compiler() -> None:
    context = _context(requirements=(_req("scrypt", "==0.8.20", "requirements"),))
    change = propose(_gcc_missing("scrypt", "0.8.20"), context).changes[0]
    assert (change.action, change.target) == ("add-build-package", "gcc")


def test_a_source_only_package_gets_the_compiler() -> None:
    changes = propose(_gcc_missing("psycopg2", "2.9.9"), _context()).changes
    assert [c.target for c in changes] == ["gcc", "libc6-dev"]


def test_a_compiler_named_by_its_triplet_gets_the_plain_compiler_package() -> None:
    """trixie's contents give x86_64-linux-gnu-gcc to gcc-x86-64-linux-gnu, which without
    recommends has no assembler (a real pack failed on 'cannot execute as'): repro installs
    gcc, whose dependencies bring the tool chain; the assembler alone is binutils."""
    changes = propose(_gcc_missing("psycopg2", "2.9.9"), _context(codename="trixie")).changes
    assert [c.target for c in changes] == ["gcc", "libc6-dev"]
    failure = classify(
        "#12 [stage-0 5/9] RUN uv pip install -r /opt/repro/requirements.txt\n"
        "#12 2.7    Building mysqlclient==2.3.2\n"
        "#12 2.7 x86_64-linux-gnu-gcc: fatal error: cannot execute \u2018as\u2019: "
        "posix_spawnp: No such file or directory\n"
        "#12 ERROR: executor failed running [/bin/sh -c ...]: exit code: 1\n"
    )
    assert (failure.kind, failure.subject) == ("missing-program", "as")
    (change,) = propose(failure, _context(codename="trixie")).changes
    assert (change.action, change.target) == ("add-build-package", "binutils")


def test_an_unbuildable_pin_breaks_the_pin_before_a_declared_python() -> None:
    failure = BuildFailure(
        kind="sdist-unbuildable", line="bad metadata", package="scrypt", version="0.8.20"
    )
    context = _context(
        requirements=(_req("scrypt", "==0.8.20", "requirements"),),
        python_pins=(("==3.11", ".python-version"),),
    )
    (change,) = propose(failure, context).changes
    assert (change.action, change.specifier) == ("bound-requirement", "==0.8.24")
    assert "the pin ==0.8.20 from requirements.txt:1 is given up" in change.reason


def test_a_python_chosen_by_date_gives_way_before_a_declared_pin() -> None:
    failure = BuildFailure(
        kind="compile-error", line="x.c:1: error: y", package="scrypt", version="0.8.20"
    )
    context = _context(requirements=(_req("scrypt", "==0.8.20", "requirements"),))
    (change,) = propose(failure, context).changes
    assert (change.action, change.target) == ("set-python", "3.9")
    assert "chosen for the code's date" in change.reason


def test_python_is_never_moved_against_the_user() -> None:
    failure = BuildFailure(
        kind="compile-error", line="x.c:1: error: y", package="psycopg2", version="2.9.9"
    )
    proposal = propose(failure, _context(python_hard=True))
    assert not proposal.changes and proposal.diagnosis is not None


def test_build_packages_for_another_python_are_dropped_after_a_switch() -> None:
    changes = (
        Change(action="add-build-package", target="gcc"),
        Change(action="add-build-package", target="libpython3.11-dev"),
        Change(action="set-python", target="3.9"),
    )
    assert build_repair.build_packages(changes, "3.9") == ("gcc",)
    assert build_repair.build_packages(changes, "3.11") == ("gcc", "libpython3.11-dev")


def test_a_build_script_importing_numpy_gets_it_installed_first() -> None:
    # glmnet 2.2.1's setup.py imports numpy (numpy.distutils); no release or Python this
    # engine has brings a wheel, so numpy goes in first and glmnet builds beside it
    failure = classify((BUILD / "uv-build-dependency.log").read_text())
    context = _context(requirements=(_req("glmnet", "==2.2.1", "requirements"),))
    change, tools = propose(failure, context).changes
    assert (change.action, change.target, change.specifier) == ("build-with", "glmnet", "numpy")
    assert "install requires: 'numpy'" in change.reason
    # the build script runs with the setuptools of glmnet's upload day (2020-06-04): later
    # ones refuse its python_requires='>=3.6.*'
    assert (tools.action, tools.specifier) == ("build-with", "setuptools==47.3.1")
    assert "uploaded on 2020-06-04" in tools.reason
    assert build_repair.built_with((change, tools)) == (
        ("numpy", "setuptools==47.3.1"),
        ("glmnet",),
    )
    # the repository's pins are kept; a second time the same, repro stops
    pinned = _context(
        requirements=(
            *context.requirements,
            _req("numpy", "<1.24", "requirements"),
            _req("setuptools", "<60", "requirements"),
        )
    )
    assert [c.specifier for c in propose(failure, pinned).changes] == ["numpy<1.24"]
    again = propose(failure, _context(requirements=context.requirements, previous=(change,)))
    assert not again.changes and again.diagnosis is not None


def test_a_build_dependency_with_a_wheel_elsewhere_moves_instead() -> None:
    failure = BuildFailure(
        kind="build-dependency",
        line="ModuleNotFoundError: No module named 'numpy'",
        subject="numpy",
        package="glmnet",
        version="2.2.1",
    )
    (change,) = propose(failure, _context(python="3.11", pythons=("3.8",))).changes
    assert (change.action, change.target) == ("set-python", "3.8")


# --------------------------------------------------------------------------- conflicts


def _conflict_failure() -> BuildFailure:
    return classify((BUILD / "uv-pin-conflict.log").read_text())


def test_equal_pins_relax_the_dependency_to_what_the_other_needs() -> None:
    context = _context(
        requirements=(
            _req("requests", "==2.31.0", "requirements"),
            _req("urllib3", "==1.20", "requirements"),
        )
    )
    (change,) = propose(_conflict_failure(), context).changes
    assert (change.action, change.target, change.specifier) == (
        "bound-requirement",
        "urllib3",
        ">=1.21.1,<3",
    )
    assert "on equal evidence" in change.reason


def test_a_readme_line_gives_way_to_a_requirements_file() -> None:
    failure = BuildFailure(
        kind="resolver-conflict",
        line="unsatisfiable",
        conflicts=(
            Conflict(name="requests", specifier="==2.31.0"),
            Conflict(name="urllib3", specifier="==1.20"),
        ),
    )
    context = _context(
        requirements=(
            _req("requests", "==2.31.0", "readme"),
            _req("urllib3", "==1.20", "requirements"),
        )
    )
    (change,) = propose(failure, context).changes
    assert (change.target, change.specifier) == ("requests", "")
    assert "a README line" in change.reason


def test_an_inferred_version_gives_way_before_a_declared_one() -> None:
    failure = BuildFailure(
        kind="resolver-conflict",
        line="unsatisfiable",
        conflicts=(
            Conflict(name="requests", specifier="==2.22.0"),
            Conflict(name="urllib3", specifier="==1.20"),
        ),
    )
    context = _context(
        requirements=(
            _req("requests", "", "import", version="2.22.0"),
            _req("urllib3", "==1.20", "requirements"),
        )
    )
    (change,) = propose(failure, context).changes
    assert change.target == "requests" and "an inferred version" in change.reason


def test_the_users_pins_are_never_relaxed() -> None:
    context = _context(
        requirements=(_req("requests", "==2.31.0", "user"), _req("urllib3", "==1.20", "user"))
    )
    proposal = propose(_conflict_failure(), context)
    assert not proposal.changes and proposal.diagnosis is not None
    assert "--pin" in proposal.diagnosis.message


# --------------------------------------------------------------------------- network


def test_a_network_error_is_retried_twice_with_a_pause_then_explained() -> None:
    failure = classify((BUILD / "uv-index-dns.log").read_text())
    previous: tuple[Change, ...] = ()
    waits = []
    for _ in range(build_repair.RETRIES):
        proposal = propose(failure, _context(previous=previous))
        (change,) = proposal.changes
        assert change.action == "retry"
        waits.append(build_repair.retry_wait(proposal.changes))
        previous = (*previous, change)
    assert waits == list(build_repair.BACKOFF_SECONDS)
    final = propose(failure, _context(previous=previous))
    assert final.diagnosis is not None
    assert "the package index (pypi.invalid) did not answer" in final.diagnosis.message
    assert "--index-url" in final.diagnosis.hint and "HTTPS_PROXY" in final.diagnosis.hint


def test_cargo_without_its_registry_names_the_crate_registry() -> None:
    failure = classify((BUILD / "uv-cargo-registry-unreachable.log").read_text())
    retries = tuple(propose(failure, _context()).changes) * build_repair.RETRIES
    final = propose(failure, _context(previous=retries))
    assert final.diagnosis is not None
    assert "Rust's crate registry (github.com) did not answer" in final.diagnosis.message
    assert "crates.io" in final.diagnosis.hint and "HTTPS_PROXY" in final.diagnosis.hint


def test_a_refused_certificate_names_the_ca_settings() -> None:
    failure = classify((BUILD / "uv-certificate.log").read_text())
    proposal = propose(failure, _context())
    assert proposal.diagnosis is not None and not proposal.changes
    assert "--ca-bundle" in proposal.diagnosis.hint and "PIP_CERT" in proposal.diagnosis.hint


# --------------------------------------------------------------------------- the error


def test_the_error_names_package_command_lines_and_log() -> None:
    failure = classify((BUILD / "uv-gcc-missing.log").read_text())
    message, detail, _ = build_repair.error_text(failure, None, "/cache/logs/x-build-1.log")
    assert message.startswith("the build of netifaces==0.11.0 failed: error: command")
    assert "while installing the requirements: uv pip install -r /opt/repro/requirements.txt" in (
        detail
    )
    assert "error: Failed to build `netifaces==0.11.0`" in detail
    assert detail.endswith("full log: /cache/logs/x-build-1.log")
    assert "--mount" not in message + detail


def test_every_kind_of_build_failure_is_in_the_registry() -> None:
    from typing import get_args

    from repro.buildlog import BuildFailureKind
    from repro.repair import BUILD_KINDS

    assert sorted(k.name for k in BUILD_KINDS) == sorted(get_args(BuildFailureKind))
    fixed = {k.name for k in BUILD_KINDS if k.handling == "fix"}
    assert all(k.fix is not None for k in BUILD_KINDS if k.name in fixed)


def test_a_release_that_cannot_move_names_the_pythons_its_wheels_are_for() -> None:
    glmnet = PackageReleases(
        name="glmnet",
        fetched=FETCHED,
        releases=(_release("2.2.1", "2020-07-01", "cp36", "cp37", "cp38"),),
    )
    failure = classify((BUILD / "uv-build-dependency.log").read_text())
    tried = Change(action="build-with", target="glmnet", specifier="numpy")
    proposal = propose(failure, _context(history={"glmnet": glmnet}.get, previous=(tried,)))
    assert not proposal.changes and proposal.diagnosis is not None
    assert proposal.diagnosis.hint.startswith(
        "glmnet 2.2.1 has wheels for Python 3.6, 3.7, 3.8 only (this engine has a base image "
        "for none of them): pack with --python 3.8"
    )


def test_a_header_already_installed_means_the_code_wants_another_python() -> None:
    """cytoolz 0.10.1's C (Cython of 2019) includes longintrepr.h, which Python 3.11
    moved: installing libpython3.11-dev again would not help; a release with a wheel does."""
    cytoolz = PackageReleases(
        name="cytoolz",
        fetched=FETCHED,
        releases=(
            _release("0.10.1", "2019-11-04"),
            _release("0.12.0", "2022-07-10", "cp38", "cp39", "cp310"),
            _release("0.12.1", "2022-12-25", "cp39", "cp310", "cp311"),
        ),
    )
    failure = BuildFailure(
        kind="missing-header",
        line="cytoolz/dicttoolz.c:20:10: fatal error: longintrepr.h: No such file or directory",
        subject="longintrepr.h",
        package="cytoolz",
        version="0.10.1",
    )
    context = _context(
        history={"cytoolz": cytoolz}.get,
        requirements=(_req("cytoolz", "==0.10.1", "requirements"),),
        previous=(Change(action="add-build-package", target="libpython3.11-dev"),),
    )
    (change,) = propose(failure, context).changes
    assert (change.action, change.target, change.specifier) == (
        "bound-requirement",
        "cytoolz",
        "==0.12.1",
    )
    assert "the pin ==0.10.1 from requirements.txt:1 is given up" in change.reason
