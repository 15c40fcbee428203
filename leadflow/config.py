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
from typing import Any, Mapping

from leadflow.errors import UsageError
from leadflow.secrets_file import read_secrets, secrets_path
from leadflow.settings import SETTINGS, Setting
from leadflow.stack_file import APPLIED as STACK_APPLIED

__all__ = ["SETTINGS", "Setting", "Config", "ConfigError", "load_config"]

DEFAULT_MODEL = Path(__file__).with_name("models") / "default.yaml"
DEFAULT_EVENT_NAMES = Path(__file__).with_name("models") / "event_names.yaml"
DEFAULT_AUTOMATIONS = Path(__file__).with_name("models") / "automations.yaml"
# SNS's own hosts only: sns.<region>.amazonaws.com (us-east-1, eu-west-2, us-gov-west-1, ...) and the China
# regions' sns.cn-<area>-<n>.amazonaws.com.cn; never sns.s3.amazonaws.com (an S3 bucket anyone can create).
SNS_HOSTS = r"^sns\.(?:[a-z]{2}(?:-gov)?-[a-z]+-[0-9]+\.amazonaws\.com|cn-[a-z]+-[0-9]+\.amazonaws\.com\.cn)$"


def reachable(host: str) -> str:
    """The address to call a service on that listens on ``host`` (all interfaces: loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


class ConfigError(UsageError, ValueError):
    """A setting is invalid; the message names the setting and what is wrong (exit code 2)."""

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
    reseed_changelog: bool = False  # a broker that forgets its topics on restart: refill the changelog from the stores

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
    sendgrid_api_key: str | None = None
    mailgun_api_key: str | None = None
    postmark_server_token: str | None = None
    ses_access_key_id: str | None = None
    ses_secret_access_key: str | None = None
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


@dataclass(frozen=True)
class SinkSettings:
    target: str = "postgres"
    webhook_url: str | None = None
    webhook_timeout_s: float = 10.0
    webhook_max_attempts: int = 8
    webhook_concurrency: int = 8


@dataclass(frozen=True)
class ActionSettings:
    """The action delivery (``leadflow actions``): email provider, chat webhooks, retries."""

    email_provider: str = "outbox"  # outbox: .eml files under <data dir>/outbox, nothing sent
    email_from: str = "Example <hello@example.com>"
    email_reply_to: str | None = None
    email_api_url: str | None = None  # the provider's API base URL; None: the provider's public one
    mailgun_domain: str | None = None
    postmark_stream: str = "broadcast"  # Postmark's message stream for marketing email ("outbound": transactional)
    ses_region: str | None = None
    ses_configuration_set: str | None = None
    chat_webhook_url: str | None = None
    chat_webhooks: tuple[str, ...] = ()  # "name=url": a channel ("#sales") or a queue with its own webhook
    chat_format: str = "slack"
    actions_timeout_s: float = 10.0
    actions_max_attempts: int = 8
    actions_concurrency: int = 8


@dataclass(frozen=True)
class Config:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    collector: CollectorSettings = field(default_factory=CollectorSettings)
    sink: SinkSettings = field(default_factory=SinkSettings)
    actions: ActionSettings = field(default_factory=ActionSettings)
    secrets: Secrets = field(default_factory=Secrets)
    topic_prefix: str = "leadflow"
    partitions: int = 6
    replication_factor: int = 1
    interactions_retention_days: int = 30
    crm_dsn: str | None = None
    schema_registry_url: str | None = None
    model_path: Path = DEFAULT_MODEL
    automations_path: Path | None = None  # None: no automations (leadflow up and the demo load the shipped file)
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    metrics_host: str | None = None
    collector_metrics_port: int = 0  # 0: the collector serves /metrics on its own port
    worker_metrics_port: int = 9101
    sink_metrics_port: int = 9102
    actions_metrics_port: int = 9103
    data_dir: Path = Path(".leadflow")
    log_level: str = "info"
    timer_s: float = 1.0
    status_s: float = 30.0
    worker_batch_size: int = 1000
    worker_batch_wait_ms: int = 20
    worker_checkpoint_ms: int = 1000
    state_store: str = "rocksdb"  # the worker's local prospect store: rocksdb (on disk) or memory
    state_path: Path | None = None  # None: <data dir>/state
    state_cache: int = 50_000  # live prospect states the worker keeps in memory beyond those changed lately
    state_block_cache_mb: int = 128  # RocksDB's cache of the stores' blocks, shared by every store of the process

    @property
    def state_block_cache_bytes(self) -> int:
        return self.state_block_cache_mb << 20

    @property
    def state_dir(self) -> Path:
        """Where the worker keeps its local prospect stores, one directory per topic prefix and partition."""
        return self.state_path or self.data_dir / "state"

    def topic(self, name: str) -> str:
        """Full topic name, e.g. ``topic("interactions") == "leadflow.interactions"``."""
        return f"{self.topic_prefix}.{name}"

    @property
    def public_url(self) -> str:
        """Base URL of the collector as email recipients and browsers reach it."""
        if self.collector.public_url:
            return self.collector.public_url
        host = reachable(self.http_host)
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
    "actions": {f.name for f in dataclasses.fields(ActionSettings)},
    "secrets": {f.name for f in dataclasses.fields(Secrets)},
}


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
