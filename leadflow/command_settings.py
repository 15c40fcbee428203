"""Which settings each `leadflow` command uses, and where a command's configuration comes from.

Each command declares the settings it reads: its ``--help`` lists those (every other
``LEADFLOW_*`` flag is still accepted, and ignored). A secret's flag is refused with the reason
(_RefuseSecret): secrets come from env vars, files or secrets.env, never the command line. Every command but `up` and `demo`
also finds a running `leadflow up` under its data dir (stack_file.py), so in a second
terminal `leadflow explain ada@example.com` needs no setting; when a setting it needs
is still missing, MissingSetting says in one line what to start or set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Mapping, TextIO

from leadflow import stack_file
from leadflow.config import SETTINGS, Config, ConfigError, load_config

COMMON = ("LEADFLOW_DATA_DIR", "LEADFLOW_LOG_LEVEL")
KAFKA = ("LEADFLOW_KAFKA_BOOTSTRAP", "LEADFLOW_KAFKA_SECURITY_PROTOCOL", "LEADFLOW_KAFKA_SASL_MECHANISM",
         "LEADFLOW_KAFKA_SASL_USERNAME", "LEADFLOW_KAFKA_SASL_PASSWORD", "LEADFLOW_KAFKA_SSL_CAFILE",
         "LEADFLOW_KAFKA_SSL_CERTFILE", "LEADFLOW_KAFKA_SSL_KEYFILE", "LEADFLOW_TOPIC_PREFIX")
GROUPS = ("LEADFLOW_KAFKA_REBALANCE_TIMEOUT", "LEADFLOW_KAFKA_SESSION_TIMEOUT", "LEADFLOW_KAFKA_HEARTBEAT_INTERVAL")
TOPICS = ("LEADFLOW_PARTITIONS", "LEADFLOW_REPLICATION_FACTOR", "LEADFLOW_INTERACTIONS_RETENTION_DAYS")
LINKS = ("LEADFLOW_PUBLIC_URL", "LEADFLOW_HTTP_HOST", "LEADFLOW_HTTP_PORT", "LEADFLOW_LINK_SECRET")
# the readers of prospect states: the changelog's partitions, and where this machine's worker stores are
STATES = ("LEADFLOW_PARTITIONS", "LEADFLOW_STATE_STORE", "LEADFLOW_STATE_DIR", "LEADFLOW_STATE_BLOCK_CACHE_MB")
ALL = tuple(s.env for s in SETTINGS)
_COLLECTOR_ONLY = tuple(s.env for s in SETTINGS if s.attr in {
    "processes", "tracking_consent", "ip_mode", "spool_max_bytes", "rejected_spool_max_bytes", "cors_origins",
    "form_redirect_hosts",
    "form_min_fill_s", "max_future_s", "form_thanks_html", "event_names_path", "link_ttl_days", "sns_cert_hosts", "sns_cert_file",
    "form_require_ts", "form_captcha_verify_url", "form_captcha_secret", "rate_limit_per_ip", "rate_limit_per_email",
    "rate_limit_events_api", "email_dedup_s", "http_read_timeout_s", "http_keepalive_timeout_s",
    "webhook_max_age_s", "write_key", "crm_feedback_token",
    "sendgrid_public_key", "mailgun_signing_key", "postmark_basic_auth", "ses_topic_arns"})

_ACTIONS_ONLY = {"email_provider", "email_from", "email_reply_to", "email_api_url", "mailgun_domain", "postmark_stream",
                 "ses_region", "ses_configuration_set", "chat_webhook_url", "chat_webhooks", "chat_format",
                 "actions_timeout_s", "actions_max_attempts", "actions_concurrency", "sendgrid_api_key",
                 "mailgun_api_key", "postmark_server_token", "ses_access_key_id", "ses_secret_access_key"}

USES: dict[str, tuple[str, ...]] = {
    "up": ALL,
    "demo": ALL,
    "collector": (*KAFKA, "LEADFLOW_KAFKA_IDEMPOTENCE", "LEADFLOW_SCHEMA_REGISTRY_URL", *LINKS, *_COLLECTOR_ONLY,
                  "LEADFLOW_METRICS_HOST", "LEADFLOW_COLLECTOR_METRICS_PORT",
                  *COMMON),
    "worker": (*KAFKA, *GROUPS, "LEADFLOW_KAFKA_IDEMPOTENCE", "LEADFLOW_KAFKA_SEAL_CHANGELOG",
               "LEADFLOW_KAFKA_RESEED_CHANGELOG",               "LEADFLOW_SCHEMA_REGISTRY_URL", *TOPICS, "LEADFLOW_MODEL", "LEADFLOW_AUTOMATIONS", "LEADFLOW_HTTP_HOST",
               "LEADFLOW_METRICS_HOST", "LEADFLOW_WORKER_METRICS_PORT", "LEADFLOW_API_TOKEN", "LEADFLOW_TIMER_SECONDS",
               "LEADFLOW_WORKER_BATCH_SIZE", "LEADFLOW_WORKER_BATCH_WAIT_MS", "LEADFLOW_WORKER_CHECKPOINT_MS",
               "LEADFLOW_STATE_STORE", "LEADFLOW_STATE_DIR", "LEADFLOW_STATE_CACHE", "LEADFLOW_STATE_BLOCK_CACHE_MB",
               *COMMON),
    "sink": (*KAFKA, *GROUPS, "LEADFLOW_KAFKA_IDEMPOTENCE", "LEADFLOW_SCHEMA_REGISTRY_URL", "LEADFLOW_CRM_DSN",
             "LEADFLOW_HTTP_HOST", "LEADFLOW_METRICS_HOST", "LEADFLOW_SINK_METRICS_PORT", "LEADFLOW_SINK_TARGET", "LEADFLOW_WEBHOOK_URL",
             "LEADFLOW_WEBHOOK_TIMEOUT", "LEADFLOW_WEBHOOK_MAX_ATTEMPTS", "LEADFLOW_WEBHOOK_CONCURRENCY",
             "LEADFLOW_WEBHOOK_SECRET", *COMMON),
    "actions": (*KAFKA, *GROUPS, "LEADFLOW_KAFKA_IDEMPOTENCE", "LEADFLOW_SCHEMA_REGISTRY_URL", "LEADFLOW_CRM_DSN",
                "LEADFLOW_MODEL", "LEADFLOW_AUTOMATIONS", *LINKS, "LEADFLOW_TRACKING_CONSENT", "LEADFLOW_METRICS_HOST",
                "LEADFLOW_ACTIONS_METRICS_PORT", "LEADFLOW_WEBHOOK_SECRET",
                *(s.env for s in SETTINGS if s.attr in _ACTIONS_ONLY), *COMMON),
    "outbox": COMMON,
    "topics create": (*KAFKA, *TOPICS, *COMMON),
    "topics describe": (*KAFKA, *COMMON),
    "migrate": ("LEADFLOW_CRM_DSN", *COMMON),
    "link": (*LINKS, "LEADFLOW_LINK_TTL_DAYS", *COMMON),
    "pixel": (*LINKS, *COMMON),
    "explain": (*KAFKA, *STATES, "LEADFLOW_MODEL", *COMMON),
    "rescore": (*KAFKA, *STATES, "LEADFLOW_MODEL", *COMMON),
    "automations": (*KAFKA, *STATES, "LEADFLOW_MODEL", "LEADFLOW_AUTOMATIONS", *COMMON),
    "backtest": (*KAFKA, *STATES, "LEADFLOW_MODEL", *COMMON),
    "tune": (*KAFKA, *STATES, "LEADFLOW_MODEL", *COMMON),
    "dlq list": (*KAFKA, *GROUPS, "LEADFLOW_SCHEMA_REGISTRY_URL", *COMMON),
    "import": (*KAFKA, "LEADFLOW_KAFKA_IDEMPOTENCE", "LEADFLOW_SCHEMA_REGISTRY_URL", *TOPICS, "LEADFLOW_EVENT_NAMES",
               "LEADFLOW_MAX_FUTURE_SECONDS", *COMMON),
    "synthetic": ("LEADFLOW_LOG_LEVEL",),
    "dlq replay": (*KAFKA, *GROUPS, "LEADFLOW_KAFKA_IDEMPOTENCE", "LEADFLOW_SCHEMA_REGISTRY_URL", *COMMON),
}
STARTS_A_STACK = ("up", "demo")  # these never read a stack file: they write one


class MissingSetting(ConfigError):
    """A command needs a setting that no flag, env var, running stack or secrets file gave."""

    def __init__(self, env: str, command: str, data_dir: Path) -> None:
        ValueError.__init__(self, f"no running `leadflow up` under {stack_file.shown(data_dir)} and {env} is not "
                                  f"set: `leadflow {command}` needs it (start `leadflow up` or set it)")
        self.setting = env


def require(config: Config, command: str, kafka: bool = False, crm: bool = False) -> None:
    """``MissingSetting`` unless ``config`` has the broker (``kafka``) and the CRM database (``crm``) ``command``
    needs: checked before the command connects, so nothing set fails in one line instead of a timeout."""
    if kafka and not config.kafka.bootstrap:
        raise MissingSetting("LEADFLOW_KAFKA_BOOTSTRAP", command, config.data_dir)
    if crm and not config.crm_dsn:
        raise MissingSetting("LEADFLOW_CRM_DSN", command, config.data_dir)


def settings_parent(command: str, exclude: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """The settings flags of ``command``: those it uses in their own --help group, the others accepted silently."""
    parent = argparse.ArgumentParser(add_help=False)
    found = "" if command in STARTS_A_STACK else ", then from a running `leadflow up` (<data dir>/stack.env)"
    group = parent.add_argument_group(
        f"settings `leadflow {command}` uses",
        f"Each is also read from its LEADFLOW_* env var{found}. Other LEADFLOW_* flags are accepted and ignored; "
        "`leadflow up --help` lists every setting.")
    used = set(USES[command])
    for setting in SETTINGS:
        if setting.secret:  # no flag: `ps` shows every process's arguments
            parent.add_argument(setting.flag, dest=setting.env, nargs="?", action=_RefuseSecret, help=argparse.SUPPRESS)
            continue
        if setting.env in exclude:
            continue
        if setting.env in used:
            group.add_argument(setting.flag, dest=setting.env, metavar="VALUE",
                               help=f"{setting.help} [{setting.env}]")
        else:
            parent.add_argument(setting.flag, dest=setting.env, help=argparse.SUPPRESS)
    return parent


class _RefuseSecret(argparse.Action):
    """A secret given as a flag: refused with the reason (every local user sees arguments in `ps`)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        env = self.dest
        parser.error(f"{option_string} is not accepted: secrets on the command line are visible to every local "
                     f"user (ps). Set {env}, or {env}_FILE (a file holding it), or put it in <data dir>/secrets.env")


def load_for(command: str, env: Mapping[str, str], overrides: Mapping[str, str | None],
             notes: TextIO | None = None) -> Config:
    """``command``'s Config: flags, env vars, then (except for `up`/`demo`) a running stack's file, then secrets."""
    if command.split()[0] in STARTS_A_STACK:
        return load_config(env, overrides)
    chosen = overrides.get("LEADFLOW_DATA_DIR") or env.get("LEADFLOW_DATA_DIR")
    data_dir = Path(chosen or str(Config().data_dir)).expanduser()
    stack, stale = stack_file.find(data_dir, with_demo=not chosen)
    for note in stale:
        print(f"leadflow: {note}", file=notes or sys.stderr)
    if stack is None:
        return load_config(env, overrides)
    return load_config(env, {**overrides, "LEADFLOW_DATA_DIR": str(stack.data_dir)}, stack.applied())
