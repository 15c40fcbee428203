"""Tasks for sales in the CRM database (``crm_tasks``, migration 0005): what an automation's ``crm_task`` asks
someone to do, a ``notify`` that has no chat webhook to go to, an SLA escalation's notify (``source_kind`` sla).

Why a table: a CRM working on this database (the way it reads ``crm_leads``) shows the rows as tasks and
closes them with ``UPDATE crm_tasks SET status = 'done', done_at = now() WHERE id = ...``. leadflow writes
each task once per id (the action id, deterministic across replays), so a redelivered action is the same
row; an open task may be refreshed from its action, but a task the CRM marked done or cancelled is never
reopened nor changed, and its owner or queue is not touched once written (the CRM may have reassigned it).

Who must act: ``person:<email>`` -> ``owner``; ``queue:<name>`` -> ``queue``; ``channel:#<name>`` -> ``queue``
(``#name``); ``owner`` -> the lead's owner as the engine knew it (the action's ``payload.owner``), else as
``crm_leads`` has it when the task is written, else the lead's queue the same way, else neither (the CRM
falls back to the lead's owner). ``assignee`` keeps the target as the automation named it.

The database being away is waited out (backoff with jitter, as the sink does) for as long as it lasts, until
the process stops (``Stopped``: the action is read again); a task the database refuses as such (a data or
integrity error) is a final ``AttemptFailed``, so the delivery dead-letters that action alone.

Why here, in the action delivery: it is the only writer (the CRM sink never touches ``crm_tasks``; the CRM
itself reads and closes the rows), as with its own ``action_deliveries`` (``log``). The table's migration stays
with the other CRM database migrations (``connectors.crm.migrations``: one numbered sequence per database).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from psycopg import AsyncConnection

from leadflow.database import PERMANENT, Database
from leadflow.outbound import AttemptFailed
from schemas.records import Action


TASK, NOTIFICATION, SLA_ESCALATION = "task", "notification", "sla_escalation"
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"

UPSERT_TASK = """
INSERT INTO crm_tasks (id, prospect_id, kind, assignee, owner, queue, title, details, due_at, source, cause_event_id)
SELECT %(id)s, %(prospect_id)s, %(kind)s, %(assignee)s,
       CASE WHEN %(from_lead)s::boolean THEN COALESCE(%(lead_owner)s::text, lead.owner) ELSE %(owner)s::text END,
       CASE WHEN NOT %(from_lead)s::boolean THEN %(queue)s::text
            WHEN COALESCE(%(lead_owner)s::text, lead.owner) IS NULL THEN COALESCE(%(lead_queue)s::text, lead.queue)
       END,
       %(title)s, %(details)s, to_timestamp(%(due_ms)s::bigint / 1000.0), %(source)s, %(cause_event_id)s
FROM (VALUES (1)) AS one LEFT JOIN crm_leads AS lead ON lead.prospect_id = %(prospect_id)s
ON CONFLICT (id) DO UPDATE SET
    kind = EXCLUDED.kind, assignee = EXCLUDED.assignee, title = EXCLUDED.title, details = EXCLUDED.details,
    due_at = EXCLUDED.due_at, source = EXCLUDED.source, cause_event_id = EXCLUDED.cause_event_id
WHERE crm_tasks.status = 'open'
  AND (crm_tasks.kind, crm_tasks.assignee, crm_tasks.title, crm_tasks.details, crm_tasks.due_at, crm_tasks.source,
       crm_tasks.cause_event_id)
      IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.assignee, EXCLUDED.title, EXCLUDED.details, EXCLUDED.due_at,
                        EXCLUDED.source, EXCLUDED.cause_event_id)
RETURNING (xmax = 0) AS inserted
"""


@dataclass(frozen=True)
class Task:
    id: str
    prospect_id: str
    kind: str  # task | notification | sla_escalation
    assignee: str  # owner | queue:<name> | person:<email> | channel:#<name>
    title: str
    details: str = ""
    due_at_ms: int | None = None
    source: str = ""
    cause_event_id: str | None = None
    lead_owner: str | None = None  # whom "owner" meant when the action was made (the engine's view)
    lead_queue: str | None = None

    @classmethod
    def of(cls, action: Action, kind: str | None = None) -> Task:
        """A ``crm_task`` action (kind ``task``) or a ``notify`` action (``notification``; an SLA's notify is an
        ``sla_escalation``)."""
        payload = action.payload
        if action.type == "crm_task":
            title, due = payload.get("title", ""), _ms(payload.get("task_due_at")) or action.due_at
            kind = kind or TASK
        elif action.type == "notify":
            title, due = payload.get("message", ""), action.due_at
            kind = kind or NOTIFICATION
            if kind == NOTIFICATION and action.source_kind == "sla":
                kind = SLA_ESCALATION
        else:
            raise ValueError(f"a {action.type} action is not a CRM task (crm_task and notify are)")
        return cls(action.action_id, action.prospect_id, kind, action.target or "owner",
                   title or payload.get("why", "") or action.type,
                   _details(payload.get("why", ""), payload.get("who", "")), due,
                   f"{action.source_kind} {action.source}".strip(), action.cause_event_id,
                   payload.get("owner") or None, payload.get("queue") or None)

    def assignment(self) -> tuple[str | None, str | None, bool]:
        """(owner, queue, from_lead): from_lead when the lead's current owner (or queue) is meant."""
        kind, sep, name = self.assignee.partition(":")
        if not sep:
            return (None, None, True) if self.assignee in ("", "owner") else (self.assignee, None, False)
        if kind == "person":
            return name, None, False
        if kind == "queue":
            return None, name, False
        if kind == "channel":
            return None, "#" + name.lstrip("#"), False
        return None, None, True


async def upsert_task(conn: AsyncConnection, task: Task) -> str:
    """Write ``task`` once per id, in its own transaction (a savepoint inside the caller's): ``created``,
    ``updated`` (an open task refreshed from its action) or ``unchanged`` (the same, or done/cancelled)."""
    owner, queue, from_lead = task.assignment()
    params = {"id": _clean(task.id), "prospect_id": _clean(task.prospect_id), "kind": task.kind,
              "assignee": _clean(task.assignee), "owner": _clean(owner), "queue": _clean(queue),
              "from_lead": from_lead, "lead_owner": _clean(task.lead_owner), "lead_queue": _clean(task.lead_queue),
              "title": _clean(task.title), "details": _clean(task.details),
              "due_ms": task.due_at_ms, "source": _clean(task.source), "cause_event_id": _clean(task.cause_event_id)}
    async with conn.transaction():
        cursor = await conn.execute(UPSERT_TASK, params)
        row = await cursor.fetchone()
    if row is None:
        return UNCHANGED
    return CREATED if row[0] else UPDATED


def _details(why: str, who: str) -> str:
    return "\n".join(line for line in (f"Why: {why}" if why else "", f"Who: {who}" if who else "") if line)


def _ms(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _clean(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; nothing else needs changing."""
    return value.replace("\x00", "") if value is not None else None


class TaskTable:
    """``crm_tasks`` for the action delivery: ``upsert`` waits out the database being away (``Database``;
    ``Stopped`` when the process stops first); a row the database refuses is a final ``AttemptFailed``."""

    def __init__(self, dsn: str) -> None:
        self._db = Database(dsn)

    async def upsert(self, action: Action, kind: str | None, stop: asyncio.Event) -> str:
        task = Task.of(action, kind)
        try:
            return await self._db.run(lambda conn: upsert_task(conn, task), stop)
        except PERMANENT as exc:
            raise AttemptFailed(f"crm_tasks refused task {task.id}: {type(exc).__name__}: "
                                f"{str(exc).strip()[:300]}", retryable=False) from None

    async def close(self) -> None:
        await self._db.close()
