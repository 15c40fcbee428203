"""The official Segment and RudderStack Python libraries, given only the collector URL and the write key."""

import time

import pytest

from tests.conftest import API_TOKEN, WRITE_KEY
from tests.processes import leadflow, read_prospect, wait_for_http

pytestmark = pytest.mark.e2e


def prospect(config, email: str) -> dict | None:
    return read_prospect(config.worker_metrics_port, email, API_TOKEN)


def wait_for_prospect(config, email: str, done, timeout_s: float = 30) -> dict | None:
    deadline = time.monotonic() + timeout_s
    found = None
    while time.monotonic() < deadline:
        found = prospect(config, email)
        if found is not None and done(found):
            return found
        time.sleep(0.3)
    return found


def segment_client(base: str, errors: list):
    from segment.analytics import Client

    return Client(WRITE_KEY, host=base, on_error=lambda exc, batch: errors.append(exc))


def rudder_client(base: str, errors: list):
    from rudderstack.analytics import Client

    return Client(WRITE_KEY, host=base, on_error=lambda exc, batch: errors.append(exc))  # gzips by default


@pytest.mark.parametrize("make_client", [segment_client, rudder_client], ids=["segment", "rudderstack"])
def test_identify_page_and_track_reach_one_prospect_with_traits_mapped(config, tmp_path, make_client):
    env = config.as_env()
    base = f"http://127.0.0.1:{config.http_port}"
    email = f"ada.{make_client.__name__}@example.com"
    with leadflow(["collector"], env, tmp_path / "collector.log"), leadflow(["worker"], env, tmp_path / "worker.log"):
        assert wait_for_http(f"{base}/readyz", 30), (tmp_path / "collector.log").read_text()[-2000:]
        assert wait_for_http(f"http://127.0.0.1:{config.worker_metrics_port}/readyz", 60)
        errors: list = []
        client = make_client(base, errors)
        client.page(anonymous_id="browser-1", name="Pricing", properties={"url": "https://x.io/pricing"})
        client.identify("u-42", {"email": email, "firstName": "Ada", "lastName": "Lovelace",
                                 "title": "Head of Platform", "company": {"name": "Analytical Engines"},
                                 "address": {"country": "GB"}}, anonymous_id="browser-1")
        client.flush()
        client.page("u-42", properties={"url": "https://x.io/pricing/enterprise"})  # userId only, after identify
        client.track("u-42", "Demo Requested", {"plan": "enterprise"})
        client.flush()
        client.shutdown()
        assert errors == []
        found = wait_for_prospect(config, email, lambda p: len(p["timeline"]) >= 4 and p["stage"] == "lead")
    assert found is not None, (tmp_path / "worker.log").read_text()[-3000:]
    assert found["profile"] == {"first_name": "Ada", "last_name": "Lovelace", "job_title": "Head of Platform",
                                "company": "Analytical Engines", "country": "GB", "user_id": "u-42"}
    assert found["scores"]["fit"] == 15 + 5  # senior title, target country
    types = sorted((e["type"], e.get("event")) for e in found["timeline"])
    assert types == [("event.tracked", "Demo Requested"), ("page.viewed", None), ("page.viewed", None),
                     ("profile.updated", None)], types
    assert {e["url"] for e in found["timeline"] if e["type"] == "page.viewed"} == \
        {"https://x.io/pricing", "https://x.io/pricing/enterprise"}
    assert {entry["rule"] for entry in found["ledger"]} >= {"pricing-page", "demo-requested-event"}
