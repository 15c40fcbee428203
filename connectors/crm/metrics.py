"""The sink's Prometheus metrics."""

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter("leadflow_sink_records_total", "Lead and SLA events consumed by the sink, by outcome "
                  "(written, dead_lettered)", ["outcome"])
WRITES = Counter("leadflow_sink_writes_total", "Batches delivered to the CRM target")
RETRIES = Counter("leadflow_sink_retries_total", "Deliveries retried after a transient error")
WRITE_SECONDS = Histogram("leadflow_sink_write_seconds", "Time to deliver one batch to the CRM target",
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
DEAD_LETTERS = Counter("leadflow_sink_dead_letters_total", "Records sent to the dead-letter topic, by target",
                       ["target"])
END_TO_END_SECONDS = Histogram(
    "leadflow_sink_end_to_end_seconds",
    "From the collector receiving the causing input to the CRM target having the event (lead and SLA events)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
WEBHOOK_REQUESTS = Counter("leadflow_sink_webhook_requests_total", "Webhook requests by HTTP status (or error)",
                           ["status"])
WEBHOOK_SECONDS = Histogram("leadflow_sink_webhook_request_seconds", "Duration of one webhook request",
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
FEEDBACK_ROWS = Counter("leadflow_sink_crm_feedback_rows_total", "crm_feedback rows taken by the sink, by outcome "
                        "(published, refused)", ["outcome"])
DLQ_WAITING = Gauge("leadflow_sink_dlq_waiting_records", "Records on the dead-letter topic not yet replayed "
                    "(refreshed every 30 s)")
READY = Gauge("leadflow_sink_ready", "1 once the sink has joined its consumer group")


def start_at_zero(target: str) -> None:
    """Series exist from the start, so rates and alerts read 0 rather than nothing before the first event."""
    for outcome in ("written", "dead_lettered"):
        RECORDS.labels(outcome)
    DEAD_LETTERS.labels(target)
    for outcome in ("published", "refused"):
        FEEDBACK_ROWS.labels(outcome)
