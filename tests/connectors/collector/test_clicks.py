import asyncio
from urllib.parse import urlsplit

import pytest

from leadflow.signed_links import click_url
from streams.core.identity import prospect_id_for
from tests.conftest import LINK_SECRET
from tests.connectors.collector.client import NOW, with_client
from tests.topic_reader import read_topic

pytestmark = pytest.mark.integration


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_a_signed_click_records_and_redirects(config):
    url = click_url("http://collector", LINK_SECRET, "Ann@Example.com", "https://a.io/pricing", "m1",
                    now_s=NOW / 1000)

    async def scenario(client):
        response = await client.get(path_of(url), allow_redirects=False)
        return response.status, response.headers.get("Location"), response.headers.get("Cache-Control")

    status, location, cache = with_client(config, scenario)
    assert (status, location) == (302, "https://a.io/pricing") and "no-store" in cache
    [(_, click)] = asyncio.run(read_topic(config, "interactions", 1))
    assert click.type == "email.clicked" and click.prospect_id == prospect_id_for("ann@example.com")
    assert click.url == "https://a.io/pricing" and click.message_id == "m1" and click.email is None


def test_bad_links_get_400_and_never_redirect(config):
    good = path_of(click_url("http://c", LINK_SECRET, "a@b.io", "https://a.io/", now_s=NOW / 1000))
    expired = path_of(click_url("http://c", LINK_SECRET, "a@b.io", "https://a.io/", ttl_days=1,
                                now_s=NOW / 1000 - 3 * 86400))
    cases = [good.replace("a.io", "evil.io"), good.split("&s=")[0], expired, "/t/c?u=https%3A%2F%2Fevil.io"]

    async def scenario(client):
        out = []
        for path in cases:
            response = await client.get(path, allow_redirects=False)
            out.append((response.status, "Location" in response.headers, (await response.json())["error"]))
        return out

    results = with_client(config, scenario)
    assert [(s, redirected) for s, redirected, _ in results] == [(400, False)] * 4
    assert "expired" in results[2][2] and "missing" in results[1][2]
    assert len(asyncio.run(read_topic(config, "rejected", 4))) == 4


def test_repeated_clicks_share_one_event_id_per_window(config):
    now = [NOW]
    url = path_of(click_url("http://c", LINK_SECRET, "a@b.io", "https://a.io/x", "m1", now_s=NOW / 1000))
    other = path_of(click_url("http://c", LINK_SECRET, "a@b.io", "https://a.io/y", "m1", now_s=NOW / 1000))

    async def scenario(client):
        for step in (0, 5_000, 600_000):
            now[0] += step
            await client.get(url, allow_redirects=False)
        await client.get(other, allow_redirects=False)

    with_client(config, scenario, clock=lambda: now[0])
    ids = [r.event_id for _, r in asyncio.run(read_topic(config, "interactions", 4))]
    assert ids[0] == ids[1] == ids[2] != ids[3]  # the worker keeps the first; another target is another click


def test_an_ambiguous_signed_target_is_a_400_never_a_redirect(config):
    """Links signed before targets were read as browsers read them are refused when followed."""
    from leadflow.signed_links import SIGNATURE_PARAM, signature
    from urllib.parse import urlencode

    paths = []
    for target in ("https://evil.com\\@a.io/", "http://[", "https://a.io/\r\nSet-Cookie: x=1"):
        params = {"u": target, "p": "p_1", "x": str(NOW // 1000 + 3600)}
        params[SIGNATURE_PARAM] = signature(LINK_SECRET, params, ("u", "p", "m", "x"))
        paths.append("/t/c?" + urlencode(params))

    async def scenario(client):
        out = []
        for path in paths:
            response = await client.get(path, allow_redirects=False)
            out.append((response.status, "Location" in response.headers, (await response.json())["error"]))
        return out

    results = with_client(config, scenario)
    assert [(s, redirected) for s, redirected, _ in results] == [(400, False)] * 3
    assert "backslash" in results[0][2] and "IPv6" in results[1][2] and "control" in results[2][2]
