import pytest

from connectors.collector.event_names import EventNames, normalized
from connectors.collector.segment import ItemError, SegmentMapping, interactions_from_item
from streams.core.identity import prospect_id_for

NOW = 1_700_000_000_000
NAMES = EventNames({normalized("Email Opened"): "email.opened", normalized("Form Submitted"): "form.submitted"})
MAPPING = SegmentMapping(NAMES)


def test_page_with_email_is_keyed_by_prospect():
    [i] = interactions_from_item({"type": "page", "email": " Ann@Example.COM ", "messageId": "m1",
                                  "properties": {"url": "https://a.io/pricing", "n": 3, "tags": ["x"]}}, NOW)
    assert i.type == "page.viewed" and i.email == "ann@example.com"
    assert i.prospect_key == i.prospect_id == prospect_id_for("ann@example.com")
    assert i.event_id == "api:m1" and i.occurred_at == NOW and i.url == "https://a.io/pricing"
    assert i.properties == {"url": "https://a.io/pricing", "n": "3", "tags": '["x"]'}


def test_track_anonymous_with_timestamp():
    [i] = interactions_from_item({"type": "track", "event": "asset.downloaded", "anonymousId": "abc",
                                  "timestamp": "2023-01-02T03:04:05Z"}, NOW)
    assert i.prospect_key == "anon:abc" and i.prospect_id is None
    assert i.occurred_at == 1672628645000 and i.type == "asset.downloaded" and i.event == "asset.downloaded"


def test_identify_links_the_anonymous_id():
    profile, linked = interactions_from_item({"type": "identify", "anonymousId": "abc", "messageId": "m2",
                                              "traits": {"email": "a@b.io", "company": "Acme"}}, NOW)
    assert profile.type == "profile.updated" and profile.traits == {"company": "Acme"}
    assert linked.type == "identity.linked" and linked.prospect_key == "anon:abc"
    assert linked.prospect_id == prospect_id_for("a@b.io") and linked.event_id == "api:m2#link"


def test_user_id_alone_is_an_identity():
    [i] = MAPPING.interactions({"type": "track", "userId": 42, "event": "Demo Requested"}, NOW)
    assert i.prospect_key == "user:42" and i.prospect_id is None and i.email is None
    assert i.type == "event.tracked" and i.event == "Demo Requested"


def test_identify_with_user_id_and_email_links_both_ids_to_the_person():
    pid = prospect_id_for("ada@example.com")
    profile, user, anon = MAPPING.interactions({
        "type": "identify", "userId": "u1", "anonymousId": "a1", "messageId": "m3",
        "context": {"traits": {"email": "Ada@Example.com", "firstName": "Ada", "title": "Head of Platform",
                               "company": {"name": "Acme", "industry": "Software"}}}}, NOW)
    assert profile.prospect_key == pid and profile.traits == {
        "first_name": "Ada", "job_title": "Head of Platform", "company": "Acme", "industry": "Software",
        "user_id": "u1"}
    assert (user.prospect_key, user.prospect_id, user.event_id) == ("user:u1", pid, "api:m3#user")
    assert (anon.prospect_key, anon.prospect_id, anon.event_id) == ("anon:a1", pid, "api:m3#link")


def test_identify_without_email_links_the_anonymous_id_to_the_user_id():
    profile, link = MAPPING.interactions({"type": "identify", "userId": "u1", "anonymousId": "a1",
                                          "traits": {"plan": "pro"}}, NOW)
    assert profile.prospect_key == "user:u1" and profile.traits == {"plan": "pro", "user_id": "u1"}
    assert (link.prospect_key, link.prospect_id) == ("anon:a1", "user:u1")


def test_alias_joins_the_previous_id_to_the_user_id():
    [link] = MAPPING.interactions({"type": "alias", "previousId": "a9", "userId": "u9", "messageId": "m4"}, NOW)
    assert (link.type, link.prospect_key, link.prospect_id, link.anonymous_id) == \
        ("identity.linked", "anon:a9", "user:u9", "a9")


def test_event_names_map_to_canonical_types_and_keep_the_name():
    opened, form, other = (MAPPING.interactions({"type": "track", "userId": "u", "event": name}, NOW)[0]
                           for name in ("email_opened", "Form Submitted", "Pricing Viewed"))
    assert (opened.type, opened.event) == ("email.opened", "email_opened")
    assert (form.type, other.type, other.event) == ("form.submitted", "event.tracked", "Pricing Viewed")


def test_context_page_campaign_ip_and_user_agent():
    [i] = SegmentMapping(NAMES, "truncate").interactions({
        "type": "page", "anonymousId": "a", "name": "Pricing",
        "context": {"page": {"url": "https://x.io/pricing?utm_source=ads", "referrer": "https://g.co/",
                             "title": "Pricing - X"},
                    "campaign": {"name": "spring", "source": "ads", "medium": "cpc"},
                    "ip": "203.0.113.77", "userAgent": "Mozilla/5.0"}}, NOW)
    assert (i.url, i.referrer, i.title, i.campaign) == ("https://x.io/pricing?utm_source=ads", "https://g.co/",
                                                        "Pricing - X", "spring")
    assert i.properties == {"utm_campaign": "spring", "utm_source": "ads", "utm_medium": "cpc"}
    assert (i.ip, i.user_agent) == ("203.0.113.0", "Mozilla/5.0")


def test_screen_and_group_calls():
    [screen] = MAPPING.interactions({"type": "screen", "userId": "u", "name": "Settings"}, NOW)
    assert (screen.type, screen.title, screen.properties) == ("page.viewed", "Settings", {"screen": "Settings"})
    [group] = MAPPING.interactions({"type": "group", "userId": "u", "groupId": "g1",
                                    "traits": {"name": "Acme", "employees": 120, "industry": "Retail"}}, NOW)
    assert group.type == "profile.updated" and group.traits == {
        "company": "Acme", "company_size": "120", "industry": "Retail", "group_id": "g1"}


def test_sent_at_corrects_the_sender_clock():
    # the client's clock is 1 h behind: it stamped the event 5 s before it sent the batch
    item = {"type": "track", "userId": "u", "event": "x", "timestamp": "2023-11-14T21:13:15Z",
            "sentAt": "2023-11-14T21:13:20Z"}
    [i] = MAPPING.interactions(item, NOW)  # NOW is 2023-11-14T22:13:20Z
    assert i.occurred_at == NOW - 5000
    [late] = MAPPING.interactions({**item, "sentAt": None}, NOW, sent_at="2023-11-14T21:13:20Z")
    assert late.occurred_at == NOW - 5000
    [future] = MAPPING.interactions({**item, "sentAt": "2023-11-14T21:13:10Z"}, NOW)
    assert future.occurred_at == NOW  # never in the future


def test_the_endpoint_type_wins_over_the_item():
    [i] = MAPPING.interactions({"userId": "u", "event": "Signed Up"}, NOW, call="track")
    assert i.type == "event.tracked"


@pytest.mark.parametrize("item, reason", [
    ([], "JSON object"),
    ({"type": "merge"}, "type must be one of"),
    ({"type": "alias", "userId": "u"}, "alias needs previousId and userId"),
    ({"type": "page"}, r"userId or anonymousId is required"),
    ({"type": "page", "email": "not-an-email"}, "not a valid email"),
    ({"type": "track", "email": "a@b.io"}, "track needs an event name"),
    ({"type": "track", "email": "a@b.io", "event": ""}, "track needs an event name"),
    ({"type": "page", "email": "a@b.io", "timestamp": "yesterday"}, "not ISO 8601"),
    ({"type": "page", "email": "a@b.io", "properties": "x"}, "properties must be a JSON object"),
    ({"type": "page", "userId": {"id": 1}}, "userId must be a string or a number"),
    ({"type": "page", "userId": "x" * 201}, "userId must be at most 200"),
    ({"type": "group", "userId": "u"}, "group needs a groupId"),
    ({"type": "page", "userId": "u", "context": {"traits": []}}, "traits must be a JSON object"),
])
def test_bad_items_say_why(item, reason):
    with pytest.raises(ItemError, match=reason):
        MAPPING.interactions(item, NOW)
