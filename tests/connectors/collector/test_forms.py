import asyncio

import pytest

from connectors.collector.forms import profile_from_fields
from streams.core.identity import prospect_id_for
from tests.connectors.collector.client import NOW, with_client
from tests.topic_reader import read_topic

pytestmark = pytest.mark.integration
FIELDS = {"Email": "ignored-case@x.io", "email": " Grace@Example.com ", "FirstName": "Grace", "lname": "Hopper",
          "organization": "Navy", "title": "Rear Admiral", "tel": "+1 555", "country": "US", "opt_in": "on",
          "utm_source": "ads", "_hp": "", "_ts": str(NOW - 10_000), "_aid": "a1b2c3"}


def test_field_mapping_is_documented_and_pure():
    profile, properties = profile_from_fields(FIELDS)
    assert profile == {"email": "ignored-case@x.io", "first_name": "Grace", "last_name": "Hopper",
                       "company": "Navy", "job_title": "Rear Admiral", "phone": "+1 555", "country": "US",
                       "consent": "true"}
    assert properties == {"utm_source": "ads"}


def test_a_urlencoded_form_identifies_the_visitor_and_redirects(config):
    config = config.with_changes(form_redirect_hosts=("www.example.com",))
    fields = {**{k: v for k, v in FIELDS.items() if k != "Email"}, "_redirect": "https://www.example.com/thanks"}

    async def scenario(client):
        response = await client.post("/v1/forms/demo-request", data=fields, allow_redirects=False,
                                     cookies={"lf_aid": "0" * 32})
        return response.status, response.headers.get("Location")

    assert with_client(config, scenario) == (303, "https://www.example.com/thanks")
    records = {r.type: r for _, r in asyncio.run(read_topic(config, "interactions", 3))}
    pid = prospect_id_for("grace@example.com")
    submitted, linked = records["form.submitted"], records["identity.linked"]
    assert submitted.prospect_key == pid and submitted.form_id == "demo-request"
    assert submitted.traits["company"] == "Navy" and submitted.properties == {"utm_source": "ads"}
    assert records["profile.updated"].traits["job_title"] == "Rear Admiral"
    assert linked.prospect_key == "anon:" + "0" * 32 and linked.prospect_id == pid


def test_json_form_answers_202_and_bots_learn_nothing(config):
    async def scenario(client):
        human = await client.post("/v1/forms/newsletter", json={"email": "a@b.io", "_ts": str(NOW - 5000)})
        honeypot = await client.post("/v1/forms/newsletter", json={"email": "bot@b.io", "_hp": "http://spam"})
        too_fast = await client.post("/v1/forms/newsletter", json={"email": "fast@b.io", "_ts": str(NOW - 200)})
        return [(r.status, await r.json()) for r in (human, honeypot, too_fast)]

    results = with_client(config, scenario)
    assert results == [(202, {"status": "accepted"})] * 3
    records = [r for _, r in asyncio.run(read_topic(config, "interactions", 2))]
    assert {r.email for r in records} == {"a@b.io"}
    reasons = sorted(r.reason for _, r in asyncio.run(read_topic(config, "rejected", 2)))
    assert reasons[0].startswith("bot: honeypot") and reasons[1].startswith("bot: posted 0.2s")


@pytest.mark.parametrize("body, kwargs, reason", [
    ({"name": "x"}, {}, "a valid email address is required"),
    ({"email": "not-an-email"}, {}, "a valid email address is required"),
    ({"email": "a@b.io", "_redirect": "https://evil.example.com/"}, {}, "not in LEADFLOW_FORM_REDIRECT_HOSTS"),
    (None, {"data": b"email=a@b.io", "headers": {"Content-Type": "text/plain"}}, "send application/x-www-form"),
])
def test_bad_forms_say_why(config, body, kwargs, reason):
    async def scenario(client):
        response = await client.post("/v1/forms/f1", **({"data": body} if body else kwargs))
        return response.status, await response.json()

    status, reply = with_client(config, scenario)
    assert status == 400 and reason in reply["error"]


def test_cors_allows_only_configured_origins(config):
    config = config.with_changes(cors_origins=("https://www.example.com",))

    async def scenario(client):
        ok = await client.options("/v1/forms/f1", headers={"Origin": "https://www.example.com",
                                                             "Access-Control-Request-Method": "POST"})
        denied = await client.options("/v1/forms/f1", headers={"Origin": "https://evil.example.com"})
        post = await client.post("/v1/forms/f1", json={"email": "a@b.io"}, headers={"Origin": "https://www.example.com"})
        post_denied = await client.post("/v1/forms/f1", json={"email": "a@b.io"},
                                        headers={"Origin": "https://evil.example.com"})
        return ok.status, ok.headers.get("Access-Control-Allow-Origin"), denied.status, post.status, \
            post.headers.get("Access-Control-Allow-Origin"), post_denied.status

    assert with_client(config, scenario) == (204, "https://www.example.com", 403, 202, "https://www.example.com", 403)


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
           "Referer": "https://www.example.com/demo"}


def test_a_browser_gets_a_thank_you_page_and_api_clients_keep_json(config, tmp_path):
    own = tmp_path / "thanks.html"
    own.write_text("<p>Merci {{first_name}} ({{form_id}}) <a href='{{back_url}}'>retour</a></p>")
    fields = {"email": "ada@example.com", "first_name": "<b>Ada</b>"}

    async def scenario(client):
        browser = await client.post("/v1/forms/demo-request", data=fields, headers=BROWSER)
        api = await client.post("/v1/forms/demo-request", data=fields, headers={"Accept": "*/*"})
        invalid = await client.post("/v1/forms/demo-request", data={"email": "<i>nope"}, headers=BROWSER)
        return [(r.status, r.content_type, await r.text()) for r in (browser, api, invalid)]

    browser, api, invalid = with_client(config, scenario)
    assert browser[:2] == (200, "text/html") and "Thank you, &lt;b&gt;Ada&lt;/b&gt;!" in browser[2]
    assert 'href="https://www.example.com/demo"' in browser[2]
    assert api[:2] == (202, "application/json")
    assert invalid[:2] == (400, "text/html") and "a valid email address is required" in invalid[2]
    assert "<i>nope" not in invalid[2]

    async def own_page(client):
        response = await client.post("/v1/forms/demo-request", data=fields, headers=BROWSER)
        return response.status, await response.text()

    assert with_client(config.with_changes(form_thanks_html=own), own_page) == (
        200, "<p>Merci &lt;b&gt;Ada&lt;/b&gt; (demo-request) <a href='https://www.example.com/demo'>retour</a></p>")
