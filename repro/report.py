"""Plain-text views of a plan and a pack, for people (pure: returns strings); and the
``Reporter`` the stages tell their progress to (the command line prints it).
"""

from __future__ import annotations

from typing import Protocol

from repro import system_modules
from repro.models import JSON, NODE_ADDED, ImportResolution, Plan, Requirement


class Reporter(Protocol):
    def stage(self, name: str, detail: str = "") -> None: ...
    def info(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def log(self, line: str) -> None: ...


class QuietReporter:
    """A reporter that drops everything (library use, tests)."""

    def stage(self, name: str, detail: str = "") -> None:
        pass

    def info(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def log(self, line: str) -> None:
        pass


def _origin_summary(req: Requirement, limit: int = 2) -> str:
    seen: list[str] = []
    for origin in req.origins:
        text = str(origin) if origin.kind != "user" else origin.detail
        if text not in seen:
            seen.append(text)
    more = f" +{len(seen) - limit} more" if len(seen) > limit else ""
    return ", ".join(seen[:limit]) + more


def _table(rows: list[tuple[str, ...]], indent: str = "  ") -> list[str]:
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    out = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        out.append(indent + "  ".join(cells).rstrip())
    return out


_KIND_TITLES = {
    "distribution": "distribution",
    "system": "system package",
    "host": "runs inside",
    "platform": "only on",
    "unresolved": "unresolved",
}


def _imports(imports: tuple[ImportResolution, ...]) -> list[str]:
    """What provides each import: one row per distribution, system package, application
    or unresolved import (with how it was found), one line for the standard library and
    one for the repository's own modules."""
    if not imports:
        return []
    lines = ["", f"Imports ({len(imports)}): what provides each"]
    rows: list[tuple[str, ...]] = [
        (
            _KIND_TITLES[i.kind],
            i.module,
            i.provider or "-",
            i.how + (f" [also: {', '.join(i.alternatives)}]" if i.alternatives else ""),
        )
        for i in imports
        if i.kind in _KIND_TITLES
    ]
    lines += _table(rows)
    for kind, title in (("stdlib", "standard library"), ("own", "the repository's own")):
        group = [i for i in imports if i.kind == kind]
        if not group:
            continue
        by_label: dict[str, list[str]] = {}
        for i in group:
            label = f"{title} ({i.provider})" if i.provider else title
            if kind == "stdlib" and i.how.startswith("Python 2's"):
                label = "Python 2's standard library only (Python 3 renamed or removed them)"
            by_label.setdefault(label, []).append(i.module)
        lines += [f"  {label}: {', '.join(modules)}" for label, modules in by_label.items()]
    return lines


def _ladder_lines(decision: JSON | None) -> list[str]:
    """The planner's rungs (when it climbed past the first) and what it gave up."""
    if not decision:
        return []
    rungs = decision.get("ladder") or []
    lines = []
    if len(rungs) > 1 or decision.get("gave_up"):
        for i, rung in enumerate(rungs):
            head = "Plan       " if i == 0 else "           "
            lines.append(f"{head}{rung['step']}: {rung['outcome']}: {rung['detail']}")
    for item in decision.get("gave_up") or []:
        lines.append(f"Gave up    {item['constraint']}")
        lines.append(f"             because {item['reason']}")
    return lines


def plan_text(plan: Plan) -> str:
    co = plan.checkout
    env = plan.environment
    lines = [
        f"Source     {co.source.url}" + (f" ({co.source.subdir})" if co.source.subdir else ""),
        f"Commit     {co.commit} ({co.commit_date:%Y-%m-%d})"
        + (f" from ref {co.ref}" if co.ref else ""),
        f"Python     {env.python.version}",
    ]
    lines += [f"             because {r}" for r in env.python.reasons]
    lines += _python_bounds(plan)
    lines.append(f"Base image {plan.base.name}")
    lines += [f"             because {r}" for r in plan.base.reasons]
    if plan.base.cuda is not None:
        c = plan.base.cuda
        cudnn = f", cuDNN {c.cudnn}" if c.cudnn else ""
        driver = f", driver >= {c.min_driver}" if c.min_driver else ""
        lines.append(f"CUDA       {c.cuda} ({c.flavour}{cudnn}{driver})")
        if c.requirements:
            lines.append(f"Installs   {', '.join(line for _, line in c.requirements if line)}")
        for url in (*c.index_urls, *c.find_links):
            lines.append(f"             from {url}")
    lines += _ladder_lines(plan.decision)
    libraries, linked = system_modules.library_packages(env, plan.base)
    if libraries:
        lines.append(f"Libraries  {', '.join(libraries)} (Debian packages)")
        lines.append(f"             because {linked}")
    for pin in env.vcs_pins:
        lines.append(f"VCS pin    {pin.name}: {pin.pinned or pin.url}")
        lines.append(f"             because {pin.reason}")
    if env.as_of:
        why = f" ({env.as_of_reason})" if env.as_of_reason else ""
        lines.append(f"As of      {env.as_of.isoformat()}{why}")
    if env.lock_cutoff:
        lines.append(f"Lock       files uploaded before {env.lock_cutoff.isoformat()}")
        lines += [f"             {r}" for r in env.lock_reasons[1:]]
    if env.choices:
        lines.append("")
        lines.append("Versions (strongest evidence first)")
        for choice in env.choices:
            latest = (
                f"  [latest: {choice.latest}]"
                if choice.latest and choice.latest != choice.version
                else ""
            )
            lines.append(f"  {choice.name} {choice.version or '(none)'}{latest}")
            lines += [f"    - {step}" for step in choice.chain]
    needed = [r for r in env.requirements if not r.optional]
    optional = [r for r in env.requirements if r.optional]
    lines.append("")
    lines.append(f"Requirements ({len(needed)})")
    rows = [
        (r.name, r.pip_line()[len(r.name) :] or "any", r.layer, _origin_summary(r)) for r in needed
    ]
    lines += _table([("name", "version", "layer", "from"), *rows])
    for r in needed:
        if r.reasons and any("wheelhouse" in x or "--pin" in x or "date" in x for x in r.reasons):
            lines.append(f"    {r.name}: {'; '.join(r.reasons)}")
    best_effort = [r for r in optional if r.layer == "optional"]
    listed = [r for r in optional if r.layer != "optional"]
    if best_effort:
        lines.append("")
        lines.append(
            f"Optional, installed if they install cleanly, else dropped ({len(best_effort)})"
        )
        lines += _table([(r.name, _origin_summary(r)) for r in best_effort])
    if listed:
        lines.append("")
        lines.append(f"Optional, not installed ({len(listed)})")
        lines += _table([(r.name, _origin_summary(r)) for r in listed])
    lines += _imports(env.imports)
    if env.unresolved:
        lines.append("")
        lines.append(f"Unresolved imports ({len(env.unresolved)}): not installed")
        for u in env.unresolved:
            lines += _table([(u.module, str(u.origins[0]) if u.origins else "", u.reason)])
            lines += [f"      tried {t}" for t in u.tried]
    lines += _binder(plan)
    lines.append("")
    lines.append(f"Smoke test {plan.smoke.display() or '(none)'}")
    lines.append(f"             because {plan.smoke.reason}")
    if plan.smoke_plan is not None:
        for later in plan.smoke_plan.candidates[1:]:
            lines.append(f"             if inconclusive, {later.kind}: {later.reason}")
        if plan.smoke_plan.notebooks is not None:
            lines.append(f"             then {plan.smoke_plan.notebooks.reason}")
    lines.append(f"Tags       {', '.join(plan.tags)}")
    if plan.context is not None:
        ctx = plan.context
        left = ""
        if ctx.large and not ctx.large_kept:
            left = f", {len(ctx.large)} large file(s) left out"
        lines.append(f"Context    {ctx.files} file(s), {human_bytes(ctx.bytes)}{left}")
    if plan.warnings:
        lines.append("")
        lines.append(f"Warnings ({len(plan.warnings)})")
        lines += [f"  - {w}" for w in plan.warnings]
    lines += ["", *_next_steps(co.source.spec)]
    return "\n".join(lines) + "\n"


def _binder(plan: Plan) -> list[str]:
    """The Binder configuration: what each file gave, and the steps it adds."""
    config = plan.evidence.binder
    if config is None:
        return []
    where = f"{config.folder}/" if config.folder else "the root"
    lines = ["", f"Binder     configuration in {where} ({config.why})"]
    if config.apt_packages:
        lines.append(f"  apt        {' '.join(config.apt_packages)} (the system layer)")
    if config.post_build:
        lines.append(f"  postBuild  {config.post_build} runs in the build, as the image's user")
    if config.start:
        lines.append(f"  start      {config.start} wraps every command the image runs")
    if config.node:
        lines.append(f"  node       {config.node}: {NODE_ADDED}")
    lines += _table([(f.path, f.status, f.note) for f in config.files], indent="    ")
    return lines


def _python_bounds(plan: Plan) -> list[str]:
    """Every Python bound the repository and its code give, with the line that gave it
    (the reasons above name only those that narrowed the choice)."""
    hints = plan.evidence.python_hints
    if not hints:
        return []
    width = max(len(h.specifier) for h in hints)
    out = ["             bounds found (declared, then from the code, then hints):"]
    order = {"declared": 0, "syntax": 1, "hint": 2}
    for hint in sorted(hints, key=lambda h: order.get(h.strength, 3)):
        out.append(f"               {hint.specifier.ljust(width)}  {hint.origin}")
    return out


def _next_steps(spec: str) -> list[str]:
    """For a newcomer: how to get inside this environment (docs/journeys.md)."""
    quoted = spec if spec and " " not in spec else f"'{spec}'"
    rows = [
        (f"repro shell {quoted}", "a shell in this environment, the repository at /app"),
        (f"repro run {quoted} -- CMD", "one command in it (--mount: your checkout, live)"),
        (f"repro pack {quoted}", "the tested image as an artifact (--push to publish it)"),
    ]
    width = max(len(cmd) for cmd, _ in rows)
    return ["Next (each packs first, once)"] + [f"  {c.ljust(width)}  {w}" for c, w in rows]


def human_bytes(size: float) -> str:
    """A size in SI units, as repro shows sizes (``12.3 MB``)."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"
