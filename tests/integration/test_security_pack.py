"""repro pack against hostile repositories, on the real engine (docs/security.md).

- Repository code runs only inside containers: a hostile repository packs, its tests run
  in the smoke container, and no marker appears on the host.
- The smoke run is contained: a command that opens a socket, resolves a name, forks
  without end, eats memory, writes as root, reads a host file or the Docker socket, or
  never ends gets a one-line verdict; its container is gone afterwards and none of its
  processes is left on the host.
- Credentials never land in the image: a pack that needs a private index (token in
  ``--extra-index-url``, in ``--pip-conf``, in a netrc and in the environment) succeeds,
  and no token appears anywhere in ``docker save`` of the image, its config and history,
  or the artifact.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from repro import artifact
from repro.engine import LABEL_MANAGED, DockerEngine
from tests.conftest import make_repo, require_images
from tests.hostile import write_hostile_repo
from tests.integration.security_support import (
    GATEWAY,
    PACKAGE,
    PrivateIndex,
    containers,
    host_processes,
    search_image_tar,
)

pytestmark = [pytest.mark.docker, pytest.mark.network]


def repro(*args: str, env: dict[str, str] | None = None, cwd: Path) -> tuple[int, str, str]:
    """``repro ARGS`` as a user runs it (a process of its own, its real exit status)."""
    proc = subprocess.run(
        [sys.executable, "-m", "repro", *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        cwd=cwd,
        timeout=1800,
    )
    return proc.returncode, proc.stdout, proc.stderr


def local_repo(tmp_path: Path, name: str, files: dict[str, str]) -> tuple[Path, str]:
    src = tmp_path / f"{name}-src"
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    repo = tmp_path / name
    return repo, make_repo(src, repo)


def assert_one_line_error(stderr: str, start: str) -> str:
    errors = [ln for ln in stderr.splitlines() if ln.startswith("repro: error:")]
    assert len(errors) == 1 and errors[0].startswith(start), stderr
    # repro's own lines start in column 0; the smoke log it quotes is indented
    assert not any(ln.startswith("Traceback") for ln in stderr.splitlines()), stderr
    assert "internal error" not in stderr, stderr
    return errors[0]


# --------------------------------------------------------------------------- host execution


def test_pack_runs_repository_code_only_in_containers(
    engine: DockerEngine, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    markers = tmp_path / "host-markers"
    src = write_hostile_repo(tmp_path / "hostile-src", markers)
    sha = make_repo(src, tmp_path / "hostile")
    tag = f"repro/local-hostile:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    code, _, stderr = repro("pack", str(tmp_path / "hostile"), "--python", "3.11",
                            "--out", str(tmp_path / "out"), cwd=tmp_path)  # fmt: skip
    assert code == 0, stderr
    manifest = json.loads(next((tmp_path / "out").glob("*/repro.json")).read_text())
    # the repository's tests ran (conftest.py, __init__.py and the test all executed) ...
    assert manifest["smoke"]["kind"] == "pytest" and manifest["smoke"]["passed"], manifest
    assert "1 passed" in manifest["smoke"]["log_tail"]
    # ... inside the container: the host never saw a marker
    assert not markers.exists(), sorted(p.name for p in markers.iterdir())


# --------------------------------------------------------------------------- smoke isolation


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, engine: DockerEngine) -> tuple[Path, str]:
    """A tiny repository packed with hostile smoke commands (its image is built once)."""
    require_images(engine, "python:3.11-slim")
    root = tmp_path_factory.mktemp("tiny")
    repo, sha = local_repo(root, "tiny", {"tiny.py": "import os\n"})
    yield repo, f"repro/local-tiny:{sha[:7]}"
    for suffix in ("", "-py3.11-cpu"):
        engine.remove_image(f"repro/local-tiny:{sha[:7]}{suffix}")


class Listener:
    """A TCP port on the bridge gateway: the host service a smoke test must not reach."""

    def __init__(self) -> None:
        self.sock = socket.create_server((GATEWAY, 0))
        self.sock.settimeout(0.5)
        self.accepted = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _serve(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.running = False
        self.thread.join(5)
        self.sock.close()


# attack: (smoke command, the status in the verdict, words the one-line verdict must hold)
HOSTILE_SMOKES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "socket": (
        "python -c \"import socket; socket.create_connection(('{gateway}', {port}), timeout=5)\"",
        "exit 1",
        ("tried to use the network", "Network is unreachable"),
    ),
    "dns": (
        "python -c \"import socket; socket.getaddrinfo('pypi.org', 443)\"",
        "exit 1",
        ("tried to use the network", "name resolution"),
    ),
    "fork-bomb": ("while true; do sleep {hidden} & done", "exit 2", ("Cannot fork",)),
    "memory": (
        "python -c \"blocks = [b'x' * (128 << 20) for _ in range(1000)]  # {marker}\"",
        "exit 137",
        ("ran out of memory",),
    ),
    "root": ("touch /etc/pwned", "exit 1", ("/etc/pwned", "Permission denied")),
    "host-files": ("cat {host_file}", "exit 1", ("{host_file}", "No such file")),
    "docker-socket": ("ls -l /var/run/docker.sock", "exit 2", ("docker.sock", "No such file")),
    "forever": ("sleep {hidden}", "timed out", ("did not finish in time", "stopped after 20 s")),
}


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(HOSTILE_SMOKES))
def test_hostile_smoke_commands_get_a_verdict_and_leave_nothing(
    tiny: tuple[Path, str], tmp_path: Path, attack: str
) -> None:
    repo, tag = tiny
    listener = Listener()
    marker = str(3000 + uuid.uuid4().int % 6000)  # a sleep length no other process uses
    command, status, words = HOSTILE_SMOKES[attack]
    # the shell in the container expands {hidden} to the marker: repro's own command
    # line never holds "sleep <marker>", the container's processes do. A parameter
    # expansion, not $(...): that would fork once more per sleep, and under the pids
    # limit most of the bomb's processes would be shells that never became a sleep
    hidden = f"{marker[:2]}${{m:-{marker[2:]}}}"
    host_file = tmp_path / "host-only.txt"  # exists on the host, must not in the container
    host_file.write_text("host data\n")
    values = dict(gateway=GATEWAY, port=listener.port, marker=marker, hidden=hidden)
    command = command.format(**values, host_file=host_file)
    # 20 s for the one that must time out; the others end by themselves, and the memory
    # bomb touches 4 GiB before the limit kills it: on a loaded host that must reclaim
    # page cache first, that took over 20 s (a CI run's verdict was "timed out")
    timeout = "20" if attack == "forever" else "180"
    peak = [0]
    stop = threading.Event()

    def watch() -> None:  # how many of the bomb's processes the host ever sees
        while not stop.wait(0.01):  # the bomb lives for well under a second
            peak[0] = max(peak[0], len(host_processes(f"sleep {marker}")))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        code, _, stderr = repro("pack", str(repo), "--python", "3.11", "--smoke", command,
                                "--smoke-timeout", timeout, "--out", str(tmp_path / "out"),
                                cwd=tmp_path)  # fmt: skip
    finally:
        stop.set()
        watcher.join(5)
        listener.close()
    assert code == 1, stderr
    verdict = assert_one_line_error(stderr, f"repro: error: smoke test failed ({status}): ")
    assert all(w.format(host_file=host_file) in verdict for w in words), verdict
    assert listener.accepted == 0
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    assert containers(LABEL_MANAGED, ancestor=tag) == []
    assert host_processes(f"sleep {marker}") == []
    if attack == "fork-bomb":
        print(f"fork bomb: at most {peak[0]} of its processes seen on the host")
        # "Cannot fork" in the verdict says the bomb hit a limit; the host saw its sleeps
        # (so the bound is not vacuous), never more than the pids limit. How many it
        # catches depends on the host's load (270 to 990 here), so no lower bound on that
        assert 0 < peak[0] <= 1024, peak[0]


# --------------------------------------------------------------------------- credentials


def test_credentials_never_land_in_the_image(
    engine: DockerEngine, tmp_path: Path, cleanup_images: list[str]
) -> None:
    require_images(engine, "python:3.11-slim")
    tokens = {what: f"tok-{what}-{uuid.uuid4().hex[:12]}" for what in
              ("option", "pipconf", "netrc", "env")}  # fmt: skip
    # a version no earlier build has cached: the install step must reach the index
    version = f"1.0.post{uuid.uuid4().int % 10**9}"
    repo, sha = local_repo(
        tmp_path,
        "private-dep",
        {
            "requirements.txt": f"{PACKAGE}=={version}\n",
            "main.py": "import repro_fixture_private\nprint(repro_fixture_private.VERSION)\n",
        },
    )
    tag = f"repro/local-private-dep:{sha[:7]}"
    cleanup_images += [tag, f"{tag}-py3.11-cpu"]
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text(f"machine {GATEWAY} login repro password {tokens['netrc']}\n")
    (home / ".netrc").chmod(0o600)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    accepted = (tokens["option"], tokens["pipconf"], tokens["netrc"])
    with PrivateIndex("repro", *accepted, version=version) as index:
        pip_conf = tmp_path / "pip.conf"
        pip_conf.write_text(f"[global]\nextra-index-url = {index.url(tokens['pipconf'])}\n")
        env = {
            **os.environ,
            "HOME": str(home),
            "NETRC": str(home / ".netrc"),
            "TMPDIR": str(tmp),
            "PIP_EXTRA_INDEX_URL": index.url(tokens["env"]),
            "UV_EXTRA_INDEX_URL": index.url(tokens["env"]),
            "DOCKER_CONFIG": str(Path.home() / ".docker"),
        }
        code, _, stderr = repro(
            "pack", str(repo), "--python", "3.11",
            "--extra-index-url", index.url(tokens["option"]),
            "--pip-conf", str(pip_conf),
            "--smoke", "python -c 'import repro_fixture_private as p; print(p.VERSION)'",
            "--out", str(tmp_path / "out"), env=env, cwd=tmp_path,
        )  # fmt: skip
    assert code == 0, stderr
    # the private index was really needed, and really given the tokens
    used = {token for path, token in index.requests if path.startswith("/files/")}
    assert used and used <= {tokens["option"], tokens["pipconf"]}, index.requests
    dest = next((tmp_path / "out").glob("*"))
    manifest = json.loads((dest / "repro.json").read_text())
    assert f"{PACKAGE}=={version}" in manifest["lock"]

    needles = list(tokens.values())
    with gzip.open(dest / artifact.IMAGE_TARBALL) as gz:
        hits = search_image_tar(gz, needles)  # type: ignore[arg-type]
    saved = tmp_path / "saved.tar"
    with open(saved, "wb") as fh:
        engine.save([tag], fh)
    with open(saved, "rb") as fh:
        hits += search_image_tar(fh, needles)
    with open(saved, "rb") as fh:  # the control: the search does reach into the layers
        assert search_image_tar(fh, [f"VERSION = {version!r}"]), "the search missed the wheel"
    for name in (artifact.MANIFEST, artifact.DOCKERFILE, artifact.CHECKSUMS):
        text = (dest / name).read_text()
        hits += [f"{name}" for n in needles if n in text]
    for argv in (["history", "--no-trunc", tag], ["inspect", tag]):
        text = subprocess.run(["docker", *argv], capture_output=True, text=True).stdout
        hits += [f"docker {argv[0]}" for n in needles if n in text]
    assert hits == []
    assert list(tmp.iterdir()) == []  # the secrets' temporary files are gone
