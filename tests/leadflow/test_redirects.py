"""Redirect targets as browsers read them, against a corpus of known open-redirect bypasses."""

import pytest

from leadflow.redirects import RedirectError, allowed_redirect, browser_target

HOSTS = ("www.example.com", "bücher.example")

# Payloads from open-redirect bypass lists (PayloadsAllTheThings, PortSwigger's URL validation
# bypass cheat sheet, HackerOne reports): every one must be refused when only www.example.com
# and bücher.example are allowed.
BYPASSES = [
    "https://evil.com\\@www.example.com",
    "https://evil.com\\.www.example.com",
    "https://www.example.com\\@evil.com",
    "https:/\\evil.com",
    "https:\\\\evil.com",
    "/\\evil.com",
    "//evil.com",
    "///evil.com",
    "////evil.com/",
    "\\\\evil.com",
    "https:evil.com",
    "https:/evil.com",
    "https:///evil.com",
    "https://www.example.com@evil.com",
    "https://www.example.com:443@evil.com",
    "https://user:pass@www.example.com/",
    "https://@www.example.com",
    "https://evil.com#@www.example.com",
    "https://evil.com?@www.example.com",
    "https://evil.com/www.example.com",
    "https://www.example.com.evil.com",
    "https://evil.com%2f@www.example.com",
    "https://evil%2ecom",
    "https://www.example.com%2eevil.com",
    "https://%77ww.example.com",
    "https://www.example.com%00.evil.com",
    "https://www.example.com\x00.evil.com",
    "https://ｅｖｉｌ.com",
    "https://evil。com",
    "https://www.exаmple.com/",  # Cyrillic a
    "https://evil.com\u2044@www.example.com",
    "https://www.example.com\u200b/",
    "https://www.example.com\u202e/",
    "\thttps://evil.com",
    "https://evil.com\t@www.example.com",
    "ht\ttps://evil.com",
    "https://www.example.com\r\nSet-Cookie: x=1",
    "https://www.example.com/\r\nLocation: https://evil.com",
    "https://www.example.com/\n",
    " https://www.example.com/",
    "https://www.example.com /",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.domain)//https://www.example.com",
    "data:text/html,<script>alert(1)</script>",
    "ftp://www.example.com/",
    "file:///etc/passwd",
    "http://[",
    "http://[::1",
    "http://[evil.com]",
    "https://www.example.com:",
    "https://www.example.com:0/",
    "https://www.example.com:65536/",
    "https://www.example.com:80x/",
    "https://www.example.com:８０/",
    "http://0x7f.1/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "https://www.example.com..",
    "https://.www.example.com",
    "https://www.example.com./",
    "https://www_example.com",
    "https://xn--.com",
    "",
    "/relative/path",
    "?next=https://evil.com",
]


@pytest.mark.parametrize("payload", BYPASSES)
def test_known_bypasses_are_refused(payload):
    with pytest.raises(RedirectError):
        allowed_redirect(payload, HOSTS)


@pytest.mark.parametrize("url, expected", [
    ("https://www.example.com/thanks", "https://www.example.com/thanks"),
    ("HTTPS://WWW.Example.COM/Thanks?a=1&b=@x#frag", "https://www.example.com/Thanks?a=1&b=@x#frag"),
    ("https://www.example.com", "https://www.example.com/"),
    ("https://www.example.com:8443/x", "https://www.example.com:8443/x"),
    ("https://www.example.com/@evil.com", "https://www.example.com/@evil.com"),
    ("https://www.example.com/danke/für-sie", "https://www.example.com/danke/f%C3%BCr-sie"),
    ("https://bücher.example/", "https://xn--bcher-kva.example/"),
    ("https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/"),
])
def test_plain_urls_pass_normalized(url, expected):
    assert allowed_redirect(url, HOSTS).url == expected


def test_the_host_is_the_one_a_browser_visits():
    target = browser_target("https://[::1]:8080/x")
    assert (target.scheme, target.host, target.port) == ("https", "[::1]", 8080)
    assert browser_target("http://10.0.0.1/").host == "10.0.0.1"
    with pytest.raises(RedirectError, match="backslash"):
        browser_target("https://evil.com\\@www.example.com")
    with pytest.raises(RedirectError, match="not in LEADFLOW_FORM_REDIRECT_HOSTS"):
        allowed_redirect("https://evil.com/", HOSTS)
