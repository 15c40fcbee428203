"""crm_tasks on a real PostgreSQL: written once per id, assigned as the automation said, never reopened."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import psycopg
import pytest

from connectors.actions.crm_tasks import (CREATED, NOTIFICATION, SLA_ESCALATION, TASK, UNCHANGED, UPDATED, Task,
                                         TaskTable, upsert_task)
from connectors.crm.migrations import migrate
from leadflow.outbound import AttemptFailed, Stopped
from schemas.records import Action

pytestmark = pytest.mark.integration

T0 = 1_767_000_000_000


def action(type_: str = "crm_task", target: str = "owner", action_id: str = "act-1", prospect: str = "p_1",
           source_kind: str = "automation", **payload: str) -> Action:
    base = {"crm_task": {"title": "Call Ann", "task_due_at": str(T0 + 3_600_000), "why": "stage promoted",
                         "who": "Ann Lee <ann@example.com>"},
            "notify": {"message": "Ann (lead, score 72): stage promoted", "why": "stage promoted",
                       "who": "Ann Lee <ann@example.com>"}}.get(type_, {})
    return Action(action_id=action_id, prospect_id=prospect, type=type_, source="hot-lead", source_kind=source_kind,
                  file_version="v1", due_at=T0, occurred_at=T0, cause_event_id="e1", target=target,
                  payload={**base, **payload})


def upsert(dsn: str, *tasks: Task) -> list[str]:
    async def main():
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            return [await upsert_task(conn, task) for task in tasks]

    return asyncio.run(main())


def sql(dsn: str, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def task_row(dsn: str, task_id: str = "act-1") -> dict:
    with psycopg.connect(dsn) as conn:
        cursor = conn.execute("SELECT * FROM crm_tasks WHERE id = %s", (task_id,))
        names = [c.name for c in cursor.description]
        return dict(zip(names, cursor.fetchone()))


def add_lead(dsn: str, prospect: str, owner: str | None, queue: str | None) -> None:
    sql(dsn, """INSERT INTO crm_leads (prospect_id, stage, score_total, score_fit, score_behaviour, model_version,
                                       version, last_event_id, owner, queue)
                VALUES (%s, 'lead', 72, 20, 52, 'm1', 1, 'v1', %s, %s)""", (prospect, owner, queue))


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


@pytest.fixture
def dsn(crm_dsn: str) -> str:
    migrate(crm_dsn)
    return crm_dsn


def test_migration_5_creates_the_table_and_its_indexes(dsn):
    assert (5, "crm_tasks") in sql(dsn, "SELECT version, name FROM leadflow_schema_migrations")
    indexes = {name for (name,) in sql(dsn, "SELECT indexname FROM pg_indexes WHERE tablename = 'crm_tasks'")}
    assert {"crm_tasks_pkey", "crm_tasks_owner_idx", "crm_tasks_queue_idx"} <= indexes
    assert sql(dsn, "SELECT indexdef FROM pg_indexes WHERE indexname = 'crm_tasks_owner_idx'")[0][0].endswith(
        "(owner, status, due_at)")


def test_a_crm_task_is_written_once_for_the_leads_owner(dsn):
    add_lead(dsn, "p_1", "alice", "inbound")
    task = Task.of(action())
    assert upsert(dsn, task, task) == [CREATED, UNCHANGED]  # a redelivery is the same row
    row = task_row(dsn)
    assert (row["prospect_id"], row["kind"], row["assignee"], row["owner"], row["queue"]) == \
        ("p_1", TASK, "owner", "alice", None)
    assert row["title"] == "Call Ann" and row["details"] == "Why: stage promoted\nWho: Ann Lee <ann@example.com>"
    assert row["due_at"] == at(T0 + 3_600_000) and row["status"] == "open" and row["done_at"] is None
    assert (row["source"], row["cause_event_id"]) == ("automation hot-lead", "e1")
    assert sql(dsn, "SELECT count(*) FROM crm_tasks") == [(1,)]


def test_targets_become_owner_or_queue(dsn):
    add_lead(dsn, "p_queued", None, "inbound-sdr")
    tasks = {
        "person": Task.of(action(target="person:bob@example.com", action_id="a-person")),
        "queue": Task.of(action(target="queue:enterprise", action_id="a-queue")),
        "channel": Task.of(action("notify", target="channel:#sales", action_id="a-channel")),
        "queued lead": Task.of(action("notify", action_id="a-queued", prospect="p_queued")),
        "no lead row": Task.of(action(action_id="a-nolead", prospect="p_unknown")),
    }
    assert upsert(dsn, *tasks.values()) == [CREATED] * 5
    got = {name: (task_row(dsn, t.id)["owner"], task_row(dsn, t.id)["queue"], task_row(dsn, t.id)["kind"])
           for name, t in tasks.items()}
    assert got == {"person": ("bob@example.com", None, TASK), "queue": (None, "enterprise", TASK),
                   "channel": (None, "#sales", NOTIFICATION), "queued lead": (None, "inbound-sdr", NOTIFICATION),
                   "no lead row": (None, None, TASK)}
    notification = task_row(dsn, "a-channel")
    assert notification["title"] == "Ann (lead, score 72): stage promoted" and notification["due_at"] == at(T0)


def test_a_task_the_crm_closed_is_never_reopened_nor_changed(dsn):
    add_lead(dsn, "p_1", "alice", None)
    assert upsert(dsn, Task.of(action())) == [CREATED]
    sql(dsn, "UPDATE crm_tasks SET status = 'done', done_at = now() WHERE id = %s", ("act-1",))  # as documented
    closed = task_row(dsn)
    changed = Task.of(action(title="Call Ann again"))
    assert upsert(dsn, Task.of(action()), changed) == [UNCHANGED, UNCHANGED]
    assert task_row(dsn) == closed and closed["status"] == "done" and closed["done_at"] is not None

    assert upsert(dsn, Task.of(action(action_id="act-2"))) == [CREATED]
    sql(dsn, "UPDATE crm_tasks SET status = 'cancelled' WHERE id = 'act-2'")
    assert upsert(dsn, Task.of(action(action_id="act-2", title="x"))) == [UNCHANGED]
    assert (task_row(dsn, "act-2")["status"], task_row(dsn, "act-2")["title"]) == ("cancelled", "Call Ann")


def test_an_open_task_is_refreshed_from_its_action_but_keeps_the_crms_reassignment(dsn):
    add_lead(dsn, "p_1", "alice", None)
    assert upsert(dsn, Task.of(action())) == [CREATED]
    sql(dsn, "UPDATE crm_tasks SET owner = 'carol' WHERE id = 'act-1'")
    before = task_row(dsn)
    assert upsert(dsn, Task.of(action(title="Call Ann today"))) == [UPDATED]
    after = task_row(dsn)
    assert (after["title"], after["owner"], after["status"]) == ("Call Ann today", "carol", "open")
    assert after["updated_at"] >= before["updated_at"] and after["created_at"] == before["created_at"]


def test_setting_only_the_status_still_records_when_it_was_done(dsn):
    assert upsert(dsn, Task.of(action())) == [CREATED]
    sql(dsn, "UPDATE crm_tasks SET status = 'done' WHERE id = 'act-1'")
    assert task_row(dsn)["done_at"] is not None
    with pytest.raises(psycopg.errors.CheckViolation):
        sql(dsn, "UPDATE crm_tasks SET status = 'closed' WHERE id = 'act-1'")


def test_whom_owner_means_comes_from_the_action_then_from_crm_leads(dsn):
    add_lead(dsn, "p_1", "alice", None)
    add_lead(dsn, "p_2", None, "inbound")
    tasks = [Task.of(action(action_id="engine-owner", owner="bob", queue="")),  # the engine knew better
             Task.of(action(action_id="engine-queue", prospect="p_3", owner="", queue="enterprise")),
             Task.of(action(action_id="lead-owner", owner="", queue="")),
             Task.of(action(action_id="lead-queue", prospect="p_2", owner="", queue=""))]
    assert upsert(dsn, *tasks) == [CREATED] * 4
    assert [(task_row(dsn, t.id)["owner"], task_row(dsn, t.id)["queue"]) for t in tasks] == \
        [("bob", None), (None, "enterprise"), ("alice", None), (None, "inbound")]


def test_an_sla_escalations_notify_is_an_sla_escalation_task(dsn):
    sla = action("notify", target="person:manager@example.com", action_id="sla-1", source_kind="sla",
                 message="ann@example.com has waited 2h past the response deadline", why="SLA default escalated")
    task = Task.of(sla, NOTIFICATION)
    assert upsert(dsn, task, task) == [CREATED, UNCHANGED]
    row = task_row(dsn, "sla-1")
    assert (row["kind"], row["owner"], row["queue"], row["source"]) == \
        (SLA_ESCALATION, "manager@example.com", None, "sla hot-lead")
    assert row["title"].startswith("ann@example.com has waited") and row["due_at"] == at(T0)


def test_the_task_table_writes_and_refuses_what_postgres_refuses(dsn):
    async def main():
        table, stop = TaskTable(dsn), asyncio.Event()
        try:
            first = await table.upsert(action(), None, stop)
            again = await table.upsert(action(), None, stop)
            with pytest.raises(AttemptFailed) as refused:
                await table.upsert(action(action_id="act-2", task_due_at=str(10**16)), None, stop)  # out of range
            return first, again, refused.value
        finally:
            await table.close()

    first, again, refused = asyncio.run(main())
    assert (first, again) == (CREATED, UNCHANGED)
    assert not refused.retryable and "act-2" in refused.reason


def test_the_task_table_waits_for_the_database_until_the_process_stops():
    async def main():
        table, stop = TaskTable("postgresql://leadflow@127.0.0.1:9/none"), asyncio.Event()
        asyncio.get_running_loop().call_later(1.0, stop.set)
        with pytest.raises(Stopped):
            await table.upsert(action(), None, stop)
        await table.close()

    asyncio.run(main())


def test_text_postgres_cannot_store_is_cleaned_and_other_action_types_are_refused(dsn):
    assert upsert(dsn, Task.of(action(title="Call\x00 Ann", who="A\x00nn"))) == [CREATED]
    assert task_row(dsn)["title"] == "Call Ann" and "\x00" not in task_row(dsn)["details"]
    with pytest.raises(ValueError, match="not a CRM task"):
        Task.of(action("send_email"))
    assert Task.of(action(task_due_at="soon")).due_at_ms == T0  # unreadable: due when the action is
