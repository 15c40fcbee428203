"""The worker's Prometheus metrics."""

from typing import Iterable

from prometheus_client import Counter, Gauge, Histogram

from streams.core.automation_model import ACTION_TYPES, SUPPRESSION_REASONS
from streams.core.automation_state import COMPLETED, EXHAUSTED
from streams.core.lifecycle import VERDICTS

EVENTS_PROCESSED = Counter("leadflow_worker_events_processed_total", "Interactions processed by the worker",
                           ["type"])
EVENTS_UNDECODABLE = Counter("leadflow_worker_events_undecodable_total",
                             "Input records no known schema wrote (dead-lettered to leadflow.sink-dlq)")
DUPLICATES = Counter("leadflow_worker_duplicates_total", "Redelivered interactions ignored by event_id")
PROSPECTS_CREATED = Counter("leadflow_worker_prospects_created_total", "Prospects seen for the first time, known "
                            "(an email or id: the funnel's names) or anonymous visitors", ["identity"])
LEAD_EVENTS = Counter("leadflow_worker_lead_events_total", "Lead events emitted", ["type"])
BATCH_SECONDS = Histogram("leadflow_worker_batch_seconds",
                          "Time to decode and score a batch of inputs and deliver its outputs",
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
BATCH_SIZE = Histogram("leadflow_worker_batch_size", "Inputs per batch",
                       buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000))
READY = Gauge("leadflow_worker_ready", "1 once the worker has joined its group and been assigned partitions")
ASSIGNED_PARTITIONS = Gauge("leadflow_worker_assigned_partitions", "Partitions of the interactions topic assigned")
RESCORED = Counter("leadflow_worker_rescored_total",
                   "Prospects recomputed from their history because a new scoring model was deployed")
CHECKPOINT_SECONDS = Histogram("leadflow_worker_checkpoint_seconds",
                               "Time to store the changed states and commit the inputs of one checkpoint",
                               buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
CHECKPOINT_PAUSE_SECONDS = Histogram(
    "leadflow_worker_checkpoint_pause_seconds",
    "Time scoring stops for a checkpoint's snapshot (serializing the changed states); storing them runs alongside",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0))
SCORING_LATENCY_SECONDS = Histogram(
    "leadflow_worker_scoring_latency_seconds",
    "From the collector receiving a batch's oldest interaction to the worker's outputs for the batch "
    "acknowledged by the broker (one observation per batch: its worst case)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
PROSPECT_SCORE = Histogram("leadflow_worker_prospect_score", "Total score of a prospect after each change (its "
                           "distribution across prospects)",
                           buckets=(-25, 0, 5, 10, 20, 30, 40, 50, 60, 80, 100, 150, 200, 400))
STATES_CACHED = Gauge("leadflow_worker_states_cached", "Prospect states live in the worker's memory (the cache)")
STATES_EVICTED = Counter("leadflow_worker_states_evicted_total",
                         "Prospect states the cache let go (kept in the local store, read back when next touched)")
STATES_READ = Counter("leadflow_worker_states_read_total",
                      "Prospect states read back from the local store into the cache (the cache's misses)")
RECOVERY_SECONDS = Histogram("leadflow_worker_recovery_seconds",
                             "Time to recover newly assigned partitions: local stores checked, changelog tail read",
                             buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
CHANGELOG_BYTES = Counter("leadflow_worker_changelog_bytes_total",
                          "Bytes of prospect state the worker wrote to its changelog (keys and values)")
STATES_WRITTEN = Counter("leadflow_worker_states_written_total", "Prospect states written to the changelog")
SLA_STEPS = Counter("leadflow_sla_steps_total", "SLA clock steps emitted (sla.started, sla.met, sla.breached, "
                    "sla.escalated, sla.cancelled)", ["type"])
SLA_CLOCKS_WAITING = Gauge("leadflow_sla_clocks_waiting", "Response clocks of this worker's prospects waiting for a "
                           "first response, by status (open: before the deadline; breached: past it)", ["status"])
SLA_FIRST_RESPONSE_SECONDS = Histogram(
    "leadflow_sla_first_response_seconds", "From promotion to the CRM's first verdict on the lead (wall-clock time)",
    buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800))

AUTOMATION_ACTIONS = Counter("leadflow_automation_actions_total", "Actions of automations and nurture programs "
                             "emitted on leadflow.actions", ["type"])
AUTOMATION_SUPPRESSED = Counter("leadflow_automation_actions_suppressed_total", "Actions not emitted: the prospect "
                                "unsubscribed, bounced, complained or gave no consent, or the weekly marketing-email "
                                "cap was reached", ["reason"])
PROGRAM_ENROLLMENTS = Counter("leadflow_automation_enrollments_total", "Prospects enrolled in a nurture program",
                              ["program"])
PROGRAM_EXITS = Counter("leadflow_automation_exits_total", "Enrollments ended, by program, outcome (completed, "
                        "exited, exhausted) and reason (why an exited one left: an exit criterion, unenrolled or "
                        "program_removed; empty for completed and exhausted)", ["program", "outcome", "reason"])
TIMER_LATENESS_SECONDS = Histogram(
    "leadflow_automation_timer_lateness_seconds",
    "From a timer's due time (program wait, quiet-hour deferral, email-outcome window, inactivity, SLA step, decay "
    "demotion) to the worker processing it (wall-clock time)",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600))
TIMERS_PENDING = Gauge("leadflow_automation_timers_pending", "Prospects this worker holds with a timer to come")


def start_at_zero() -> None:
    """Series exist from the start, so rates and alerts read 0 rather than nothing before the first event."""
    for kind in ("lead.promoted", "lead.updated", "lead.demoted", "lead.recycled"):
        LEAD_EVENTS.labels(kind)
    for kind in ("sla.started", "sla.met", "sla.breached", "sla.escalated", "sla.cancelled"):
        SLA_STEPS.labels(kind)
    for status in ("open", "breached"):
        SLA_CLOCKS_WAITING.labels(status)
    for identity in ("known", "anonymous"):
        PROSPECTS_CREATED.labels(identity)
    for verdict in VERDICTS:  # the funnel's accepted and won
        EVENTS_PROCESSED.labels(f"crm.{verdict}")
    for kind in ACTION_TYPES:
        AUTOMATION_ACTIONS.labels(kind)
    for reason in SUPPRESSION_REASONS:
        AUTOMATION_SUPPRESSED.labels(reason)


def start_programs_at_zero(programs: Iterable[str]) -> None:
    """The per-program series of the automation file's programs, at 0 (call again with a new file's programs); exits
    by completion and exhaustion, which carry no reason (an exit's reasons appear with the first one)."""
    for program in programs:
        PROGRAM_ENROLLMENTS.labels(program)
        for outcome in (COMPLETED, EXHAUSTED):
            PROGRAM_EXITS.labels(program, outcome, "")
