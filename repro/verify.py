"""``repro verify``: an artifact is what its manifest says, and its smoke test still passes.

1. Every file of the artifact directory matches ``SHA256SUMS`` (and the checksums that
   ``repro.json`` records); an unlisted or missing file, or any mismatch, refuses the
   artifact before anything is loaded.
2. ``image.tar.gz`` is loaded into the engine and must be the image ``repro.json``
   records (same image id: the id is a digest of the image's configuration, which names
   every layer's digest, so an equal id is the same content).
3. The recorded smoke command (and the notebooks, when they ran) runs again, by image id,
   with the recorded isolation (no network, uid 1000, memory/pids/time limits, no
   mounts), and its result must match the recorded one: exit code, verdict, and the
   status of every test, module or program it reported.

Any difference is drift: ``VerifyError``, exit status 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repro import artifact, smoke
from repro.engine import Engine
from repro.errors import UsageError, VerifyError
from repro.models import JSON, SmokeCommand

Info = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, kw_only=True)
class Verification:
    directory: Path
    image: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def drift(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def locate(path: Path) -> Path:
    """The artifact directory for a directory or its ``image.tar.gz``."""
    directory = path if path.is_dir() else path.parent
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    for name in (artifact.CHECKSUMS, artifact.MANIFEST, artifact.IMAGE_TARBALL):
        if not (directory / name).is_file():
            raise UsageError(
                f"{directory}: not a repro artifact (no {name})",
                hint="give the directory repro pack wrote, or the image.tar.gz inside it",
            )
    return directory


def check_files(directory: Path) -> list[Check]:
    """Checksums of every file; raises ``VerifyError`` on any difference."""
    try:
        sums = artifact.read_checksums(directory)
    except (OSError, ValueError) as exc:
        raise VerifyError(f"cannot read {directory / artifact.CHECKSUMS}: {exc}") from exc
    present = {
        p.name
        for p in directory.iterdir()
        if p.is_file() and p.name != artifact.CHECKSUMS and not p.name.startswith(".")
    }
    unlisted = sorted(present - set(sums))
    missing = sorted(set(sums) - present)
    if missing:
        raise VerifyError(f"{', '.join(missing)} listed in SHA256SUMS but missing: refused")
    if unlisted:
        raise VerifyError(f"{', '.join(unlisted)} not listed in SHA256SUMS: refused")
    bad = [
        name
        for name, digest in sorted(sums.items())
        if artifact.sha256_file(directory / name) != digest
    ]
    if bad:
        raise VerifyError(
            f"{', '.join(bad)} does not match SHA256SUMS: the artifact was changed or is "
            "corrupt; refusing to load it"
        )
    manifest = _manifest(directory)
    for name, entry in (manifest.get("artifacts") or {}).items():
        if name in sums and entry.get("sha256") != sums[name]:
            raise VerifyError(f"repro.json and SHA256SUMS disagree about {name}: refused")
    return [Check(name="checksums", ok=True, detail=f"{len(sums)} files match SHA256SUMS")]


def _manifest(directory: Path) -> JSON:
    try:
        doc = json.loads((directory / artifact.MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise VerifyError(f"cannot read {directory / artifact.MANIFEST}: {exc}") from exc
    if not isinstance(doc, dict):
        raise VerifyError(f"{directory / artifact.MANIFEST} is not a repro manifest")
    return doc


def verify(
    path: Path, engine: Engine, *, keep: bool = False, info: Info | None = None
) -> Verification:
    """Check, load and rerun an artifact; the checks, or ``VerifyError`` for tampering."""
    say = info or (lambda _m: None)
    directory = locate(path)
    checks = check_files(directory)
    manifest = _manifest(directory)
    recorded_id = str((manifest.get("image") or {}).get("id") or "")
    tags = [str(t) for t in manifest.get("tags") or []]
    if not recorded_id or not tags:
        raise VerifyError("repro.json records no image (was it written by repro pack?)")
    before = {t for t in tags if engine.image_info(t) is not None}
    say(f"loading {directory / artifact.IMAGE_TARBALL}")
    engine.load(directory / artifact.IMAGE_TARBALL)
    try:
        loaded = engine.image_info(tags[0])
        if loaded is None or loaded.id != recorded_id:
            raise VerifyError(
                f"the tarball's image is {loaded.id if loaded else 'missing'}, "
                f"but repro.json records {recorded_id}"
            )
        checks.append(Check(name="image", ok=True, detail=f"{recorded_id[:19]} as recorded"))
        recorded = manifest.get("smoke") or {}
        if recorded.get("command") and recorded.get("exit_code") is not None:
            checks.append(_rerun(engine, recorded_id, recorded, "smoke", say))
            notebooks = recorded.get("notebooks")
            if isinstance(notebooks, dict) and notebooks.get("command"):
                checks.append(_rerun(engine, recorded_id, notebooks, "notebooks", say))
        else:
            checks.append(Check(name="smoke", ok=True, detail="no smoke test was recorded"))
    finally:
        if not keep:
            for tag in tags:
                if tag not in before:
                    engine.remove_image(tag)
    return Verification(directory=directory, image=recorded_id, checks=tuple(checks))


def _rerun(engine: Engine, image: str, recorded: Mapping[str, Any], name: str, say: Info) -> Check:
    limits = recorded.get("limits") or {}
    command = SmokeCommand(
        argv=tuple(str(a) for a in recorded["command"]),
        kind=recorded.get("kind", "user"),
        reason=str(recorded.get("reason", "")),
    )
    gpu = bool(recorded.get("gpu")) and engine.gpu_available()
    timeout = float(recorded.get("timeout") or limits.get("timeout") or 900.0)
    say(f"rerunning the {name} command: {command.display()[:160]}")
    result, output = smoke.run_with_output(
        engine,
        image,
        command,
        gpu=gpu,
        timeout=timeout,
        memory=int(limits.get("memory_bytes") or smoke.MEMORY),
        pids=int(limits.get("pids") or smoke.PIDS),
    )
    differences = []
    if result.exit_code != recorded.get("exit_code"):
        differences.append(f"exit {result.exit_code}, recorded {recorded.get('exit_code')}")
    if result.passed != bool(recorded.get("passed")):
        differences.append(
            f"{'passed' if result.passed else 'failed'}, recorded "
            f"{'passed' if recorded.get('passed') else 'failed'}"
        )
    was = {str(t["target"]): str(t["status"]) for t in recorded.get("targets") or []}
    now = _statuses(command, output)
    if was and now:
        changed = sorted(t for t in was if now.get(t, "missing") != was[t])
        if changed:
            differences.append(
                "; ".join(f"{t}: {now.get(t, 'missing')}, recorded {was[t]}" for t in changed[:5])
            )
    if differences:
        last = [ln for ln in output.strip().splitlines() if ln.strip()][-1:] or ["no output"]
        return Check(
            name=name,
            ok=False,
            detail=f"{', '.join(differences)} (last line: {last[0][:160]})",
        )
    return Check(
        name=name,
        ok=True,
        detail=f"{'passed' if result.passed else 'failed'} again (exit {result.exit_code}"
        f"{f', {len(now)} targets' if now else ''}), as recorded",
    )


def _statuses(command: SmokeCommand, output: str) -> dict[str, str]:
    if command.kind == "pytest":
        mapping = {"PASSED": "ok", "XFAIL": "ok", "XPASS": "ok", "SKIPPED": "skipped"}
        return {k: mapping.get(s, "failed") for k, (s, _) in smoke.parse_pytest(output).items()}
    mapping = {"ok": "ok", "SKIP": "skipped", "FAIL": "failed"}
    return {r.spec: mapping[r.status] for r in smoke.parse_targets(output)}
