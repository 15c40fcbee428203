"""Tracking and one-click unsubscribe, added to every email the same way whatever the provider.

Every message is tied to its action (``message_id = action_id``), which is how the worker knows which program
email an open or a click answers:

- an open pixel (``links.pixel_url``) before ``</body>``;
- every ``http(s)`` link of the HTML part (``<a href>``, ``<area href>``) and of the text part rewritten to a signed
  click link (``links.click_url``); ``mailto:``, ``tel:``, anchors, the unsubscribe link and links already pointing
  at the collector's ``/t/`` are left alone, and so is a target ``click_url`` refuses (it is sent as written);
- an unsubscribe footer in each part that does not already show ``{{ unsubscribe_url }}``;
- the headers ``List-Unsubscribe: <https://.../t/u?...>`` and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
  (RFC 8058: mailbox providers show an unsubscribe button and POST to it) and ``X-Leadflow-Action-Id``.

Links in HTML are found with the standard library's HTML parser (comments, scripts and odd quoting are its
problem) and replaced in place, only where the attribute text read back gives the same URL the parser saw.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass, field
from functools import cached_property
from html.parser import HTMLParser
from typing import Callable

from connectors.actions.email.message import ACTION_ID_HEADER, LIST_UNSUBSCRIBE, LIST_UNSUBSCRIBE_POST, ONE_CLICK
from connectors.actions.email.render import Rendered
from leadflow import signed_links as signed

_TAG_NAME = re.compile(r"<[A-Za-z][^\s/>]*")
_ATTRIBUTE = re.compile(r"""(?:\s|/(?!>))*([^\s/>=][^\s/>=]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>"'][^\s>]*))?""")
_TEXT_URL = re.compile(r"(?i)\bhttps?://[^\s<>\"'`]+")
_TRAILING = ".,;:!?'\"*_"
_HTTP = re.compile(r"(?i)https?://")
_BODY_END = "</body"


@dataclass(frozen=True)
class Links:
    """The signed links of one message to one recipient."""

    base_url: str
    secret: str
    email: str
    message_id: str  # the action_id
    ttl_days: int = 365
    now_s: float | None = None
    _clicks: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def unsubscribe(self) -> str:
        return signed.unsubscribe_url(self.base_url, self.secret, self.email, self.message_id)

    @cached_property
    def pixel(self) -> str:
        return signed.pixel_url(self.base_url, self.secret, self.email, self.message_id)

    def ours(self, url: str) -> bool:
        """A link to the collector's tracking endpoints (the unsubscribe link, an already tracked link)."""
        return url.strip().startswith(f"{self.base_url.rstrip('/')}/t/")

    def click(self, url: str) -> str | None:
        """The tracked link for ``url``; None to leave it as written (not http(s), ours, or refused as a target)."""
        if not _HTTP.match(url.strip()) or self.ours(url):
            return None
        if url not in self._clicks:
            try:
                self._clicks[url] = signed.click_url(self.base_url, self.secret, self.email, url.strip(),
                                                     self.message_id, self.ttl_days, self.now_s)
            except ValueError:  # LinkError: a target browsers and Python would read differently is not signed
                self._clicks[url] = None
        return self._clicks[url]


@dataclass(frozen=True)
class Tracked:
    text: str
    html: str | None
    headers: dict[str, str]


def track(rendered: Rendered, links: Links) -> Tracked:
    text = rewrite_text_links(rendered.text, links.click)
    if links.unsubscribe not in text:
        text = f"{text.rstrip()}\n\n--\nUnsubscribe: {links.unsubscribe}\n"
    page = None
    if rendered.html is not None:
        page = rewrite_html_links(rendered.html, links.click)
        if links.unsubscribe not in page and html_lib.escape(links.unsubscribe) not in page:
            page = _before_body_end(page, _footer(links.unsubscribe))
        page = _before_body_end(page, _pixel(links.pixel))
    headers = {LIST_UNSUBSCRIBE: f"<{links.unsubscribe}>", LIST_UNSUBSCRIBE_POST: ONE_CLICK,
               ACTION_ID_HEADER: links.message_id}
    return Tracked(text=text, html=page, headers=headers)


def rewrite_text_links(text: str, rewrite: Callable[[str], str | None]) -> str:
    """Every http(s) URL in plain text through ``rewrite`` (None keeps it); trailing punctuation stays outside."""

    def one(match: re.Match[str]) -> str:
        url, tail = _split_trailing(match.group())
        return (rewrite(url) or url) + tail

    return _TEXT_URL.sub(one, text)


def rewrite_html_links(page: str, rewrite: Callable[[str], str | None]) -> str:
    """Every ``href`` of ``<a>`` and ``<area>`` through ``rewrite`` (None keeps it), replaced in place."""
    finder = _Hrefs()
    finder.feed(page)
    finder.close()
    line_starts = [0, *(newline.end() for newline in re.finditer("\n", page))]
    edits: list[tuple[int, int, str]] = []
    for line, column, raw, href in finder.found:
        start = line_starts[line - 1] + column
        if page[start:start + len(raw)] != raw:
            continue  # the parser's position does not point at its tag text: leave this link alone
        span = _href_value_span(raw, href)
        new = rewrite(href) if span is not None else None
        if span is not None and new is not None:
            edits.append((start + span[0], start + span[1], f'"{html_lib.escape(new, quote=True)}"'))
    pieces, done = [], 0
    for begin, end, replacement in edits:  # in document order
        pieces += [page[done:begin], replacement]
        done = end
    return "".join(pieces) + page[done:]


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, int, str, str]] = []  # line, column, raw start tag, href as browsers read it

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("a", "area"):
            return
        href = next((value for name, value in attrs if name == "href"), None)  # the first one, as browsers do
        raw = self.get_starttag_text()
        if href is not None and raw is not None:
            line, column = self.getpos()
            self.found.append((line, column, raw, href))


def _href_value_span(raw: str, href: str) -> tuple[int, int] | None:
    """Where the first href's value (quotes included) is in the raw tag, if it reads back as ``href``."""
    name = _TAG_NAME.match(raw)
    if name is None:
        return None
    position = name.end()
    while (attribute := _ATTRIBUTE.match(raw, position)) is not None and attribute.end() > position:
        position = attribute.end()
        if attribute.group(1).lower() != "href":
            continue
        value = attribute.group(2)
        if value is None:
            return None
        unquoted = value[1:-1] if value[:1] in "\"'" and len(value) > 1 else value
        return attribute.span(2) if html_lib.unescape(unquoted) == href else None
    return None


def _split_trailing(url: str) -> tuple[str, str]:
    end = len(url)
    while end > 0:
        last = url[end - 1]
        closing = {")": "(", "]": "[", "}": "{"}.get(last)
        if last in _TRAILING or (closing and url[:end].count(closing) < url[:end].count(last)):
            end -= 1
            continue
        break
    return url[:end], url[end:]


def _before_body_end(page: str, snippet: str) -> str:
    at = page.lower().rfind(_BODY_END)
    return page + snippet if at < 0 else page[:at] + snippet + page[at:]


def _footer(unsubscribe: str) -> str:
    return (f'<p style="font-size:12px;color:#666666">Don\'t want these emails? '
            f'<a href="{html_lib.escape(unsubscribe, quote=True)}">Unsubscribe</a>.</p>')


def _pixel(pixel: str) -> str:
    return (f'<img src="{html_lib.escape(pixel, quote=True)}" width="1" height="1" alt="" '
            f'style="display:block;border:0;width:1px;height:1px">')
