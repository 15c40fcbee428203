"""The worker as a process on the real broker: scoring, CRM verdicts and decay-driven demotion."""

import asyncio
import os
import time
import urllib.request
from dataclasses import replace

import pytest

from leadflow.kafka import new_producer
from schemas.codec import Codec
from schemas.records import CrmFeedback, Interaction
from tests.processes import leadflow
from tests.topic_reader import read_topic

pytestmark = pytest.mark.integration
MODEL = """\
version: worker-test
thresholds: {promote: 50, demote: 30}
recycle: {score: reset}
rules:
  - {id: fading, when: {type: page.viewed, url_contains: /fading}, points: 30, half_life: 2s}
  - {id: steady, when: {type: page.viewed, url_contains: /steady}, points: 30}
"""


async def produce(config, records):
    producer = new_producer(config)
    await producer.start()
    codec = Codec()
    try:
        for record in records:
            topic = config.topic("interactions" if isinstance(record, Interaction) else "crm-feedback")
            key = record.prospect_key if isinstance(record, Interaction) else record.prospect_id
            await producer.send_and_wait(topic, key=key.encode(), value=codec.encode(record, topic))
    finally:
        await producer.stop()


def view(n: int, pid: str, path: str, now: int) -> Interaction:
    return Interaction(event_id=f"{pid}-{n}", prospect_key=pid, prospect_id=pid, email=f"{pid}@x.io",
                       type="page.viewed", occurred_at=now, received_at=now, source="test", url=f"https://a.io{path}")


def test_verdicts_recycle_and_decay_demotes(config, tmp_path):
    model = tmp_path / "model.yaml"
    model.write_text(MODEL)
    env = {**config.as_env(), "LEADFLOW_MODEL": str(model), "LEADFLOW_TIMER_SECONDS": "0.5"}
    now = time.time_ns() // 1_000_000
    with leadflow(["worker"], env, tmp_path / "worker.log"):
        asyncio.run(produce(config, [view(1, "p_fade", "/fading", now), view(2, "p_fade", "/fading", now),
                                     view(1, "p_lost", "/steady", now), view(2, "p_lost", "/steady", now)]))
        promoted = [e for _, e in asyncio.run(read_topic(config, "leads", 2, timeout_s=40))]
        assert {e.prospect_id for e in promoted if e.type == "lead.promoted"} == {"p_fade", "p_lost"}
        # The CRM answers a lead it has received (verdicts travel on their own topic, so only after it).
        asyncio.run(produce(config, [CrmFeedback(event_id="v1", prospect_id="p_lost", type="lost",
                                                 occurred_at=now + 1, received_at=now + 1)]))
        events = [e for _, e in asyncio.run(read_topic(config, "leads", 4, timeout_s=40))]
    by_prospect: dict[str, list[str]] = {}
    for event in events:
        by_prospect.setdefault(event.prospect_id, []).append(event.type)
    assert by_prospect["p_lost"] == ["lead.promoted", "lead.recycled"]
    assert by_prospect["p_fade"] == ["lead.promoted", "lead.demoted"]
    recycled = next(e for e in events if e.type == "lead.recycled")
    assert recycled.stage == "nurture" and recycled.score.total == 0
    assert [t.type for t in recycled.timeline] == ["page.viewed", "page.viewed", "crm.lost"]
    demoted = next(e for e in events if e.type == "lead.demoted")
    assert demoted.stage == "name" and demoted.score.total < 30


def test_an_identity_link_merges_the_anonymous_history_into_the_person(config, tmp_path):
    model = tmp_path / "model.yaml"
    model.write_text(MODEL)
    env = {**config.as_env(), "LEADFLOW_MODEL": str(model)}
    now = time.time_ns() // 1_000_000
    anonymous = [replace(view(n, "p_ada", "/steady", now + n), prospect_key="anon:v1", prospect_id=None, email=None,
                         event_id=f"anon-{n}") for n in range(2)]
    link = Interaction(event_id="link-1", prospect_key="anon:v1", prospect_id="p_ada", email="p_ada@x.io",
                       type="identity.linked", occurred_at=now + 5, received_at=now + 5, source="test")
    after = replace(anonymous[0], event_id="anon-after", occurred_at=now + 9, received_at=now + 9)
    with leadflow(["worker"], env, tmp_path / "worker.log"):
        asyncio.run(produce(config, [*anonymous, link]))
        [(_, promoted)] = asyncio.run(read_topic(config, "leads", 1, timeout_s=40))
        asyncio.run(produce(config, [after]))
        events = [e for _, e in asyncio.run(read_topic(config, "leads", 2, timeout_s=40))]
    assert promoted.type == "lead.promoted" and promoted.prospect_id == "p_ada" and promoted.score.total == 60
    assert [t.event_id for t in promoted.timeline] == ["anon-0", "anon-1"]
    assert events[-1].type == "lead.updated" and events[-1].score.total == 90  # later anonymous activity follows


def test_explain_and_rescore_read_the_workers_state(config, tmp_path):
    import json
    import subprocess
    import sys

    model = tmp_path / "model.yaml"
    model.write_text(MODEL)
    stricter = tmp_path / "stricter.yaml"
    stricter.write_text(MODEL.replace("version: worker-test", "version: stricter").replace("promote: 50", "promote: 90"))
    env = {**config.as_env(), "LEADFLOW_MODEL": str(model), "LEADFLOW_WORKER_CHECKPOINT_MS": "100"}
    now = time.time_ns() // 1_000_000
    with leadflow(["worker"], env, tmp_path / "worker.log"):
        asyncio.run(produce(config, [view(1, "p_eve", "/steady", now), view(2, "p_eve", "/steady", now + 1),
                                     view(1, "p_bob", "/steady", now)]))
        asyncio.run(read_topic(config, "leads", 1, timeout_s=40))
        time.sleep(1)  # the states reach the changelog at the next checkpoint

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "leadflow", *args], env={**os.environ, **env},
                              capture_output=True, text=True, timeout=60)

    table = cli("explain", "p_eve")
    assert table.returncode == 0, table.stderr
    assert "stage lead   total 60.00 = fit 0.00 + behaviour 60.00" in table.stdout
    assert table.stdout.count("steady ") == 2 and "p_eve-2" in table.stdout
    data = json.loads(cli("explain", "p_eve", "--json").stdout)
    assert data["stage"] == "lead" and [e["rule"] for e in data["ledger"]] == ["steady", "steady"]
    assert data["counts"] == {"page.viewed": 2}
    assert cli("explain", "nobody@example.com").returncode == 1
    report = cli("rescore", "--model", str(stricter))
    assert report.returncode == 0, report.stderr
    assert "2 prospects rescored" in report.stdout and "1 would change stage" in report.stdout
    assert "lead -> name: 1" in report.stdout
    # Applying it: workers started with the new model recompute every state from its history on recovery.
    with leadflow(["worker"], {**env, "LEADFLOW_MODEL": str(stricter)}, tmp_path / "worker-2.log"):
        events = [e for _, e in asyncio.run(read_topic(config, "leads", 2, timeout_s=40))]
    demoted = [e for e in events if e.type == "lead.demoted"]
    assert [(e.prospect_id, e.stage, e.model_version) for e in demoted] == [("p_eve", "name", "stricter")]


def test_the_prospect_api_serves_profile_scores_timeline_and_ledger(config, tmp_path):
    import json
    import urllib.error
    import urllib.request

    from streams.core.identity import prospect_id_for
    from tests.conftest import API_TOKEN

    model = tmp_path / "model.yaml"
    model.write_text(MODEL)
    env = {**config.as_env(), "LEADFLOW_MODEL": str(model)}
    now = time.time_ns() // 1_000_000
    pid = prospect_id_for("ada@x.io")
    views = [replace(view(n, pid, "/steady", now + n), email="ada@x.io", traits={"job_title": "CTO"}) for n in range(2)]
    base = f"http://127.0.0.1:{config.worker_metrics_port}/v1/prospects/"

    def get(path, token=API_TOKEN):
        request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"} if token else {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    with leadflow(["worker"], env, tmp_path / "worker.log"):
        asyncio.run(produce(config, views))
        asyncio.run(read_topic(config, "leads", 1, timeout_s=40))
        status, body = get(pid)
        assert status == 200, body
        assert body["stage"] == "lead" and body["email"] == "ada@x.io" and body["profile"] == {"job_title": "CTO"}
        assert body["scores"]["total"] == 60 and [e["event_id"] for e in body["timeline"]] == [v.event_id for v in views]
        assert [e["rule"] for e in body["ledger"]] == ["steady", "steady"] and body["segments"] == []
        assert get("ada@x.io") == (200, body)  # by email too
        assert get("p_nobody")[0] == 404
        assert get("not-an@email")[0] == 400
        assert get(pid, token=None)[0] == 401 and get(pid, token="wrong")[0] == 401


def test_a_worker_killed_mid_stream_resumes_to_the_same_scores(config, tmp_path):
    import re
    import signal
    import urllib.request

    from streams.core.model import parse_model
    from streams.core.prospect import ProspectState, apply, scores
    from streams.state_reader import read_states

    model_text = MODEL.replace("half_life: 2s", "half_life: 30d")
    model_file = tmp_path / "model.yaml"
    model_file.write_text(model_text)
    # No decay ticks here: a tick moves a prospect's clock to wall time, which the reference run does not have.
    # Small batches, so the kill lands mid-stream.
    env = {**config.as_env(), "LEADFLOW_MODEL": str(model_file), "LEADFLOW_TIMER_SECONDS": "3600",
           "LEADFLOW_WORKER_BATCH_SIZE": "50"}
    now = time.time_ns() // 1_000_000
    prospects = [f"p_{n:02d}" for n in range(40)]
    records = [view(i, pid, "/fading" if i % 3 else "/steady", now + i)
               for i in range(60) for pid in prospects]
    asyncio.run(produce(config, records))

    def processed() -> float:
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{config.worker_metrics_port}/metrics").read().decode()
        except OSError:
            return 0.0
        return sum(float(v) for v in re.findall(r'leadflow_worker_events_processed_total\{type="page.viewed"\} (\S+)',
                                                text))

    with leadflow(["worker"], env, tmp_path / "worker-1.log") as first:
        deadline = time.monotonic() + 60
        while processed() < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        at_kill = processed()
        first.send_signal(signal.SIGKILL)  # mid-stream, no chance to commit or flush
        first.wait(10)
    assert 0 < at_kill < len(records), at_kill
    with leadflow(["worker"], env, tmp_path / "worker-2.log"):
        deadline = time.monotonic() + 90
        states: dict = {}
        while time.monotonic() < deadline:
            states = asyncio.run(read_states(config))
            if len(states) == len(prospects) and all(len(s.history) == 60 for s in states.values()):
                break
            time.sleep(1)
        leads = [e for _, e in asyncio.run(read_topic(config, "leads", len(prospects), timeout_s=30))]
    model = parse_model(model_text)
    for pid in prospects:
        reference = ProspectState(pid)
        for record in records:
            if record.prospect_key == pid:
                reference = apply(reference, record, model).state
        assert scores(states[pid], model).total == pytest.approx(scores(reference, model).total), pid
        assert states[pid].stage == reference.stage
    promotions = {(e.prospect_id, e.event_id) for e in leads if e.type == "lead.promoted"}
    assert sorted(pid for pid, _ in promotions) == sorted(prospects)  # each promoted once, by one event id


def test_an_unanswered_lead_breaches_its_sla_within_seconds_and_escalates(config, tmp_path):
    model = tmp_path / "model.yaml"
    model.write_text(MODEL + """\
sla:
  respond_within: 6s  # room for the timely verdict to arrive on a loaded machine
  business_hours: {timezone: UTC, days: [mon, tue, wed, thu, fri, sat, sun], hours: "00:00-24:00"}
  escalation:
    - {after: 2s, action: reroute, to: "queue:second"}
""")
    env = {**config.as_env(), "LEADFLOW_MODEL": str(model)}
    now = time.time_ns() // 1_000_000
    with leadflow(["worker"], env, tmp_path / "worker.log"):
        asyncio.run(produce(config, [view(1, "p_sla", "/steady", now), view(2, "p_sla", "/steady", now),
                                     view(1, "p_ok", "/steady", now), view(2, "p_ok", "/steady", now)]))
        asyncio.run(read_topic(config, "leads", 2, timeout_s=40))
        asyncio.run(produce(config, [CrmFeedback(event_id="v1", prospect_id="p_ok", type="accepted",
                                                 occurred_at=now + 1000, received_at=now + 1000)]))
        steps = [e for _, e in asyncio.run(read_topic(config, "sla", 5, timeout_s=40))]
        noticed = time.time_ns() // 1_000_000
        leads = [e for _, e in asyncio.run(read_topic(config, "leads", 4, timeout_s=10))]
        with urllib.request.urlopen(f"http://127.0.0.1:{config.worker_metrics_port}/metrics", timeout=5) as page:
            exposition = page.read().decode()
    for sample in ('leadflow_sla_steps_total{type="sla.breached"} 1.0',
                   'leadflow_sla_steps_total{type="sla.met"} 1.0',
                   'leadflow_sla_clocks_waiting{status="breached"} 1.0',
                   'leadflow_sla_clocks_waiting{status="open"} 0.0',
                   'leadflow_sla_first_response_seconds_count 1.0'):
        assert sample in exposition, [line for line in exposition.splitlines() if line.startswith("leadflow_sla")]
    rerouted = [e for e in leads if e.prospect_id == "p_sla" and e.type == "lead.updated"]
    assert [(e.queue, e.owner) for e in rerouted] == [("queue:second", None)]  # crm_leads.queue follows
    by_prospect: dict[str, list[str]] = {}
    for step in steps:
        by_prospect.setdefault(step.prospect_id, []).append(step.type)
    assert by_prospect["p_ok"] == ["sla.started", "sla.met"]
    assert by_prospect["p_sla"] == ["sla.started", "sla.breached", "sla.escalated"]
    breach = next(s for s in steps if s.type == "sla.breached")
    escalation = next(s for s in steps if s.type == "sla.escalated")
    assert breach.occurred_at == breach.due_at == breach.started_at + 6000
    assert escalation.occurred_at == breach.due_at + 2000 and escalation.owner == "queue:second"
    assert noticed - escalation.occurred_at < 10_000  # seen within seconds, not at the next decay tick
