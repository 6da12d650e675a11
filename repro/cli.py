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

from repro import __version__, pipeline
from repro.errors import ExitStatus, ReproError
from repro.manifest import build_manifest
from repro.models import Options
from repro.report import plan_text

F = TypeVar("F", bound=Callable[..., Any])


class CliReporter:
    """Stages and notes on stderr; build log lines only with -v."""

    def __init__(self, verbose: int) -> None:
        self.verbose = verbose
        self.color = sys.stderr.isatty()

    def stage(self, name: str, detail: str = "") -> None:
        click.secho(
            f"==> {name}" + (f": {detail}" if detail else ""), err=True, bold=True, color=self.color
        )

    def info(self, message: str) -> None:
        click.echo(f"    {message}", err=True)

    def warn(self, message: str) -> None:
        click.secho(f"    warning: {message}", err=True, fg="yellow", color=self.color)

    def log(self, line: str) -> None:
        if self.verbose:
            click.echo(f"    | {line}", err=True)


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
            default=5,
            show_default=True,
            help="Rounds of fixing the environment after a failed smoke test (0: none).",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


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
        max_repairs=int(kw["max_repairs"]) if kw.get("max_repairs") is not None else 5,
        notebooks=bool(kw.get("notebooks")),
        cell_timeout=float(kw.get("cell_timeout") or 120.0),
    )


def handle_errors(func: F) -> F:
    """Turn every failure into one clear line and an exit status; tracebacks only on -vv."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        verbose = int(kwargs.get("verbose") or 0)
        try:
            return func(*args, **kwargs)
        except ReproError as exc:
            if exc.detail and verbose < 2:
                click.echo(_indent(exc.detail), err=True)
            elif verbose >= 2:
                traceback.print_exc()
            click.secho(f"repro: error: {exc.message}", err=True, fg="red")
            if exc.hint:
                click.echo(f"repro: hint: {exc.hint}", err=True)
            sys.exit(int(exc.exit_status))
        except KeyboardInterrupt:
            click.echo("repro: interrupted", err=True)
            sys.exit(int(ExitStatus.INTERRUPTED))
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug: say so in one line, traceback on -vv
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
    reporter: pipeline.Reporter = (
        pipeline.QuietReporter() if as_json else CliReporter(options.verbose)
    )
    with pipeline.workspace() as workdir:
        prepared = pipeline.prepare(source, options, workdir, reporter)
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
@handle_errors
def pack(source: str, **kw: Any) -> None:
    """Build, smoke-test and export an image for SOURCE.

    SOURCE is a GitHub URL, OWNER/NAME[@REF], any git URL, or a local directory.
    Writes OUT/OWNER-NAME-SHA/ with image.tar.gz, Dockerfile, repro.json and SHA256SUMS.
    """
    options = _options(kw)
    reporter = CliReporter(options.verbose)
    result = pipeline.pack(source, options, reporter)
    smoke = result.smoke
    verdict = "skipped" if smoke is None else ("passed" if smoke.passed else "failed")
    click.echo(f"image     {result.plan.tags[0]}")
    click.echo(f"also      {', '.join(result.plan.tags[1:])}")
    click.echo(
        f"smoke     {verdict}" + (f" ({smoke.command.kind}: {_short(smoke)})" if smoke else "")
    )
    for record in result.repairs:
        changed = "; ".join(
            f"{c['action']} {c['target']}{c['specifier']}" for c in record["changes"]
        )
        click.echo(f"repair {record['round']}  {record['failure']['line'][:80]} → {changed}")
    click.echo(f"artifact  {result.artifact_dir}")


def _short(smoke: Any) -> str:
    text = str(smoke.command.display())
    return text if len(text) <= 100 else text[:97] + "..."


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--keep", is_flag=True, help="Keep the loaded image in the engine afterwards.")
@click.option("-v", "--verbose", count=True, help="-vv shows tracebacks.")
@handle_errors
def verify(path: Path, keep: bool, verbose: int) -> None:
    """Check an artifact and rerun its smoke test: exit 1 on any drift or tampering.

    PATH is an artifact directory written by repro pack, or the image.tar.gz in it.
    """
    from repro.engine import DockerEngine
    from repro.errors import VerifyError
    from repro.verify import verify as run_verify

    reporter = CliReporter(verbose)
    engine = DockerEngine()
    result = run_verify(path, engine, keep=keep, info=reporter.info)
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
@click.option(
    "--network",
    default="none",
    show_default=True,
    help="Container network (none, like the smoke test; bridge for access).",
)
@click.option("--root", is_flag=True, help="Run as root instead of the image's user.")
@click.option("-v", "--verbose", count=True, help="-vv shows tracebacks.")
@handle_errors
def shell(target: str, command: tuple[str, ...], network: str, root: bool, verbose: int) -> None:
    """Open a shell (or run COMMAND) in an image repro built; the container is removed after.

    TARGET is an image name or id (e.g. the one a failed pack kept), or an artifact
    directory (its image is loaded from image.tar.gz after the checksums are checked).
    """
    import subprocess

    from repro.engine import DockerEngine, shell_argv
    from repro.errors import UsageError
    from repro.verify import check_files, locate

    engine = DockerEngine()
    image = target
    if Path(target).exists():
        directory = locate(Path(target))
        manifest = json.loads((directory / "repro.json").read_text())
        image = str((manifest.get("image") or {}).get("id") or manifest["tags"][0])
        if engine.image_info(image) is None:
            check_files(directory)
            click.echo(f"loading {directory / 'image.tar.gz'}", err=True)
            engine.load(directory / "image.tar.gz")
    if engine.image_info(image) is None:
        raise UsageError(f"no image {image} on this engine", hint="give an image or artifact")
    argv = shell_argv(
        image,
        command or ("bash",),
        network=network,
        user="0" if root else None,
        tty=sys.stdin.isatty() and sys.stdout.isatty(),
    )
    sys.exit(subprocess.call(argv))


def main() -> int:
    try:
        cli.main(prog_name="repro", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("repro: interrupted", err=True)
        return int(ExitStatus.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        return int(ExitStatus.USAGE)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 1
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    return 0
