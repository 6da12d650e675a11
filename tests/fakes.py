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
- ``save`` writes an archive shaped like ``docker save``'s of the refs (``saved``: other
  bytes), or raises ``save_error`` after ``save_chunks`` writes.

A test that needs one more behaviour subclasses it rather than writing another engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from repro.engine import ByteSink, ImageInfo, LogSink, RunLimits, RunResult, _build_failure
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
    ) -> tuple[str, float, str]:
        files = {"Dockerfile": (context / "Dockerfile").read_text()}
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
        for chunk in self.save_chunks:
            out.write(chunk)
        if self.save_error is not None:
            raise self.save_error
        out.write(image_archive(list(refs)) if self.saved is None else self.saved)

    def load(self, path: Path) -> list[str]:
        return []

    def remove_image(self, ref: str) -> None:
        self.removed.append(ref)

    def gpu_available(self) -> bool:
        return self.gpus
