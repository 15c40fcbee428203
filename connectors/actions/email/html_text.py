"""The plain-text part and the subject of a template that has only an HTML part.

Why: every email leaves with a text part (spam filters weigh HTML-only mail, some readers show only text), and a
template written as ``<name>.html`` alone should still send. Read with the standard library's HTML parser: the
visible text in reading order, block elements as line breaks, a link as ``label (url)`` so the text part keeps its
targets (tracking then signs them like any other link).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
                     "blockquote", "hr", "section", "article", "header", "footer", "pre"})
_HIDDEN = frozenset({"script", "style", "head", "title", "template"})
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.title: list[str] = []
        self.hidden = 0
        self.in_title = False
        self.links: list[tuple[str | None, int]] = []  # href, where its label starts in out

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
            self.in_title = self.in_title or tag == "title"
        elif tag in _BLOCKS:
            self.out.append("\n\n" if tag == "p" else "\n")
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), len(self.out)))

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
            self.in_title = self.in_title and tag != "title"
        elif tag in _BLOCKS:
            self.out.append("\n")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.out[start:]).strip()
            if href and re.match(r"(?i)\s*https?://", href) and href.strip() != label:
                self.out.append(f" ({href.strip()})" if label else href.strip())

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        if not self.hidden:
            self.out.append(data)


def _read(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return parser


def html_to_text(html: str) -> str:
    """The readable text of an HTML part."""
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(_read(html).out).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip() + "\n"


def title_of(html: str) -> str | None:
    """The ``<title>`` of an HTML part, whitespace collapsed; None when it has none."""
    title = " ".join("".join(_read(html).title).split())
    return title or None
