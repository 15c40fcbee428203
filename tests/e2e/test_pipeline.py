"""The whole path through real processes: HTTP -> collector -> Kafka -> worker -> Kafka -> sink -> PostgreSQL."""

import urllib.request
from http.cookiejar import CookieJar

import pytest

from connectors.crm.migrations import migrate
from streams.core.identity import prospect_id_for
from tests.conftest import WRITE_KEY
from tests.processes import leadflow, post_json, wait_for_http, wait_for_row

pytestmark = pytest.mark.e2e


def test_events_past_the_threshold_become_a_crm_lead(config, tmp_path):
    migrate(config.crm_dsn)
    env = config.as_env()
    base = f"http://127.0.0.1:{config.http_port}"
    with leadflow(["collector"], env, tmp_path / "collector.log") as collector, \
            leadflow(["worker"], env, tmp_path / "worker.log"), leadflow(["sink"], env, tmp_path / "sink.log"):
        assert wait_for_http(f"{base}/readyz", 30), (tmp_path / "collector.log").read_text()[-2000:]
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with opener.open(f"{base}/t/px.gif?u=https%3A%2F%2Fa.io%2Fpricing") as response:
            assert response.status == 200 and response.headers["Content-Type"] == "image/gif"
        assert [c.name for c in jar] == ["lf_aid"]

        email = "Grace.Hopper@Example.com"
        status, reply = post_json(f"{base}/v1/events", {"batch": [
            {"type": "identify", "email": email, "traits": {"company": "Navy", "job_title": "Rear Admiral"}},
            {"type": "track", "email": email, "event": "email.opened", "messageId": "o1"},
            {"type": "page", "email": email, "messageId": "p1", "properties": {"url": "https://a.io/pricing"}},
        ]}, WRITE_KEY)
        assert (status, reply["accepted"]) == (200, 3)
        pid = prospect_id_for(email)
        assert wait_for_row(config.crm_dsn, "SELECT 1 FROM crm_leads WHERE prospect_id = %s", (pid,), 3) is None, \
            "26 points must not promote (threshold 50)"

        status, reply = post_json(f"{base}/v1/events", {"batch": [
            {"type": "page", "email": email, "messageId": "p2", "properties": {"url": "https://a.io/pricing/team"}},
            {"type": "page", "email": email, "messageId": "p2"},  # a retry of the same message: counted once
            {"type": "track", "email": email, "event": "email.clicked", "messageId": "c1"},
        ]}, WRITE_KEY)
        assert status == 200
        row = wait_for_row(config.crm_dsn, "SELECT email, stage, score_total, profile->>'company' FROM crm_leads "
                           "WHERE prospect_id = %s", (pid,), 30)
        assert row == ("grace.hopper@example.com", "lead", 5 + 21 + 21 + 10, "Navy")
        activities = wait_for_row(config.crm_dsn, "SELECT count(*) FROM crm_lead_activities WHERE prospect_id = %s",
                                  (pid,), 5)
        assert activities == (5,)
        assert collector.poll() is None
