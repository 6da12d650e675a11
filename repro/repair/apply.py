"""Repairs applied to the plan (pure): requirement changes into the environment, the
Python switch, the Debian packages for the image.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from repro.infer import FRAMEWORKS
from repro.models import Environment, Origin, PythonChoice, Requirement
from repro.repair.values import Change, Dated


def apply_changes(
    environment: Environment,
    changes: Sequence[Change],
    wheelhouse: Mapping[str, Sequence[str]] | None = None,
    dated: Dated | None = None,
) -> Environment:
    """The environment with every requirement change applied (Python and apt are elsewhere).

    A changed requirement keeps its earlier evidence and gains an origin of kind
    ``repair``. Its version follows the rules inference used: a wheelhouse version that
    fits the new bound, else (when inference had pinned it by date) the newest release
    before the lock cutoff that fits, from ``dated``. The date constraints of pip installs
    and the explained version choices follow the change.
    """
    requirements = list(environment.requirements)
    constraints = {c.split("==")[0]: c for c in environment.date_constraints}
    choices = {canonicalize_name(c.name): c for c in environment.choices}
    for number, change in enumerate(changes, start=1):
        if change.action not in ("add-requirement", "bound-requirement"):
            continue
        key = canonicalize_name(change.target)
        origin = Origin(kind="repair", detail=f"repair: {change.describe()}")
        index = next(
            (i for i, r in enumerate(requirements) if r.name and canonicalize_name(r.name) == key),
            None,
        )
        old = requirements[index] if index is not None else None
        specifier = change.specifier if change.action == "bound-requirement" else ""
        if old is not None and change.action == "add-requirement":
            specifier = old.specifier
        version = _wheel_version((wheelhouse or {}).get(key, ()), specifier)
        kept = tuple(r for r in (old.reasons if old else ()) if "in the wheelhouse" not in r)
        if version:
            kept += (f"{old.name if old else change.target} {version} is in the wheelhouse",)
        as_of = dated(change.target, specifier) if dated is not None else None
        if version is None and old is not None and old.version and as_of:
            version = as_of
        if constraints:  # a pip install held to the date by a constraints file
            constraints.pop(key, None)
            if version or as_of:
                constraints[key] = f"{key}=={version or as_of}"
        reason = f"smoke-test repair {number}: {change.reason}"
        if old is not None and old.specifier and old.specifier != specifier:
            reason += (
                f" (overrules {old.specifier} from {old.origins[0] if old.origins else 'evidence'})"
            )
        new = Requirement(
            name=old.name if old else change.target,
            specifier=specifier,
            extras=old.extras if old else (),
            marker=old.marker if old else "",
            url="" if change.action == "bound-requirement" else (old.url if old else ""),
            version=version,
            origins=(*(old.origins if old else ()), origin),
            reasons=(*kept, reason),
            optional=False,
            layer=old.layer
            if old is not None and old.layer not in ("smoke", "optional")
            else ("framework" if key in FRAMEWORKS else "main"),
        )
        if index is None:
            requirements.append(new)
        else:
            requirements[index] = new
        if key in choices:
            choices[key] = dataclasses.replace(
                choices[key],
                version=version or as_of,
                specifier=specifier,
                chain=(*choices[key].chain, reason),
            )
    return dataclasses.replace(
        environment,
        requirements=tuple(requirements),
        date_constraints=tuple(sorted(constraints.values())),
        choices=tuple(choices[k] for k in sorted(choices)),
    )


def _wheel_version(versions: Sequence[str], specifier: str) -> str | None:
    try:
        spec = SpecifierSet(specifier)
    except InvalidSpecifier:
        return None
    fitting = []
    for text in versions:
        try:
            v = Version(text)
        except InvalidVersion:
            continue
        if spec.contains(v, prereleases=True):
            fitting.append(v)
    return str(max(fitting)) if fitting else None


def python_change(changes: Sequence[Change]) -> Change | None:
    """The last Python switch among ``changes``."""
    found = [c for c in changes if c.action == "set-python"]
    return found[-1] if found else None


def with_python(environment: Environment, change: Change) -> Environment:
    """Record the Python switch as the reason for the Python version."""
    return dataclasses.replace(
        environment,
        python=PythonChoice(
            version=change.target, reasons=(f"smoke-test repair: {change.reason}",)
        ),
    )


def system_packages(changes: Sequence[Change]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c.target for c in changes if c.action == "add-system-package"))
