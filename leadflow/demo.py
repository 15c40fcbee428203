"""`leadflow demo`: the embedded stack plus a minute of realistic prospect journeys (leadflow/journeys.py),
sent to the collector's real endpoints, so a newcomer watches leads promoted into `crm_leads`, SLA clocks
run (one met, one breached and escalated) and a disqualified lead recycled, then reads a summary.

It runs in its own data dir (``<data dir>/demo``, wiped first) under the shipped model with a demo SLA
(15 s around the clock instead of 4 business hours), on free ports, so it never touches `leadflow up`'s data.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import yaml

from leadflow.config import Config
from leadflow.journeys import Step, plan
from leadflow.process import free_port
from leadflow.stack_file import DEMO_DIR

if TYPE_CHECKING:
    from leadflow.supervisor import Stack
DEMO_SLA = {
    "id": "demo-first-response", "respond_within": "15s", "queue": "inbound-sdr",
    "business_hours": {"timezone": "UTC", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                       "hours": "00:00-24:00"},
    "escalation": [{"after": "5s", "action": "reroute", "to": "senior-sdr"},
                   {"after": "10s", "action": "notify", "to": "sales-manager"}],
}
SETTLE_S = 45.0  # after the last step: how long to wait for the outcomes


def demo_model(source: Path, target: Path) -> Path:
    """The given model with the demo's SLA policy, so a breach happens within the minute."""
    raw = yaml.safe_load(source.read_text())
    raw["version"] = f"{raw['version']}-demo"
    raw["sla"] = DEMO_SLA
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(raw, sort_keys=False))
    return target


def demo_automations(source: Path, target: Path) -> Path:
    """The automation file without its quiet hours (and with its templates beside it), so the nurture emails of a
    demo run at night are in the outbox within the minute too, not waiting for the morning."""
    raw = yaml.safe_load(source.read_text())
    raw["version"] = f"{raw['version']}-demo"
    (raw.get("defaults") or {}).pop("quiet_hours", None)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(raw, sort_keys=False))
    if (source.parent / "templates").is_dir():
        shutil.copytree(source.parent / "templates", target.parent / "templates", dirs_exist_ok=True)
    return target


def demo_config(config: Config) -> Config:
    from leadflow.config import DEFAULT_AUTOMATIONS

    directory = config.data_dir / DEMO_DIR
    shutil.rmtree(directory, ignore_errors=True)
    automations = demo_automations(config.automations_path or DEFAULT_AUTOMATIONS,
                                   directory / "automations" / "automations.yaml")
    return config.with_changes(
        data_dir=directory, model_path=demo_model(config.model_path, directory / "model.yaml"),
        automations_path=automations,
        http_port=free_port("127.0.0.1", config.http_port),
        worker_metrics_port=free_port("127.0.0.1", config.worker_metrics_port or 0),
        sink_metrics_port=free_port("127.0.0.1", config.sink_metrics_port or 0),
        actions_metrics_port=free_port("127.0.0.1", config.actions_metrics_port or 0))


@dataclass
class Outcomes:
    """What the CRM shows: the demo is done when every kind of journey has had its effect."""

    stages: dict[str, int] = field(default_factory=dict)
    sla: dict[str, int] = field(default_factory=dict)
    escalated: int = 0  # clocks through every escalation step
    outbox: dict[str, int] = field(default_factory=dict)  # what the action delivery wrote, by kind

    def missing(self) -> list[str]:
        wanted = [("a lead in crm_leads", sum(self.stages.values()) > 0), ("a won deal", self.stages.get("won", 0) > 0),
                  ("a recycled lead", self.stages.get("nurture", 0) > 0), ("an SLA met", self.sla.get("met", 0) > 0),
                  ("an SLA breached and escalated", self.escalated > 0),
                  ("a nurture email in the outbox", self.outbox.get("email", 0) > 0),
                  ("a sales notification", self.outbox.get("notify", 0) > 0)]
        return [what for what, seen in wanted if not seen]


class Demo:
    def __init__(self, prospects: int, keep: bool) -> None:
        self.steps = plan(prospects)
        self.keep = keep
        self.sent = 0
        self.refused: list[str] = []
        self.outcomes = Outcomes()
        self.phase = "starting"

    def progress(self) -> str:
        started = len({s.email for s in self.steps[:self.sent]})
        journeys = len({s.email for s in self.steps})
        left = ", ".join(self.outcomes.missing())
        return (f"demo     {self.phase}: {self.sent}/{len(self.steps)} requests, {started}/{journeys} journeys"
                + (f"; waiting for {left}" if left and self.sent == len(self.steps) else ""))

    def run(self, stack: Stack) -> int:
        config = stack.config
        base = f"http://127.0.0.1:{config.http_port}"
        began = time.monotonic()
        self.phase = "sending journeys"
        for step in self.steps:
            time.sleep(max(0.0, began + step.at_s - time.monotonic()))
            if stack.stopping:
                return 1
            self._send(base, config, step)
            self.sent += 1
        self.phase = "waiting for the outcomes"
        deadline = time.monotonic() + SETTLE_S
        while not stack.stopping:
            self.outcomes = _outcomes(config.crm_dsn, config.data_dir)
            if not self.outcomes.missing() or time.monotonic() > deadline:
                break
            time.sleep(1)
        self.phase = "done"
        examples = {}
        for step in self.steps:
            examples.setdefault(step.journey, step.email)
        for text in summary(config, self.outcomes, self.refused, time.monotonic() - began, examples):
            stack.say(text)
        if self.keep:
            stack.say(f"still running: try `leadflow explain {self.steps[0].email}` in another terminal (it finds "
                      f"the demo through {config.data_dir}/stack.env); Ctrl-C to stop")
        return 1 if self.outcomes.missing() or self.refused else 0

    def _send(self, base: str, config: Config, step: Step) -> None:
        if step.kind == "event":
            key = base64.b64encode(f"{config.secrets.write_key}:".encode()).decode()
            status, reply = _post(f"{base}/v1/events", {"batch": [step.body]}, f"Basic {key}")
            ok = status == 200 and not reply.get("errors")
        else:
            status, reply = _post(f"{base}/v1/crm/feedback", step.body, f"Bearer {config.secrets.crm_feedback_token}")
            ok = status == 202
        if not ok:
            self.refused.append(f"{step.kind} for {step.email}: HTTP {status} {json.dumps(reply)[:200]}")


def _post(url: str, payload: Any, authorization: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": authorization})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except OSError as exc:
        return 0, {"error": str(exc)}


def _outcomes(dsn: str, data_dir: Path) -> Outcomes:
    from connectors.actions.outbox import entries, outbox_dir

    outbox = Counter(entry.kind for entry in entries(outbox_dir(data_dir)))
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            stages = dict(conn.execute("SELECT stage, count(*) FROM crm_leads GROUP BY stage").fetchall())
            sla = dict(conn.execute("SELECT status, count(*) FROM crm_sla_timers GROUP BY status").fetchall())
            escalated = conn.execute("SELECT count(*) FROM crm_sla_timers WHERE escalation_level >= %s",
                                     (len(DEMO_SLA["escalation"]),)).fetchone()[0]
    except psycopg.Error:
        return Outcomes(outbox=dict(outbox))
    return Outcomes(stages, sla, escalated, dict(outbox))


def summary(config: Config, outcomes: Outcomes, refused: list[str], seconds: float,
            examples: dict[str, str]) -> list[str]:
    """Totals from the CRM, then one prospect of each journey (journey -> email) as the CRM has it, then what the
    automations produced: the newest nurture emails and sales notifications in the outbox."""
    dsn = config.crm_dsn
    lines = [f"demo finished in {seconds:.0f}s",
             "crm_leads by stage: " + (", ".join(f"{stage} {n}" for stage, n in sorted(outcomes.stages.items()))
                                       or "none"),
             "crm_sla_timers: " + (", ".join(f"{status} {n}" for status, n in sorted(outcomes.sla.items())) or "none")
             + f" ({outcomes.escalated} escalated to the last step)"]
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            rows = {row[0]: row[1:] for row in conn.execute("""
                SELECT l.email, l.stage, l.score_total, coalesce(l.owner, l.queue, ''),
                       coalesce(t.status, ''), coalesce(t.escalation_level, 0),
                       (SELECT count(*) FROM crm_lead_activities a WHERE a.prospect_id = l.prospect_id)
                FROM crm_leads l LEFT JOIN crm_sla_timers t ON t.prospect_id = l.prospect_id
                WHERE l.email = ANY(%s)""", (list(examples.values()),)).fetchall()}
    except psycopg.Error:
        rows = {}
    lines.append(f"  {'journey':<13} {'email':<30} {'stage':<9} {'score':>6}  {'owner/queue':<13} {'SLA':<11} "
                 "activities")
    for journey, email in examples.items():
        if email not in rows:
            lines.append(f"  {journey:<13} {email:<30} not sales-ready: never sent to the CRM")
            continue
        stage, score, owner, status, level, activities = rows[email]
        clock = status + (f" +{level} esc" if level else "")
        lines.append(f"  {journey:<13} {email:<30} {stage:<9} {score:6.1f}  {owner:<13} {clock:<11} {activities}")
    lines += _outbox_lines(config.data_dir, outcomes.outbox)
    missing = outcomes.missing()
    if missing:
        lines.append("not seen in time: " + ", ".join(missing))
    lines += [f"refused: {text}" for text in refused]
    return lines


def _outbox_lines(data_dir: Path, counts: dict[str, int], shown: int = 3) -> list[str]:
    from connectors.actions.outbox import entries, outbox_dir
    from leadflow.terminal import printable

    directory = outbox_dir(data_dir)
    names = {"email": "email", "notify": "notification", "crm_task": "CRM task", "webhook": "webhook"}
    lines = [f"outbox ({directory}, `leadflow outbox` lists it): "
             + (", ".join(f"{counts[kind]} {names[kind]}{'' if counts[kind] == 1 else 's'}" for kind in names
                          if counts.get(kind)) or "empty")]
    everything = entries(directory)
    for kind in ("email", "notify"):
        for entry in [e for e in everything if e.kind == kind][:shown]:
            lines.append(f"  {kind:<7} {printable(entry.to)[:30]:<30} {printable(entry.subject)[:60]:<60} "
                         f"({printable(entry.source)})")
    return lines


def run_demo(config: Config, prospects: int, keep: bool) -> int:
    from leadflow.supervisor import run_up

    demo = Demo(prospects, keep)
    return run_up(config, demo.run, keep, demo.progress)
