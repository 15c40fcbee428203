"""The provider LEADFLOW_EMAIL_PROVIDER names, or a ConfigError naming the setting it lacks."""

import pytest

from connectors.actions.email.mailgun import MailgunProvider
from connectors.actions.email.postmark import PostmarkProvider
from connectors.actions.email.providers import provider_for
from connectors.actions.email.sendgrid import SendGridProvider
from connectors.actions.email.ses import SesProvider
from connectors.actions.outbox import OutboxProvider
from leadflow.config import Config, ConfigError


def config(**changes):
    return Config().with_changes(**changes)


def test_the_outbox_is_the_default_under_the_data_dir(tmp_path):
    provider = provider_for(config(data_dir=tmp_path))
    assert isinstance(provider, OutboxProvider) and provider.directory == tmp_path / "outbox"


def test_each_provider_with_its_settings():
    assert isinstance(provider_for(config(email_provider="sendgrid", sendgrid_api_key="SG.k")), SendGridProvider)
    mailgun = provider_for(config(email_provider="mailgun", mailgun_api_key="k", mailgun_domain="mg.example.com",
                                  email_api_url="https://api.eu.mailgun.net"))
    assert isinstance(mailgun, MailgunProvider)
    assert mailgun.url == "https://api.eu.mailgun.net/v3/mg.example.com/messages"
    postmark = provider_for(config(email_provider="postmark", postmark_server_token="t", postmark_stream="news"))
    assert isinstance(postmark, PostmarkProvider) and postmark.marketing_stream == "news"
    ses = provider_for(config(email_provider="ses", ses_region="eu-west-1", ses_configuration_set="events"))
    assert isinstance(ses, SesProvider) and ses.configuration_set == "events"
    assert ses.url == "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails"


@pytest.mark.parametrize("changes, setting", [
    ({"email_provider": "sendgrid"}, "LEADFLOW_SENDGRID_API_KEY"),
    ({"email_provider": "mailgun", "mailgun_domain": "mg.example.com"}, "LEADFLOW_MAILGUN_API_KEY"),
    ({"email_provider": "mailgun", "mailgun_api_key": "k"}, "LEADFLOW_MAILGUN_DOMAIN"),
    ({"email_provider": "postmark"}, "LEADFLOW_POSTMARK_SERVER_TOKEN"),
    ({"email_provider": "ses"}, "LEADFLOW_SES_REGION"),
    ({"email_provider": "ses", "ses_region": "eu-west-1", "ses_access_key_id": "AKIA"},
     "LEADFLOW_SES_SECRET_ACCESS_KEY"),
    ({"email_provider": "carrier-pigeon"}, "LEADFLOW_EMAIL_PROVIDER"),
])
def test_a_missing_setting_is_named(changes, setting):
    with pytest.raises(ConfigError) as caught:
        provider_for(config(**changes))
    assert caught.value.setting == setting and str(caught.value).startswith(f"invalid configuration: {setting}: ")
