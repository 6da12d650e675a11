"""The build-log diagnosis, on logs of real failed builds (see errors/build/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.buildlog import classify, describe_step, failing_step

BUILD = Path(__file__).parent / "errors" / "build"

# file → (kind, subject, package, version, what the user must see in the line)
EXPECTED = {
    "uv-gcc-missing.log": (
        "missing-compiler", "x86_64-linux-gnu-gcc", "netifaces", "0.11.0", "failed: No such file",
    ),
    "uv-cffi-no-compiler.log": ("missing-compiler", "gcc", "cffi", "1.14.6", "compiler"),
    "pip27-gcc-missing.log": (
        "missing-compiler", "x86_64-linux-gnu-gcc", "python-Levenshtein", "0.12.0", "unable to execute",  # noqa: E501
    ),
    "uv-pg-config.log": ("missing-program", "pg_config", "psycopg2", "2.9.9", "pg_config"),
    "uv-mysql-config.log": ("missing-program", "mysql_config", "mysqlclient", "2.1.1", "not found"),
    "uv-gdal-config.log": ("missing-program", "gdal-config", "gdal", "3.6.2", "gdal-config"),
    "uv-pkg-config.log": ("missing-program", "pkg-config", "pycairo", "1.21.0", "'pkg-config' not found"),  # noqa: E501
    "uv-rust-missing.log": ("missing-compiler", "rustc", "tokenizers", "0.10.3", "Rust compiler"),
    "uv-git-missing.log": ("missing-program", "git", "requests", "", "Git executable not found"),
    "uv-build-dependency.log": ("build-dependency", "numpy", "glmnet", "2.2.1", "numpy"),
    "uv-sdist-metadata.log": ("sdist-unbuildable", "metadata", "orjson", "3.6.0", "project.version"),  # noqa: E501
    "uv-pin-conflict.log": ("resolver-conflict", "requests", "", "", "depends on urllib3"),
    "uv-index-dns.log": ("network", "pypi.invalid", "", "", "Failed to fetch: https://pypi.invalid"),
    "uv-glmnet-gfortran-missing.log": ("missing-compiler", "gfortran", "glmnet", "2.2.1", "compile Fortran"),  # noqa: E501
    "uv-cargo-registry-unreachable.log": ("network", "github.com", "tokenizers", "0.10.3", "failed to resolve address for github.com"),  # noqa: E501
    "uv-certificate.log": ("certificate", "pypi.org", "", "", "invalid peer certificate"),
    "uv-gdal-cc1plus.log": ("missing-compiler", "g++", "gdal", "3.6.2", "cc1plus"),
    "uv-python-h-missing.log": ("missing-header", "Python.h", "netifaces", "0.11.0", "Python.h"),
    "uv-ffi-h-missing.log": ("missing-header", "ffi.h", "cffi", "1.14.6", "ffi.h"),
    "uv-evdev-kernel-headers.log": ("missing-header", "linux/input.h", "evdev", "2.0.0", "are missing"),  # noqa: E501
}  # fmt: skip


def test_every_captured_log_has_an_expectation() -> None:
    assert sorted(p.name for p in BUILD.glob("*.log")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_build_logs_are_diagnosed(name: str) -> None:
    kind, subject, package, version, shown = EXPECTED[name]
    failure = classify((BUILD / name).read_text())
    assert failure.kind == kind
    assert failure.subject == subject
    assert (failure.package, failure.version) == (package, version)
    assert shown in failure.line or any(shown in line for line in failure.excerpt)
    assert "\n" not in failure.line


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_failing_command_is_readable(name: str) -> None:
    failure = classify((BUILD / name).read_text())
    assert failure.step == "installing the requirements"
    assert failure.command in (
        "uv pip install -r /opt/repro/requirements.txt",
        # after a build-with repair: numpy and setuptools went in first, in the same step
        "uv pip install --no-build-isolation-package glmnet -r /opt/repro/requirements.txt",
        "python -m pip install --constraint /opt/repro/constraints-date.txt "
        "-r /opt/repro/requirements.txt",
    )
    for text in (failure.command, failure.line, *failure.excerpt):
        assert "--mount=" not in text and "/run/secrets" not in text
    assert 0 < len(failure.excerpt) <= 8


def test_the_excerpt_names_the_package_and_the_compiler_command() -> None:
    failure = classify((BUILD / "uv-gcc-missing.log").read_text())
    assert failure.excerpt[0] == "error: Failed to build `netifaces==0.11.0`"
    assert failure.excerpt[1].startswith("x86_64-linux-gnu-gcc ")
    assert failure.summary().startswith("netifaces==0.11.0: error: command")


def test_resolver_conflict_names_the_users_requirements_and_the_dependency() -> None:
    failure = classify((BUILD / "uv-pin-conflict.log").read_text())
    named = {(c.name, c.specifier, c.by) for c in failure.conflicts}
    assert ("requests", "==2.31.0", "") in named
    assert ("urllib3", "==1.20", "") in named
    assert ("urllib3", ">=1.21.1,<3", "requests") in named
    # "we can conclude that you require urllib3>=1.21.1,<3" is the resolver's inference
    assert ("urllib3", ">=1.21.1,<3", "") not in named


def test_network_and_certificate_failures_name_the_host_class() -> None:
    dns = classify((BUILD / "uv-index-dns.log").read_text())
    assert dns.host_class == "index"
    cert = classify((BUILD / "uv-certificate.log").read_text())
    assert cert.host_class == "index"
    # cargo's registry index (on GitHub for bookworm's cargo), not a link in its notes
    crates = classify((BUILD / "uv-cargo-registry-unreachable.log").read_text())
    assert (crates.host_class, crates.subject) == ("crates", "github.com")


# --------------------------------------------------------------------------- texts

STEP = "#11 [stage-2 3/7] RUN --mount=type=cache,target=/root/.cache/uv pip install -r x.txt"


def _log(*lines: str) -> str:
    body = "\n".join(f"#11 1.0 {line}" for line in lines)
    return f"{STEP}\n{body}\n#11 ERROR: executor failed running [/bin/sh -c ...]: exit code: 1\n"


@pytest.mark.parametrize(
    ("line", "kind", "subject"),
    [
        ("src/x.c:3:10: fatal error: Python.h: No such file or directory", "missing-header", "Python.h"),  # noqa: E501
        ("c/_cffi_backend.c:15:10: fatal error: ffi.h: No such file or directory", "missing-header", "ffi.h"),  # noqa: E501
        ("x.c:1:10: fatal error: 'openssl/ssl.h' file not found", "missing-header", "openssl/ssl.h"),  # noqa: E501
        ("Package cairo was not found in the pkg-config search path.", "missing-pkgconfig", "cairo"),  # noqa: E501
        ("Package 'libffi', required by 'virtual:world', not found", "missing-pkgconfig", "libffi"),
        ('../meson.build:10:0: ERROR: Dependency "openblas" not found, tried pkgconfig', "missing-pkgconfig", "openblas"),  # noqa: E501
        ("/usr/bin/ld: cannot find -lssl: No such file or directory", "missing-library", "ssl"),
        ("/bin/sh: 1: swig: not found", "missing-program", "swig"),
        ("error: command 'swig' failed: No such file or directory", "missing-program", "swig"),
        ("Cargo, the Rust package manager, is not installed or is not on PATH.", "missing-compiler", "cargo"),  # noqa: E501
        ("error: library dfftpack has Fortran sources but no Fortran compiler found", "missing-compiler", "gfortran"),  # noqa: E501
        ("ERROR: Unknown compiler(s): [['gfortran'], ['flang'], ['nvfortran']]", "missing-compiler", "gfortran"),  # noqa: E501
        ("gcc: error trying to exec 'cc1plus': execvp: No such file or directory", "missing-compiler", "g++"),  # noqa: E501
        ("CMake Error: CMAKE_CXX_COMPILER not set; No CMAKE_CXX_COMPILER could be found.", "missing-compiler", "g++"),  # noqa: E501
        ("error: [Errno 2] No such file or directory: 'x86_64-linux-gnu-gcc'", "missing-compiler", "x86_64-linux-gnu-gcc"),  # noqa: E501
        ("error: [Errno 2] No such file or directory: 'cargo'", "missing-compiler", "cargo"),
        ("error: [Errno 2] No such file or directory: 'README.rst'", "build-error", ""),
        ("Command 'pkg-config --exists mysqlclient' returned non-zero exit status 1.", "missing-pkgconfig", "mysqlclient"),  # noqa: E501
        ("Command 'pkg-config --exists mysqlclient' returned non-zero exit status 127.", "build-error", ""),  # noqa: E501
        ("E: Unable to locate package libfoo-dev", "apt-package", "libfoo-dev"),
        ("Temporary failure resolving 'deb.debian.org'", "network", "deb.debian.org"),
        ("fatal: unable to access 'https://github.com/a/b/': Could not resolve host: github.com", "network", "github.com"),  # noqa: E501
    ],
)  # fmt: skip
def test_the_common_texts_of_each_kind(line: str, kind: str, subject: str) -> None:
    failure = classify(_log("Building foo==1.0", line))
    assert (failure.kind, failure.subject) == (kind, subject)


def test_a_package_list_that_could_not_be_fetched_is_the_network_not_a_missing_package() -> None:
    """apt-get update that timed out on the mirror goes on without the list, and the install
    says "Unable to locate package gcc" of a package the release has (seen in a real pack):
    that is a network failure, retried, not a package to look for elsewhere."""
    failure = classify(
        _log(
            "Get:1 http://deb.debian.org/debian bullseye InRelease [75.1 kB]",
            "Err:3 http://deb.debian.org/debian bullseye/main Translation-en",
            "  Could not connect to deb.debian.org:80 (203.0.113.80), connection timed out",
            "W: Failed to fetch http://deb.debian.org/debian/dists/bullseye/main/i18n/"
            "Translation-en  Could not connect to deb.debian.org:80 (203.0.113.80)",
            "W: Some index files failed to download. They have been ignored, or old ones used.",
            "E: Unable to locate package gcc",
        )
    )
    assert failure.kind == "network" and failure.subject == "deb.debian.org"
    assert failure.line.startswith("W: Failed to fetch")
    alone = classify(_log("E: Unable to locate package libfoo-dev"))
    assert (alone.kind, alone.subject) == ("apt-package", "libfoo-dev")


def test_the_line_shown_for_a_missing_header_is_the_compilers() -> None:
    failure = classify(
        _log(
            "from numpy.distutils.core import Extension, setup",
            "glmnet/_glmnetmodule.c:18:10: fatal error: Python.h: No such file or directory",
        )
    )
    assert (failure.kind, failure.subject) == ("missing-header", "Python.h")
    assert failure.line.startswith("glmnet/_glmnetmodule.c:18:10: fatal error: Python.h")


def test_vcs_and_apt_hosts_are_told_apart() -> None:
    vcs = classify(
        _log("fatal: unable to access 'https://github.com/a/b/': Could not resolve host")
    )
    assert vcs.host_class == "vcs"
    apt = classify(_log("Temporary failure resolving 'deb.debian.org'"))
    assert apt.host_class == "apt"


def test_a_compile_error_with_the_compiler_present() -> None:
    failure = classify(
        _log(
            "error: Failed to build `cytoolz==0.10.1`",
            "cytoolz/dicttoolz.c:1234:5: error: 'PyThreadState' has no member named 'exc_type'",
            "error: command '/usr/bin/x86_64-linux-gnu-gcc' failed with exit code 1",
        )
    )
    assert failure.kind == "compile-error"
    assert failure.subject == "cytoolz/dicttoolz.c"
    assert (failure.package, failure.version) == ("cytoolz", "0.10.1")


def test_a_python_error_in_setup_py_is_an_unbuildable_sdist() -> None:
    failure = classify(
        _log(
            "error: Failed to build `oldpkg==0.1`",
            "cause: The build backend returned an error",
            '  File "setup.py", line 3, in <module>',
            "AttributeError: module 'collections' has no attribute 'Mapping'",
        )
    )
    assert failure.kind == "sdist-unbuildable"


def test_a_data_file_missing_in_setup_py_is_no_missing_program() -> None:
    failure = classify(
        _log(
            "error: Failed to build `oldpkg==0.1`",
            "cause: The build backend returned an error",
            "FileNotFoundError: [Errno 2] No such file or directory: 'README.md'",
        )
    )
    assert failure.kind != "missing-program"


def test_no_wheel_for_this_python() -> None:
    failure = classify(
        _log(
            "error: No solution found when resolving dependencies:",
            "cause: Because tensorflow==1.15.5 has no wheels with a matching Python ABI tag "
            "(e.g. `cp311`) and you require tensorflow==1.15.5, we can conclude that your "
            "requirements are unsatisfiable.",
        )
    )
    assert (failure.kind, failure.subject) == ("no-distribution", "tensorflow")


def test_the_classic_builder_log_is_read_too() -> None:
    log = (
        "Step 7/12 : RUN pip install -r /opt/repro/requirements.txt\n"
        " ---> Running in 0123456789ab\n"
        "Collecting psycopg2==2.9.9\n"
        "    Error: pg_config executable not found.\n"
        "The command '/bin/sh -c pip install -r /opt/repro/requirements.txt' returned a non-zero "
        "code: 1\n"
    )
    step = failing_step(log)
    assert step.command.startswith("RUN pip install")
    failure = classify(log)
    assert (failure.kind, failure.subject, failure.package) == (
        "missing-program",
        "pg_config",
        "psycopg2",
    )
    assert failure.command == "pip install -r /opt/repro/requirements.txt"


def test_describe_step_drops_mounts_and_the_secret_preamble() -> None:
    what, command = describe_step(
        "RUN --mount=type=secret,id=repro-ca --mount=type=cache,target=/root/.cache/uv "
        "if [ -f /run/secrets/repro-ca ]; then export PIP_CERT=/run/secrets/repro-ca; fi; "
        "/opt/repro/uv/bin/uv pip install --python /opt/venv/bin/python "
        "--exclude-newer 2024-03-01T00:00:00Z -r /opt/repro/requirements-framework.txt"
    )
    assert what == "installing the frameworks"
    assert command == "uv pip install -r /opt/repro/requirements-framework.txt"
    what, command = describe_step(
        "RUN apt-get update  && DEBIAN_FRONTEND=noninteractive apt-get install -y "
        "--no-install-recommends gcc  && rm -rf /var/lib/apt/lists/*"
    )
    assert what == "installing system packages (apt)"
    assert command == "apt-get install -y --no-install-recommends gcc"
