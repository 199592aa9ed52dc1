"""Every relative link of the README, CONTRIBUTING.md and docs/ leads somewhere.

A link names a file or folder of this repository that exists and, after a ``#``, a heading
of that page (its anchor spelt as GitHub spells it). Links inside code are not links; links
to other sites are not checked here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.processes import ROOT

DOCUMENTS = sorted(
    [
        ROOT / "README.md",
        ROOT / "CONTRIBUTING.md",
        ROOT / "examples" / "portal" / "README.md",
        *(ROOT / "docs").glob("*.md"),
    ]
)
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def prose_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The lines outside fenced code blocks, with inline code spans blanked out."""
    fenced = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, INLINE_CODE.sub(lambda span: " " * len(span[0]), line)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text as rendered, lower case, punctuation dropped
    (letters, digits, ``_`` and ``-`` stay), each space a hyphen."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").replace("*", "")
    text = text.lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    fenced = False
    for line in path.read_text().splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match is None:
            continue
        base = slug(match[2])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def links(path: Path) -> Iterator[tuple[int, str]]:
    for number, line in prose_lines(path):
        for match in LINK.finditer(line):
            yield number, match[1]


def problem_of(document: Path, target: str, root: Path = ROOT) -> str | None:
    """Why this link leads nowhere, or None when it resolves."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
        return None
    path_part, _, anchor = target.partition("#")
    destination = (document.parent / unquote(path_part)).resolve() if path_part else document
    if not destination.exists():
        return f"{path_part} does not exist"
    if root.resolve() not in (destination, *destination.parents):
        return f"{path_part} is outside the repository"
    if anchor:
        if destination.suffix != ".md":
            return f"#{anchor} points into {destination.name}, which is not a Markdown page"
        if unquote(anchor) not in anchors(destination):
            return f"{destination.name} has no heading #{anchor}"
    return None


def test_the_documents_are_there() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in DOCUMENTS}
    assert {"README.md", "CONTRIBUTING.md", "docs/README.md", "docs/settings.md"} <= names


def test_slugs_are_githubs() -> None:
    assert slug("A login, step by step") == "a-login-step-by-step"
    assert slug("The end user's browser: `client`") == "the-end-users-browser-client"
    assert slug("Audit trail, support actions and webhooks") == (
        "audit-trail-support-actions-and-webhooks"
    )
    assert slug("Redis away: fast, honest failure") == "redis-away-fast-honest-failure"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(document: Path) -> None:
    broken = [
        f"{document.relative_to(ROOT)}:{number}: ({target}) {problem}"
        for number, target in links(document)
        if (problem := problem_of(document, target)) is not None
    ]
    assert not broken, "\n".join(broken)


def test_a_broken_link_is_caught(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n## A section\n\n[ok](#a-section) [gone](missing.md)\n")
    assert problem_of(page, "#a-section", tmp_path) is None
    assert problem_of(page, "missing.md", tmp_path) == "missing.md does not exist"
    assert problem_of(page, "#no-such-section", tmp_path) == (
        "page.md has no heading #no-such-section"
    )
    assert problem_of(page, "../elsewhere", tmp_path / "x") is not None
