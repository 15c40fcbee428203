"""The worker's Prometheus metrics."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PROCESSED = Counter("leadflow_worker_events_processed_total", "Interactions processed by the worker",
                           ["type"])
EVENTS_UNDECODABLE = Counter("leadflow_worker_events_undecodable_total",
                             "Records on the interactions topic no known schema wrote (skipped)")
DUPLICATES = Counter("leadflow_worker_duplicates_total", "Redelivered interactions ignored by event_id")
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
STATES_WRITTEN = Counter("leadflow_worker_states_written_total", "Prospect states written to the changelog")
SLA_STEPS = Counter("leadflow_sla_steps_total", "SLA clock steps emitted (sla.started, sla.met, sla.breached, "
                    "sla.escalated, sla.cancelled)", ["type"])
SLA_CLOCKS_WAITING = Gauge("leadflow_sla_clocks_waiting", "Response clocks of this worker's prospects waiting for a "
                           "first response, by status (open: before the deadline; breached: past it)", ["status"])
SLA_FIRST_RESPONSE_SECONDS = Histogram(
    "leadflow_sla_first_response_seconds", "From promotion to the CRM's first verdict on the lead (wall-clock time)",
    buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800))
