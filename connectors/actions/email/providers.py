"""The email provider ``LEADFLOW_EMAIL_PROVIDER`` names, built from the configuration once at start.

Why at start: a provider chosen without its key or domain would fail every email; it stops the process with exit
code 2 and a message naming the setting instead (``ConfigError``), like any other invalid setting.
"""

from __future__ import annotations

from connectors.actions.email.mailgun import MailgunProvider
from connectors.actions.email.message import Provider
from connectors.actions.email.postmark import PostmarkProvider
from connectors.actions.email.sendgrid import SendGridProvider
from connectors.actions.email.ses import SesProvider
from connectors.actions.outbox import OutboxProvider, outbox_dir
from leadflow.config import Config, ConfigError


def provider_for(config: Config) -> Provider:
    settings, secrets = config.actions, config.secrets
    chosen = settings.email_provider
    base = settings.email_api_url
    if chosen == "outbox":
        return OutboxProvider(outbox_dir(config.data_dir))
    if chosen == "sendgrid":
        return SendGridProvider(_required(secrets.sendgrid_api_key, "LEADFLOW_SENDGRID_API_KEY", chosen), base)
    if chosen == "mailgun":
        return MailgunProvider(_required(secrets.mailgun_api_key, "LEADFLOW_MAILGUN_API_KEY", chosen),
                               _required(settings.mailgun_domain, "LEADFLOW_MAILGUN_DOMAIN", chosen), base)
    if chosen == "postmark":
        return PostmarkProvider(_required(secrets.postmark_server_token, "LEADFLOW_POSTMARK_SERVER_TOKEN", chosen),
                                settings.postmark_stream, base)
    if chosen == "ses":
        region = _required(settings.ses_region, "LEADFLOW_SES_REGION", chosen)
        key_id, secret = secrets.ses_access_key_id, secrets.ses_secret_access_key
        if bool(key_id) != bool(secret):
            missing = "LEADFLOW_SES_SECRET_ACCESS_KEY" if key_id else "LEADFLOW_SES_ACCESS_KEY_ID"
            raise ConfigError(missing, "the SES access key id and secret access key go together (or set neither: "
                                       "botocore's chain of environment, profile and role is used)")
        return SesProvider(region, settings.ses_configuration_set, base, key_id, secret)
    raise ConfigError("LEADFLOW_EMAIL_PROVIDER", f"unknown email provider {chosen!r}: outbox, sendgrid, mailgun, "
                                                 "postmark or ses")


def _required(value: str | None, setting: str, provider: str) -> str:
    if not value:
        raise ConfigError(setting, f"required with LEADFLOW_EMAIL_PROVIDER={provider}")
    return value
