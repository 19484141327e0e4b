"""Every relative link in the repository's Markdown files leads somewhere.

The documentation is split over several files next to the code they describe (the README links them
all), so a moved or renamed file, or a renamed heading, would leave links that lead nowhere. A link
to a path must name an existing file or folder; a link with a fragment into a Markdown file must name
one of its headings, as GitHub derives heading anchors. External links (with a scheme) are not
fetched.
"""

from __future__ import annotations

import os
import re
from itertools import pairwise
from pathlib import Path
from urllib.parse import unquote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {"node_modules"}  # plus every hidden folder: .git, .venv, .local (downloads, builds)
PARSER = MarkdownIt("commonmark").enable("table")


def markdown_files(root: Path) -> list[Path]:
    """The project's own Markdown files: none under hidden folders (.local, .venv) or node_modules,
    which are not even walked (.local holds build caches of gigabytes)."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS]
        found.extend(Path(folder) / name for name in files if name.endswith(".md"))
    return sorted(found)


def _inline_text(token: Token) -> str:
    return "".join(child.content for child in token.children or [] if child.type in {"text", "code_inline"})


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text (lower case, punctuation dropped,
    spaces to hyphens, a repeated heading numbered), plus explicit HTML ``id``/``name`` anchors."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    tokens = PARSER.parse(text)
    for opening, inline in pairwise(tokens):
        if opening.type != "heading_open":
            continue
        slug = re.sub(r"[^\w\- ]", "", _inline_text(inline).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    found.update(re.findall(r"""<a\s[^>]*(?:id|name)=["']([^"']+)["']""", text))
    return found


def links(text: str) -> list[str]:
    """The targets of every link and image of a Markdown text (code blocks and spans hold none)."""
    targets = []
    for token in PARSER.parse(text):
        for child in token.children or []:
            if child.type == "link_open":
                targets.append(str(child.attrs.get("href", "")))
            elif child.type == "image":
                targets.append(str(child.attrs.get("src", "")))
    return targets


def broken_links(root: Path) -> list[str]:
    """Each relative link of the Markdown files under ``root`` that leads nowhere, as ``file: link (why)``."""
    problems = []
    for source in markdown_files(root):
        text = source.read_text(encoding="utf-8")
        for target in links(text):
            parts = urlsplit(target)
            if parts.scheme or parts.netloc:
                continue  # external: not fetched
            where = source.relative_to(root)
            path = source.parent / unquote(parts.path) if parts.path else source
            if not path.exists():
                problems.append(f"{where}: {target} (no such file)")
            elif (
                parts.fragment
                and path.is_file()
                and path.suffix == ".md"
                and unquote(parts.fragment) not in anchors(path.read_text(encoding="utf-8"))
            ):
                problems.append(f"{where}: {target} (no such heading)")
    return problems


def test_every_relative_link_resolves() -> None:
    assert len(markdown_files(ROOT)) > 1  # the README and the documents it links
    assert broken_links(ROOT) == []


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    """The check itself: a missing file, a missing heading, and links that are fine."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## Topic classes: replication, retention\n")
    (tmp_path / "README.md").write_text(
        "# Title\n\n"
        "[ok](docs/guide.md) [ok](docs/guide.md#topic-classes-replication-retention) [ok](docs) [ok](#title)\n"
        "[gone](docs/moved.md) [stale](docs/guide.md#topic-classes) [external](https://example.org/x.md)\n\n"
        "```\n[not a link](nowhere.md)\n```\n"
    )
    assert broken_links(tmp_path) == [
        "README.md: docs/moved.md (no such file)",
        "README.md: docs/guide.md#topic-classes (no such heading)",
    ]
