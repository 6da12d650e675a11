"""One stand-in for the container engine (``repro.engine.Engine``) in unit tests.

It keeps everything in memory and records what it was asked, so a test can say what the
engine holds and how it answers, and then read what repro did with it:

- images: every reference exists (``images`` narrows that to the ones named); ``pull``
  adds one, or fails with ``pull_error``;
- builds succeed, after failing once for each of ``build_logs`` (each log's lines go to
  the build's sink, the error is the one a real failed build raises); every context's
  files are kept (``dockerfiles``, ``contexts``);
- runs answer from ``script(argv)`` → (exit code, output) (None: the run timed out);
  every run is recorded with its limits (``runs``);
- ``save`` writes an archive shaped like ``docker save``'s of the refs
  (``tests/docker_archive.py``: of ``layers``, Docker 20's layout or with ``modern``
  Docker 25's; ``saved``: other bytes), in pieces of ``save_piece`` bytes, or raises
  ``save_error`` after ``save_chunks`` writes; ``saves`` counts the calls;
- housekeeping (``repro.sweep``): ``listed_images`` as (id, labels, tagged, in use) and
  ``containers`` as (id, labels) answer ``labelled``; ``remove_unused_image`` removes an
  image no container uses (into ``removed``), ``remove_container`` into
  ``removed_containers``.

A test that needs one more behaviour subclasses it rather than writing another engine
(``SlowSaveEngine``, ``RegistryEngine`` below; ``tests/unit/test_lab.py``'s ``LabEngine``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from repro.engine import ByteSink, ImageInfo, LogSink, RunLimits, RunResult, _build_failure
from repro.errors import EngineError
from repro.models import HostGpu, Options, PackResult
from repro.report import QuietReporter, Reporter
from tests.docker_archive import image_archive, image_id

# the id of the image the default ``save`` writes: built images and base images alike
IMAGE_ID = BUILT_ID = image_id()
OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n'

Script = Callable[[tuple[str, ...]], tuple[int | None, str]]


def answers_os_release(argv: tuple[str, ...]) -> tuple[int | None, str]:
    """The default script: a Debian bookworm image where every command succeeds quietly."""
    if list(argv) == ["cat", "/etc/os-release"]:
        return 0, OS_RELEASE
    return 0, ""


class FakeEngine:
    """An engine in memory (see the module's docstring)."""

    buildkit = True

    def __init__(
        self,
        *,
        script: Script = answers_os_release,
        build_logs: Iterable[str] = (),
        images: Iterable[str] | None = None,
        image_env: Mapping[str, str] | None = None,
        image_size: int = 1,
        pull_error: Exception | None = None,
        gpus: bool = False,
        saved: bytes | None = None,
        save_error: Exception | None = None,
        save_chunks: Sequence[bytes] = (),
        layers: Sequence[bytes] | None = None,
        modern: bool = False,
        save_piece: int | None = None,
        listed_images: Iterable[tuple[str, dict[str, str], bool, bool]] = (),
        containers: Iterable[tuple[str, dict[str, str]]] = (),
    ) -> None:
        self.script = script
        self.build_logs = list(build_logs)
        self.images = None if images is None else set(images)
        self.image_env = dict(image_env or {})
        self.image_size = image_size
        self.pull_error = pull_error
        self.gpus = gpus
        self.saved = saved
        self.save_error = save_error
        self.save_chunks = tuple(save_chunks)
        self.layers = None if layers is None else list(layers)
        self.modern = modern
        self.save_piece = save_piece
        self.listed_images = list(listed_images)
        self.containers = list(containers)
        self.saves = 0
        self.removed_containers: list[str] = []
        self.runs: list[tuple[str, tuple[str, ...], RunLimits]] = []
        self.contexts: list[dict[str, str]] = []  # each build's repro files, by path
        self.pulled: list[str] = []
        self.tagged: list[tuple[str, str]] = []
        self.removed: list[str] = []

    # -- what tests read

    @property
    def dockerfiles(self) -> list[str]:
        """The Dockerfile of every build, in order."""
        return [files["Dockerfile"] for files in self.contexts]

    @property
    def argvs(self) -> list[tuple[str, ...]]:
        return [argv for _, argv, _ in self.runs]

    # -- the Engine protocol

    def ping(self) -> None: ...

    def image_info(self, ref: str) -> ImageInfo | None:
        if self.images is not None and ref not in self.images:
            return None
        return ImageInfo(
            id=IMAGE_ID,
            repo_digests=(),
            size=self.image_size,
            labels={},
            created="",
            env=self.image_env,
        )

    def pull(self, ref: str) -> None:
        self.pulled.append(ref)
        if self.pull_error is not None:
            raise self.pull_error
        if self.images is not None:
            self.images.add(ref)

    def build(
        self,
        context: Path,
        *,
        tags: Sequence[str],
        labels: Mapping[str, str],
        secrets: Mapping[str, Path],
        on_line: LogSink,
        dockerfile: str = "Dockerfile",
    ) -> tuple[str, float, str]:
        files = {"Dockerfile": (context / dockerfile).read_text()}
        for path in sorted((context / ".repro").glob("*.txt")):
            files[f".repro/{path.name}"] = path.read_text()
        self.contexts.append(files)
        if self.build_logs:
            lines = self.build_logs.pop(0).splitlines()
            for line in lines:
                on_line(line)
            raise _build_failure(lines)
        return BUILT_ID, 0.5, ""

    def run(self, image: str, argv: Sequence[str], limits: RunLimits) -> RunResult:
        self.runs.append((image, tuple(argv), limits))
        code, output = self.script(tuple(argv))
        return RunResult(exit_code=code, output=output, seconds=0.1, timed_out=code is None)

    def tag(self, image: str, ref: str) -> None:
        self.tagged.append((image, ref))

    def save(self, refs: Sequence[str], out: ByteSink) -> None:
        self.saves += 1
        for chunk in self.save_chunks:
            out.write(chunk)
        if self.save_error is not None:
            raise self.save_error
        data = self.saved
        if data is None:
            data = image_archive(list(refs), self.layers, modern=self.modern)
        piece = self.save_piece or len(data)
        for start in range(0, len(data), piece):
            out.write(data[start : start + piece])
            self.after_piece()

    def after_piece(self) -> None:
        """After each piece ``save`` writes (a subclass may wait there)."""

    def load(self, path: Path) -> list[str]:
        return []

    def remove_image(self, ref: str) -> None:
        self.removed.append(ref)

    def gpu_available(self) -> bool:
        return self.gpus

    # -- housekeeping (repro.sweep)

    def labelled(
        self, kind: str, label: str, *, dangling: bool = False
    ) -> list[tuple[str, dict[str, str]]]:
        key, has_value, value = label.partition("=")

        def carries(labels: dict[str, str]) -> bool:
            return labels.get(key) == value if has_value else key in labels

        if kind == "containers":
            return [(c, labels) for c, labels in self.containers if carries(labels)]
        return [
            (i, labels)
            for i, labels, tagged, _ in self.listed_images
            if carries(labels) and not (dangling and tagged)
        ]

    def remove_container(self, container_id: str) -> None:
        self.removed_containers.append(container_id)

    def remove_unused_image(self, image_id: str) -> bool:
        in_use = next(used for i, _, _, used in self.listed_images if i == image_id)
        if not in_use:
            self.removed.append(image_id)
        return not in_use


class SlowSaveEngine(FakeEngine):
    """Saves in pieces of 512 bytes, 10 ms apart; ``streaming`` is set once it started
    (a test stops an export's prefetch mid-stream)."""

    def __init__(self, **kw: object) -> None:
        super().__init__(save_piece=512, **kw)  # type: ignore[arg-type]
        self.streaming = threading.Event()

    def after_piece(self) -> None:
        self.streaming.set()
        threading.Event().wait(0.01)


class RegistryEngine(FakeEngine):
    """Images by id and tag (``tag`` and ``remove_image`` change what ``image_info``
    finds), a ``load`` of an artifact's tarball that brings ``tarball_tags`` (counted in
    ``loaded``), and a ``push`` that records (ref, auth) and answers ``digest``, or fails
    with ``fail``: what ``repro push`` (repro/publish.py) asks of an engine."""

    def __init__(
        self,
        image_id: str,
        tags: Sequence[str],
        *,
        tarball_tags: Sequence[str],
        digest: str,
        fail: str = "",
    ) -> None:
        super().__init__()
        present = {image_id: image_id} if tags else {}  # no tags: only in the tarball
        self.refs: dict[str, str] = {t: image_id for t in tags} | present
        self.image_id = image_id
        self.tarball_tags = list(tarball_tags)
        self.digest = digest
        self.fail = fail
        self.pushed: list[tuple[str, object]] = []
        self.loaded = 0

    def image_info(self, ref: str) -> ImageInfo | None:
        if ref not in self.refs:
            return None
        return ImageInfo(id=self.refs[ref], repo_digests=(), size=1, labels={}, created="")

    def load(self, path: Path) -> list[str]:
        self.loaded += 1
        for t in self.tarball_tags:
            self.refs[t] = self.image_id
        self.refs[self.image_id] = self.image_id
        return self.tarball_tags

    def tag(self, image: str, ref: str) -> None:
        super().tag(image, ref)
        self.refs[ref] = self.refs[image]

    def remove_image(self, ref: str) -> None:
        super().remove_image(ref)
        self.refs.pop(ref, None)

    def push(self, ref: str, *, auth: object, on_line: LogSink) -> str:
        if self.fail:
            raise EngineError(f"cannot push {ref}: {self.fail}")
        self.pushed.append((ref, auth))
        return self.digest


class LinesReporter(QuietReporter):
    """A reporter that keeps the stages and infos it is told, as the command line shows them."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def stage(self, name: str, detail: str = "") -> None:
        self.lines.append(f"==> {name}: {detail}")

    def info(self, message: str) -> None:
        self.lines.append(message)


def pack_local(
    repo: Path,
    options: Options,
    engine: FakeEngine,
    reporter: Reporter | None = None,
    host: HostGpu | None = None,
) -> PackResult:
    """``repro pack`` of the local folder ``repo`` against ``engine`` (no GPU on the host
    unless ``host``), as the CLI runs it."""
    from repro import pipeline
    from repro.fetch import parse_source

    return pipeline.pack(
        parse_source(str(repo)),
        options,
        reporter or QuietReporter(),
        engine_factory=lambda: engine,  # type: ignore[arg-type,return-value]
        probe_gpu=lambda: host,
    )
