import pytest

from connectors.collector.thanks import DEFAULT_THANKS, prefers_html, thank_you_page

CHROME = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.mark.parametrize("accept, html", [
    (CHROME, True),
    ("text/html", True),
    ("application/json", False),
    ("*/*", False),  # curl, fetch(), most HTTP libraries: a tie goes to JSON
    (None, False),
    ("application/json, text/html;q=0.5", False),
    ("text/*, application/json;q=0.1", True),
    ("text/html;q=bogus, application/json;q=0.1", False),
])
def test_browsers_are_told_apart_from_api_clients(accept, html):
    assert prefers_html(accept) is html


def test_the_page_escapes_what_was_posted():
    page = thank_you_page(DEFAULT_THANKS, '<script>alert("x")</script>', "demo", 'https://a.io/p?"><b>')
    assert "<script>alert" not in page and "&lt;script&gt;alert(&quot;x&quot;)" in page
    assert 'href="https://a.io/p?&quot;&gt;&lt;b&gt;"' in page


def test_no_name_no_greeting_and_only_web_urls_to_go_back_to():
    page = thank_you_page(DEFAULT_THANKS, None, "demo", "javascript:alert(1)")
    assert "Thank you!" in page and "javascript:alert" not in page


@pytest.mark.parametrize("referer", ["http://[", "https://evil.example\\@www.example.com/", "https://a.io/\x00"])
def test_a_referer_no_browser_would_follow_gives_no_back_link(referer):
    page = thank_you_page(DEFAULT_THANKS, None, "demo", referer)  # `http://[` raised ValueError (a 5xx) before
    assert "javascript:history.back()" in page and "evil" not in page and "\x00" not in page
