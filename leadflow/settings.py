"""Every setting: its ``LEADFLOW_*`` env var, CLI flag, parser, help and place in the Config.

The one table the CLI's flags, ``load_config``, the README check and ``--help`` are built from;
``leadflow.config`` holds the typed Config it fills.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from leadflow import parsers

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
LOG_LEVELS = ("debug", "info", "warning", "error")
SINK_TARGETS = ("postgres", "webhook")
EMAIL_PROVIDERS = ("outbox", "sendgrid", "mailgun", "postmark", "ses")
CHAT_FORMATS = ("slack", "teams")


@dataclass(frozen=True)
class Setting:
    """One configurable value: its env var, CLI flag, parser and place in Config."""

    env: str
    attr: str
    parse: Callable[[str], Any]
    help: str
    secret: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.env.removeprefix("LEADFLOW_").lower().replace("_", "-")

    def get(self, config: Any) -> Any:
        """The value in a Config: in its group (kafka, collector, sink, secrets) or at the top."""
        for group in (config.kafka, config.collector, config.sink, config.actions, config.secrets):
            if hasattr(group, self.attr):
                return getattr(group, self.attr)
        return getattr(config, self.attr)

    @staticmethod
    def render(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, tuple):
            return ",".join(value)
        return str(value)


SETTINGS: tuple[Setting, ...] = (
    Setting("LEADFLOW_KAFKA_BOOTSTRAP", "bootstrap", parsers.bootstrap,
            "Kafka bootstrap servers host:port[,...]; unset = `leadflow up` starts the embedded broker"),
    Setting("LEADFLOW_KAFKA_SECURITY_PROTOCOL", "security_protocol", parsers.choice(SECURITY_PROTOCOLS),
            "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
    Setting("LEADFLOW_KAFKA_SASL_MECHANISM", "sasl_mechanism", parsers.choice(SASL_MECHANISMS),
            "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
    Setting("LEADFLOW_KAFKA_SASL_USERNAME", "sasl_username", str, "SASL username"),
    Setting("LEADFLOW_KAFKA_SASL_PASSWORD", "sasl_password", str, "SASL password", secret=True),
    Setting("LEADFLOW_KAFKA_SSL_CAFILE", "ssl_cafile", str, "CA bundle for TLS"),
    Setting("LEADFLOW_KAFKA_SSL_CERTFILE", "ssl_certfile", str, "client certificate for mutual TLS"),
    Setting("LEADFLOW_KAFKA_SSL_KEYFILE", "ssl_keyfile", str, "client key for mutual TLS"),
    Setting("LEADFLOW_KAFKA_IDEMPOTENCE", "idempotence", parsers.boolean,
            "idempotent producers (true on Apache Kafka; the embedded broker does not support them)"),
    Setting("LEADFLOW_KAFKA_REBALANCE_TIMEOUT", "rebalance_timeout_s", parsers.positive_float,
            "consumer-group rebalance timeout in seconds"),
    Setting("LEADFLOW_KAFKA_SESSION_TIMEOUT", "session_timeout_s", parsers.positive_float,
            "consumer-group session timeout in seconds"),
    Setting("LEADFLOW_KAFKA_HEARTBEAT_INTERVAL", "heartbeat_interval_s", parsers.positive_float,
            "consumer-group heartbeat interval in seconds"),
    Setting("LEADFLOW_KAFKA_SEAL_CHANGELOG", "seal_changelog", parsers.boolean,
            "end every changelog write with a one-record batch (the embedded broker reports high watermarks "
            "per batch, which would cut table recovery short; not needed on Apache Kafka)"),
    Setting("LEADFLOW_KAFKA_RESEED_CHANGELOG", "reseed_changelog", parsers.boolean,
            "when a changelog partition is empty and the worker's local store holds states past its end (a broker "
            "that keeps nothing across restarts, like the embedded one), write the store back to the changelog "
            "instead of rebuilding the store from it; `leadflow up` turns it on"),
    Setting("LEADFLOW_TOPIC_PREFIX", "topic_prefix", parsers.prefix, "prefix of every topic name"),
    Setting("LEADFLOW_PARTITIONS", "partitions", parsers.positive_int,
            "partitions per topic (the most workers that can share the load)"),
    Setting("LEADFLOW_REPLICATION_FACTOR", "replication_factor", parsers.positive_int,
            "replication factor for created topics (3 in production)"),
    Setting("LEADFLOW_INTERACTIONS_RETENTION_DAYS", "interactions_retention_days", parsers.positive_int,
            "retention of the interactions topic when `leadflow topics create` makes it (how far back a "
            "consumer can re-read raw inputs)"),
    Setting("LEADFLOW_CRM_DSN", "crm_dsn", parsers.dsn,
            "CRM PostgreSQL DSN; unset = `leadflow up` starts the embedded PostgreSQL"),
    Setting("LEADFLOW_SCHEMA_REGISTRY_URL", "schema_registry_url", parsers.url,
            "Confluent Schema Registry URL; unset = self-describing Avro single-object framing"),
    Setting("LEADFLOW_MODEL", "model_path", parsers.existing_file, "scoring model YAML file"),
    Setting("LEADFLOW_AUTOMATIONS", "automations_path", parsers.existing_file,
            "automation file (YAML: automations and nurture programs) the worker runs; unset = no automations "
            "(`leadflow up` and the demo load the shipped example)"),
    Setting("LEADFLOW_HTTP_HOST", "http_host", str, "collector bind address"),
    Setting("LEADFLOW_HTTP_PORT", "http_port", parsers.port,
            "collector port (serves /metrics too, unless LEADFLOW_COLLECTOR_METRICS_PORT is set)"),
    Setting("LEADFLOW_METRICS_HOST", "metrics_host", str,
            "bind address of the worker's HTTP side (metrics, health, prospect API) and the sink's metrics; "
            "unset = LEADFLOW_HTTP_HOST. Keep it off public interfaces: the prospect API returns personal data"),
    Setting("LEADFLOW_COLLECTOR_METRICS_PORT", "collector_metrics_port", parsers.port,
            "serve the collector's /metrics only on LEADFLOW_METRICS_HOST at this port, not on the public port "
            "(0 = on the collector's own port)"),
    Setting("LEADFLOW_WORKER_METRICS_PORT", "worker_metrics_port", parsers.port, "worker Prometheus port"),
    Setting("LEADFLOW_SINK_METRICS_PORT", "sink_metrics_port", parsers.port, "sink Prometheus port"),
    Setting("LEADFLOW_DATA_DIR", "data_dir", lambda raw: Path(raw).expanduser(),
            "embedded broker/PostgreSQL data and local state"),
    Setting("LEADFLOW_LOG_LEVEL", "log_level", parsers.choice(LOG_LEVELS, str.lower), "debug, info, warning or error"),
    Setting("LEADFLOW_STATUS_SECONDS", "status_s", parsers.positive_float,
            "how often `leadflow up` and `leadflow demo` print a status line when their output is not a "
            "terminal (on a terminal the status panel redraws every 2 s)"),
    Setting("LEADFLOW_TIMER_SECONDS", "timer_s", parsers.positive_float,
            "how often the worker looks for prospects with a timer due (SLA steps, decay demotions, program waits, "
            "deferred emails, email-outcome windows, inactivity): about how late a timer may fire"),
    Setting("LEADFLOW_WORKER_BATCH_SIZE", "worker_batch_size", parsers.positive_int,
            "most inputs the worker scores per batch (its lead.updated events coalesce per prospect)"),
    Setting("LEADFLOW_WORKER_BATCH_WAIT_MS", "worker_batch_wait_ms", parsers.positive_int,
            "longest the worker waits to fill a batch: the latency it may add"),
    Setting("LEADFLOW_WORKER_CHECKPOINT_MS", "worker_checkpoint_ms", parsers.positive_int,
            "how often the worker stores its changed states and commits its inputs (a restart replays at most this)"),
    Setting("LEADFLOW_STATE_STORE", "state_store", parsers.choice(("rocksdb", "memory"), str.lower),
            "the worker's local prospect store: rocksdb (on disk; a restart reads only the changelog's tail) or "
            "memory (every start reads the whole changelog)"),
    Setting("LEADFLOW_STATE_DIR", "state_path", lambda raw: Path(raw).expanduser(),
            "where the worker keeps its local prospect stores (unset = <data dir>/state)"),
    Setting("LEADFLOW_STATE_CACHE", "state_cache", parsers.positive_int,
            "prospect states the worker keeps live in memory (least recently used out first); the others are "
            "read from the local store when next touched"),
    Setting("LEADFLOW_STATE_BLOCK_CACHE_MB", "state_block_cache_mb", parsers.positive_int,
            "MiB of RocksDB block cache for the worker's local stores (states as stored, ~1 KB a name): reads of "
            "states not live in memory that it holds skip the disk"),
    Setting("LEADFLOW_SINK_TARGET", "target", parsers.choice(SINK_TARGETS, str.lower),
            "where the sink delivers lead and SLA events: postgres (the CRM tables) or webhook"),
    Setting("LEADFLOW_WEBHOOK_URL", "webhook_url", parsers.url, "the URL the webhook target POSTs each event to"),
    Setting("LEADFLOW_WEBHOOK_TIMEOUT", "webhook_timeout_s", parsers.positive_float,
            "seconds one webhook request may take before it counts as failed"),
    Setting("LEADFLOW_WEBHOOK_MAX_ATTEMPTS", "webhook_max_attempts", parsers.positive_int,
            "attempts per event (5xx, 429, timeouts, connection errors) before it goes to the dead-letter topic"),
    Setting("LEADFLOW_WEBHOOK_CONCURRENCY", "webhook_concurrency", parsers.positive_int,
            "prospects delivered at once (each prospect's events stay in order)"),
    Setting("LEADFLOW_ACTIONS_METRICS_PORT", "actions_metrics_port", parsers.port,
            "action delivery (`leadflow actions`) Prometheus port"),
    Setting("LEADFLOW_EMAIL_PROVIDER", "email_provider", parsers.choice(EMAIL_PROVIDERS, str.lower),
            "where emails go: outbox (.eml files under <data dir>/outbox, nothing sent), sendgrid, mailgun, "
            "postmark or ses"),
    Setting("LEADFLOW_EMAIL_FROM", "email_from", str, "sender of nurture emails and notifications, "
            "e.g. 'Example <hello@example.com>' (a domain verified with the provider)"),
    Setting("LEADFLOW_EMAIL_REPLY_TO", "email_reply_to", str, "Reply-To of the emails sent"),
    Setting("LEADFLOW_EMAIL_API_URL", "email_api_url", parsers.url,
            "the email provider's API base URL (an EU region, a proxy); unset = the provider's public API"),
    Setting("LEADFLOW_MAILGUN_DOMAIN", "mailgun_domain", str, "the Mailgun sending domain"),
    Setting("LEADFLOW_POSTMARK_STREAM", "postmark_stream", str,
            "Postmark message stream of marketing email (transactional email goes to 'outbound')"),
    Setting("LEADFLOW_SES_REGION", "ses_region", str, "AWS region of Amazon SES, e.g. eu-west-1"),
    Setting("LEADFLOW_SES_CONFIGURATION_SET", "ses_configuration_set", str,
            "SES configuration set (its event destination sends opens, bounces and complaints back)"),
    Setting("LEADFLOW_CHAT_WEBHOOK_URL", "chat_webhook_url", parsers.url,
            "incoming webhook (Slack or Teams) that sales notifications go to"),
    Setting("LEADFLOW_CHAT_WEBHOOKS", "chat_webhooks", parsers.comma_list,
            "channels and queues with webhooks of their own: #sales=https://...,inbound-sdr=https://..."),
    Setting("LEADFLOW_CHAT_FORMAT", "chat_format", parsers.choice(CHAT_FORMATS, str.lower),
            "slack (Slack, Mattermost, Rocket.Chat: text + blocks) or teams (Teams workflows: an Adaptive Card)"),
    Setting("LEADFLOW_ACTIONS_TIMEOUT", "actions_timeout_s", parsers.positive_float,
            "seconds one call to a provider, chat or webhook may take before it counts as failed"),
    Setting("LEADFLOW_ACTIONS_MAX_ATTEMPTS", "actions_max_attempts", parsers.positive_int,
            "attempts per action (5xx, 429, timeouts) before it goes to the dead-letter topic"),
    Setting("LEADFLOW_ACTIONS_CONCURRENCY", "actions_concurrency", parsers.positive_int,
            "prospects whose actions are delivered at once (each prospect's actions stay in order)"),
    Setting("LEADFLOW_PUBLIC_URL", "public_url", parsers.url,
            "collector base URL as browsers and email clients reach it (used in signed links)"),
    Setting("LEADFLOW_COLLECTOR_PROCESSES", "processes", parsers.positive_int,
            "collector processes sharing the port (SO_REUSEPORT); about one per core"),
    Setting("LEADFLOW_TRACKING_CONSENT", "tracking_consent", parsers.choice(("implied", "required"), str.lower),
            "implied: track unless DNT/GPC; required: only with consent=1 or the lf_consent=1 cookie"),
    Setting("LEADFLOW_IP_MODE", "ip_mode", parsers.choice(("truncate", "hash", "drop", "keep"), str.lower),
            "client IPs: truncate (/24, /48), hash (keyed), drop or keep"),
    Setting("LEADFLOW_SPOOL_MAX_BYTES", "spool_max_bytes", parsers.positive_int,
            "disk spool size past which write endpoints answer 503"),
    Setting("LEADFLOW_REJECTED_SPOOL_MAX_BYTES", "rejected_spool_max_bytes", parsers.positive_int,
            "separate disk spool for rejected inputs while Kafka is away; when full, further rejections are "
            "dropped and counted (junk never takes room from accepted events)"),
    Setting("LEADFLOW_CORS_ORIGINS", "cors_origins", parsers.origins, "origins allowed to post forms (comma-separated)"),
    Setting("LEADFLOW_FORM_REDIRECT_HOSTS", "form_redirect_hosts", parsers.comma_list,
            "hosts a form may redirect to after a post (comma-separated)"),
    Setting("LEADFLOW_FORM_MIN_FILL_SECONDS", "form_min_fill_s", float,
            "forms posted faster than this after rendering count as bots"),
    Setting("LEADFLOW_FORM_REQUIRE_TS", "form_require_ts", parsers.boolean,
            "a form post without _ts (the render time the website tracker adds) counts as a bot; false for plain "
            "HTML forms without the tracker"),
    Setting("LEADFLOW_FORM_CAPTCHA_VERIFY_URL", "form_captcha_verify_url", parsers.url,
            "siteverify URL of a CAPTCHA (Turnstile, hCaptcha, reCAPTCHA) every form post's token is checked with"),
    Setting("LEADFLOW_RATE_LIMIT_PER_IP", "rate_limit_per_ip", parsers.rate,
            "form posts per client IP (IPv6: per /64), N/period, e.g. 30/10min; off = no limit"),
    Setting("LEADFLOW_RATE_LIMIT_PER_EMAIL", "rate_limit_per_email", parsers.rate,
            "form posts per email address, N/period, e.g. 5/h; off = no limit"),
    Setting("LEADFLOW_RATE_LIMIT_EVENTS_API", "rate_limit_events_api", parsers.rate,
            "events API requests per write key and client IP, N/period; off = no limit"),
    Setting("LEADFLOW_EMAIL_DEDUP_SECONDS", "email_dedup_s", parsers.positive_int,
            "an email open or click counts once per prospect, message (and link target) in each window of this "
            "many seconds"),
    Setting("LEADFLOW_HTTP_READ_TIMEOUT", "http_read_timeout_s", parsers.positive_float,
            "seconds a client may take to send a request's headers and body (slow clients are cut off)"),
    Setting("LEADFLOW_HTTP_KEEPALIVE_TIMEOUT", "http_keepalive_timeout_s", parsers.positive_float,
            "seconds an idle keep-alive connection stays open"),
    Setting("LEADFLOW_MAX_FUTURE_SECONDS", "max_future_s", parsers.positive_float,
            "events stamped further than this into the future are rejected (old events are accepted)"),
    Setting("LEADFLOW_EVENT_NAMES", "event_names_path", parsers.existing_file,
            "YAML file mapping senders' track event names to canonical interaction types"),
    Setting("LEADFLOW_FORM_THANKS_HTML", "form_thanks_html", parsers.existing_file,
            "HTML file of the thank-you page browsers get after a form post without _redirect ({{first_name}}, "
            "{{greeting}}, {{form_id}} and {{back_url}} are filled in, escaped); unset = a built-in page"),
    Setting("LEADFLOW_LINK_TTL_DAYS", "link_ttl_days", parsers.positive_int, "how long signed click links stay valid"),
    Setting("LEADFLOW_SNS_CERT_HOSTS", "sns_cert_hosts", parsers.regex,
            "regex of hosts SNS signing certificates may be fetched from (default: SNS's regional hosts only)"),
    Setting("LEADFLOW_WEBHOOK_MAX_AGE_SECONDS", "webhook_max_age_s", parsers.positive_float,
            "signed webhooks (SendGrid, Mailgun, SNS/SES) whose timestamp is further than this from now, in "
            "either direction, are refused as replays"),
    Setting("LEADFLOW_SNS_CERT_FILE", "sns_cert_file", parsers.existing_file,
            "a local SNS signing certificate (PEM) used instead of fetching one"),
    Setting("LEADFLOW_WRITE_KEY", "write_key", parsers.secret, "events API write key", secret=True),
    Setting("LEADFLOW_LINK_SECRET", "link_secret", parsers.secret, "signs click and pixel links", secret=True),
    Setting("LEADFLOW_API_TOKEN", "api_token", parsers.secret,
            "bearer token for the worker's prospect API (GET /v1/prospects/{id})", secret=True),
    Setting("LEADFLOW_CRM_FEEDBACK_TOKEN", "crm_feedback_token", parsers.secret, "CRM feedback bearer token",
            secret=True),
    Setting("LEADFLOW_WEBHOOK_SECRET", "webhook_secret", parsers.secret,
            "HMAC-SHA256 key the webhook target signs every request with", secret=True),
    Setting("LEADFLOW_SENDGRID_PUBLIC_KEY", "sendgrid_public_key", str,
            "SendGrid signed-webhook verification key (base64 DER or PEM)", secret=True),
    Setting("LEADFLOW_MAILGUN_SIGNING_KEY", "mailgun_signing_key", str, "Mailgun webhook signing key", secret=True),
    Setting("LEADFLOW_POSTMARK_BASIC_AUTH", "postmark_basic_auth", parsers.basic_auth,
            "user:password Postmark sends with its webhooks", secret=True),
    Setting("LEADFLOW_FORM_CAPTCHA_SECRET", "form_captcha_secret", parsers.secret,
            "secret key of the CAPTCHA's siteverify API", secret=True),
    Setting("LEADFLOW_SENDGRID_API_KEY", "sendgrid_api_key", parsers.secret, "SendGrid API key (mail send)",
            secret=True),
    Setting("LEADFLOW_MAILGUN_API_KEY", "mailgun_api_key", parsers.secret, "Mailgun API key (messages)",
            secret=True),
    Setting("LEADFLOW_POSTMARK_SERVER_TOKEN", "postmark_server_token", parsers.secret, "Postmark server token",
            secret=True),
    Setting("LEADFLOW_SES_ACCESS_KEY_ID", "ses_access_key_id", str,
            "AWS access key id for SES; unset = botocore's usual chain (environment, profile, instance role)",
            secret=True),
    Setting("LEADFLOW_SES_SECRET_ACCESS_KEY", "ses_secret_access_key", str, "AWS secret access key for SES",
            secret=True),
    Setting("LEADFLOW_SES_TOPIC_ARNS", "ses_topic_arns", parsers.arns, "SNS topic ARNs accepted for SES events"),
    Setting("LEADFLOW_EMBEDDED_PG_PASSWORD", "embedded_pg_password", parsers.secret,
            "password of the embedded PostgreSQL's superuser (`leadflow up` generates it into secrets.env)",
            secret=True),
)
