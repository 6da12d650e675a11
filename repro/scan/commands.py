"""Install commands written in prose and scripts: ``pip install``, ``conda install``, ``apt-get``.

Used on Dockerfiles, shell scripts, README code, CI configurations and notebook magics.
Nothing is run: each command is found by pattern, split like a shell would split it, and
its arguments sorted into requirements, requirement files, editable installs, index
options and (for conda) package specs. Every result keeps its line number.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field

# Where a command starts: after a prompt, a YAML key, a Dockerfile RUN, ``sudo``, ``!``.
_COMMAND = re.compile(
    r"(?:^|[\s;&|(!%$`\"'])"
    r"((?:sudo\s+(?:-\S+\s+)*)?"
    r"(?:python[\d.]*\s+-m\s+pip|pip[\d.]*|uv\s+pip|conda|mamba|micromamba|apt-get|apt)"
    r"\s+(?:install|create|add)\b.*)"
)
_SEPARATORS = re.compile(r"\s*(?:&&|\|\||;|\|)\s*")

# pip options that take a value (the value is never a requirement).
_PIP_VALUE_OPTIONS = frozenset(
    [
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-e",
        "--editable",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--src",
        "--upgrade-strategy",
        "--trusted-host",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--no-binary",
        "--only-binary",
        "--progress-bar",
        "--cache-dir",
        "--log",
        "--proxy",
        "--timeout",
        "--retries",
        "--exists-action",
        "--cert",
        "--client-cert",
        "-C",
        "--config-settings",
        "--global-option",
        "--install-option",
        "--report",
        "--python",
    ]
)
_CONDA_VALUE_OPTIONS = frozenset(
    ["-c", "--channel", "-n", "--name", "-p", "--prefix", "--file", "--override-channels", "-f"]
) - {"--override-channels"}


@dataclass
class InstallCommand:
    """One install command found in a text, its arguments sorted."""

    tool: str  # "pip", "conda", "apt"
    line: int  # 1-based line of the command's start
    text: str  # the command as written (joined over continuation lines)
    requirements: list[str] = field(default_factory=list)  # pip specs or conda specs
    files: list[str] = field(default_factory=list)  # -r / --file arguments
    constraints: list[str] = field(default_factory=list)  # -c arguments
    editables: list[str] = field(default_factory=list)  # -e / local paths
    index_urls: list[tuple[str, str]] = field(default_factory=list)  # (topic, url)
    channels: list[str] = field(default_factory=list)
    creates_env: bool = False  # conda create


def logical_lines(text: str, first_line: int = 1) -> Iterator[tuple[int, str]]:
    """Lines with ``\\`` continuations joined, numbered by their first physical line."""
    buf: list[str] = []
    start = first_line
    for number, raw in enumerate(text.splitlines(), start=first_line):
        if not buf:
            start = number
        stripped = raw.rstrip()
        if stripped.endswith("\\"):
            buf.append(stripped[:-1])
            continue
        buf.append(stripped)
        yield start, " ".join(part.strip() for part in buf)
        buf = []
    if buf:
        yield start, " ".join(part.strip() for part in buf)


def find_commands(text: str, first_line: int = 1) -> list[InstallCommand]:
    """Every pip / conda / apt install command in ``text``."""
    found: list[InstallCommand] = []
    for number, line in logical_lines(text, first_line):
        if "install" not in line and "create" not in line and " add " not in line:
            continue
        rest = line
        while True:
            m = _COMMAND.search(rest)
            if not m:
                break
            segment = _SEPARATORS.split(m.group(1), maxsplit=1)
            command = _parse_command(segment[0], number)
            if command is not None:
                found.append(command)
            if len(segment) < 2:
                break
            rest = " " + segment[1]
    return found


def _tokens(segment: str) -> list[str]:
    segment = re.sub(r"\s#\s.*$", "", segment)  # a trailing shell comment
    try:
        return shlex.split(segment)
    except ValueError:
        return segment.split()


def _parse_command(segment: str, line: int) -> InstallCommand | None:
    tokens = _tokens(segment)
    while tokens and (tokens[0] == "sudo" or (tokens[0].startswith("-") and len(tokens) > 1)):
        tokens = tokens[1:]
    if not tokens:
        return None
    head = tokens[0]
    if head.startswith("python"):
        tokens = tokens[3:] if len(tokens) > 2 and tokens[1] == "-m" else []
        head = "pip"
    elif head == "uv":
        tokens = tokens[1:]
        head = "pip"
    if not tokens:
        return None
    verb_at = next((i for i, t in enumerate(tokens[:3]) if t in ("install", "create", "add")), None)
    if verb_at is None:
        return None
    verb = tokens[verb_at]
    args = tokens[verb_at + 1 :]
    if head.startswith("pip"):
        if verb != "install":
            return None
        return _pip(args, line, segment)
    if head in ("conda", "mamba", "micromamba"):
        if verb == "add":
            return None
        return _conda(args, line, segment, creates_env=verb == "create")
    if verb == "install":
        cmd = InstallCommand(tool="apt", line=line, text=segment)
        cmd.requirements = [a for a in args if not a.startswith("-") and _plain(a)]
        return cmd
    return None


def _plain(token: str) -> bool:
    """Not a shell variable, glob, substitution or redirection (``>log``, ``2>&1``); a
    version specifier such as ``torch>=1.4`` is plain."""
    if not token or token == "\\" or any(ch in token for ch in "$*{}`|"):
        return False
    return not re.match(r"^\d*[<>]|.*>&", token)


def _pip(args: list[str], line: int, text: str) -> InstallCommand:
    cmd = InstallCommand(tool="pip", line=line, text=text)
    i = 0
    while i < len(args):
        token = args[i]
        if token.startswith("-"):
            opt, eq, inline = token.partition("=")
            if opt in _PIP_VALUE_OPTIONS or (
                len(opt) == 2 and opt in ("-r", "-c", "-e", "-i", "-f")
            ):
                value = inline if eq else (args[i + 1] if i + 1 < len(args) else "")
                i += 1 if eq else 2
                _pip_option(cmd, opt, value)
                continue
            if len(token) > 2 and token[:2] in ("-r", "-c", "-e", "-i", "-f") and token[1] != "-":
                _pip_option(cmd, token[:2], token[2:])
            i += 1
            continue
        if _plain(token):
            if token.startswith((".", "/", "~")) or token in (".",):
                cmd.editables.append(token)
            else:
                cmd.requirements.append(token)
        i += 1
    return cmd


def _pip_option(cmd: InstallCommand, opt: str, value: str) -> None:
    if not value or not _plain(value):
        return
    if opt in ("-r", "--requirement"):
        cmd.files.append(value)
    elif opt in ("-c", "--constraint"):
        cmd.constraints.append(value)
    elif opt in ("-e", "--editable"):
        cmd.editables.append(value)
    elif opt in ("-i", "--index-url", "--extra-index-url"):
        cmd.index_urls.append(("index-url", value))
    elif opt in ("-f", "--find-links"):
        cmd.index_urls.append(("find-links", value))


def _conda(args: list[str], line: int, text: str, *, creates_env: bool) -> InstallCommand:
    cmd = InstallCommand(tool="conda", line=line, text=text, creates_env=creates_env)
    if args and args[0] == "env":
        return cmd  # ``conda env create -f environment.yml``: the file is read on its own
    i = 0
    while i < len(args):
        token = args[i]
        if token.startswith("-"):
            opt, eq, inline = token.partition("=")
            if opt in _CONDA_VALUE_OPTIONS:
                value = inline if eq else (args[i + 1] if i + 1 < len(args) else "")
                if opt in ("-c", "--channel"):
                    cmd.channels.append(value)
                elif opt == "--file":
                    cmd.files.append(value)
                i += 1 if eq else 2
                continue
            i += 1
            continue
        if _plain(token):
            cmd.requirements.append(token)
        i += 1
    return cmd
