"""Every provider's every event type maps to the canonical interaction with a stable, vendor-derived id."""

import pytest

from connectors.collector.webhooks import mailgun, postmark, sendgrid, ses
from connectors.collector.webhooks.common import Malformed
from streams.core.identity import prospect_id_for
from tests.connectors.collector.webhooks.payloads import (
    MAILGUN, POSTMARK, SENDGRID, SENDGRID_EXPECTED, SES, SES_EXPECTED, SES_MAIL, dumps)

NOW = 1_767_000_100_000


def test_sendgrid_maps_every_event_type():
    mapped = sendgrid.parse(dumps(SENDGRID), NOW)
    got = {i.event_id: (i.type, i.machine, dict(i.properties)) for i in mapped.interactions}
    assert got == SENDGRID_EXPECTED
    assert sorted(mapped.ignored) == ["sendgrid.deferred", "sendgrid.processed"]
    click = next(i for i in mapped.interactions if i.type == "email.clicked")
    assert click.url == "https://example.com/pricing" and click.message_id == "msg-1"
    assert click.occurred_at == 1767000004000 and click.prospect_key == prospect_id_for("ann@example.com")


def test_sendgrid_bad_events_are_reported_and_the_rest_kept():
    mapped = sendgrid.parse(dumps([{"event": "open"}, {"event": "open", "sg_event_id": "x", "email": "nope"},
                                   SENDGRID[1]]), NOW)
    assert len(mapped.interactions) == 1 and len(mapped.invalid) == 2
    with pytest.raises(Malformed):
        sendgrid.parse(b'{"not": "an array"}', NOW)


@pytest.mark.parametrize("name, type_, machine, props", [
    ("delivered", "email.delivered", False, {}),
    ("opened", "email.opened", False, {}),
    ("opened_bot", "email.opened", True, {}),
    ("clicked", "email.clicked", False, {}),
    ("failed_permanent", "email.bounced", False, {"bounce": "hard", "reason": "No such user"}),
    ("failed_temporary", "email.bounced", False, {"bounce": "soft", "reason": "Mailbox full"}),
    ("complained", "email.complained", False, {}),
    ("unsubscribed", "email.unsubscribed", False, {}),
])
def test_mailgun_maps_every_event_type(name, type_, machine, props):
    [interaction] = mailgun.parse_event(MAILGUN[name], NOW).interactions
    assert (interaction.type, interaction.machine, dict(interaction.properties)) == (type_, machine, props)
    assert interaction.event_id == f"mailgun:{MAILGUN[name]['id']}"
    assert interaction.message_id == "20260101.1@mg.example.com" and interaction.occurred_at == 1767000000500


def test_mailgun_ignores_accepted():
    assert mailgun.parse_event(MAILGUN["accepted"], NOW).ignored == ["mailgun.accepted"]


@pytest.mark.parametrize("name, type_, props", [
    ("Delivery", "email.delivered", {}),
    ("HardBounce", "email.bounced", {"bounce": "hard", "reason": "The server was unable to deliver your message"}),
    ("SoftBounce", "email.bounced", {"bounce": "soft", "reason": "Mailbox full"}),
    ("Open", "email.opened", {"first_open": "true"}),
    ("Click", "email.clicked", {}),
    ("SpamComplaint", "email.complained", {}),
    ("SubscriptionChange", "email.unsubscribed", {}),
])
def test_postmark_maps_every_record_type(name, type_, props):
    [interaction] = postmark.parse(dumps(POSTMARK[name]), NOW).interactions
    assert (interaction.type, dict(interaction.properties)) == (type_, props)
    assert interaction.email == "john@example.com" and interaction.event_id.startswith("postmark:")
    again = postmark.parse(dumps(POSTMARK[name]), NOW + 5000).interactions[0]
    assert again.event_id == interaction.event_id  # a retry de-duplicates


def test_postmark_ignores_resubscribes_and_autoresponders():
    assert postmark.parse(dumps(POSTMARK["Resubscribe"]), NOW).ignored
    assert postmark.parse(dumps(POSTMARK["AutoResponder"]), NOW).ignored
    with pytest.raises(Malformed):
        postmark.parse(b'{"Recipient": "x"}', NOW)


@pytest.mark.parametrize("name", sorted(SES_EXPECTED))
def test_ses_maps_every_event_type(name):
    type_, props = SES_EXPECTED[name]
    [interaction] = ses.parse_event(dumps(SES[name]).decode(), NOW).interactions
    assert interaction.type == type_ and dict(interaction.properties) == props
    assert interaction.event_id.startswith("ses:")
    assert ses.parse_event(dumps(SES[name]).decode(), NOW + 1).interactions[0].event_id == interaction.event_id


def test_ses_bounce_ids_come_from_the_feedback_id():
    [bounce] = ses.parse_event(dumps(SES["Bounce"]).decode(), NOW).interactions
    assert bounce.event_id == "ses:01000157c44f053b-61b59c11-000000:recipient@example.com"
    assert ses.parse_event(dumps(SES["Send"]).decode(), NOW).ignored == ["ses.Send"]


ACTION = "3f2b8c1e-5a6d-5e7f-8a9b-0c1d2e3f4a5b"  # an action id, as the delivery sends it in each vendor's custom data


@pytest.mark.parametrize("vendor", ["sendgrid", "mailgun", "postmark", "ses"])
def test_an_event_of_an_email_leadflow_sent_carries_the_sends_action_id_as_its_message_id(vendor):
    """The delivery puts the action id in SendGrid's custom_args (top-level keys of each event), Mailgun's
    v: variables (user-variables), Postmark's Metadata and SES's email tags (mail.tags, values are lists): the
    provider's open or click then joins the send like the pixel's and the signed link's do."""
    if vendor == "sendgrid":
        click = {**SENDGRID[4], "action_id": ACTION, "prospect_id": "p_x"}
        [mapped] = sendgrid.parse(dumps([click]), NOW).interactions
    elif vendor == "mailgun":
        data = {**MAILGUN["clicked"], "user-variables": {"action_id": ACTION}}
        [mapped] = mailgun.parse_event(data, NOW).interactions
    elif vendor == "postmark":
        record = {**POSTMARK["Click"], "Metadata": {"action_id": ACTION}}
        [mapped] = postmark.parse(dumps(record), NOW).interactions
    else:
        event = {**SES["Click"], "mail": {**SES_MAIL, "tags": {"action_id": [ACTION], "ses:source-ip": ["1.2.3.4"]}}}
        [mapped] = ses.parse_event(dumps(event).decode(), NOW).interactions
    assert (mapped.type, mapped.message_id) == ("email.clicked", ACTION)


def test_custom_data_that_is_not_an_action_id_leaves_the_providers_message_id():
    click = {**SENDGRID[4], "action_id": "<script>"}
    [mapped] = sendgrid.parse(dumps([click]), NOW).interactions
    assert mapped.message_id == "msg-1"
