from __future__ import annotations

import datetime as dt

import pytest

from repro.errors import UsageError
from repro.infer import choose_python, infer
from repro.models import (
    DeclaredRequirement,
    Evidence,
    ImportSite,
    InferSettings,
    Origin,
    PythonHint,
    Wheel,
)

WHEN = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)


def imp(module: str, path: str = "main.py", line: int = 1, optional: bool = False) -> ImportSite:
    return ImportSite(
        module=module, origin=Origin(kind="import", path=path, line=line), optional=optional
    )


def decl(text: str, name: str, **kw: object) -> DeclaredRequirement:
    return DeclaredRequirement(
        requirement=text,
        name=name,
        origin=Origin(kind="requirements", path="requirements.txt", line=1),
        **kw,
    )  # type: ignore[arg-type]


def test_declared_wins_and_imports_fill_gaps() -> None:
    ev = Evidence(
        declared=(decl("numpy<1.20", "numpy"),),
        imports=(imp("numpy"), imp("cv2"), imp("sklearn.metrics"), imp("os"), imp("utils")),
        local_modules=frozenset({"utils"}),
    )
    env = infer(ev, InferSettings(), commit_date=WHEN)
    reqs = {r.name: r for r in env.requirements}
    assert set(reqs) == {"numpy", "opencv-python", "scikit-learn"}
    assert reqs["numpy"].specifier == "<1.20"
    assert [o.kind for o in reqs["numpy"].origins] == ["requirements", "import"]
    assert "imported as cv2 (main.py:1)" in reqs["opencv-python"].reasons


def test_unknown_imports_are_reported_not_guessed() -> None:
    ev = Evidence(
        imports=(imp("torchvision_extra_thing"), imp("google.colab"), imp("maybe", optional=True))
    )
    env = infer(ev, InferSettings(), commit_date=WHEN)
    assert env.requirements == ()
    reasons = {u.module: u.reason for u in env.unresolved}
    assert reasons["torchvision_extra_thing"].startswith(
        "no known distribution provides 'torchvision_extra_thing'"
    )
    # a module only an application has is not unresolved: it names the application
    assert "google.colab" not in reasons
    hosted = {i.module: i for i in env.imports}["google.colab"]
    assert (hosted.kind, hosted.provider) == ("host", "Google Colab")
    # an optional import nothing maps is listed too, marked optional, never required
    assert reasons["maybe"].endswith("(optional import: the code runs without it)")


def test_optional_imports_are_listed_not_required() -> None:
    ev = Evidence(imports=(imp("ujson", optional=True),))
    (req,) = infer(ev, InferSettings(), commit_date=WHEN).requirements
    assert req.name == "ujson" and req.optional


def test_namespace_packages_map_by_full_path() -> None:
    ev = Evidence(
        imports=(imp("google.cloud"), imp("google.cloud.storage"), imp("google.protobuf"))
    )
    env = infer(ev, InferSettings(), commit_date=WHEN)
    assert {r.name for r in env.requirements} == {"google-cloud-storage", "protobuf"}
    assert env.unresolved == ()


def test_python2_code_excludes_the_python2_stdlib() -> None:
    ev = Evidence(
        imports=(imp("urllib2"), imp("cPickle"), imp("numpy")),
        python_hints=(PythonHint(specifier="<3", origin=Origin(kind="syntax"), strength="syntax"),),
    )
    env = infer(ev, InferSettings(), commit_date=WHEN)
    assert env.python.version == "2.7"
    assert [r.name for r in env.requirements] == ["numpy"]


@pytest.mark.parametrize(
    ("specs", "as_of", "expected"),
    [
        ((), dt.date(2024, 3, 1), "3.11"),
        ((), dt.date(2024, 10, 2), "3.12"),
        ((), dt.date(2019, 3, 1), "3.6"),
        ((">=3.6",), dt.date(2020, 1, 1), "3.7"),
        (("==3.7.*",), dt.date(2024, 1, 1), "3.7"),
        (("<3.8", ">=3.6"), dt.date(2024, 1, 1), "3.7"),
    ],
)
def test_python_choice(specs: tuple[str, ...], as_of: dt.date, expected: str) -> None:
    hints = [PythonHint(specifier=s, origin=Origin(kind="pyproject")) for s in specs]
    choice, conflicts = choose_python(hints, as_of=as_of)
    assert choice.version == expected
    assert conflicts == []


def test_contradicting_python_hints_are_reported() -> None:
    hints = [
        PythonHint(specifier=">=3.8", origin=Origin(kind="pyproject", path="pyproject.toml")),
        PythonHint(specifier="<3", origin=Origin(kind="syntax", path="old.py"), strength="syntax"),
    ]
    choice, conflicts = choose_python(hints, as_of=dt.date(2024, 1, 1))
    assert choice.version.startswith("3.")
    assert len(conflicts) == 1 and "old.py" in conflicts[0]


def test_python_override_must_be_known() -> None:
    with pytest.raises(UsageError, match=r"--python 4\.0"):
        choose_python([], as_of=dt.date(2024, 1, 1), override="4.0")


def test_wheelhouse_steers_python_and_pins_the_framework() -> None:
    ev = Evidence(imports=(imp("torch"),))
    wheel = Wheel(name="torch", version="2.13.0+cpu", pythons=frozenset({"cp311"}))
    env = infer(
        ev,
        InferSettings(),
        commit_date=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc),
        wheelhouse=[wheel],
    )
    assert env.python.version == "3.11"
    (torch,) = env.requirements
    assert torch.version == "2.13.0+cpu" and torch.layer == "framework"


def test_pins_override_everything() -> None:
    ev = Evidence(declared=(decl("torch>=2", "torch"),), imports=(imp("torch"),))
    env = infer(ev, InferSettings(pins=("torch==1.4.0",)), commit_date=WHEN)
    (torch,) = env.requirements
    assert torch.pip_line() == "torch==1.4.0"
    with pytest.raises(UsageError):
        infer(ev, InferSettings(pins=("torch is old",)), commit_date=WHEN)
