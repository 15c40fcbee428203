"""Tracking: every link signed and verifiable by the collector, the open pixel, the unsubscribe footer and the
RFC 8058 headers; tricky HTML read as browsers read it, and nothing that should stay as written touched."""

import re
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import pytest

from connectors.actions.email.render import Rendered
from connectors.actions.email.tracking import Links, rewrite_html_links, track
from leadflow import signed_links as links
from leadflow.redirects import browser_target
from streams.core.identity import prospect_id_for

SECRET = "test-link-secret-0123456789"
BASE = "https://c.example.com"
ACTION = "0d5e3c56-8f1a-5b2e-9c4d-2a6b7c8d9e0f"
NOW = 1_767_225_600.0


def signer(**changes):
    return Links(**{"base_url": BASE, "secret": SECRET, "email": "ann@example.com", "message_id": ACTION,
                    "ttl_days": 365, "now_s": NOW, **changes})


class Collect(HTMLParser):
    """The hrefs and img srcs as a browser reads them."""

    def __init__(self, page):
        super().__init__(convert_charrefs=True)
        self.hrefs, self.images = [], []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        href = next((value for name, value in attrs if name == "href"), None)  # the first, as browsers do
        if tag in ("a", "area") and href is not None:
            self.hrefs.append(href)
        if tag == "img":
            self.images.append(dict(attrs))


def params(url):
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def clicked(url):
    """Where a tracked link sends the reader, after the collector checked its signature."""
    assert url.startswith(f"{BASE}/t/c?"), url
    verified = links.verify_click(SECRET, params(url), now_s=NOW + 60)
    assert verified.prospect_id == prospect_id_for("ann@example.com") and verified.message_id == ACTION
    return verified.url


TRICKY = """<html><head><title>t</title></head><body>
<!-- <a href="https://example.com/in-a-comment">not a link</a> -->
<a href="https://example.com/plain">plain</a>
<A HREF='https://example.com/single?x=1&amp;y=2'>single quotes, uppercase, an entity</A>
<a class=btn href=https://example.com/unquoted>unquoted</a>
<a title='href="https://wrong.example.com/"' data-href="https://wrong.example.com/" href="https://example.com/after">
  an href inside another attribute's value</a>
<a href="https://example.com/first" href="https://example.com/second">two hrefs: browsers take the first</a>
<area shape="rect" coords="0,0,1,1" href="http://example.com/area">
<a href="mailto:sales@example.com">mail</a> <a href="tel:+4930123">call</a> <a href="#top">top</a>
<a href="/relative">relative</a> <a name="anchor">no href</a>
<a href="https://example.com/caf&eacute;?q=&quot;x&quot;">entities</a>
<a href="https://ann@evil.example.com/">refused as a target</a>
<a href="https://c.example.com/t/c?u=https%3A%2F%2Fexample.com&amp;s=old">already tracked</a>
<script>var s = '<a href="https://example.com/in-a-script">';</script>
</body></html>"""


def test_every_http_link_in_tricky_html_becomes_a_signed_click_to_the_same_target():
    page = track(Rendered("s", "text\n", TRICKY), signer()).html
    hrefs = Collect(page).hrefs
    tracked = [clicked(h) for h in hrefs if h.startswith(f"{BASE}/t/c?") and "s=old" not in h]
    assert tracked == ["https://example.com/plain", "https://example.com/single?x=1&y=2",
                       "https://example.com/unquoted", "https://example.com/after", "https://example.com/first",
                       "http://example.com/area", browser_target('https://example.com/café?q="x"').url]
    untouched = [h for h in hrefs if not h.startswith(f"{BASE}/t/c?") or "s=old" in h]
    assert untouched == ["mailto:sales@example.com", "tel:+4930123", "#top", "/relative",
                         "https://ann@evil.example.com/", "https://c.example.com/t/c?u=https%3A%2F%2Fexample.com&s=old",
                         links.unsubscribe_url(BASE, SECRET, "ann@example.com", ACTION)]  # the footer's
    assert "https://example.com/in-a-comment" in page and "https://example.com/in-a-script" in page
    assert 'title=\'href="https://wrong.example.com/"\' data-href="https://wrong.example.com/"' in page


def test_the_pixel_is_signed_for_this_message_and_sits_before_the_body_end():
    page = track(Rendered("s", "text\n", "<html><body><p>hi</p></body></html>"), signer()).html
    [image] = Collect(page).images
    assert image["alt"] == "" and image["width"] == "1" and image["height"] == "1"
    verified = links.verify_pixel(SECRET, params(image["src"]))
    assert (verified.type, verified.message_id, verified.prospect_id) == \
        ("email.opened", ACTION, prospect_id_for("ann@example.com"))
    assert page.endswith('style="display:block;border:0;width:1px;height:1px"></body></html>')
    no_body = track(Rendered("s", "t\n", "<p>fragment</p>"), signer()).html
    assert no_body.startswith("<p>fragment</p><p") and no_body.endswith('height:1px">')


def test_links_in_the_text_part_are_tracked_with_punctuation_left_outside():
    text = ("Read the guide: https://example.com/guide.\n(See https://example.com/a_(b)) and "
            "<https://example.com/angle>, mailto:x@example.com, ftp://example.com/f\n")
    tracked = track(Rendered("s", text, None), signer()).text
    urls = re.findall(r"https://c\.example\.com/t/c\?[^\s<>()]+[^\s<>().,]", tracked)
    assert [clicked(u) for u in urls] == ["https://example.com/guide", "https://example.com/a_(b)",
                                          "https://example.com/angle"]
    assert "/guide.\n" not in tracked and re.search(r"s=[\w-]+\.\n", tracked)  # the full stop stays a full stop
    assert "mailto:x@example.com, ftp://example.com/f" in tracked


def test_the_unsubscribe_footer_and_headers_verify_with_the_collector():
    mail = track(Rendered("s", "Hello\n", "<html><body><p>Hello</p></body></html>"), signer())
    unsubscribe = links.unsubscribe_url(BASE, SECRET, "ann@example.com", ACTION)
    assert mail.headers == {"List-Unsubscribe": f"<{unsubscribe}>",
                            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "X-Leadflow-Action-Id": ACTION}
    verified = links.verify_unsubscribe(SECRET, params(mail.headers["List-Unsubscribe"][1:-1]))
    assert (verified.prospect_id, verified.message_id) == (prospect_id_for("ann@example.com"), ACTION)
    assert mail.text == f"Hello\n\n--\nUnsubscribe: {unsubscribe}\n"
    assert Collect(mail.html).hrefs == [unsubscribe]


def test_a_template_that_places_the_unsubscribe_link_gets_no_second_one():
    unsubscribe = links.unsubscribe_url(BASE, SECRET, "ann@example.com", ACTION)
    escaped = unsubscribe.replace("&", "&amp;")  # as autoescape writes it into the HTML
    mail = track(Rendered("s", f"Bye: {unsubscribe}\n",
                          f'<body><a href="{escaped}">Unsubscribe</a></body>'), signer())
    assert mail.text == f"Bye: {unsubscribe}\n"  # neither tracked nor repeated
    assert Collect(mail.html).hrefs == [unsubscribe]


def test_a_target_click_url_refuses_stays_as_written_and_nothing_raises():
    odd = ["https://exa mple.com/", "https://example.com\\@evil.test/", "http://[::1", "https://%65vil.test/",
           "https://example.com:99999/", "HTTPS:example.com"]
    page = "".join(f'<a href="{u}">x</a>' for u in odd)
    assert Collect(rewrite_html_links(page, signer().click)).hrefs == odd


def test_text_only_emails_get_no_pixel_and_each_target_is_signed_once():
    calls = []
    links_ = signer()
    original = links_.click

    def counting(url):
        calls.append(url)
        return original(url)

    rewritten = rewrite_html_links('<a href="https://example.com/x">1</a><a href="https://example.com/x">2</a>',
                                   counting)
    hrefs = Collect(rewritten).hrefs
    assert len(calls) == 2 and hrefs[0] == hrefs[1] and len(links_._clicks) == 1
    assert track(Rendered("s", "t\n", None), signer()).html is None


@pytest.mark.parametrize("page", ["", "<a>", "<a href>x</a>", "<a href=>x</a>", "<a href='unterminated>x</a>",
                                  "<<a href=\"https://example.com/\">", "</body>"])
def test_malformed_html_never_crashes(page):
    track(Rendered("s", "t\n", page), signer())
