"""The pack's fetch step: the repository's run lock, a workspace of the run's own, and the
commit's files in it, each said to the reporter (``fetch/`` does the fetching itself)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from repro import fetch, locks, scratch
from repro.models import Checkout, Source
from repro.report import Reporter


def fetch_checkout(
    source: Source, workdir: Path, reporter: Reporter, *, memory: Path | None = None
) -> Checkout:
    """The files of the commit ``source`` names, under ``workdir`` (or ``memory``)."""
    reporter.stage("fetch", source.url)
    checkout = fetch.fetch(source, workdir, memory=memory)
    reporter.info(f"commit {checkout.commit[:12]} ({checkout.commit_date:%Y-%m-%d})")
    for warning in checkout.warnings:
        reporter.warn(warning)
    return checkout


@dataclass(kw_only=True)
class Fetched:
    """A commit's files in a workspace of their own, with the repository's run lock held."""

    checkout: Checkout
    workdir: Path
    _workspace: ExitStack

    def remove_workspace(self) -> None:
        """Remove the workspace now (the build context is in the image by then)."""
        self._workspace.close()


@contextmanager
def fetched(source: Source, reporter: Reporter) -> Iterator[Fetched]:
    """Take the repository's run lock, fetch the commit into a fresh workspace; the lock
    is held, and the workspace kept (unless removed before), until the block ends.

    Packs of one repository take turns: they share its clone, its image tags and its
    artifact directory (docs/security.md)."""
    with locks.run_lock(source.url, on_wait=reporter.info), ExitStack() as workspace:
        workdir = workspace.enter_context(scratch.source_workspace(source.url))
        checkout = fetch_checkout(source, workdir, reporter)
        yield Fetched(checkout=checkout, workdir=workdir, _workspace=workspace)
