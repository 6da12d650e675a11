"""The artifact of a pack: manifest, SBOM, PAPER.md, Dockerfile, image (edge: fs, docker).

The image files come first (:class:`PendingImage`): the image's compressed layers are
gathered into the blob store (the store's own, and from ``docker save`` only what it
lacks; repro/gather.py) and ``image.tar.gz`` (and ``image.oci.tar``) written from it into
the artifact's hidden staging folder.

``write`` then assembles ``repro.json`` (``manifest.build_manifest``) from the plan, the
built image, what the image holds (``probe.image_facts``), the smoke test and the repair
rounds; adds the CycloneDX SBOM (``sbom.py``) and ``PAPER.md``, the snippet for a paper's
README (:func:`paper_text`; ``repro push`` rewrites it pinned by digest); and puts the
directory in place atomically with ``SHA256SUMS`` (``artifact.complete``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repro import artifact, compress, diskspace, faults, gather, imagetar, signals
from repro.blobstore import BlobStore
from repro.engine import Engine, ImageInfo
from repro.manifest import build_manifest
from repro.models import JSON, BuiltImage, Checkout, ImageFacts, PackResult, Plan, SmokeResult
from repro.repair.values import Round

PAPER = "PAPER.md"


def artifact_path(out: Path, checkout: Checkout) -> Path:
    """Where ``pack`` writes the artifact of a checkout: ``OUT/<owner>-<name>-<short sha>``."""
    return out / f"{checkout.source.slug}-{checkout.short_sha}"


class PendingImage:
    """The image files of an artifact, written into its staging folder by :meth:`start`
    (:func:`write` calls it), or before, beside the smoke test, by :meth:`write_ahead`
    (:class:`Prefetch`'s thread); :meth:`discard` removes them (and the folder),
    :meth:`commit` puts the artifact in place.

    The fault points keep their meaning: ``export.start`` and ``export.staged`` are passed
    by :meth:`start` (files written ahead or not), ``export.saving`` once ``docker save``
    streams on the main thread (repro/gather.py), ``export.written`` by :meth:`commit`.
    """

    def __init__(
        self,
        dest: Path,
        engine: Engine,
        image_id: str,
        tags: Sequence[str],
        *,
        oci: bool = False,
        kind: str = compress.GZIP,
        store: BlobStore | None = None,
    ) -> None:
        self.staged = artifact.Staged(dest)
        self.engine = engine
        self.image_id = image_id
        self.tags = list(tags)
        self.oci = oci
        self.kind = kind
        self.store = store
        self.written: dict[str, imagetar.FileDigest] | None = None
        self.gathered: gather.Gathered | None = None  # how the layers were found
        self.engine_gathered: gather.Gathered | None = None  # write_ahead's first gathering
        self.writing = False  # write_ahead is copying blobs into the staging folder
        # held while write_ahead decides to start copying, and while Prefetch.stop reads
        # whether it did: either the thread sees the cancel and makes no folder, or stop
        # sees it copying and waits for it to remove its folder
        self.deciding = threading.Lock()
        self.hold = ExitStack()

    def write_ahead(self, cancel: threading.Event) -> None:
        """Write the image files now, on another thread (no fault point); on any failure,
        or once ``cancel`` is set, nothing is left and :meth:`start` writes them. The
        layers are gathered first: the staging folder exists only while blobs are copied
        into it, which stops within a chunk once ``cancel`` is set."""
        store = BlobStore()
        try:
            with store.using():
                self.engine_gathered = gather.gather(
                    self.engine,
                    self.tags[0],
                    store,
                    kind=self.kind,
                    image_id=self.image_id,
                    cancel=cancel,
                    fault_point=False,
                )
                with self.deciding:
                    if cancel.is_set():
                        raise gather.Cancelled
                    self.writing = True
                written = self._write(store, cancel=cancel, fault_points=False)
        except BaseException:
            self.gathered = self.engine_gathered = None
            self.staged.discard()
            raise
        finally:
            self.writing = False
        self.store, self.written = store, written

    def start(self) -> dict[str, imagetar.FileDigest]:
        """Open the staging folder and write the image files into it, unless
        :meth:`write_ahead` did; their digests."""
        faults.checkpoint("export.start")
        if self.written is not None:
            faults.checkpoint("export.staged")
            return self.written
        store = self.store = self.store or BlobStore()
        self.hold.enter_context(store.using())
        self.written = self._write(store)
        return self.written

    def _write(
        self,
        store: BlobStore,
        *,
        cancel: threading.Event | None = None,
        fault_points: bool = True,
    ) -> dict[str, imagetar.FileDigest]:
        """Open the staging folder and write the image files from ``store`` into it."""
        return imagetar.write_image_files(
            self.staged.open(fault_point=fault_points),
            self.engine,
            self.tags,
            store=store,
            image_id=self.image_id,
            oci=self.oci,
            kind=self.kind,
            cancel=cancel,
            on_gathered=self._gathered,
            fault_point=fault_points,
        )

    def _gathered(self, found: gather.Gathered) -> None:
        self.gathered = found

    def layers_said(self, prefetched: gather.Gathered | None = None, laid: str = "") -> str:
        """How the image's layers came to the artifact, for the user: the code layer repro
        ``laid`` (its diff id), layers compressed during this pack (by the export, or by
        the ``prefetched`` gathering that ran beside the smoke test), layers an earlier
        export left in the store; and whether the engine was asked for a ``docker save``."""
        found = self.gathered
        if found is None:
            return ""
        prefetched = prefetched or self.engine_gathered
        fresh = found.compressed + (prefetched.compressed if prefetched else 0)
        saved = found.saved or (prefetched is not None and prefetched.saved)
        mine = 1 if laid and any(x.diff_id == laid for x in found.layers) else 0
        kept = max(0, len(found.layers) - fresh - mine)
        how = "with a docker save of the image" if saved else "no docker save"
        parts = [
            *(["1 laid by repro"] if mine else []),
            f"{fresh} compressed",
            f"{kept} from the store",
        ]
        return f"{len(found.layers)} layers: {', '.join(parts)} ({how})"

    def discard(self) -> None:
        """Remove the staging folder (the store keeps what it gained)."""
        self.staged.discard()
        self.hold.close()

    def commit(self) -> None:
        self.staged.commit()
        self.hold.close()
        if self.store is not None:
            self.store.trim()


class Prefetch:
    """The export's work done on a thread of its own while the image's facts are read and
    the smoke test runs: the image's layers compressed into the export's blob store, then
    (with ``pending``) the image files written into the artifact's staging folder; the
    export then only adds the manifest and the rest. Only a head start: whatever goes
    wrong on the thread is left to the export, which does what is missing on the main
    thread and reports any error itself. :meth:`stop` when the image will not be exported
    (a failed smoke test, an error): it also removes what was written ahead;
    :meth:`finish` before the export.

    The thread passes no fault point (signals are the main thread's), and the store's
    temporary blobs and the staging folder name their process: a run killed meanwhile
    leaves nothing the next one does not remove.
    """

    def __init__(
        self, engine: gather.Saver, image_id: str, ref: str, pending: PendingImage | None = None
    ) -> None:
        self.cancel = threading.Event()
        self.gathered: gather.Gathered | None = None  # what it did, once it is done
        self.pending = pending
        self.documents: Documents | None = None  # made by make_documents' thread
        self.documenting: threading.Thread | None = None
        self.thread = threading.Thread(
            target=self._run, args=(engine, image_id, ref), name="export-prefetch", daemon=True
        )

    @classmethod
    def start(
        cls, engine: gather.Saver, plan: Plan, image_id: str, pending: PendingImage | None = None
    ) -> Prefetch | None:
        """A prefetch of the image (writing ``pending``'s files too), when a smoke test
        will run (else there is no wait to fill: the export follows at once)."""
        if plan.smoke_plan is None or not plan.smoke_plan.candidates:
            return None
        prefetch = cls(engine, image_id, plan.tags[0], pending)
        with signals.quiet_threads():
            prefetch.thread.start()
        return prefetch

    def _run(self, engine: gather.Saver, image_id: str, ref: str) -> None:
        with contextlib.suppress(Exception, gather.Cancelled):  # the export does it again
            if self.pending is not None:
                self.pending.write_ahead(self.cancel)
                return
            store = BlobStore()
            with store.using():
                self.gathered = gather.gather(
                    engine, ref, store, image_id=image_id, cancel=self.cancel, fault_point=False
                )

    def make_documents(
        self, plan: Plan, image: BuiltImage, base_info: ImageInfo | None, facts: ImageFacts
    ) -> None:
        """Make the artifact's :class:`Documents` on a thread of their own, dated now, while
        the smoke test runs; :meth:`made` waits for them. A failure there is left to the
        export, which makes them again and reports it."""

        def run() -> None:
            with contextlib.suppress(Exception):
                now = dt.datetime.now(dt.timezone.utc)
                self.documents = documents(plan, image, base_info, facts, now)

        self.documenting = threading.Thread(target=run, name="export-documents", daemon=True)
        with signals.quiet_threads():
            self.documenting.start()

    def made(self) -> Documents | None:
        """The documents :meth:`make_documents` made (waiting for them), if it did."""
        while self.documenting is not None and self.documenting.is_alive():
            self.documenting.join(0.25)
        return self.documents

    def stop(self) -> None:
        """The image will not be exported: the thread ends, and what it wrote ahead goes
        (waiting for it only while it copies blobs: a ``docker save`` the engine prepares
        is not waited for, and the thread, cancelled, makes no folder after it)."""
        self.cancel.set()
        if self.pending is not None:
            with self.pending.deciding:
                writing = self.pending.writing
            if writing:
                self.finish()
            self.pending.discard()

    def finish(self) -> None:
        """Wait for the thread (in short waits: a signal still interrupts)."""
        while self.thread.is_alive():
            self.thread.join(0.25)


def write(
    dest: Path,
    engine: Engine,
    plan: Plan,
    image: BuiltImage,
    *,
    base_info: ImageInfo | None,
    facts: ImageFacts,
    smoke: SmokeResult | None,
    smoke_extra: JSON,
    repairs: Sequence[Round],
    pending: PendingImage,
    made: Documents | None = None,
) -> PackResult:
    """Write the artifact of ``image`` into ``dest`` (atomically): the image files
    (``pending``), the manifest and the rest (with the SBOM ``made`` already, if it was);
    return the result. Whatever stops it removes the staged artifact."""
    try:
        _finish(
            engine,
            plan,
            image,
            pending,
            base_info=base_info,
            facts=facts,
            smoke=smoke,
            smoke_extra=smoke_extra,
            repairs=repairs,
            made=made,
        )
    except BaseException as exc:
        pending.discard()
        if isinstance(exc, OSError) and diskspace.is_full(exc):
            raise artifact.disk_full(dest, engine, plan.tags) from exc
        raise
    manifest = json.loads((dest / artifact.MANIFEST).read_text())
    return PackResult(
        plan=plan,
        image=image,
        smoke=smoke,
        artifact_dir=dest,
        manifest=manifest,
        repairs=tuple(repairs),
    )


def _finish(
    engine: Engine,
    plan: Plan,
    image: BuiltImage,
    pending: PendingImage,
    *,
    base_info: ImageInfo | None,
    facts: ImageFacts,
    smoke: SmokeResult | None,
    smoke_extra: JSON,
    repairs: Sequence[Round],
    made: Documents | None = None,
) -> None:
    written = pending.start()
    info = engine.image_info(plan.tags[0])
    image_json = (
        {"tags": list(plan.tags), "size": info.size, "labels": dict(info.labels)} if info else {}
    )
    base_json = _base_json(base_info)
    system, licenses = _system_json(facts), _licenses_json(facts)
    made = made or documents(plan, image, base_info, facts, dt.datetime.now(dt.timezone.utc))

    def manifest_for(artifacts: object) -> JSON:
        return build_manifest(
            plan,
            image=image,
            image_info=image_json,
            base_info=base_json,
            smoke=smoke,
            lock=facts.lock,
            system=system,
            licenses=licenses,
            artifacts=artifacts,  # type: ignore[arg-type]
            smoke_extra=smoke_extra,
            repairs=[r.record for r in repairs],
            created=made.created,
            sbom=made.sbom_summary,
        )

    artifact.complete(
        pending.staged.tmp,
        dockerfile=plan.dockerfile,
        manifest_for=manifest_for,
        extra_files={made.sbom_name: made.sbom_text, PAPER: paper_text(manifest_for(None))},
        written=written,
    )
    pending.commit()


@dataclass(frozen=True, kw_only=True)
class Documents:
    """The part of an artifact the smoke test does not change, made from the manifest
    without it: the time the artifact is dated, the SBOM (``sbom_name``: its file name)
    and the manifest's ``sbom`` summary. :class:`Prefetch` makes it while the test runs
    (:meth:`Prefetch.make_documents`): the SBOM takes about 0.3 s."""

    created: dt.datetime
    sbom_name: str
    sbom_text: str
    sbom_summary: JSON


def documents(
    plan: Plan,
    image: BuiltImage,
    base_info: ImageInfo | None,
    facts: ImageFacts,
    created: dt.datetime,
) -> Documents:
    """The :class:`Documents` of ``image``'s artifact, dated ``created``. Every field the
    SBOM reads is one the smoke test and the export leave as they are, so the SBOM is the
    one ``sbom.render`` makes of the finished manifest (tests/unit/test_export_store.py)."""
    # Imported here, not at the top: the SBOM library alone takes ~0.1 s to import, which
    # `repro inspect` and the time until the image is built need not pay.
    from repro import sbom

    system, licenses = _system_json(facts), _licenses_json(facts)
    summary = sbom.summary(facts.lock, system, licenses)
    manifest = build_manifest(
        plan,
        image=image,
        base_info=_base_json(base_info),
        lock=facts.lock,
        system=system,
        licenses=licenses,
        created=created,
        sbom=summary,
    )
    return Documents(
        created=created,
        sbom_name=sbom.FILENAME,
        sbom_text=sbom.render(manifest),
        sbom_summary=summary,
    )


def _base_json(base_info: ImageInfo | None) -> JSON | None:
    """The manifest's ``base_image`` facts from the engine: the base's id and digest."""
    if base_info is None:
        return None
    digest = base_info.repo_digests[0] if base_info.repo_digests else None
    return {"id": base_info.id, "digest": digest}


def _licenses_json(facts: ImageFacts) -> JSON:
    """The manifest's ``licenses``: what each installed package declares."""
    return {
        "python": {k: list(v) for k, v in facts.python_licenses.items()},
        "system": {k: list(v) for k, v in facts.system_licenses.items()},
    }


def _system_json(facts: ImageFacts) -> JSON:
    """The manifest's ``system``: the image's OS release and its installed system packages."""
    return {
        "os": dict(facts.os_release),
        "packages": [{"name": n, "version": v, "arch": a} for n, v, a in facts.system],
    }


# --------------------------------------------------------------------------- PAPER.md


def paper_text(manifest: Mapping[str, Any], *, artifact_dir: bool = True) -> str:
    """A section for a paper's README: how to run the code, where it comes from, how to check.

    Pinned by registry digest once pushed (the newest ``published`` entry); before that,
    the tarball's ``docker load`` and the image's tag.
    """
    from repro import sbom  # (slow to import: not before an artifact is written)

    source = manifest.get("source") or {}
    base = manifest.get("base_image") or {}
    cuda = manifest.get("cuda") or {}
    image = manifest.get("image") or {}
    smoke = manifest.get("smoke") or {}
    tags = [str(t) for t in manifest.get("tags") or []]
    published = [p for p in manifest.get("published") or [] if p.get("pinned")]
    gpu = " --gpus all" if base.get("gpu") else ""
    url = str(source.get("url") or "")
    commit = str(source.get("commit") or "")
    subdir = f" (folder `{source['subdir']}`)" if source.get("subdir") else ""
    when = str(source.get("commit_date") or "")[:10]

    lines = ["## Run the code of this paper", ""]
    lines.append(
        f"The code runs in a Docker image built from {url or 'this repository'}{subdir}"
        + (f" at commit `{commit}`" if commit else "")
        + (f" ({when})" if when else "")
        + ", with every dependency at the version it was tested with."
    )
    lines.append("")
    lines.append("```sh")
    if published:
        lines.append(f"docker run --rm -it{gpu} {published[-1]['pinned']}")
    else:
        if artifact_dir:
            lines.append("docker load -i image.tar.gz")
        lines.append(f"docker run --rm -it{gpu} {tags[0] if tags else '<image>'}")
    lines.append("```")
    lines.append("")
    python = (manifest.get("python") or {}).get("version")
    facts = ["The repository is at `/app`"]
    if python:
        facts.append(f"Python {python} with its packages is on the `PATH`")
    lines.append("; ".join(facts) + "; the container runs as an unprivileged user (uid 1000).")
    if gpu:
        driver = f" (NVIDIA driver ≥ {cuda['min_driver']})" if cuda.get("min_driver") else ""
        lines.append(
            f"It needs an NVIDIA GPU{driver} and the NVIDIA Container Toolkit for `--gpus all`;"
            f" CUDA {cuda.get('cuda', '')} is inside the image."
        )
    if image.get("id"):
        lines.append(f"Image id: `{image['id']}`.")
    if smoke.get("command"):
        verdict = "passed" if smoke.get("passed") else "was recorded"
        lines.append(
            f"Its smoke test ({smoke.get('kind', '')}: `{_command(smoke['command'])}`) {verdict}"
            " when it was built."
        )
    lines += ["", "### Check it", ""]
    if artifact_dir:
        lines.append(
            "The artifact directory (`image.tar.gz`, `repro.json`, `Dockerfile`,"
            f" `{sbom.FILENAME}`, `SHA256SUMS`) proves what the image is:"
        )
        lines += [
            "",
            "```sh",
            "sha256sum -c SHA256SUMS   # every file as published",
            "repro verify .            # load the image, rerun the smoke test, compare",
            "```",
            "",
            "`repro.json` records every decision (versions and why, the lock, the smoke"
            f" test); `{sbom.FILENAME}` lists every package (CycloneDX).",
        ]
    else:
        lines.append(
            "`repro verify ARTIFACT_DIR` checks the artifact directory `repro pack` wrote"
            " for this image (checksums, image id, smoke test)."
        )
    if not published and artifact_dir:
        lines += [
            "",
            "<!-- not pushed yet: `repro push . REGISTRY/NAME` pins the `docker run` line to"
            " a registry digest -->",
        ]
    return "\n".join(lines) + "\n"


def _command(argv: Sequence[Any]) -> str:
    text = " ".join(str(a) for a in argv)
    return text if len(text) <= 120 else text[:117] + "..."
