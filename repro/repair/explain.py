"""What repro says when it stops: the texts of a failed smoke test, of a build that could
not be repaired, and of a missing base image, each one line with a detail block and a hint (pure).

The pack loop (``pipeline.pack``) raises what these return; the repair rounds are the
manifest's ``repairs`` records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from repro import base_image
from repro.buildlog import BuildFailure
from repro.errors import BuildError, SmokeFailure
from repro.models import Plan
from repro.repair.build import error_text
from repro.repair.kinds import diagnose
from repro.repair.values import Context, Diagnosis, Failure, Proposal, Round

if TYPE_CHECKING:
    from repro.smoke.judge import Outcome


def missing_base_hint(plan: Plan, ref: str, local_pythons: tuple[str, ...]) -> str:
    """What to do when ``ref`` is not on the engine and cannot be pulled; ``local_pythons``:
    the Pythons whose CPU base image the engine has."""
    python = plan.environment.python.version
    major, minor = (int(p) for p in python.split("."))
    here = [v for v in local_pythons if v.split(".")[0] == str(major) and v != python]
    choices = []
    if ref == base_image.python_image(python) and here:
        # the nearest Python with a base here, the older one on a tie
        near = min(here, key=lambda v: (abs(int(v.split(".")[1]) - minor), int(v.split(".")[1])))
        local = ", ".join(base_image.python_image(v) for v in here)
        choices.append(f"--python {near} uses a base image this engine has ({local})")
    choices += [
        f"docker pull {ref} where a registry is reachable, or make a local stand-in "
        "(scripts/standin-images.sh, docs/standins.md)",
        "--base-image IMAGE names another base",
    ]
    return "; ".join(choices)


def rounds_text(rounds: Sequence[Round]) -> str:
    """One line per repair round: what failed → what was changed."""
    return "\n".join(f"repair {r.number}: {r.line()}" for r in rounds)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unrepaired_build(
    exc: BuildError,
    failure: BuildFailure,
    proposal: Proposal,
    rounds: Sequence[Round],
    max_repairs: int,
    log: str,
) -> BuildError:
    """A build repro could not (or may no more) repair: the package, the command, the
    lines that matter and the full log's path, never the raw RUN line; the rounds so far."""
    diagnosis = proposal.diagnosis
    if proposal.changes:  # repro knew what to do next, but the rounds ran out
        diagnosis = Diagnosis(
            message=f"{failure.summary()} — still failing after {len(rounds)} repair round(s) "
            f"(--max-repairs {max_repairs}); next would be: {proposal.changes[0].describe()}",
            hint="raise --max-repairs, or make that change yourself",
        )
    message, detail, hint = error_text(failure, diagnosis, log)
    detail = "\n".join(filter(None, [detail, rounds_text(rounds)]))
    return BuildError(message, step=exc.step, log_tail=detail, hint=hint)


def smoke_failure(
    plan: Plan,
    outcome: Outcome,
    failure: Failure,
    proposal: Proposal,
    rounds: Sequence[Round],
    max_repairs: int,
) -> SmokeFailure:
    """The smoke test failed and repro stops: the diagnosis (or the repair it would make
    next, when the rounds ran out), what ran and failed, and the rounds so far."""
    attempt = outcome.failing
    result = attempt.result if attempt else None
    why = (
        "timed out"
        if result is not None and result.timed_out
        else f"exit {result.exit_code if result else '?'}"
    )
    if proposal.changes:  # repro knew what to do next, but the rounds ran out
        message = (
            f"{failure.summary()} — still failing after {len(rounds)} repair round(s) "
            f"(--max-repairs {max_repairs}); next would be: {proposal.changes[0].describe()}"
        )
        hint = "raise --max-repairs, or make that change yourself (--pin, --python)"
    else:
        diagnosis = proposal.diagnosis or diagnose(failure, Context(python=""))
        message, hint = diagnosis.message, diagnosis.hint
    lines = []
    if attempt is not None:
        lines.append(f"ran ({attempt.command.kind}): {_shorten(attempt.command.display(), 160)}")
        targets = result.targets if result else ()
        for t in [t for t in targets if t.status == "failed"][:8]:
            lines.append(f"  failed    {t.target}: {_shorten(t.reason, 160)}")
        for t in attempt.excluded[:5]:
            lines.append(f"  left out  {t.target}: {_shorten(t.reason, 160)}")
    detail = "\n".join(filter(None, [*lines, rounds_text(rounds)]))
    keep = f"the image is kept for a look: repro shell {plan.tags[0]}"
    return SmokeFailure(
        f"smoke test failed ({why}): {message}",
        detail=detail,
        hint=f"{hint}; {keep}" if hint else keep,
    )
