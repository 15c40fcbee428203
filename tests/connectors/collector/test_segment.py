import pytest

from connectors.collector.segment import ItemError, interactions_from_item
from streams.core.identity import prospect_id_for

NOW = 1_700_000_000_000


def test_page_with_email_is_keyed_by_prospect():
    [i] = interactions_from_item({"type": "page", "email": " Ann@Example.COM ", "messageId": "m1",
                                  "properties": {"url": "https://a.io/pricing", "n": 3, "tags": ["x"]}}, NOW)
    assert i.type == "page.viewed" and i.email == "ann@example.com"
    assert i.prospect_key == i.prospect_id == prospect_id_for("ann@example.com")
    assert i.event_id == "api:m1" and i.occurred_at == NOW and i.url == "https://a.io/pricing"
    assert i.properties == {"url": "https://a.io/pricing", "n": "3", "tags": '["x"]'}


def test_track_anonymous_with_timestamp():
    [i] = interactions_from_item({"type": "track", "event": "asset.downloaded", "anonymousId": "abc",
                                  "timestamp": "2026-01-02T03:04:05Z"}, NOW)
    assert i.prospect_key == "anon:abc" and i.prospect_id is None
    assert i.occurred_at == 1767323045000


def test_identify_links_the_anonymous_id():
    profile, linked = interactions_from_item({"type": "identify", "anonymousId": "abc", "messageId": "m2",
                                              "traits": {"email": "a@b.io", "company": "Acme"}}, NOW)
    assert profile.type == "profile.updated" and profile.traits == {"company": "Acme"}
    assert linked.type == "identity.linked" and linked.prospect_key == "anon:abc"
    assert linked.prospect_id == prospect_id_for("a@b.io") and linked.event_id == "api:m2#link"


@pytest.mark.parametrize("item, reason", [
    ([], "JSON object"),
    ({"type": "alias"}, "type must be"),
    ({"type": "page"}, r"email \(or traits.email\) or anonymousId"),
    ({"type": "page", "email": "not-an-email"}, "not a valid email"),
    ({"type": "track", "email": "a@b.io", "event": "Signed Up"}, "track event must be one of"),
    ({"type": "page", "email": "a@b.io", "timestamp": "yesterday"}, "not ISO 8601"),
    ({"type": "page", "email": "a@b.io", "properties": "x"}, "properties must be a JSON object"),
    ({"type": "identify", "anonymousId": "a"}, "identify needs an email"),
])
def test_bad_items_say_why(item, reason):
    with pytest.raises(ItemError, match=reason):
        interactions_from_item(item, NOW)
