"""One typed configuration object, built from ``LEADFLOW_*`` env vars and CLI flags.

Secrets (``secret=True``) never come from flags, which any local user sees in ``ps``: only from
env vars, ``LEADFLOW_<NAME>_FILE`` files, or ``<data dir>/secrets.env``.

Every process reads the same object so the embedded stack and production share one
code path; the embedded stack only fills in addresses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from leadflow import parsers
from leadflow.secrets_file import read_secrets, secrets_path
from leadflow.stack_file import APPLIED as STACK_APPLIED

DEFAULT_MODEL = Path(__file__).with_name("models") / "default.yaml"
DEFAULT_EVENT_NAMES = Path(__file__).with_name("models") / "event_names.yaml"
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
LOG_LEVELS = ("debug", "info", "warning", "error")
# SNS's own hosts only: sns.<region>.amazonaws.com (us-east-1, eu-west-2, us-gov-west-1, ...) and the China
# regions' sns.cn-<area>-<n>.amazonaws.com.cn; never sns.s3.amazonaws.com (an S3 bucket anyone can create).
SNS_HOSTS = r"^sns\.(?:[a-z]{2}(?:-gov)?-[a-z]+-[0-9]+\.amazonaws\.com|cn-[a-z]+-[0-9]+\.amazonaws\.com\.cn)$"


class ConfigError(ValueError):
    """A setting is invalid; the message names the setting and what is wrong."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"invalid configuration: {setting}: {problem}")
        self.setting = setting


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str | None = None
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    idempotence: bool = True
    rebalance_timeout_s: float = 60.0
    session_timeout_s: float = 45.0
    heartbeat_interval_s: float = 3.0
    seal_changelog: bool = False

    def client_kwargs(self) -> dict[str, Any]:
        """Connection and security settings shared by every aiokafka/kafka-python client."""
        kwargs: dict[str, Any] = {"bootstrap_servers": self.bootstrap, "security_protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL"):
            kwargs.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        if self.security_protocol.endswith("SSL"):
            kwargs["ssl_context"] = self.ssl_context()
        return kwargs

    def ssl_context(self):  # -> ssl.SSLContext
        import ssl

        ctx = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile:
            ctx.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return ctx


@dataclass(frozen=True)
class Secrets:
    """Shared secrets of the collector's write endpoints; `leadflow up` generates the missing ones."""

    write_key: str | None = None
    link_secret: str | None = None
    crm_feedback_token: str | None = None
    api_token: str | None = None
    webhook_secret: str | None = None
    sendgrid_public_key: str | None = None
    mailgun_signing_key: str | None = None
    postmark_basic_auth: str | None = None
    form_captcha_secret: str | None = None
    ses_topic_arns: tuple[str, ...] = ()
    embedded_pg_password: str | None = None


@dataclass(frozen=True)
class CollectorSettings:
    public_url: str | None = None
    processes: int = 1
    tracking_consent: str = "implied"
    ip_mode: str = "truncate"
    spool_max_bytes: int = 256 * 1024 * 1024
    rejected_spool_max_bytes: int = 16 * 1024 * 1024
    cors_origins: tuple[str, ...] = ()
    form_redirect_hosts: tuple[str, ...] = ()
    form_min_fill_s: float = 2.0
    form_thanks_html: Path | None = None
    link_ttl_days: int = 365
    sns_cert_hosts: str = SNS_HOSTS
    webhook_max_age_s: float = 600.0
    sns_cert_file: Path | None = None
    event_names_path: Path = DEFAULT_EVENT_NAMES
    form_require_ts: bool = True
    form_captcha_verify_url: str | None = None
    rate_limit_per_ip: str = "30/600s"
    rate_limit_per_email: str = "5/3600s"
    rate_limit_events_api: str = "1000/1s"
    email_dedup_s: int = 86400
    http_read_timeout_s: float = 15.0
    http_keepalive_timeout_s: float = 75.0
    max_future_s: float = 86400.0


SINK_TARGETS = ("postgres", "webhook")


@dataclass(frozen=True)
class SinkSettings:
    target: str = "postgres"
    webhook_url: str | None = None
    webhook_timeout_s: float = 10.0
    webhook_max_attempts: int = 8
    webhook_concurrency: int = 8


@dataclass(frozen=True)
class Config:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    collector: CollectorSettings = field(default_factory=CollectorSettings)
    sink: SinkSettings = field(default_factory=SinkSettings)
    secrets: Secrets = field(default_factory=Secrets)
    topic_prefix: str = "leadflow"
    partitions: int = 6
    replication_factor: int = 1
    interactions_retention_days: int = 30
    crm_dsn: str | None = None
    schema_registry_url: str | None = None
    model_path: Path = DEFAULT_MODEL
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    metrics_host: str | None = None
    collector_metrics_port: int = 0  # 0: the collector serves /metrics on its own port
    worker_metrics_port: int = 9101
    sink_metrics_port: int = 9102
    data_dir: Path = Path(".leadflow")
    log_level: str = "info"
    decay_tick_s: float = 60.0
    status_s: float = 30.0
    worker_batch_size: int = 1000
    worker_batch_wait_ms: int = 20
    worker_checkpoint_ms: int = 1000

    def topic(self, name: str) -> str:
        """Full topic name, e.g. ``topic("interactions") == "leadflow.interactions"``."""
        return f"{self.topic_prefix}.{name}"

    @property
    def public_url(self) -> str:
        """Base URL of the collector as email recipients and browsers reach it."""
        if self.collector.public_url:
            return self.collector.public_url
        host = "127.0.0.1" if self.http_host in ("0.0.0.0", "") else self.http_host
        return f"http://{host}:{self.http_port}"

    @property
    def internal_host(self) -> str:
        """Where the worker's HTTP side (metrics, prospect API), the sink's metrics and, with
        LEADFLOW_COLLECTOR_METRICS_PORT, the collector's metrics listen."""
        return self.metrics_host or self.http_host

    def with_changes(self, **changes: Any) -> "Config":
        """Replace settings by field name, whichever group (kafka, collector, secrets) holds them."""
        groups: dict[str, Any] = {}
        for group, fields in _GROUP_FIELDS.items():
            picked = {k: changes.pop(k) for k in list(changes) if k in fields}
            if picked:
                groups[group] = dataclasses.replace(getattr(self, group), **picked)
        return dataclasses.replace(self, **groups, **changes)

    def as_env(self) -> dict[str, str]:
        """The env vars that rebuild this config in a child process."""
        env: dict[str, str] = {}
        for setting in SETTINGS:
            value = setting.get(self)
            if value is not None:
                env[setting.env] = setting.render(value)
        return env


_GROUP_FIELDS = {
    "kafka": {f.name for f in dataclasses.fields(KafkaSettings)},
    "collector": {f.name for f in dataclasses.fields(CollectorSettings)},
    "sink": {f.name for f in dataclasses.fields(SinkSettings)},
    "secrets": {f.name for f in dataclasses.fields(Secrets)},
}


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

    def get(self, config: Config) -> Any:
        for group, fields in _GROUP_FIELDS.items():
            if self.attr in fields:
                return getattr(getattr(config, group), self.attr)
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
    Setting("LEADFLOW_DECAY_TICK_SECONDS", "decay_tick_s", parsers.positive_float,
            "how often the worker checks whether decay demoted a lead"),
    Setting("LEADFLOW_WORKER_BATCH_SIZE", "worker_batch_size", parsers.positive_int,
            "most inputs the worker scores per batch (its lead.updated events coalesce per prospect)"),
    Setting("LEADFLOW_WORKER_BATCH_WAIT_MS", "worker_batch_wait_ms", parsers.positive_int,
            "longest the worker waits to fill a batch: the latency it may add"),
    Setting("LEADFLOW_WORKER_CHECKPOINT_MS", "worker_checkpoint_ms", parsers.positive_int,
            "how often the worker stores its changed states and commits its inputs (a restart replays at most this)"),
    Setting("LEADFLOW_SINK_TARGET", "target", parsers.choice(SINK_TARGETS, str.lower),
            "where the sink delivers lead and SLA events: postgres (the CRM tables) or webhook"),
    Setting("LEADFLOW_WEBHOOK_URL", "webhook_url", parsers.url, "the URL the webhook target POSTs each event to"),
    Setting("LEADFLOW_WEBHOOK_TIMEOUT", "webhook_timeout_s", parsers.positive_float,
            "seconds one webhook request may take before it counts as failed"),
    Setting("LEADFLOW_WEBHOOK_MAX_ATTEMPTS", "webhook_max_attempts", parsers.positive_int,
            "attempts per event (5xx, 429, timeouts, connection errors) before it goes to the dead-letter topic"),
    Setting("LEADFLOW_WEBHOOK_CONCURRENCY", "webhook_concurrency", parsers.positive_int,
            "prospects delivered at once (each prospect's events stay in order)"),
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
    Setting("LEADFLOW_SES_TOPIC_ARNS", "ses_topic_arns", parsers.arns, "SNS topic ARNs accepted for SES events"),
    Setting("LEADFLOW_EMBEDDED_PG_PASSWORD", "embedded_pg_password", parsers.secret,
            "password of the embedded PostgreSQL's superuser (`leadflow up` generates it into secrets.env)",
            secret=True),
)


def load_config(env: Mapping[str, str], overrides: Mapping[str, str | None] | None = None,
                stack: Mapping[str, str] | None = None) -> Config:
    """Build a Config from, lowest first: defaults, ``<data dir>/secrets.env``, a running stack's
    ``stack.env`` values (``stack``, read by the caller: stack_file.py), env vars, then CLI flags (by env name).

    Raises ConfigError naming the first bad setting.
    """
    raw: dict[str, str] = {s.env: env[s.env] for s in SETTINGS if env.get(s.env) not in (None, "")}
    raw.update(_secret_files(env, raw))
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    data_dir = Path(raw.get("LEADFLOW_DATA_DIR", str(Config().data_dir))).expanduser()
    for layer, names in ((stack or {}, STACK_APPLIED), (read_secrets(secrets_path(data_dir)), _SECRET_ENVS)):
        raw.update({name: value for name, value in layer.items() if name in names and name not in raw})
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.env not in raw:
            continue
        try:
            values[setting.attr] = setting.parse(raw[setting.env])
        except ValueError as exc:
            raise ConfigError(setting.env, str(exc)) from None
    config = Config().with_changes(**values)
    _check_consistency(config)
    return config


_SECRET_ENVS = {s.env for s in SETTINGS if s.secret}


def _secret_files(env: Mapping[str, str], raw: Mapping[str, str]) -> dict[str, str]:
    """``LEADFLOW_<SECRET>_FILE=/run/secrets/x``: the secret read from a file (Docker/Kubernetes secrets)."""
    found: dict[str, str] = {}
    for name in _SECRET_ENVS - set(raw):
        path = env.get(f"{name}_FILE")
        if path:
            try:
                found[name] = Path(path).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{name}_FILE", f"cannot read {path}: {exc.strerror}") from None
    return found


def _check_consistency(config: Config) -> None:
    kafka = config.kafka
    if kafka.security_protocol.startswith("SASL"):
        if not kafka.sasl_mechanism:
            raise ConfigError("LEADFLOW_KAFKA_SASL_MECHANISM", f"required with {kafka.security_protocol}")
        if not (kafka.sasl_username and kafka.sasl_password):
            raise ConfigError("LEADFLOW_KAFKA_SASL_USERNAME", "SASL needs a username and a password")
    if kafka.heartbeat_interval_s >= kafka.session_timeout_s:
        raise ConfigError("LEADFLOW_KAFKA_HEARTBEAT_INTERVAL", "must be shorter than LEADFLOW_KAFKA_SESSION_TIMEOUT")
    if kafka.ssl_keyfile and not kafka.ssl_certfile:
        raise ConfigError("LEADFLOW_KAFKA_SSL_CERTFILE", "a key file was given without its certificate")
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        value = getattr(kafka, name)
        if value and not Path(value).is_file():
            raise ConfigError(f"LEADFLOW_KAFKA_{name.upper()}", f"no such file: {value}")
    if config.sink.target == "webhook":
        if not config.sink.webhook_url:
            raise ConfigError("LEADFLOW_WEBHOOK_URL", "required with LEADFLOW_SINK_TARGET=webhook")
        if not config.secrets.webhook_secret:
            raise ConfigError("LEADFLOW_WEBHOOK_SECRET", "required with LEADFLOW_SINK_TARGET=webhook: every "
                              "request is signed")
    if bool(config.collector.form_captcha_verify_url) != bool(config.secrets.form_captcha_secret):
        raise ConfigError("LEADFLOW_FORM_CAPTCHA_SECRET", "LEADFLOW_FORM_CAPTCHA_VERIFY_URL and "
                          "LEADFLOW_FORM_CAPTCHA_SECRET go together")
    ports = {"LEADFLOW_HTTP_PORT": config.http_port, "LEADFLOW_WORKER_METRICS_PORT": config.worker_metrics_port,
             "LEADFLOW_SINK_METRICS_PORT": config.sink_metrics_port,
             "LEADFLOW_COLLECTOR_METRICS_PORT": config.collector_metrics_port}
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if port and port in seen:
            raise ConfigError(name, f"port {port} is already used by {seen[port]}")
        seen[port] = name
