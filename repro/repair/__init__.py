"""Read a failed smoke test, name what went wrong, and turn it into changes to the plan.

Three pure steps, each tested on real error texts without a daemon:

``classify(text)`` → ``Failure``
    Finds the line that explains the failure and sorts it into a kind: a module that is
    not installed, a name or attribute an installed package no longer has (the version is
    too new), a syntax error (the wrong Python), a shared library the image lacks, a
    CUDA/driver problem, data or network the smoke test does not have, memory, time, or
    any other error (the detectors: ``classify.py``).
``propose(failure, context)`` → ``Proposal``
    For the kinds repro can fix, the change to make (add a distribution, lower a version
    bound, switch Python, add a Debian package) and why; for the others, a diagnosis in
    one line with a hint (``propose.py``).
``apply_changes(environment, changes, wheelhouse)`` → ``Environment``
    The requirements with the repairs applied, each change recorded as evidence of kind
    ``repair`` (``apply.py``).

Every kind of failure, in the order the detectors try them, and what repro does about
each, is one table: ``kinds.KINDS`` (to add a kind, see ``kinds.py``). A failed *build*
goes through the same loop: ``repro/buildlog.py`` reads its log into a ``BuildFailure``,
``kinds.BUILD_KINDS`` says what repro does about each kind, ``build.py`` proposes
(docs/build-repair.md). ``values.py`` holds
the values passed around, ``rounds.py`` a repair round's context and manifest record,
``explain.py`` what repro says when it stops.

Facts (which Debian package ships ``libGL.so.1``, which releases a distribution had) come
from data files and the release-history edge, never from if-chains here.
"""

from repro.repair.apply import apply_changes, python_change, system_packages, with_python
from repro.repair.build import BuildContext
from repro.repair.kinds import (
    BUILD_KINDS,
    KINDS,
    BuildKind,
    Kind,
    classify,
    diagnose,
    propose,
    propose_build,
)
from repro.repair.values import (
    Change,
    ChangeAction,
    Context,
    Dated,
    Diagnosis,
    Failure,
    FailureKind,
    KnownRelease,
    Proposal,
    ReleasesFor,
    Round,
)
from repro.system_modules import system_package_for

__all__ = [
    "BUILD_KINDS",
    "KINDS",
    "BuildContext",
    "BuildKind",
    "Change",
    "ChangeAction",
    "Context",
    "Dated",
    "Diagnosis",
    "Failure",
    "FailureKind",
    "Kind",
    "KnownRelease",
    "Proposal",
    "ReleasesFor",
    "Round",
    "apply_changes",
    "classify",
    "diagnose",
    "propose",
    "propose_build",
    "python_change",
    "system_package_for",
    "system_packages",
    "with_python",
]
