"""Command line: parse options, run the pipeline, map errors to exit statuses (thin)."""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from repro import __version__, diskspace, fetch, locks, pipeline, scratch, signals
from repro.errors import ExitStatus, ReproError
from repro.manifest import build_manifest
from repro.models import DEFAULT_MAX_REPAIRS, Options
from repro.report import QuietReporter, Reporter, plan_text
from repro.status import PlainReporter as CliReporter
from repro.status import open_reporter

F = TypeVar("F", bound=Callable[..., Any])


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("expected a date such as 2019-06-01") from None


def plan_options(func: F) -> F:
    """Options shared by every command that decides an environment."""
    decorators = [
        click.option("--ref", help="Branch, tag or commit to pack (default: the default branch)."),
        click.option(
            "--cpu",
            is_flag=True,
            help="Build a CPU-only image even if the code uses a GPU framework.",
        ),
        click.option("--cuda", metavar="X.Y", help="Use this CUDA version for GPU images."),
        click.option(
            "--base-image",
            metavar="IMAGE",
            help="Use this base image instead of the one repro picks.",
        ),
        click.option("--python", "python_version", metavar="X.Y", help="Use this Python version."),
        click.option(
            "--pin",
            "pins",
            multiple=True,
            metavar="REQ",
            help="Force a requirement, e.g. torch==1.4.0 (repeatable).",
        ),
        click.option(
            "--as-of",
            callback=_date,
            metavar="DATE",
            help="Resolve unpinned packages as of this date (default: the commit date).",
        ),
        click.option(
            "--require-gpu",
            is_flag=True,
            help="Fail when no GPU image fits, instead of planning a CPU image.",
        ),
        click.option(
            "--with",
            "with_frameworks",
            multiple=True,
            metavar="NAME",
            help="Keep a GPU framework the code imports only inside functions (repeatable).",
        ),
        click.option("--smoke", metavar="CMD", help="Smoke test command to run inside the image."),
        click.option("--no-smoke", is_flag=True, help="Do not run a smoke test."),
        click.option(
            "--notebooks",
            is_flag=True,
            help="Also execute the repository's notebooks in the smoke test.",
        ),
        click.option(
            "--find-links",
            multiple=True,
            type=click.Path(path_type=Path),
            metavar="DIR",
            help="A folder of wheels to install from (copied into the build; repeatable).",
        ),
        click.option(
            "--keep-large-files",
            is_flag=True,
            help="Keep large data and checkpoint files in the image (left out by default).",
        ),
        click.option(
            "-v", "--verbose", count=True, help="Show the build log; -vv also shows tracebacks."
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def build_options(func: F) -> F:
    """Options for commands that build an image."""
    decorators = [
        click.option(
            "--tag",
            "tags",
            multiple=True,
            metavar="NAME[:TAG]",
            help="Also tag the image with this name (repeatable).",
        ),
        click.option(
            "--out",
            type=click.Path(path_type=Path),
            default=Path("repro-out"),
            show_default=True,
            help="Where artifact directories are written.",
        ),
        click.option(
            "--ca-bundle",
            type=click.Path(path_type=Path),
            help="CA bundle for pip inside the build "
            "(default: $PIP_CERT, $REQUESTS_CA_BUNDLE or $SSL_CERT_FILE).",
        ),
        click.option(
            "--pip-conf",
            type=click.Path(path_type=Path),
            help="pip configuration for the build (passed as a secret, never stored in the image).",
        ),
        click.option(
            "--index-url", metavar="URL", help="Package index for the build (passed as a secret)."
        ),
        click.option(
            "--extra-index-url",
            "extra_index_urls",
            multiple=True,
            metavar="URL",
            help="Extra package index (passed as a secret; repeatable).",
        ),
        click.option(
            "--smoke-timeout",
            type=float,
            default=900.0,
            show_default=True,
            help="Seconds before the smoke test is stopped.",
        ),
        click.option(
            "--cell-timeout",
            type=float,
            default=120.0,
            show_default=True,
            help="Seconds per notebook cell (with --notebooks).",
        ),
        click.option(
            "--max-repairs",
            type=click.IntRange(min=0),
            default=DEFAULT_MAX_REPAIRS,
            show_default=True,
            help="Rounds of fixing the environment after a failed smoke test (0: none).",
        ),
        click.option(
            "--oci",
            is_flag=True,
            help="Also write the image as an OCI image layout, image.oci.tar (Apptainer's "
            "oci-archive:, skopeo; docs/hpc.md).",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def registry_options(func: F) -> F:
    """Credentials for a push (else those ``docker login`` stored)."""
    decorators = [
        click.option(
            "--username",
            envvar="REPRO_REGISTRY_USERNAME",
            metavar="NAME",
            help="Registry user for this push ($REPRO_REGISTRY_USERNAME; default: the "
            "credentials of docker login).",
        ),
        click.option(
            "--password-stdin",
            is_flag=True,
            help="Read the registry password from stdin (or set $REPRO_REGISTRY_PASSWORD).",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def container_options(func: F) -> F:
    """Options of the container ``run`` and ``shell`` open."""
    decorators = [
        click.option(
            "--mount",
            is_flag=True,
            help="Bind-mount your checkout over /app for live edits: SOURCE when it is a "
            "local directory, else the current directory.",
        ),
        click.option(
            "--network",
            default="none",
            show_default=True,
            help="Container network (none, like the smoke test; bridge for access).",
        ),
        click.option("--root", is_flag=True, help="Run as root instead of the image's user."),
        click.option(
            "--repack",
            is_flag=True,
            help="Pack SOURCE again even if OUT holds an artifact of its commit.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _auth(username: str | None, password_stdin: bool) -> dict[str, str] | None:
    import os

    from repro.publish import credentials

    password = os.environ.get("REPRO_REGISTRY_PASSWORD")
    if password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
    return credentials(username, password)


def _options(kw: dict[str, Any]) -> Options:
    if kw.get("smoke") and kw.get("no_smoke"):
        raise click.UsageError("--smoke and --no-smoke cannot be used together")
    return Options(
        ref=kw.get("ref"),
        cpu=bool(kw.get("cpu")),
        cuda=kw.get("cuda"),
        base_image=kw.get("base_image"),
        python=kw.get("python_version"),
        pins=tuple(kw.get("pins") or ()),
        as_of=kw.get("as_of"),
        smoke=kw.get("smoke"),
        no_smoke=bool(kw.get("no_smoke")),
        find_links=tuple(p.resolve() for p in kw.get("find_links") or ()),
        ca_bundle=kw.get("ca_bundle"),
        pip_conf=kw.get("pip_conf"),
        index_url=kw.get("index_url"),
        extra_index_urls=tuple(kw.get("extra_index_urls") or ()),
        tags=tuple(kw.get("tags") or ()),
        out=kw.get("out") or Path("repro-out"),
        smoke_timeout=float(kw.get("smoke_timeout") or 900.0),
        verbose=int(kw.get("verbose") or 0),
        smoke_origin="--smoke" if kw.get("smoke") else "",
        max_repairs=int(kw["max_repairs"])
        if kw.get("max_repairs") is not None
        else DEFAULT_MAX_REPAIRS,
        notebooks=bool(kw.get("notebooks")),
        cell_timeout=float(kw.get("cell_timeout") or 120.0),
        keep_large_files=bool(kw.get("keep_large_files")),
        oci=bool(kw.get("oci")),
        with_frameworks=tuple(kw.get("with_frameworks") or ()),
        require_gpu=bool(kw.get("require_gpu")),
    )


def handle_errors(func: F) -> F:
    """Turn every failure into one clear line and an exit status; tracebacks only on -vv."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        verbose = int(kwargs.get("verbose") or 0)
        try:
            result = func(*args, **kwargs)
            _cache_warnings()
            return result
        except ReproError as exc:
            _cache_warnings()
            if exc.detail and verbose < 2:
                click.echo(_indent(exc.detail), err=True)
            elif verbose >= 2:
                traceback.print_exc()
            click.secho(f"repro: error: {exc.message}", err=True, fg="red")
            if exc.hint:
                click.echo(f"repro: hint: {exc.hint}", err=True)
            sys.exit(int(exc.exit_status))
        except KeyboardInterrupt as exc:
            if isinstance(exc, signals.Interrupted) and exc.name != "SIGINT":
                click.echo(f"repro: interrupted by {exc.name}", err=True)
                sys.exit(exc.exit_status)
            click.echo("repro: interrupted", err=True)
            sys.exit(int(ExitStatus.INTERRUPTED))
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            _cache_warnings()
            raise
        except Exception as exc:  # a bug: say so in one line, traceback on -vv
            _cache_warnings()
            if diskspace.is_full(exc):  # a full disk no writer turned into words
                _say_disk_full(exc)
            if verbose >= 2:
                traceback.print_exc()
            click.secho(
                f"repro: internal error: {exc.__class__.__name__}: {exc} "
                "(please report it; -vv shows the traceback)",
                err=True,
                fg="red",
            )
            sys.exit(int(ExitStatus.FAILURE))

    return wrapper  # type: ignore[return-value]


def _cache_warnings() -> None:
    for line in locks.cache_problems():
        click.secho(f"repro: warning: {line}", err=True, fg="yellow")


def _say_disk_full(exc: Exception) -> None:
    """One line for a full disk, naming the file and what is free there; exits 1."""
    name = getattr(exc, "filename", None)
    path = Path(name) if isinstance(name, str) else None
    where = f" writing {path}: {diskspace.where(path.parent)}" if path else ""
    click.secho(f"repro: error: no space left on device{where}", err=True, fg="red")
    click.echo("repro: hint: free some space there, then run repro again", err=True)
    sys.exit(int(ExitStatus.FAILURE))


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.rstrip().splitlines())


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="repro")
def cli() -> None:
    """Turn a research repository into a runnable, portable, tested Docker image."""


@cli.command()
@click.argument("source")
@plan_options
@click.option(
    "--json", "as_json", is_flag=True, help="Print the plan as JSON (the repro.json schema)."
)
@click.option(
    "--dockerfile", "show_dockerfile", is_flag=True, help="Print the Dockerfile repro would build."
)
@handle_errors
def inspect(source: str, as_json: bool, show_dockerfile: bool, **kw: Any) -> None:
    """Show everything repro decides for SOURCE, without building.

    SOURCE is a GitHub URL, OWNER/NAME[@REF], any git URL, or a local directory.
    """
    options = _options(kw)
    reporter: Reporter = QuietReporter() if as_json else CliReporter(options.verbose)
    parsed = fetch.parse_source(source, options.ref)
    with scratch.workspace() as workdir, scratch.memory_scratch() as memory:
        prepared = pipeline.prepare(parsed, options, workdir, reporter, memory=memory)
    plan = prepared.plan
    if as_json:
        click.echo(json.dumps(build_manifest(plan), indent=2))
    elif show_dockerfile:
        click.echo(plan.dockerfile, nl=False)
    else:
        click.echo(plan_text(plan), nl=False)


@cli.command()
@click.argument("source")
@plan_options
@build_options
@click.option(
    "--push",
    "push_to",
    metavar="REGISTRY/NAME[:TAG]",
    help="Then push the image there and record its digest (see repro push).",
)
@registry_options
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Say nothing while it runs: only errors and the final summary.",
)
@handle_errors
def pack(
    source: str,
    push_to: str | None,
    username: str | None,
    password_stdin: bool,
    quiet: bool,
    **kw: Any,
) -> None:
    """Build, smoke-test and export an image for SOURCE.

    SOURCE is a GitHub URL, OWNER/NAME[@REF], any git URL, or a local directory.
    Writes OUT/OWNER-NAME-SHA/ with image.tar.gz, Dockerfile, repro.json, sbom.cdx.json,
    PAPER.md and SHA256SUMS.
    """
    options = _options(kw)
    destination = None
    if push_to:
        from repro import publish  # not before it is needed: the SBOM library is slow to load

        destination = publish.parse_destination(push_to)
    auth = _auth(username, password_stdin) if push_to else None
    with open_reporter(options.verbose, quiet=quiet) as reporter:
        result = pipeline.pack(fetch.parse_source(source, options.ref), options, reporter)
    smoke = result.smoke
    verdict = "skipped" if smoke is None else ("passed" if smoke.passed else "failed")
    click.echo(f"image     {result.plan.tags[0]}")
    click.echo(f"also      {', '.join(result.plan.tags[1:])}")
    click.echo(
        f"smoke     {verdict}" + (f" ({smoke.command.kind}: {_short(smoke)})" if smoke else "")
    )
    for record in result.repairs:
        click.echo(f"repair {record.number}  {record.failure[:80]} → {record.changed()}")
    click.echo(f"artifact  {result.artifact_dir}")
    if destination is not None:
        # plain lines: the push's summary goes to stdout, between them
        pusher: Reporter = QuietReporter() if quiet else CliReporter(options.verbose)
        pusher.stage("push", push_to or "")
        _push_and_print(str(result.artifact_dir), destination, auth, pusher, keep=True)
    else:
        from repro.export import PAPER

        click.echo(f"paper     {result.artifact_dir / PAPER}")


def _push_and_print(
    target: str, destination: Any, auth: Any, reporter: Reporter, *, keep: bool
) -> None:
    from repro import publish
    from repro.engine import DockerEngine
    from repro.export import PAPER

    published = publish.push(
        target,
        destination,
        DockerEngine(),
        auth=auth,
        keep=keep,
        info=reporter.info,
        on_line=reporter.log,
    )
    click.echo(f"pushed    {published.reference}")
    click.echo(f"digest    {published.digest}")
    click.echo(f"pinned    {published.pinned}")
    if published.directory is not None:
        click.echo(f"recorded  {published.directory / 'repro.json'} (published)")
        click.echo(f"paper     {published.directory / PAPER}")
    click.echo("")
    click.echo(published.paper, nl=False)


@cli.command()
@click.argument("target")
@click.argument("destination", metavar="REGISTRY/NAME[:TAG]")
@registry_options
@click.option("--keep", is_flag=True, help="Keep an image loaded for the push in the engine.")
@click.option("-v", "--verbose", count=True, help="Show the push; -vv also shows tracebacks.")
@handle_errors
def push(
    target: str,
    destination: str,
    username: str | None,
    password_stdin: bool,
    keep: bool,
    verbose: int,
) -> None:
    """Push an image to a registry; for an artifact, record its digest and pin PAPER.md.

    TARGET is an artifact directory written by repro pack (checked against SHA256SUMS,
    loaded from image.tar.gz if needed; repro.json gains a "published" entry) or an image
    on the engine. TAG defaults to the commit's short sha. Prints the snippet for a
    paper's README, pinned by the pushed digest.
    """
    from repro import publish

    parsed = publish.parse_destination(destination)
    auth = _auth(username, password_stdin)
    _push_and_print(target, parsed, auth, CliReporter(verbose), keep=keep)


def _short(smoke: Any) -> str:
    text = str(smoke.command.display())
    return text if len(text) <= 100 else text[:97] + "..."


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--keep", is_flag=True, help="Keep the loaded image in the engine afterwards.")
@click.option(
    "--clean-engine",
    is_flag=True,
    help="Load and run in a dockerd of its own with empty storage, removed after (needs root).",
)
@click.option("-v", "--verbose", count=True, help="-vv shows tracebacks.")
@handle_errors
def verify(path: Path, keep: bool, clean_engine: bool, verbose: int) -> None:
    """Check an artifact and rerun its smoke test: exit 1 on any drift or tampering.

    PATH is an artifact directory written by repro pack, or the image.tar.gz in it.
    """
    from repro.engine import DockerEngine
    from repro.errors import UsageError, VerifyError
    from repro.verify import locate
    from repro.verify import verify as run_verify

    reporter = CliReporter(verbose)
    if clean_engine:
        if keep:
            raise UsageError("--keep and --clean-engine do not go together: the clean engine "
                             "and everything in it are removed after the check")  # fmt: skip
        from repro.clean_engine import temporary_engine

        locate(path)  # a wrong path is one line before any engine starts
        with temporary_engine(reporter.info) as host:
            engine = DockerEngine(host=host, use_buildkit=False)
            result = run_verify(path, engine, info=reporter.info)
        click.echo("engine    clean: a dockerd of its own with empty storage, removed after")
    else:
        result = run_verify(path, DockerEngine(), keep=keep, info=reporter.info)
    for check in result.checks:
        click.echo(f"{check.name:<10}{'ok' if check.ok else 'DRIFT'}  {check.detail}")
    if not result.ok:
        drift = result.drift()
        raise VerifyError(
            f"{result.directory} drifted: {drift[0].name}: {drift[0].detail}",
            hint="the image no longer behaves as recorded; repack it, or look inside with "
            f"repro shell {result.directory}",
        )
    click.echo(f"verified  {result.directory}")


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("target")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@container_options
@plan_options
@build_options
@handle_errors
def shell(target: str, command: tuple[str, ...], **kw: Any) -> None:
    """Open a shell (or run COMMAND) in the packed environment of TARGET; removed after.

    TARGET is a SOURCE (packed first unless OUT already holds its artifact), an artifact
    directory (its image is loaded from image.tar.gz after the checksum check), or an
    image name or id (e.g. the one a failed pack kept). The repository is at /app.
    """
    sys.exit(_enter(target, command or ("bash",), kw))


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("target")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@container_options
@plan_options
@build_options
@handle_errors
def run(target: str, command: tuple[str, ...], **kw: Any) -> None:
    """Run COMMAND in the packed environment of TARGET and exit with its status.

    TARGET is a SOURCE (packed first unless OUT already holds its artifact), an artifact
    directory, or an image. Put COMMAND after --: repro run OWNER/NAME -- python train.py
    """
    sys.exit(_enter(target, command, kw))


def _enter(target: str, command: tuple[str, ...], kw: dict[str, Any]) -> int:
    from repro import onboard
    from repro.engine import DockerEngine, run_attached

    mount, network, root, repack = (
        kw.pop("mount"),
        kw.pop("network"),
        kw.pop("root"),
        kw.pop("repack"),
    )
    options = _options(kw)
    reporter = CliReporter(options.verbose)
    engine = DockerEngine()
    resolved = onboard.resolve(target, options, reporter, engine=engine, repack=repack)
    gpus = resolved.gpu and engine.gpu_available()
    if resolved.gpu and not gpus:
        reporter.warn("the image is built for a GPU but this engine has none: CPU only")
    checkout = onboard.mount_dir(resolved, Path.cwd()) if mount else None
    if checkout is not None:
        reporter.info(f"mounting {checkout} at {onboard.APP_DIR}")
        remote = onboard.remote_engine()
        if remote:
            reporter.warn(f"--mount binds {checkout} on the engine's machine ({remote})")
    argv = onboard.container_argv(
        resolved,
        command,
        network=network,
        root=root,
        mount=checkout,
        gpus=gpus,
        tty=sys.stdin.isatty() and sys.stdout.isatty(),
        cli=engine.interactive_cli(),
    )
    reporter.log(" ".join(argv))
    return run_attached(argv)


@cli.command()
@click.argument("target")
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=0,
    help="Port on 127.0.0.1 to publish JupyterLab on (default: a free one).",
)
@click.option(
    "--mount",
    is_flag=True,
    help="Bind-mount your checkout over /app (notebooks saved there are yours): SOURCE when "
    "it is a local directory, else the current directory.",
)
@click.option(
    "--network",
    default="bridge",
    show_default=True,
    help="Container network (the port is published from it; not none or host).",
)
@click.option(
    "--repack",
    is_flag=True,
    help="Pack SOURCE again even if OUT holds an artifact of its commit.",
)
@plan_options
@build_options
@handle_errors
def lab(target: str, port: int, mount: bool, network: str, repack: bool, **kw: Any) -> None:
    """Open JupyterLab in the packed environment of TARGET; Ctrl-C stops it.

    TARGET is a SOURCE (packed first unless OUT already holds its artifact), an artifact
    directory, or an image. JupyterLab is added in a layer of its own when the image has
    none (the packed environment is not changed); notebooks run in the image's
    environment, the repository at /app. Prints the URL (127.0.0.1 only, a fresh token).
    """
    from repro.lab import open_lab

    options = _options(kw)
    reporter = CliReporter(options.verbose)
    status = open_lab(
        target,
        options,
        reporter,
        show=lambda line: click.echo(line),
        port=port,
        mount=mount,
        network=network,
        repack=repack,
    )
    sys.exit(status)


@cli.command("pack-many")
@click.argument("list_file", metavar="FILE", type=click.Path(path_type=Path))
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Sources packed at the same time (each is a build on the engine).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    help="Where the JSON report goes (default: OUT/pack-many.json).",
)
@plan_options
@build_options
@handle_errors
def pack_many(list_file: Path, jobs: int, report_path: Path | None, **kw: Any) -> None:
    """Pack every source listed in FILE (one per line, # comments), N at a time.

    One failure never stops the others. Prints progress on stderr, a summary table
    (packed / repaired / failed and why) on stdout, and writes a JSON report. Exits 1
    when any source failed.
    """
    from repro import many
    from repro.errors import UsageError

    if kw.get("tags"):
        raise UsageError("--tag names one image; pack-many packs many (each gets its own tags)")
    if kw.get("ref"):
        raise UsageError("--ref applies to one source: write OWNER/NAME@REF in the list")
    options = _options(kw)
    listed = many.read_list(list_file)
    report_path = report_path or options.out / "pack-many.json"
    click.echo(f"packing {len(listed)} source(s), {jobs} at a time", err=True)
    results = many.pack_many(
        listed, options, workers=jobs, say=lambda line: click.echo(line, err=True)
    )
    many.write_report(report_path, many.report(results, list_file=list_file, workers=jobs))
    click.echo(many.summary_table(results), nl=False)
    count = many.counts(results)
    click.echo(
        f"{count['packed']} packed, {count['repaired']} repaired, {count['failed']} failed"
        f" — report: {report_path}"
    )
    if count["failed"] or count["cancelled"]:
        sys.exit(int(ExitStatus.FAILURE))


def main() -> int:
    signals.install()
    try:
        cli.main(prog_name="repro", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("repro: interrupted", err=True)
        return int(ExitStatus.INTERRUPTED)
    except KeyboardInterrupt as exc:  # a signal outside a command (parsing, exiting)
        click.echo("repro: interrupted", err=True)
        if isinstance(exc, signals.Interrupted):
            return exc.exit_status
        return int(ExitStatus.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        return int(ExitStatus.USAGE)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 1
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    return 0
