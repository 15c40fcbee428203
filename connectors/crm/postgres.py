"""The PostgreSQL CRM target: idempotent, version-guarded upserts of lead and SLA events, a batch per
transaction; a batch a record poisons is written record by record, so only that record is dead-lettered."""

from __future__ import annotations

import asyncio
import logging


from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from connectors.crm import metrics
from connectors.crm.delivery import Delivery
from leadflow.database import PERMANENT, Database
from leadflow.outbound import Stopped
from leadflow.stage import Failure
from schemas.records import LeadEvent, SlaEvent

log = logging.getLogger("leadflow.sink")

UPSERT_LEAD = """
INSERT INTO crm_leads (prospect_id, email, stage, score_total, score_fit, score_behaviour, dimensions, profile,
                       segments, model_version, promoted_at, last_activity_at, version, last_event_id, owner, queue)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, to_timestamp(%s / 1000.0), to_timestamp(%s / 1000.0), %s, %s, %s,
        %s)
ON CONFLICT (prospect_id) DO UPDATE SET
    email = EXCLUDED.email, stage = EXCLUDED.stage, score_total = EXCLUDED.score_total,
    score_fit = EXCLUDED.score_fit, score_behaviour = EXCLUDED.score_behaviour,
    dimensions = EXCLUDED.dimensions, profile = EXCLUDED.profile, segments = EXCLUDED.segments,
    model_version = EXCLUDED.model_version, promoted_at = EXCLUDED.promoted_at,
    last_activity_at = EXCLUDED.last_activity_at, version = EXCLUDED.version,
    last_event_id = EXCLUDED.last_event_id, owner = EXCLUDED.owner, queue = EXCLUDED.queue, updated_at = now()
WHERE crm_leads.version < EXCLUDED.version
"""

INSERT_ACTIVITY = """
INSERT INTO crm_lead_activities (event_id, prospect_id, type, occurred_at, source, url, points, event_name)
VALUES (%s, %s, %s, to_timestamp(%s / 1000.0), %s, %s, %s, %s)
ON CONFLICT (event_id) DO NOTHING
"""


def latest_per_prospect(events: list[LeadEvent]) -> list[LeadEvent]:
    """Within one batch only the highest version of each prospect matters."""
    latest: dict[str, LeadEvent] = {}
    for event in events:
        current = latest.get(event.prospect_id)
        if current is None or event.version > current.version:
            latest[event.prospect_id] = event
    return sorted(latest.values(), key=lambda e: e.prospect_id)


async def write_batch(conn: AsyncConnection, events: list[LeadEvent], steps: list[SlaEvent]) -> None:
    """Leads, their new activities and SLA steps in one transaction; replaying any batch changes nothing."""
    leads = latest_per_prospect(events)
    last_activity = {e.prospect_id: e.timeline[-1].occurred_at if e.timeline else e.occurred_at for e in leads}
    async with conn.transaction():
        async with conn.cursor() as cur:
            if leads:
                await cur.executemany(UPSERT_LEAD, [
                    (e.prospect_id, e.email, e.stage, e.score.total, e.score.fit, e.score.behaviour,
                     Jsonb(e.dimensions), Jsonb(e.profile), list(e.segments), e.model_version, e.promoted_at,
                     last_activity[e.prospect_id], e.version, e.event_id, e.owner, e.queue)
                    for e in leads
                ])
                await cur.executemany(INSERT_ACTIVITY, [
                    (t.event_id, e.prospect_id, t.type, t.occurred_at, t.source, t.url, t.points, t.event)
                    for e in events for t in e.timeline
                ])
            rows = [sla_row(e) for e in steps if e.type in _STATUS]
            if rows:
                await cur.executemany(UPSERT_SLA, rows)


UPSERT_SLA = """
INSERT INTO crm_sla_timers (prospect_id, sla_id, started_at, due_at, status, met_at, breached_at, escalation_level,
                            owner, step, last_event_id)
VALUES (%s, %s, to_timestamp(%s / 1000.0), to_timestamp(%s / 1000.0), %s, to_timestamp(%s / 1000.0),
        to_timestamp(%s / 1000.0), %s, %s, %s, %s)
ON CONFLICT (prospect_id, sla_id, started_at) DO UPDATE SET
    status = EXCLUDED.status,
    met_at = COALESCE(EXCLUDED.met_at, crm_sla_timers.met_at),
    breached_at = COALESCE(EXCLUDED.breached_at, crm_sla_timers.breached_at),
    escalation_level = EXCLUDED.escalation_level, owner = COALESCE(EXCLUDED.owner, crm_sla_timers.owner),
    step = EXCLUDED.step, last_event_id = EXCLUDED.last_event_id, updated_at = now()
WHERE crm_sla_timers.step < EXCLUDED.step
"""
_STATUS = {"sla.started": "open", "sla.met": "met", "sla.breached": "breached", "sla.cancelled": "cancelled",
           "sla.escalated": "breached"}  # an escalation keeps the breached status


def sla_row(event: SlaEvent) -> tuple[object, ...]:
    """A step as a row; ``step`` orders a clock's steps (started 0, then one outcome 1, then escalation n
    1 + n: outcomes carry level 0), so a redelivered older step never overwrites a newer one."""
    step = 0 if event.type == "sla.started" else 1 + event.escalation_level
    return (event.prospect_id, event.sla_id, event.started_at, event.due_at, _STATUS[event.type],
            event.occurred_at if event.type == "sla.met" else None,
            event.occurred_at if event.type == "sla.breached" else None,
            event.escalation_level, event.owner, step, event.event_id)


class PostgresTarget:
    """Retries while the database is unreachable (``Database``: backoff with jitter), for as long as it takes."""

    name = "postgres"

    def __init__(self, dsn: str) -> None:
        self._db = Database(dsn, on_retry=metrics.RETRIES.inc)

    async def deliver(self, items: list[Delivery], stop: asyncio.Event) -> list[Failure] | None:
        async def write(conn: AsyncConnection) -> list[Failure]:
            try:
                await write_batch(conn, *_split(items))
                return []
            except PERMANENT:
                return await self._one_by_one(conn, items)
        try:
            return await self._db.run(write, stop)
        except Stopped:
            return None

    async def _one_by_one(self, conn: AsyncConnection, items: list[Delivery]) -> list[Failure]:
        failures = []
        for item in items:
            try:
                await write_batch(conn, *_split([item]))
            except PERMANENT as exc:
                log.error("cannot write %s[%s]@%s to the CRM database: %s", item.record.topic, item.record.partition,
                          item.record.offset, exc)
                failures.append(Failure(item.record, f"{type(exc).__name__}: {str(exc).strip()[:500]}"))
        return failures

    async def close(self) -> None:
        await self._db.close()


def _split(items: list[Delivery]) -> tuple[list[LeadEvent], list[SlaEvent]]:
    leads = [i.event for i in items if isinstance(i.event, LeadEvent)]
    return leads, [i.event for i in items if isinstance(i.event, SlaEvent)]
