"""API-signature rules: which versions of a package have an API the code uses (pure).

``repro/data/api_rules.json`` maps qualified names (``tensorflow.contrib``,
``numpy.float``, a call of ``torch.autograd.Variable`` with ``volatile=``) to version
bounds, each with the release notes it comes from. ``repro/scan/api.py`` finds the uses in
code; ``repro/versions.py`` turns them into bounds on the versions it picks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Literal

from repro import datafiles

RuleKind = Literal["name", "call", "call-keyword", "call-without-keyword", "attribute"]


@dataclass(frozen=True, kw_only=True)
class Rule:
    id: str
    package: str  # distribution name
    kind: RuleKind
    paths: tuple[str, ...]  # fully qualified names
    keyword: str = ""  # for call-keyword and call-without-keyword rules
    # call-without-keyword: the call is a use when it passes at most this many positional
    # arguments and not ``keyword`` (``yaml.load(f)`` without a Loader)
    positional: int = 0
    # attribute: ``.NAME`` (one of ``attributes``) of any object, in a file that imports
    # the package's module (``G.nodes_iter()`` with networkx; ``df.ix[...]`` with pandas)
    attributes: tuple[str, ...] = ()
    bound: str  # PEP 440 specifier ("" for a rule that only says ``package`` is needed)
    strength: Literal["hard", "soft"] = "hard"
    why: str
    source: str  # release notes / changelog URL
    # the use needs ``package`` installed though the code never imports it (pandas'
    # read_excel needs openpyxl); ``alternatives``: other distributions that do as well
    needs: bool = False
    alternatives: tuple[str, ...] = ()


@cache
def rules() -> tuple[Rule, ...]:
    data = datafiles.load("api_rules.json")
    return tuple(
        Rule(
            id=r["id"],
            package=r["package"],
            kind=r["kind"],
            paths=tuple(r["paths"]),
            keyword=r.get("keyword", ""),
            positional=int(r.get("positional", 0)),
            attributes=tuple(r.get("attributes", ())),
            bound=r["bound"],
            strength=r.get("strength", "hard"),
            why=r["why"],
            source=r["source"],
            needs=bool(r.get("needs", False)),
            alternatives=tuple(r.get("alternatives", ())),
        )
        for r in data["rules"]
    )


@cache
def by_id() -> dict[str, Rule]:
    return {r.id: r for r in rules()}


@cache
def _index() -> dict[str, tuple[Rule, ...]]:
    """Rules by the top-level module of their paths (the first lookup of every match)."""
    out: dict[str, list[Rule]] = {}
    for rule in rules():
        for top in {p.split(".")[0] for p in rule.paths}:
            out.setdefault(top, []).append(rule)
    return {k: tuple(v) for k, v in out.items()}


def modules() -> frozenset[str]:
    """Top-level modules some rule talks about (a file importing none of them is skipped)."""
    return frozenset(_index())


def _under(name: str, path: str) -> bool:
    return name == path or name.startswith(path + ".")


def match_name(qualified: str) -> list[Rule]:
    """Rules a reference to ``qualified`` (import, attribute, from-import) triggers."""
    top = qualified.split(".")[0]
    return [
        rule
        for rule in _index().get(top, ())
        if rule.kind == "name" and any(_under(qualified, p) for p in rule.paths)
    ]


def match_call(qualified: str, keywords: Iterable[str], positional: int = 0) -> list[Rule]:
    """Rules a call of exactly ``qualified`` with these keyword arguments (and this many
    positional ones) triggers."""
    top = qualified.split(".")[0]
    given = set(keywords)
    out = []
    for rule in _index().get(top, ()):
        if qualified not in rule.paths:
            continue
        if (
            rule.kind == "call"
            or (rule.kind == "call-keyword" and rule.keyword in given)
            or (
                rule.kind == "call-without-keyword"
                and rule.keyword not in given
                and positional <= rule.positional
            )
        ):
            out.append(rule)
    return out


@cache
def attributes() -> dict[str, tuple[Rule, ...]]:
    """Attribute rules by the attribute they look for."""
    out: dict[str, list[Rule]] = {}
    for rule in rules():
        for attribute in rule.attributes if rule.kind == "attribute" else ():
            out.setdefault(attribute, []).append(rule)
    return {k: tuple(v) for k, v in out.items()}


def match_attribute(attribute: str, imported: Iterable[str]) -> list[Rule]:
    """Attribute rules for ``.attribute`` in a file that imports the top-level modules
    ``imported``."""
    found = attributes().get(attribute, ())
    if not found:
        return []
    tops = set(imported)
    return [r for r in found if r.paths[0].split(".")[0] in tops]
