"""Hostile form posts: fill time, rate limits, redirect bypasses and the CAPTCHA hook (issue 14)."""

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.connectors.collector.client import AUTH, NOW, with_client
from tests.topic_reader import read_topic

pytestmark = pytest.mark.integration
HUMAN = {"_ts": str(NOW - 10_000)}


def test_a_post_without_render_time_is_a_bot_unless_the_owner_opts_out(config):
    """The finding: `email=victim@corp.com` without `_ts` skipped the fill-time check and promoted the victim."""
    async def scenario(client):
        response = await client.post("/v1/forms/demo-request", data={"email": "victim@corp.com"})
        return response.status, await response.json()

    assert with_client(config, scenario) == (202, {"status": "accepted"})  # bots learn nothing
    assert asyncio.run(read_topic(config, "interactions", 1, timeout_s=2)) == []
    [(_, rejected)] = asyncio.run(read_topic(config, "rejected", 1))
    assert rejected.reason == "bot: render timestamp (_ts) missing"

    assert with_client(config.with_changes(form_require_ts=False), scenario)[0] == 202
    assert {r.email for _, r in asyncio.run(read_topic(config, "interactions", 2))} == {"victim@corp.com"}


def test_posts_per_client_are_limited_with_retry_after(config):
    config = config.with_changes(rate_limit_per_ip="3/60s", rate_limit_per_email="off")
    now = [NOW]

    async def scenario(client):
        out = []
        for n, (ip, step) in enumerate([("203.0.113.9", 0)] * 4 + [("198.51.100.1", 0), ("203.0.113.9", 20_000)]):
            now[0] += step
            response = await client.post("/v1/forms/f1", data={"email": f"p{n}@b.io", "_ts": str(now[0] - 10_000)},
                                         headers={"X-Forwarded-For": ip})
            out.append((response.status, response.headers.get("Retry-After"), await response.json()))
        return out

    results = with_client(config, scenario, clock=lambda: now[0])
    assert [status for status, _, _ in results] == [202, 202, 202, 429, 202, 202]
    _, retry, reply = results[3]
    assert retry == "20" and "too many form posts from this client" in reply["error"]
    assert len(asyncio.run(read_topic(config, "interactions", 10, timeout_s=3))) == 5 * 2
    [(_, rejected)] = asyncio.run(read_topic(config, "rejected", 1))
    assert rejected.reason.startswith("rate_limited")


def test_posts_per_email_address_are_limited(config):
    config = config.with_changes(rate_limit_per_ip="off", rate_limit_per_email="2/h")

    async def scenario(client):
        out = []
        for n, email in enumerate(["victim@corp.com", "Victim@Corp.com", " victim@corp.com", "other@corp.com"]):
            response = await client.post("/v1/forms/f1", data={"email": email, **HUMAN},
                                         headers={"X-Forwarded-For": f"192.0.2.{n}"})
            out.append((response.status, response.headers.get("Retry-After")))
        return out

    assert with_client(config, scenario) == [(202, None), (202, None), (429, "1800"), (202, None)]


def test_defaults_let_people_through(config):
    async def scenario(client):
        return [(await client.post("/v1/forms/f1", data={"email": f"p{n}@b.io", **HUMAN})).status for n in range(10)]

    assert with_client(config, scenario) == [202] * 10


REDIRECTS = [
    ("https://evil.com\\@www.example.com/", "backslash"),
    ("http://[", "IPv6"),
    ("https://www.example.com/thanks\r\nSet-Cookie: a=1", "control or whitespace"),
    ("https://www.example.com@evil.com/", "user name"),
    ("//evil.com", "absolute http(s)"),
    ("https://evil%2ecom/", "percent-encoded"),
    ("https://www.example.com:99999/", "bad port"),
    ("https://ｅｖｉｌ.com/", "'evil.com' is not in LEADFLOW_FORM_REDIRECT_HOSTS"),
]


@pytest.mark.parametrize("target, reason", REDIRECTS)
def test_a_bad_redirect_is_a_400_with_the_reason_never_a_5xx(config, target, reason):
    config = config.with_changes(form_redirect_hosts=("www.example.com",))

    async def scenario(client):
        response = await client.post("/v1/forms/f1", data={"email": "a@b.io", "_redirect": target, **HUMAN},
                                     allow_redirects=False)
        return response.status, "Location" in response.headers, (await response.json())["error"]

    status, redirected, error = with_client(config, scenario)
    assert (status, redirected) == (400, False) and reason in error


def captcha_server(answers: list[dict], seen: list[dict]):
    """A local siteverify endpoint: records each request's form fields, answers the next JSON."""
    async def verify(request: web.Request) -> web.Response:
        seen.append({"content_type": request.content_type, **dict(await request.post())})
        return web.json_response(answers.pop(0))

    app = web.Application()
    app.router.add_post("/siteverify", verify)
    return TestServer(app)


def test_a_captcha_token_is_verified_before_a_form_counts(config):
    seen: list[dict] = []
    answers = [{"success": True, "challenge_ts": "2026-01-01T00:00:00Z", "hostname": "www.example.com"},
               {"success": False, "error-codes": ["timeout-or-duplicate"]}]

    async def scenario(client):
        out = []
        for fields in ({"cf-turnstile-response": "tok-good"}, {"h-captcha-response": "tok-old"}, {}):
            response = await client.post("/v1/forms/f1", data={"email": "a@b.io", **HUMAN, **fields},
                                         headers={"X-Forwarded-For": "203.0.113.5"})
            out.append((response.status, await response.json()))
        return out

    async def main():
        async with captcha_server(answers, seen) as verifier:
            url = str(verifier.make_url("/siteverify"))
            settings = config.with_changes(form_captcha_verify_url=url, form_captcha_secret="captcha-secret-0123456789")
            return await asyncio.to_thread(with_client, settings, scenario)

    ok, failed, missing = asyncio.run(main())
    assert ok == (202, {"status": "accepted"})
    assert failed == (400, {"error": "CAPTCHA check failed (timeout-or-duplicate)"})
    assert missing[0] == 400 and "CAPTCHA token missing" in missing[1]["error"]
    assert seen == [
        {"content_type": "application/x-www-form-urlencoded", "secret": "captcha-secret-0123456789",
         "response": "tok-good", "remoteip": "203.0.113.5"},
        {"content_type": "application/x-www-form-urlencoded", "secret": "captcha-secret-0123456789",
         "response": "tok-old", "remoteip": "203.0.113.5"},
    ]
    records = [r for _, r in asyncio.run(read_topic(config, "interactions", 2))]
    assert {r.type for r in records} == {"form.submitted", "profile.updated"}
    assert all("cf-turnstile-response" not in r.properties for r in records)
    reasons = sorted(r.reason for _, r in asyncio.run(read_topic(config, "rejected", 2)))
    assert reasons[0].startswith("captcha: CAPTCHA check failed") and "token missing" in reasons[1]


def test_an_unreachable_captcha_verifier_asks_the_sender_to_retry(config):
    settings = config.with_changes(form_captcha_verify_url="http://127.0.0.1:9/siteverify",
                                   form_captcha_secret="captcha-secret-0123456789")

    async def scenario(client):
        response = await client.post("/v1/forms/f1", data={"email": "a@b.io", "g-recaptcha-response": "t", **HUMAN})
        return response.status, response.headers.get("Retry-After"), (await response.json())["error"]

    status, retry, error = with_client(settings, scenario)
    assert (status, retry) == (503, "10") and "could not be checked" in error


def test_the_events_api_is_limited_per_write_key_and_client(config):
    config = config.with_changes(rate_limit_events_api="2/10s")
    item = {"type": "page", "anonymousId": "a1", "properties": {"url": "https://a.io/"}}

    async def scenario(client):
        out = []
        for ip in ("203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.2"):
            response = await client.post("/v1/events", json=item, headers={**AUTH, "X-Forwarded-For": ip})
            out.append((response.status, response.headers.get("Retry-After"), (await response.json()).get("code")))
        return out

    assert with_client(config, scenario) == [(200, None, None), (200, None, None), (429, "5", "rate_limited"),
                                             (200, None, None)]
