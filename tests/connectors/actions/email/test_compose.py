"""An Action becomes the Email a provider sends: rendered, tracked, addressed, with its metadata."""

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from connectors.actions.email.compose import Sending, compose, templates_for
from connectors.actions.email.render import TemplateFailed, Templates
from leadflow import signed_links as links
from leadflow.config import Config, ConfigError
from leadflow.outbound import AttemptFailed
from schemas.records import Action

SHIPPED = Path(__file__).resolve().parents[4] / "leadflow" / "models" / "templates"
SECRET = "test-link-secret-0123456789"
SENDING = Sending(sender="Example <hello@example.com>", reply_to="sales@example.com",
                  base_url="https://c.example.com", link_secret=SECRET)


def action(**changes):
    fields = dict(action_id="0d5e3c56-8f1a-5b2e-9c4d-2a6b7c8d9e0f", prospect_id="p_71d4f55f72fa128dfb468a1a3901507c",
                  type="send_email", source="welcome", source_kind="program", file_version="v1",
                  due_at=1_767_225_600_000, occurred_at=1_767_225_600_000, cause_event_id="form:evt-1", step="1",
                  target="welcome-1", payload={"profile.first_name": "Ann", "transactional": "false"},
                  email="ann@example.com")
    return Action(**{**fields, **changes})


def test_an_action_becomes_a_tracked_addressed_email():
    email = compose(action(), Templates(SHIPPED), SENDING, now_s=1_767_225_600)
    assert (email.to, email.sender, email.reply_to) == ("ann@example.com", "Example <hello@example.com>",
                                                       "sales@example.com")
    assert email.subject == "Welcome to Example, Ann" and not email.transactional
    assert email.metadata == {"action_id": email.action_id, "prospect_id": email.prospect_id, "source": "welcome",
                              "step": "1"}
    assert email.cause == "form:evt-1"
    assert "Hi Ann," in email.text and "https://example.com/guide" not in email.text  # tracked
    assert "/t/px.gif?" in email.html and "Unsubscribe" in email.html
    query = dict(parse_qsl(urlsplit(email.headers["List-Unsubscribe"][1:-1]).query))
    assert links.verify_unsubscribe(SECRET, query).message_id == email.action_id


def test_transactional_comes_from_the_payload_and_a_missing_step_is_not_in_the_metadata():
    email = compose(action(payload={"transactional": "true"}, step=None, target="demo-confirmation"),
                    Templates(SHIPPED), SENDING)
    assert email.transactional and "step" not in email.metadata
    assert email.subject == "Your demo request, there"


@pytest.mark.parametrize("changes, message", [
    ({"email": None}, "no plain email address"),
    ({"email": "ann@example.com\r\nBcc: x@example.com"}, "no plain email address"),
    ({"target": None}, "names no template"),
    ({"type": "notify"}, "not 'send_email'"),
])
def test_an_action_that_cannot_be_an_email_is_a_final_failure(changes, message):
    with pytest.raises(AttemptFailed, match=message) as caught:
        compose(action(**changes), Templates(SHIPPED), SENDING)
    assert not caught.value.retryable


def test_a_missing_template_is_a_template_failure():
    with pytest.raises(TemplateFailed, match="'gone': missing"):
        compose(action(target="gone"), Templates(SHIPPED), SENDING)


def test_sending_comes_from_the_configuration_and_needs_the_link_secret():
    config = Config().with_changes(link_secret=SECRET, email_from="Team <team@example.com>", public_url="https://t.io")
    sending = Sending.from_config(config)
    assert (sending.sender, sending.base_url, sending.link_secret, sending.link_ttl_days) == \
        ("Team <team@example.com>", "https://t.io", SECRET, 365)
    with pytest.raises(ConfigError, match="LEADFLOW_LINK_SECRET"):
        Sending.from_config(Config())


def test_the_templates_are_the_ones_next_to_the_automation_file(tmp_path):
    assert templates_for(Config()).directory == SHIPPED
    assert templates_for(Config().with_changes(automations_path=tmp_path / "auto.yaml")).directory == \
        tmp_path / "templates"
