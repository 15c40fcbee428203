from urllib.parse import parse_qs, urlsplit

import pytest

from leadflow.signed_links import (LEGACY_PIXEL_SIGNED, SIGNATURE_PARAM, LinkError, click_url, pixel_url,
                                   signature, verify_click, verify_pixel)
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


@pytest.mark.parametrize("target", ["javascript:alert(1)", "//evil.example.com", "/relative", "ftp://x/y",
                                    "https://evil.com\\@a.io/", "https://a.io@evil.com/", "http://[",
                                    "https://a.io/\r\nSet-Cookie: x=1", "https:evil.com", "https://evil%2ecom/"])
def test_only_unambiguous_absolute_http_targets_can_be_signed(target):
    with pytest.raises(LinkError, match="target"):
        click_url("https://t", SECRET, "a@b.io", target)


def test_an_ambiguous_target_is_not_followed_even_when_signed():
    """A link signed before targets were checked (or by a buggy signer) is refused at redirect time."""
    signed = {"u": "https://evil.com\\@a.io/", "p": "p_1", "x": "9999999999"}
    signed[SIGNATURE_PARAM] = signature(SECRET, signed, ("u", "p", "m", "x"))
    with pytest.raises(LinkError, match="backslash"):
        verify_click(SECRET, signed, now_s=0)


def test_pixel_signature_binds_prospect_message_type_and_campaign():
    good = params(pixel_url("https://t", SECRET, "a@b.io", "m1", campaign="spring"))
    link = verify_pixel(SECRET, good)
    assert (link.message_id, link.type, link.campaign, link.legacy) == ("m1", "email.opened", "spring", False)
    for change in ({"m": "m2"}, {"c": "other"}, {"e": "page.viewed"}, {"p": "p_other"}):
        with pytest.raises(LinkError, match="does not match"):
            verify_pixel(SECRET, {**good, **change})
    with pytest.raises(LinkError):
        verify_pixel("another-secret-0123456789", good)


def test_old_format_pixels_in_sent_emails_still_count_as_opens_only():
    old = {"e": "email.opened", "p": prospect_id_for("a@b.io"), "m": "m1", "c": "spring"}
    old[SIGNATURE_PARAM] = signature(SECRET, old, LEGACY_PIXEL_SIGNED)
    link = verify_pixel(SECRET, old)
    assert (link.prospect_id, link.message_id, link.type, link.legacy) == (old["p"], "m1", "email.opened", True)
    with pytest.raises(LinkError, match="opens only"):
        verify_pixel(SECRET, {**old, "e": "page.viewed", "u": "https://a.io/pricing"})
    with pytest.raises(LinkError, match="does not match"):
        verify_pixel(SECRET, {**old, "m": "m2"})
