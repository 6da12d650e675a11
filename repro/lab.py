"""``repro lab TARGET``: JupyterLab in the packed environment, as Binder would open it.

TARGET is resolved as ``repro run`` resolves it (repro/onboard.py: a repository is packed
first; an artifact folder; an image). Then:

1. **The image's side** (one short run inside it): its Python, and whether it has
   JupyterLab and ipykernel already.
2. **JupyterLab**, when the image has none, in a layer of its own on top of the packed
   image (``repro-lab:<image id>``, built once, then reused): a virtual environment of its
   own under ``/opt/repro/lab`` made from the image's Python, so the packed environment is
   not touched; the kernel Jupyter offers is the image's environment (its own ipykernel
   when it has one, else the lab's, found after every package of the environment:
   ``in_image/lab_kernel.py``). Installing JupyterLab needs the package index (the CA bundle
   and pip configuration are build secrets, as for ``pack``).
3. **The server**: a container with the repository at ``/app`` (copied in the image, or the
   checkout bind-mounted with ``--mount``), its port published on 127.0.0.1 only, a fresh
   token; repro prints the URL once the server answers and waits. Ctrl-C stops and removes
   the container.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from repro import build, in_image, signals, stale
from repro import dockerfile as df
from repro.engine import DockerEngine, RunLimits, ServiceSpec
from repro.errors import EngineError, ReproError, UsageError
from repro.models import LABEL_MANAGED, BuildSettings, Options

if TYPE_CHECKING:
    from repro.report import Reporter

LAB_DIR = "/opt/repro/lab"
PORT = 8888  # inside the container
IMAGE = "repro-lab"  # the lab layer's repository: repro-lab:<12 hex of the packed image's id>
READY_SECONDS = 180.0

# Runs inside the image (any Python 3): what `repro lab` needs to know of it.
_PROBE = """
import json, os, sys
def has(name):
    try:
        __import__(name)
        return True
    except Exception:
        return False
print(json.dumps({"python": sys.executable, "version": "%d.%d" % sys.version_info[:2],
                  "jupyterlab": has("jupyterlab"), "ipykernel": has("ipykernel"),
                  "uid": os.getuid()}))
"""


@dataclass(frozen=True, kw_only=True)
class ImageSide:
    """What the packed image holds, as far as Jupyter goes."""

    python: str  # the environment's interpreter, e.g. /opt/venv/bin/python
    version: str  # "3.11"
    jupyterlab: bool
    ipykernel: bool
    uid: int  # the image's user


def probe(engine: DockerEngine, image: str) -> ImageSide:
    """The image's Python and whether it has JupyterLab (one short run, no network)."""
    result = engine.run(image, ["python", "-c", _PROBE], RunLimits(network="none", timeout=120))
    line = result.output.strip().splitlines()[-1] if result.output.strip() else ""
    try:
        doc = json.loads(line) if result.exit_code == 0 else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise UsageError(
            f"{image}: no Python 3 on the image's PATH answered, so JupyterLab cannot run in it",
            detail=result.output.strip()[-800:],
        )
    side = ImageSide(
        python=str(doc.get("python") or "python"),
        version=str(doc.get("version") or ""),
        jupyterlab=bool(doc.get("jupyterlab")),
        ipykernel=bool(doc.get("ipykernel")),
        uid=int(doc.get("uid") or 0),
    )
    if side.version.startswith("2."):
        raise UsageError(
            f"{image}: its Python is {side.version}; JupyterLab needs Python 3",
            hint="repro shell runs the environment; Jupyter's classic notebook server for "
            "Python 2 is not something repro installs",
        )
    return side


def lab_dockerfile(image: str, side: ImageSide, *, buildkit: bool) -> str:
    """The lab layer on top of ``image`` (pure)."""
    if not df.is_image_ref(image) or not _plain_path(side.python):
        raise UsageError(f"cannot build a lab layer on {image!r} with Python {side.python!r}")
    install = (
        f"    {side.python} -m venv {LAB_DIR} \\\n"
        f"    && {LAB_DIR}/bin/python -m pip install jupyterlab\n"
    )
    # pip's downloads stay in a BuildKit cache mount (a lab layer on the next packed image
    # downloads nothing); without BuildKit pip keeps no cache in the layer
    run = df.secret_run_prefix(cache="/root/.cache/pip") if buildkit else "RUN \\\n"
    if not buildkit:
        install = install.replace("pip install", "pip install --no-cache-dir")
    return (
        "# repro lab: JupyterLab in a layer of its own on top of the packed image. It lives\n"
        f"# in a virtual environment of its own ({LAB_DIR}): the packed environment is not\n"
        "# touched, and the kernel Jupyter offers is that environment (lab_kernel.py).\n"
        f"FROM {image}\n"
        "USER root\n"
        f"{run}{install}"
        f"COPY lab_kernel.py /opt/repro/lab_kernel.py\n"
        f"RUN {LAB_DIR}/bin/python /opt/repro/lab_kernel.py {side.python}\n"
        f"USER {side.uid}\n"
    )


def _plain_path(path: str) -> bool:
    return bool(path) and all(ch.isalnum() or ch in "/._-+" for ch in path)


def lab_tag(image_id: str) -> str:
    return f"{IMAGE}:{image_id.removeprefix('sha256:')[:12]}"


def ensure_lab_image(
    engine: DockerEngine,
    image: str,
    side: ImageSide,
    options: Options,
    info: Callable[[str], None],
    on_line: Callable[[str], None],
) -> tuple[str, list[str]]:
    """The image to serve from and the server's command: the image itself when it has
    JupyterLab, else its lab layer (built now unless an earlier ``repro lab`` did)."""
    if side.jupyterlab:
        info(f"the image has JupyterLab already: serving from it with {side.python}")
        return image, [side.python, "-m", "jupyter", "lab"]
    found = engine.image_info(image)
    if found is None:
        raise EngineError(f"image {image} not found")
    tag = lab_tag(found.id)
    command = [f"{LAB_DIR}/bin/jupyter", "lab"]
    if engine.image_info(tag) is not None:
        info(f"JupyterLab layer {tag} (built before)")
        return tag, command
    info(f"adding JupyterLab in a layer of its own: {tag} (the packed image is not changed)")
    # BuildKit reads FROM as a name (an image id would be looked up in a registry): the
    # packed image gets one, the lab tag's with -base
    base = f"{tag}-base"
    engine.tag(found.id, base)
    with stale.private_dir("repro-lab") as context:
        (context / "Dockerfile").write_text(lab_dockerfile(base, side, buildkit=engine.buildkit))
        kernel = in_image.read("lab_kernel.py")
        (context / "lab_kernel.py").write_text(kernel)
        labels = {LABEL_MANAGED: "lab", "io.github.repro.lab.base": found.id}
        built, notes = build.build(
            engine,
            context,
            tags=[tag],
            labels=labels,
            settings=BuildSettings.of(options),
            on_line=on_line,
        )
    for note in notes:
        info(note)
    info(f"built {tag} in {built.build_seconds:.1f} s")
    return tag, command


def server_argv(command: list[str]) -> list[str]:
    """The Jupyter server's command line: every address inside the container (the engine
    publishes the port on the host's 127.0.0.1 only), no browser, the token from
    ``JUPYTER_TOKEN``; the notebook folder is the working directory, /app."""
    return [*command, "--ip=0.0.0.0", f"--port={PORT}", "--no-browser", "--allow-root"]


def url(port: int, token: str, path: str = "lab") -> str:
    return f"http://127.0.0.1:{port}/{path}?token={token}"


def _answers(port: int, token: str) -> bool:
    """Whether Jupyter's API answers with the token (proxies bypassed: it is local)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {token}"}
    )
    try:
        with opener.open(request, timeout=5) as reply:
            return int(reply.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass(frozen=True, kw_only=True)
class Serve:
    """How to start the server."""

    image: str
    command: list[str]
    host_port: int = 0  # 0: the engine picks a free one
    user: str | None = None
    env: dict[str, str] | None = None
    mounts: tuple[tuple[Path, str], ...] = ()
    network: str = "bridge"
    gpus: bool = False


def serve(
    engine: DockerEngine,
    how: Serve,
    *,
    info: Callable[[str], None],
    show: Callable[[str], None],
    ready_seconds: float = READY_SECONDS,
    token: str | None = None,
) -> int:
    """Start the server, print its URL once it answers (``show``), wait; Ctrl-C stops and
    removes the container. Returns the exit status (0 after Ctrl-C)."""
    if how.network in ("none", "host"):
        raise UsageError(
            f"--network {how.network}: the server's port cannot be published on it",
            hint="use the default (bridge) or a network of your own",
        )
    token = token or secrets.token_hex(24)
    spec = ServiceSpec(
        image=how.image,
        argv=server_argv(how.command),
        ports=((PORT, how.host_port),),
        env={**(how.env or {}), "JUPYTER_TOKEN": token},
        user=how.user,
        mounts=how.mounts,
        workdir="/app",
        network=how.network,
        gpus=how.gpus,
    )
    container = engine.start_service(spec)
    try:
        port = _wait_ready(engine, container, token, ready_seconds)
        show(url(port, token))
        info("JupyterLab is running; Ctrl-C stops it and removes its container")
        while True:
            status = engine.container_status(container)
            if not status.running:
                tail = engine.container_logs(container)
                raise ReproError(
                    f"the Jupyter server stopped (exit {status.exit_code})", detail=tail[-2000:]
                )
            time.sleep(1.0)
    except signals.Interrupted as exc:
        if exc.name != "SIGINT":
            raise
        info("stopped")
        return 0
    except KeyboardInterrupt:
        info("stopped")
        return 0
    finally:
        with signals.deferred():
            engine.remove_container(container)


def _wait_ready(engine: DockerEngine, container: str, token: str, seconds: float) -> int:
    """The host port once Jupyter answers with the token; an error if it stops first."""
    deadline = time.monotonic() + seconds
    while True:
        status = engine.container_status(container)
        if not status.running:
            tail = engine.container_logs(container)
            raise ReproError(
                f"the Jupyter server stopped before answering (exit {status.exit_code})",
                detail=tail[-2000:],
            )
        port = status.ports.get(PORT)
        if port and _answers(port, token):
            return port
        if time.monotonic() > deadline:
            raise ReproError(
                f"the Jupyter server did not answer within {seconds:.0f} s",
                detail=engine.container_logs(container)[-2000:],
            )
        time.sleep(0.5)


def open_lab(
    target: str,
    options: Options,
    reporter: Reporter,
    *,
    show: Callable[[str], None],
    port: int = 0,
    mount: bool = False,
    network: str = "bridge",
    repack: bool = False,
    engine: DockerEngine | None = None,
) -> int:
    """``repro lab``: resolve TARGET (packing a repository first), make sure JupyterLab is
    there, serve it until Ctrl-C."""
    from repro import onboard

    if network in ("none", "host"):  # before any packing: the server could not be reached
        raise UsageError(
            f"--network {network}: the server's port cannot be published on it",
            hint="use the default (bridge) or a network of your own",
        )
    engine = engine or DockerEngine()
    resolved = onboard.resolve(target, options, reporter, engine=engine, repack=repack)
    reporter.stage("lab", resolved.image[:19])
    side = probe(engine, resolved.image)
    image, command = ensure_lab_image(
        engine, resolved.image, side, options, reporter.info, reporter.log
    )
    gpus = resolved.gpu and engine.gpu_available()
    if resolved.gpu and not gpus:
        reporter.warn("the image is built for a GPU but this engine has none: CPU only")
    checkout = onboard.mount_dir(resolved, Path.cwd()) if mount else None
    user, env, mounts = onboard.identity(root=False, mount=checkout)
    if checkout is not None:
        reporter.info(f"mounting {checkout} at {onboard.APP_DIR}")
    how = Serve(
        image=image,
        command=command,
        host_port=port,
        user=user,
        env=env,
        mounts=tuple(mounts),
        network=network,
        gpus=gpus,
    )
    return serve(engine, how, info=reporter.info, show=show)
