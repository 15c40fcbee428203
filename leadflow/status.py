"""The live status of a running stack, read from its processes' /metrics endpoints: what `leadflow up` and
`leadflow demo` show while they run.

``Totals`` are the counters and gauges that matter to a person watching; the rates come
from two readings. Reading and rendering are pure; the supervisor fetches the pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Totals:
    accepted: float = 0.0  # inputs the collector published
    rejected: float = 0.0
    spooled: float = 0.0  # waiting in the collector's disk spool
    scored: float = 0.0  # inputs the workers processed
    worker_lag: float = 0.0
    sink_lag: float = 0.0
    promoted: float = 0.0
    demoted: float = 0.0
    recycled: float = 0.0
    sla_open: float = 0.0
    sla_breached: float = 0.0  # clocks past their deadline, still waiting for a first response
    sla_met: float = 0.0
    crm_written: float = 0.0  # lead and SLA events the sink wrote to the CRM
    dead_letters: float = 0.0
    actions: float = 0.0  # actions the automations emitted (notify, crm_task, send_email, ...)
    enrolled: float = 0.0  # prospects entered into nurture programs
    delivered: float = 0.0  # actions the delivery sent or wrote (emails, notifications, tasks, webhooks)
    delivery_failed: float = 0.0  # actions it dead-lettered


# field -> (sample name, label, value); a label of None sums every sample of the name
_SAMPLES: dict[str, tuple[str, str | None, str | None]] = {
    "accepted": ("leadflow_collector_inputs_total", "outcome", "accepted"),
    "rejected": ("leadflow_collector_inputs_total", "outcome", "rejected"),
    "spooled": ("leadflow_collector_spool_records", None, None),
    "scored": ("leadflow_worker_events_processed_total", None, None),
    "worker_lag": ("leadflow_consumer_lag_records", "group", "-worker"),
    "sink_lag": ("leadflow_consumer_lag_records", "group", "-sink"),
    "promoted": ("leadflow_worker_lead_events_total", "type", "lead.promoted"),
    "demoted": ("leadflow_worker_lead_events_total", "type", "lead.demoted"),
    "recycled": ("leadflow_worker_lead_events_total", "type", "lead.recycled"),
    "sla_open": ("leadflow_sla_clocks_waiting", "status", "open"),
    "sla_breached": ("leadflow_sla_clocks_waiting", "status", "breached"),
    "sla_met": ("leadflow_sla_steps_total", "type", "sla.met"),
    "crm_written": ("leadflow_sink_records_total", "outcome", "written"),
    "dead_letters": ("leadflow_sink_dead_letters_total", None, None),
    "actions": ("leadflow_automation_actions_total", None, None),
    "enrolled": ("leadflow_automation_enrollments_total", None, None),
    "delivered": ("leadflow_actions_total", "outcome", "sent|written"),
    "delivery_failed": ("leadflow_actions_total", "outcome", "dead_lettered"),
}


def read_totals(pages: Iterable[str]) -> Totals:
    """Totals from Prometheus text pages (any subset of the processes; a missing one counts as 0)."""
    wanted: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for name, (sample, label, value) in _SAMPLES.items():
        wanted.setdefault(sample, []).append((name, label, value))
    sums = dict.fromkeys(_SAMPLES, 0.0)
    for page in pages:
        for family in text_string_to_metric_families(page):
            for sample in family.samples:
                for name, label, value in wanted.get(sample.name, ()):
                    if label is None or _matches(sample.labels.get(label, ""), value):
                        sums[name] += sample.value
    return Totals(**sums)


def _matches(actual: str, expected: str | None) -> bool:
    """Consumer groups are named <prefix>-worker / <prefix>-sink: those match by suffix; a|b is either value."""
    assert expected is not None
    return actual.endswith(expected) if expected.startswith("-") else actual in expected.split("|")


def _rate(before: Totals, after: Totals, name: str, seconds: float) -> float:
    return max(0.0, getattr(after, name) - getattr(before, name)) / seconds if seconds > 0 else 0.0


def panel(before: Totals, after: Totals, seconds: float) -> list[str]:
    """The multi-line panel a terminal redraws in place."""
    n = _number
    return [
        f"inputs   {_rate(before, after, 'accepted', seconds):8.1f}/s   accepted {n(after.accepted)}   "
        f"rejected {n(after.rejected)}   spooled {n(after.spooled)}",
        f"scoring  {_rate(before, after, 'scored', seconds):8.1f}/s   lag: worker {n(after.worker_lag)}, "
        f"sink {n(after.sink_lag)}",
        f"leads    promoted {n(after.promoted)}   demoted {n(after.demoted)}   recycled {n(after.recycled)}   "
        f"CRM writes {n(after.crm_written)}   dead letters {n(after.dead_letters)}",
        f"SLA      open {n(after.sla_open)}   breached {n(after.sla_breached)}   met {n(after.sla_met)}",
        f"automate actions {n(after.actions)}   enrolled in programs {n(after.enrolled)}   "
        f"delivered {n(after.delivered)}   failed {n(after.delivery_failed)}",
    ]


def line(before: Totals, after: Totals, seconds: float) -> str:
    """One line for logs and pipes."""
    n = _number
    return (f"status: inputs {_rate(before, after, 'accepted', seconds):.1f}/s, scored "
            f"{_rate(before, after, 'scored', seconds):.1f}/s, lag {n(after.worker_lag)}/{n(after.sink_lag)}, "
            f"promoted {n(after.promoted)}, recycled {n(after.recycled)}, SLA open {n(after.sla_open)} "
            f"breached {n(after.sla_breached)} met {n(after.sla_met)}, CRM writes {n(after.crm_written)}, "
            f"actions {n(after.actions)}, delivered {n(after.delivered)}")


def _number(value: float) -> str:
    return f"{value:,.0f}"

