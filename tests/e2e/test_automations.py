"""A nurture program through real processes: HTTP -> collector -> Kafka -> worker (automations) -> leadflow.actions
-> action delivery (the outbox) -> the email's own pixel and link -> collector -> worker.

A cold known name is enrolled and gets the program's first email, which the action delivery
writes to the outbox as a real message; it is opened (its pixel) and clicked (its tracked
link), both naming the email's ``action_id`` as their message id, which is how an open or
click joins the send; the points promote it, the promotion takes it out of the program
before its next step, and sales hears of it (``notify``, ``crm_task``: rows in crm_tasks).
The worker's prospect API tells the story in its journal.
"""

from __future__ import annotations

import asyncio
import email as email_parser
import email.policy
import http.client
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest

from connectors.crm.migrations import migrate
from leadflow.config import Config
from schemas.records import Action
from streams.core import automation_model
from streams.core.identity import prospect_id_for
from tests.automation_files import write_automations
from tests.conftest import API_TOKEN, WRITE_KEY
from tests.processes import leadflow, post_json, read_prospect, rows, wait_for_http, wait_until
from tests.topic_reader import Pairs, read_all, read_topic_until

pytestmark = pytest.mark.e2e

# An open alone does not promote (20 < 50); the click does (20 + 40).
MODEL = """\
version: e2e-automations
thresholds: {promote: 50}
rules:
  - {id: email-open, when: {type: email.opened}, points: 20}
  - {id: email-click, when: {type: email.clicked}, points: 40}
"""
FILE_VERSION = "e2e-1"
AUTOMATIONS = f"""\
version: {FILE_VERSION}
automations:
  - id: to-sales
    trigger: {{stage: promoted}}
    actions:
      - notify: {{queue: sdr}}
        message: "{{email}} promoted (score {{score}}) by {{trigger}}"
      - crm_task: "Call {{profile.first_name}} ({{email}})"
        due: 2h
        to: {{queue: sdr}}
programs:
  - id: nurture
    entry: {{identity: known}}
    steps:
      - {{id: welcome, send_email: welcome}}
      - wait: 3d
      - {{id: follow-up, send_email: follow-up}}
    exit: [promoted]
"""
EMAIL = "Ada.Lovelace@Example.com"
TWO_HOURS_MS = 2 * 3_600_000


def actions_of(config: Config, prospect_id: str, types: set[str], timeout_s: float = 30) -> dict[str, Action]:
    """The prospect's actions on ``leadflow.actions`` by type, once one of each of ``types`` has arrived (a
    redelivery may repeat an action, with its id: the first copy stands for it)."""
    def found(pairs: Pairs) -> dict[str, Action]:
        out: dict[str, Action] = {}
        for key, action in pairs:
            if action.prospect_id == prospect_id:
                assert key == prospect_id.encode(), "actions are keyed by prospect"
                out.setdefault(action.type, action)
        return out

    pairs = asyncio.run(read_topic_until(config, "actions", lambda got: types <= set(found(got)), timeout_s))
    return found(pairs)


def prospect_when(config: Config, who: str, holds: Callable[[dict[str, Any]], bool],
                  timeout_s: float = 30) -> dict[str, Any]:
    """The prospect as the worker's API serves it, once ``holds`` is true of it."""
    answer = wait_until(lambda: (p := read_prospect(config.worker_metrics_port, who, API_TOKEN)) is not None
                        and holds(p) and p, timeout_s, interval_s=0.2)
    assert answer, read_prospect(config.worker_metrics_port, who, API_TOKEN)
    return answer  # type: ignore[return-value]


def follow(url: str, expect_status: int) -> http.client.HTTPResponse:
    """GET a tracking URL of the collector as a mail client does, without following a redirect."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", f"{parts.path}?{parts.query}")
    response = connection.getresponse()
    response.read()
    assert response.status == expect_status, (url, response.status)
    return response


def tracked_links(config: Config, action_id: str) -> tuple[str, str]:
    """The open pixel and the first tracked link of the email the delivery wrote to the outbox for the action."""
    path = config.data_dir / "outbox" / f"{action_id}.eml"
    assert wait_until(lambda: path.exists() or None, 30), sorted((config.data_dir / "outbox").glob("*"))
    message = email_parser.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "ada.lovelace@example.com" and message["Subject"] == "welcome"
    html = message.get_body(("html",)).get_content()
    assert "Hello Ada" in html
    pixel = re.search(r'<img[^>]+src="([^"]+/t/px\.gif[^"]+)"', html).group(1)
    link = re.search(r'<a[^>]+href="([^"]+/t/c\?[^"]+)"', html).group(1)
    return pixel.replace("&amp;", "&"), link.replace("&amp;", "&")


def epoch_ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


def test_a_known_name_is_nurtured_opens_clicks_is_promoted_leaves_the_program_and_sales_hears(config, tmp_path: Path):
    model = tmp_path / "model.yaml"
    model.write_text(MODEL)
    automations = write_automations(tmp_path / "automations", AUTOMATIONS, ["welcome", "follow-up"])
    env = {**config.as_env(), "LEADFLOW_MODEL": str(model), "LEADFLOW_AUTOMATIONS": str(automations),
           "LEADFLOW_TIMER_SECONDS": "0.2"}
    base = f"http://127.0.0.1:{config.http_port}"
    pid, email = prospect_id_for(EMAIL), EMAIL.lower()
    migrate(config.crm_dsn)
    with leadflow(["collector"], env, tmp_path / "collector.log"), leadflow(["worker"], env, tmp_path / "worker.log"), \
            leadflow(["actions"], env, tmp_path / "actions.log"):
        assert wait_for_http(f"{base}/readyz", 30), (tmp_path / "collector.log").read_text()[-2000:]
        # A cold known name: the backend identifies a person nobody has seen (a form post would do the same).
        identified_at = time.time_ns() // 1_000_000 - 1000
        status, reply = post_json(f"{base}/v1/events", {"batch": [
            {"type": "identify", "email": EMAIL, "messageId": "ada-1", "timestamp": identified_at,
             "traits": {"firstName": "Ada", "lastName": "Lovelace"}}]}, WRITE_KEY)
        assert (status, reply["accepted"]) == (200, 1), reply

        welcome = actions_of(config, pid, {"send_email"}, timeout_s=60)["send_email"]
        enrollment = f"nurture@{identified_at}/api:ada-1"  # the program run: its entry's time and cause
        assert welcome.action_id == automation_model.action_id("program", "nurture", FILE_VERSION, pid, enrollment,
                                                               "welcome")
        assert (welcome.type, welcome.source, welcome.source_kind, welcome.step, welcome.target) == \
            ("send_email", "nurture", "program", "welcome", "welcome")
        assert (welcome.prospect_id, welcome.email, welcome.file_version) == (pid, email, FILE_VERSION)
        assert welcome.due_at == welcome.occurred_at == identified_at  # sent at once, dated by the entry
        assert welcome.cause_event_id == "api:ada-1" and dict(welcome.payload) == {
            "transactional": "false", "consent": "false", "profile.first_name": "Ada",
            "profile.last_name": "Lovelace"}  # merge fields and consent for the delivery

        # The delivery wrote the email to the outbox; Ada opens it: its pixel names the send's action id.
        pixel, link = tracked_links(config, welcome.action_id)
        follow(pixel, 200)
        opened = prospect_when(config, pid, lambda p: p["automations"]["programs"]
                               and p["automations"]["programs"][0]["engaged"])
        assert opened["stage"] == "name" and opened["scores"]["total"] == 20
        assert opened["automations"]["programs"][0]["status"] == "active"  # waiting for the follow-up
        # ... and clicks it: 20 + 40 points, promoted.
        clicked = follow(link, 302)
        assert clicked.getheader("Location") == "https://example.com/guide"
        to_sales = actions_of(config, pid, {"send_email", "notify", "crm_task"})
        left = prospect_when(config, pid, lambda p: p["automations"]["programs"][0]["status"] != "active")
        every = asyncio.run(read_all(config, "actions"))
        tasks = wait_until(lambda: (r := rows(config.crm_dsn, "SELECT id, kind, queue, title, status FROM crm_tasks "
                                                             "ORDER BY kind")) and len(r) == 2 and r, 30)

    [click] = [e for e in left["timeline"] if e["type"] == "email.clicked"]
    click_at = epoch_ms(click["occurred_at"])
    assert left["stage"] == "lead" and left["scores"]["total"] == 60
    notify, task = to_sales["notify"], to_sales["crm_task"]
    for action, type_ in ((notify, "notify"), (task, "crm_task")):
        position = "0" if type_ == "notify" else "1"
        assert action.action_id == automation_model.action_id("automation", "to-sales", FILE_VERSION, pid,
                                                              click["event_id"], position)
        assert (action.type, action.source, action.source_kind, action.step, action.target) == \
            (type_, "to-sales", "automation", None, "queue:sdr")
        assert (action.prospect_id, action.email, action.file_version) == (pid, email, FILE_VERSION)
        assert action.due_at == action.occurred_at == click_at  # the promoting input's time
        assert action.cause_event_id == click["event_id"]
        assert action.payload["why"] == "stage promoted" and action.payload["who"] == f"Ada Lovelace <{email}>"
    assert set(notify.payload) == {"message", "why", "who", "owner", "queue"}
    assert notify.payload["message"] == f"{email} promoted (score 60) by stage promoted"
    assert set(task.payload) == {"title", "task_due_at", "why", "who", "owner", "queue"}
    assert task.payload["title"] == f"Call Ada ({email})"
    assert task.payload["task_due_at"] == str(click_at + TWO_HOURS_MS)  # due: 2h after the promotion
    # Sales has both in the CRM: the task, and the notification (no chat webhook is configured for queue sdr)
    assert tasks == [(notify.action_id, "notification", "sdr", notify.payload["message"], "open"),
                     (task.action_id, "task", "sdr", f"Call Ada ({email})", "open")], tasks
    # Nothing else: the promotion ended the program before its follow-up.
    assert {a.action_id for _, a in every if a.prospect_id == pid} == {welcome.action_id, notify.action_id,
                                                                       task.action_id}

    [run] = left["automations"]["programs"]
    assert (run["program"], run["status"], run["reason"], run["emails"], run["engaged"], run["due_at"]) == \
        ("nurture", "exited", "promoted", 1, True, None)
    assert epoch_ms(run["entered_at"]) == identified_at and epoch_ms(run["ended_at"]) == click_at
    journal = [(j["kind"], j["source"], j["action_id"]) for j in left["automations"]["journal"]]
    assert journal == [
        ("program.enrolled", "nurture", None),
        ("action", "nurture", welcome.action_id),  # the welcome step: its send_email
        ("program.step", "nurture", None),  # wait: until 3 days later
        ("automation.fired", "to-sales", None),
        ("action", "to-sales", notify.action_id),
        ("action", "to-sales", task.action_id),
        ("program.exited", "nurture", None),
    ], left["automations"]["journal"]
    exited = left["automations"]["journal"][-1]
    assert (exited["detail"], exited["cause"], epoch_ms(exited["at"])) == ("promoted", click["event_id"], click_at)
