"""`POST /v1/crm/feedback` against the real broker."""

import asyncio

import pytest

from schemas.records import CrmFeedback, RejectedInput
from streams.core.identity import prospect_id_for
from tests.conftest import CRM_TOKEN
from tests.connectors.collector.client import NOW, with_client
from tests.topic_reader import read_topic

pytestmark = pytest.mark.integration
BEARER = {"Authorization": f"Bearer {CRM_TOKEN}"}


def post(config, body, headers=BEARER):
    async def scenario(client):
        response = await client.post("/v1/crm/feedback", json=body, headers=headers)
        return response.status, await response.json()

    return with_client(config, scenario)


def test_verdicts_are_published_keyed_by_prospect_and_bad_ones_reported(config):
    status, body = post(config, [
        {"email": "ann@example.com", "verdict": "accepted", "owner": "alice"},
        {"prospect_id": "p_2", "verdict": "won", "deal_value": 1200, "id": "opp-9"},
        {"prospect_id": "p_3", "verdict": "promoted"},
    ])
    assert status == 202 and body["accepted"] == 2
    assert body["errors"] == [{"index": 2, "reason": "verdict must be one of accepted, contacted, won, lost, "
                                                     "disqualified, got 'promoted'"}]
    records = asyncio.run(read_topic(config, "crm-feedback", 2))
    by_type = {r.type: (key, r) for key, r in records}
    key, accepted = by_type["accepted"]
    assert isinstance(accepted, CrmFeedback) and key == prospect_id_for("ann@example.com").encode()
    assert (accepted.owner, accepted.received_at, accepted.occurred_at) == ("alice", NOW, NOW)
    assert by_type["won"][1].deal_value == 1200.0 and by_type["won"][1].event_id in body["event_ids"]
    [(_, rejected)] = asyncio.run(read_topic(config, "rejected", 1))
    assert isinstance(rejected, RejectedInput) and rejected.source == "crm" and "promoted" in rejected.reason


def test_without_the_token_nothing_is_published(config):
    assert post(config, {"prospect_id": "p_1", "verdict": "won"}, headers={})[0] == 401
    assert post(config, {"prospect_id": "p_1", "verdict": "won"}, headers={"Authorization": "Bearer nope"})[0] == 401
    assert asyncio.run(read_topic(config, "crm-feedback", 1, timeout_s=2)) == []


def test_a_body_with_no_good_verdict_is_a_400(config):
    status, body = post(config, {"verdict": "won"})
    assert status == 400 and body["errors"][0]["reason"] == "prospect_id or email is required"
