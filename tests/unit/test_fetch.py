from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from repro.errors import SourceError, UsageError
from repro.fetch import fetch, parse_source
from tests.conftest import FakeGitHub, git, make_repo


@pytest.mark.parametrize(
    ("spec", "url", "owner", "name", "ref"),
    [
        ("https://github.com/acme/paper", "https://github.com/acme/paper", "acme", "paper", None),
        (
            "https://github.com/acme/paper.git",
            "https://github.com/acme/paper",
            "acme",
            "paper",
            None,
        ),
        (
            "https://github.com/acme/paper/tree/v1.2",
            "https://github.com/acme/paper",
            "acme",
            "paper",
            "v1.2",
        ),
        ("git@github.com:acme/paper.git", "https://github.com/acme/paper", "acme", "paper", None),
        ("acme/paper", "https://github.com/acme/paper", "acme", "paper", None),
        ("acme/paper@main", "https://github.com/acme/paper", "acme", "paper", "main"),
        (
            "https://gitlab.com/group/sub/proj.git",
            "https://gitlab.com/group/sub/proj.git",
            "sub",
            "proj",
            None,
        ),
        ("https://example.org/x/y.git@v2", "https://example.org/x/y.git", "x", "y", "v2"),
    ],
)
def test_parse_source_forms(spec: str, url: str, owner: str, name: str, ref: str | None) -> None:
    source = parse_source(spec)
    assert (source.url, source.owner, source.name, source.ref) == (url, owner, name, ref)


def test_parse_source_rejects_nonsense() -> None:
    with pytest.raises(SourceError, match="not a git URL"):
        parse_source("not a repo at all")


def test_conflicting_refs_are_a_usage_error() -> None:
    with pytest.raises(UsageError, match="names ref"):
        parse_source("acme/paper@v1", ref="v2")


def test_slug_is_a_valid_image_name() -> None:
    assert parse_source("Acme_Lab/Paper.Code").slug == "acme_lab-paper.code"


def test_fetch_github_url_resolves_commit_and_date(github: FakeGitHub, tmp_path: Path) -> None:
    url, sha = github.publish("paper-cpu")
    checkout = fetch(parse_source(url), tmp_path / "w")
    assert checkout.commit == sha
    assert checkout.commit_date == dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
    assert (checkout.path / "train.py").is_file()
    assert not (checkout.path / ".git").exists()


def test_fetch_reuses_the_clone_cache(github: FakeGitHub, tmp_path: Path) -> None:
    url, _ = github.publish("paper-cpu")
    fetch(parse_source(url), tmp_path / "a")
    # the remote disappears; a pinned commit already in the cache still packs
    sha = fetch(parse_source(url), tmp_path / "b").commit
    for child in sorted(github.root.joinpath("acme").iterdir()):
        child.rename(child.with_name(child.name + "-gone"))
    again = fetch(parse_source(url, ref=sha), tmp_path / "c")
    assert again.commit == sha


def test_unknown_ref_names_the_branches(github: FakeGitHub, tmp_path: Path) -> None:
    url, _ = github.publish("paper-cpu")
    with pytest.raises(SourceError, match=r"ref 'nope' not found .*branches: main"):
        fetch(parse_source(url, ref="nope"), tmp_path / "w")


def test_missing_repository_is_a_source_error(github: FakeGitHub, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"cannot read https://github\.com/acme/missing"):
        fetch(parse_source("https://github.com/acme/missing"), tmp_path / "w")


def test_local_repo_packs_committed_files_and_warns_about_changes(tmp_path: Path) -> None:
    from tests.conftest import FIXTURES

    repo = tmp_path / "repo"
    sha = make_repo(FIXTURES / "paper-cpu", repo)
    (repo / "train.py").write_text("print('edited')\n")
    checkout = fetch(parse_source(str(repo)), tmp_path / "w")
    assert checkout.commit == sha
    assert "edited" not in (checkout.path / "train.py").read_text()
    assert any("uncommitted changes" in w for w in checkout.warnings)


def test_a_clone_missing_objects_is_named_not_blamed_on_an_empty_path(tmp_path: Path) -> None:
    """A repository whose commit cannot be read (a file's object gone: a broken or partial
    clone) is one line naming the commit and git's reason, with a hint, not ' is not
    committed in ...' with no path."""
    from tests.conftest import FIXTURES

    repo = tmp_path / "repo"
    make_repo(FIXTURES / "paper-cpu", repo)
    blob = git("rev-parse", "HEAD:train.py", cwd=repo)
    (repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    with pytest.raises(SourceError) as err:
        fetch(parse_source(str(repo)), tmp_path / "w")
    message = err.value.message
    assert message.startswith("git cannot read commit ") and str(repo) in message
    assert "\n" not in message and "is not committed" not in message
    assert "git fsck" in err.value.hint


def test_local_subdirectory_of_a_repo(tmp_path: Path) -> None:
    from tests.conftest import FIXTURES

    repo = tmp_path / "mono"
    (repo / "papers").mkdir(parents=True)
    import shutil

    shutil.copytree(FIXTURES / "paper-cpu", repo / "papers" / "ridge")
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "x", cwd=repo)
    source = parse_source(str(repo / "papers" / "ridge"))
    assert source.subdir == "papers/ridge"
    checkout = fetch(source, tmp_path / "w")
    assert (checkout.path / "train.py").is_file()


def test_plain_directory_is_named_by_content(tmp_path: Path) -> None:
    d = tmp_path / "plain"
    d.mkdir()
    (d / "main.py").write_text("import numpy\n")
    one = fetch(parse_source(str(d)), tmp_path / "a")
    two = fetch(parse_source(str(d)), tmp_path / "b")
    assert one.commit == two.commit and one.commit.startswith("tree-")
    (d / "main.py").write_text("import scipy\n")
    assert fetch(parse_source(str(d)), tmp_path / "c").commit != one.commit


def test_symlinks_out_of_the_repo_are_not_followed(tmp_path: Path) -> None:
    repo = tmp_path / "evil"
    repo.mkdir()
    (repo / "main.py").write_text("import numpy\n")
    (repo / "secrets").symlink_to("/etc")
    (repo / "passwd").symlink_to("/etc/passwd")
    (repo / "inner").symlink_to("main.py")
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "x", cwd=repo)
    checkout = fetch(parse_source(str(repo)), tmp_path / "w")
    assert not (checkout.path / "secrets").exists()
    assert not (checkout.path / "passwd").exists()
    assert (checkout.path / "inner").is_symlink()
    assert sum("points outside" in w for w in checkout.warnings) == 2
