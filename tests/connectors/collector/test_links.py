from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.collector.links import LinkError, click_url, pixel_url, verify_click, verify_pixel
from streams.core.identity import prospect_id_for

SECRET = "unit-test-secret-0123456789"


def params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_click_round_trip_and_no_email_in_the_url():
    url = click_url("https://t.example.com", SECRET, "Ann@Example.com", "https://a.io/pricing?x=1", "m1",
                    ttl_days=1, now_s=1000)
    assert "ann" not in url.lower().replace("https://a.io", "")
    link = verify_click(SECRET, params(url), now_s=1000 + 3600)
    assert (link.prospect_id, link.message_id, link.url) == (prospect_id_for("ann@example.com"), "m1",
                                                             "https://a.io/pricing?x=1")


@pytest.mark.parametrize("change, reason", [
    (lambda p: {**p, "u": "https://evil.example.com"}, "does not match"),
    (lambda p: {**p, "p": "p_someone_else"}, "does not match"),
    (lambda p: {k: v for k, v in p.items() if k != "s"}, "missing"),
    (lambda p: {**p, "s": "A" * 22}, "does not match"),
])
def test_tampered_or_unsigned_clicks_are_refused(change, reason):
    good = params(click_url("https://t", SECRET, "a@b.io", "https://a.io/", now_s=0))
    with pytest.raises(LinkError, match=reason):
        verify_click(SECRET, change(good), now_s=1)


def test_expired_click_is_refused():
    good = params(click_url("https://t", SECRET, "a@b.io", "https://a.io/", ttl_days=1, now_s=0))
    with pytest.raises(LinkError, match="expired"):
        verify_click(SECRET, good, now_s=2 * 86400)


@pytest.mark.parametrize("target", ["javascript:alert(1)", "//evil.example.com", "/relative", "ftp://x/y"])
def test_only_absolute_http_targets_can_be_signed(target):
    with pytest.raises(LinkError):
        click_url("https://t", SECRET, "a@b.io", target)


def test_pixel_signature_covers_prospect_and_message():
    good = params(pixel_url("https://t", SECRET, "a@b.io", "m1", campaign="spring"))
    assert verify_pixel(SECRET, good).message_id == "m1"
    assert verify_pixel(SECRET, {**good, "c": "other"}).prospect_id == prospect_id_for("a@b.io")
    with pytest.raises(LinkError):
        verify_pixel(SECRET, {**good, "m": "m2"})
    with pytest.raises(LinkError):
        verify_pixel("another-secret-0123456789", good)
