"""The checkout cannot reach outside the repository (docs/security.md, guarantee 4).

The checkout is what repro reads and what becomes the build context, so a link out of it
would let a repository make repro read (and print, and record in repro.json) a file of the
user's: ``-r`` includes, pyproject.toml and notebooks are all read through it.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repro.cli import cli
from repro.fetch import fetch, parse_source
from repro.fetch.archive import Unsupported, safe_untar, unpack_git_tar
from tests.conftest import FakeGitHub, git, make_repo

SECRET = "host-secret-7c1e9b"


def _inspect(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["inspect", *args])
    return result.exit_code, result.stdout + result.stderr


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file of the user's, outside any repository."""
    path = tmp_path / "home" / ".netrc"
    path.parent.mkdir()
    path.write_text(f"machine index.example.org login me password {SECRET}\n")
    return path


def _linking_repo(root: Path, secret: Path) -> Path:
    """A project whose requirements include files that are links out of the repository."""
    root.mkdir(parents=True)
    (root / "main.py").write_text("import numpy\n")
    (root / "requirements.txt").write_text("numpy\n-r absolute.txt\n-r relative.txt\n-r a.txt\n")
    (root / "absolute.txt").symlink_to(secret)
    (root / "relative.txt").symlink_to(os.path.relpath(secret, root))
    (root / "etc-link").symlink_to("/etc")
    (root / "home-link").symlink_to(secret.parent)
    # A chain of links that are each harmless alone: ``zz`` is the repository itself, so
    # ``zz/zz/.../..`` climbs out physically while it stays inside when read as text.
    depth = len(secret.parts) + 2
    (root / "a.txt").symlink_to("/".join(["zz"] * depth + [".."] * depth) + str(secret))
    (root / "zz").symlink_to(".")
    (root / "inside.txt").symlink_to("requirements.txt")
    (root / "loop").symlink_to("loop")  # links that lead nowhere, in circles
    (root / "ping").symlink_to("pong")
    (root / "pong").symlink_to("ping")
    return root


@pytest.mark.parametrize("form", ["plain-dir", "local-git", "github-url"])
def test_links_out_of_the_repository_are_not_followed(
    tmp_path: Path, secret: Path, github: FakeGitHub, form: str
) -> None:
    src = _linking_repo(tmp_path / "proj", secret)
    spec = str(src)
    if form != "plain-dir":  # committed in place: copying would follow the links
        _commit_in_place(src)
    if form == "github-url":
        spec = _publish_bare(github, src, "links")
    assert SECRET in (src / "a.txt").read_text()  # the chain does lead out on the host
    code, out = _inspect(spec, "--json")
    assert code == 0, out
    assert SECRET not in out
    plan = json.loads(out)
    warnings = "\n".join(plan["warnings"])
    for name in ("absolute.txt", "relative.txt", "etc-link", "home-link", "a.txt"):
        assert f"symlink {name}" in warnings, warnings

    checkout = fetch(parse_source(spec), tmp_path / f"work-{form}")
    leaks = [
        p.name
        for p in checkout.path.iterdir()
        if p.is_symlink() and not Path(os.path.realpath(p)).is_relative_to(checkout.path.resolve())
    ]
    assert leaks == []
    if form != "plain-dir":  # git keeps links that stay inside as links
        assert os.readlink(checkout.path / "inside.txt") == "requirements.txt"
    assert (checkout.path / "inside.txt").read_text().startswith("numpy")


def _commit_in_place(src: Path) -> None:
    git("init", "-q", "-b", "main", cwd=src)
    git("add", "-A", cwd=src)
    git("commit", "-q", "-m", "links", cwd=src)


def _publish_bare(github: FakeGitHub, src: Path, name: str) -> str:
    bare = github.root / "acme" / name
    bare.parent.mkdir(parents=True, exist_ok=True)
    git("clone", "-q", "--bare", str(src), str(bare), cwd=src)
    return f"https://github.com/acme/{name}"


def _tar(*members: tuple[str, str, str | bytes]) -> io.BytesIO:
    """A tar stream from (kind, name, data or link target) triples."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for kind, name, data in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                raw = data.encode() if isinstance(data, str) else data
                info.size = len(raw)
                tar.addfile(info, io.BytesIO(raw))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "link":
                info.type = tarfile.SYMTYPE
                info.linkname = str(data)
                tar.addfile(info)
            elif kind == "hard":
                info.type = tarfile.LNKTYPE
                info.linkname = str(data)
                tar.addfile(info)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
                tar.addfile(info)
    buf.seek(0)
    return buf


def test_archive_members_cannot_write_outside(tmp_path: Path) -> None:
    dest = tmp_path / "w" / "src"
    dest.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    stream = _tar(
        ("file", "../evil.py", "x"),
        ("file", "sub/../../evil2.py", "x"),
        ("file", str(tmp_path / "abs.py"), "x"),
        ("link", "out", str(outside)),
        ("file", "out/through.py", "x"),  # a file under a link to outside
        ("link", "ok", "sub"),
        ("dir", "sub", ""),
        ("file", "ok/via-link.py", "x"),  # under a link that stays inside
        ("link", "dup", "sub"),
        ("file", "dup", "second copy"),  # the same name twice
        ("file", "dup", "third copy"),
        ("hard", "hard", "/etc/passwd"),
        ("fifo", "pipe", ""),
        ("file", "both", "a file"),  # then a folder of the same name, with a file in it
        ("dir", "both", ""),
        ("file", "both/inner.py", "x"),
        ("file", "keep.py", "print('kept')\n"),
    )
    warnings = safe_untar(stream, dest)
    assert not (tmp_path / "w" / "evil.py").exists()
    assert not (tmp_path / "evil2.py").exists() and not (tmp_path / "abs.py").exists()
    assert list(outside.iterdir()) == []
    assert not (dest / "out").is_symlink()
    assert (dest / "keep.py").read_text() == "print('kept')\n"
    assert (dest / "dup").read_text() == "second copy" and not (dest / "dup").is_symlink()
    assert not (dest / "hard").exists() and not (dest / "pipe").exists()
    assert (dest / "both").read_text() == "a file"
    for p in dest.rglob("*"):
        assert os.path.realpath(p).startswith(str(dest.resolve()))
    text = "\n".join(warnings)
    assert "../evil.py: path leaves" in text and "sub/../../evil2.py: path leaves" in text
    assert "listed twice" in text


# The fast reader of ``git archive`` output (``unpack_git_tar``) must unpack exactly as the
# tarfile reader does, or hand the archive back (``Unsupported``) for tarfile to read.

_HOSTILE_GIT_KINDS = (
    ("file", "../evil.py", "x"),
    ("file", "sub/../../evil2.py", "x"),
    ("link", "out", "OUTSIDE"),
    ("file", "out/through.py", "x"),
    ("link", "ok", "sub"),
    ("dir", "sub", ""),
    ("file", "ok/via-link.py", "x"),
    ("link", "dup", "sub"),
    ("file", "dup", "second copy"),
    ("file", "dup", "third copy"),
    ("file", "both", "a file"),
    ("dir", "both", ""),
    ("file", "both/inner.py", "x"),
    ("file", "d/" + "long-name-" * 20 + ".py", "a pax path"),
    ("link", "far", "../" * 3 + "x" * 120),
    ("file", "keep.py", "print('kept')\n"),
)


def _tree(root: Path) -> dict[str, str]:
    found = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            found[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            found[rel] = p.read_text(errors="replace")
        else:
            found[rel] = "/"
    return found


def _both_readers(tmp_path: Path, members: tuple[tuple[str, str, str], ...]) -> tuple:
    outcomes = []
    for name, reader in (("tarfile", safe_untar), ("fast", unpack_git_tar)):
        dest = tmp_path / name / "src"
        dest.mkdir(parents=True)
        warnings = reader(_tar(*members), dest)
        outcomes.append((_tree(dest), [w.replace(str(tmp_path / name), "") for w in warnings]))
    return tuple(outcomes)


def test_the_fast_archive_reader_unpacks_a_hostile_archive_as_tarfile_does(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    members = tuple((k, n, d.replace("OUTSIDE", str(outside))) for k, n, d in _HOSTILE_GIT_KINDS)
    by_tarfile, fast = _both_readers(tmp_path, members)
    assert fast == by_tarfile
    tree, warnings = fast
    assert list(outside.iterdir()) == []
    assert tree["keep.py"] == "print('kept')\n" and not tree.get("out", "").startswith("->")
    assert tree["d/" + "long-name-" * 20 + ".py"] == "a pax path"
    assert any("../evil.py: path leaves" in w for w in warnings)


@pytest.mark.parametrize("kind", ["hard", "fifo"])
def test_the_fast_archive_reader_hands_back_entries_git_never_writes(
    tmp_path: Path, kind: str
) -> None:
    with pytest.raises(Unsupported):
        unpack_git_tar(_tar(("file", "a.py", "x"), (kind, "odd", "/etc/passwd")), tmp_path)


def test_the_fast_archive_reader_hands_back_a_cut_archive(tmp_path: Path) -> None:
    whole = _tar(("file", "a.py", "x" * 3000)).getvalue()
    with pytest.raises(Unsupported):
        unpack_git_tar(io.BytesIO(whole[:1500]), tmp_path)


_NAMES = st.sampled_from(["a", "b", "a/b", "b/a", "..", "../a", "a/../..", "/abs", "c d", "é"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.sampled_from(["file", "dir", "link"]), _NAMES, _NAMES),
        min_size=1,
        max_size=8,
    )
)
def test_the_fast_archive_reader_agrees_with_tarfile_on_any_git_kinds(
    tmp_path_factory: pytest.TempPathFactory, members: list[tuple[str, str, str]]
) -> None:
    tmp_path = tmp_path_factory.mktemp("fuzz")
    by_tarfile, fast = _both_readers(tmp_path, tuple(members))
    assert fast == by_tarfile


def test_crafted_git_tree_with_a_link_and_a_folder_of_one_name(tmp_path: Path) -> None:
    # git fsck would reject this tree, but nothing runs fsck when a mirror is cloned
    repo = tmp_path / "crafted"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)

    def obj(*args: str, stdin: str) -> str:
        import subprocess

        out = subprocess.run(
            ["git", *args], cwd=repo, input=stdin, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()

    outside = tmp_path / "outside"
    outside.mkdir()
    code = obj("hash-object", "-w", "--stdin", stdin="import os\n")
    sub = obj("mktree", stdin=f"100644 blob {code}\tx.py\n")
    link = obj("hash-object", "-w", "--stdin", stdin=str(outside))
    tree = obj("mktree", stdin=f"120000 blob {link}\tl\n040000 tree {sub}\tl\n")
    commit = obj("commit-tree", tree, "-m", "crafted", stdin="")
    git("update-ref", "refs/heads/main", commit, cwd=repo)
    checkout = fetch(parse_source(str(repo)), tmp_path / "w")
    assert list(outside.iterdir()) == []
    assert (checkout.path / "l" / "x.py").is_file() and not (checkout.path / "l").is_symlink()
    assert any("symlink l" in w for w in checkout.warnings)


def test_submodule_only_repository_says_so(tmp_path: Path, github: FakeGitHub) -> None:
    lib = tmp_path / "lib-src"
    lib.mkdir()
    (lib / "model.py").write_text("import numpy\n")
    make_repo(lib, tmp_path / "lib")
    outer = tmp_path / "outer"
    outer.mkdir()
    git("init", "-q", "-b", "main", cwd=outer)
    git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(tmp_path / "lib"),
        "vendor/lib", cwd=outer)  # fmt: skip
    git("commit", "-q", "-m", "only a submodule", cwd=outer)
    for spec in (str(outer), _publish_bare(github, outer, "subs-only")):
        code, out = _inspect(spec)
        assert code == 2, out
        assert "submodule(s) not fetched: vendor/lib" in out
        assert "repro: error: no Python code, notebooks or requirement files found" in out
        assert "Traceback" not in out
