"""The action delivery's Prometheus metrics (``leadflow actions``)."""

from prometheus_client import Counter, Gauge, Histogram

ACTIONS = Counter("leadflow_actions_total", "Actions taken by the delivery, by type and outcome (sent, written: to "
                  "the outbox or a CRM table, suppressed, scheduled, duplicate: already done, internal: applied "
                  "by the engine itself, dead_lettered)", ["type", "outcome"])
SUPPRESSED = Counter("leadflow_actions_suppressed_total", "Emails not sent at send time, by reason (unsubscribed, "
                     "hard_bounce, complaint, no_consent, weekly_cap)", ["reason"])
ATTEMPTS = Counter("leadflow_actions_attempts_total", "Calls to a provider, chat webhook or webhook target, by "
                   "channel (sendgrid, mailgun, postmark, ses, outbox, chat, webhook)", ["channel"])
WEBHOOK_REQUESTS = Counter("leadflow_actions_webhook_requests_total", "Webhook action requests by HTTP status (or "
                           "error)", ["status"])
WEBHOOK_SECONDS = Histogram("leadflow_actions_webhook_request_seconds", "Duration of one webhook action request",
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
RETRIES = Counter("leadflow_actions_retries_total", "Calls retried after a transient failure (5xx, 429, timeouts)")
LATENCY_SECONDS = Histogram("leadflow_actions_latency_seconds", "From an action's due time to its delivery",
                            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
SCHEDULED = Gauge("leadflow_actions_scheduled", "Actions waiting in the log for their due time (quiet hours, a "
                  "due time ahead)")
READY = Gauge("leadflow_actions_ready", "1 once the action delivery has joined its consumer group")

TYPES = ("send_email", "notify", "crm_task", "webhook")
OUTCOMES = ("sent", "written", "suppressed", "scheduled", "duplicate", "dead_lettered")
REASONS = ("unsubscribed", "hard_bounce", "complaint", "no_consent", "weekly_cap")
CHANNELS = ("sendgrid", "mailgun", "postmark", "ses", "outbox", "chat", "webhook")


def start_at_zero() -> None:
    """Series exist from the start, so rates and alerts read 0 rather than nothing before the first action."""
    for type_ in TYPES:
        for outcome in OUTCOMES:
            ACTIONS.labels(type_, outcome)
    for reason in REASONS:
        SUPPRESSED.labels(reason)
    for channel in CHANNELS:
        ATTEMPTS.labels(channel)
