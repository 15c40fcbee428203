"""Vendor payloads in each provider's documented format (shapes from their webhook docs)."""

import json

SENDGRID = [
    {"email": "ann@example.com", "timestamp": 1767000000, "event": "processed", "sg_event_id": "sg-proc-1",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0", "smtp-id": "<14c5d75ce93@ismtpd>"},
    {"email": "ann@example.com", "timestamp": 1767000001, "event": "delivered", "sg_event_id": "sg-del-1",
     "sg_message_id": "msg-1", "response": "250 OK"},
    {"email": "ann@example.com", "timestamp": 1767000002, "event": "open", "sg_event_id": "sg-open-1",
     "sg_message_id": "msg-1", "useragent": "Mozilla/5.0", "ip": "192.0.2.1", "sg_machine_open": False},
    {"email": "ann@example.com", "timestamp": 1767000003, "event": "open", "sg_event_id": "sg-open-2",
     "sg_message_id": "msg-1", "sg_machine_open": True},
    {"email": "ann@example.com", "timestamp": 1767000004, "event": "click", "sg_event_id": "sg-click-1",
     "sg_message_id": "msg-1", "url": "https://example.com/pricing", "url_offset": {"index": 0, "type": "html"}},
    {"email": "bob@example.com", "timestamp": 1767000005, "event": "bounce", "sg_event_id": "sg-bounce-1",
     "sg_message_id": "msg-2", "type": "bounce", "reason": "550 5.1.1 unknown user", "status": "5.1.1"},
    {"email": "bob@example.com", "timestamp": 1767000006, "event": "bounce", "sg_event_id": "sg-bounce-2",
     "sg_message_id": "msg-2", "type": "blocked", "reason": "mailbox full", "status": "4.2.2"},
    {"email": "ann@example.com", "timestamp": 1767000007, "event": "spamreport", "sg_event_id": "sg-spam-1",
     "sg_message_id": "msg-1"},
    {"email": "ann@example.com", "timestamp": 1767000008, "event": "unsubscribe", "sg_event_id": "sg-unsub-1",
     "sg_message_id": "msg-1"},
    {"email": "ann@example.com", "timestamp": 1767000009, "event": "group_unsubscribe", "sg_event_id": "sg-gunsub-1",
     "sg_message_id": "msg-1", "asm_group_id": 10},
    {"email": "ann@example.com", "timestamp": 1767000010, "event": "deferred", "sg_event_id": "sg-def-1",
     "sg_message_id": "msg-1", "attempt": "1"},
]
SENDGRID_EXPECTED = {
    "sendgrid:sg-del-1": ("email.delivered", False, {}),
    "sendgrid:sg-open-1": ("email.opened", False, {}),
    "sendgrid:sg-open-2": ("email.opened", True, {}),
    "sendgrid:sg-click-1": ("email.clicked", False, {}),
    "sendgrid:sg-bounce-1": ("email.bounced", False, {"bounce": "hard", "reason": "550 5.1.1 unknown user"}),
    "sendgrid:sg-bounce-2": ("email.bounced", False, {"bounce": "soft", "reason": "mailbox full"}),
    "sendgrid:sg-spam-1": ("email.complained", False, {}),
    "sendgrid:sg-unsub-1": ("email.unsubscribed", False, {}),
    "sendgrid:sg-gunsub-1": ("email.unsubscribed", False, {}),
}


def mailgun_event(event: str, event_id: str, **extra) -> dict:
    data = {
        "id": event_id, "event": event, "timestamp": 1767000000.5, "log-level": "info",
        "recipient": "alice@example.com", "recipient-domain": "example.com", "tags": ["welcome"],
        "user-variables": {"campaign": "spring"}, "campaigns": [],
        "message": {"headers": {"to": "Alice <alice@example.com>", "message-id": "20260101.1@mg.example.com",
                                "from": "Bob <bob@example.com>", "subject": "Hello"}, "attachments": [], "size": 111},
    }
    data.update(extra)
    return data


MAILGUN = {
    "delivered": mailgun_event("delivered", "mg-del", **{"delivery-status": {"code": 250, "message": "OK"}}),
    "opened": mailgun_event("opened", "mg-open", **{"client-info": {"client-type": "browser", "bot": ""}}),
    "opened_bot": mailgun_event("opened", "mg-open-bot", **{"client-info": {"client-type": "", "bot": "apple"}}),
    "clicked": mailgun_event("clicked", "mg-click", url="https://example.com/pricing"),
    "failed_permanent": mailgun_event("failed", "mg-fail-p", severity="permanent", reason="bounce",
                                      **{"delivery-status": {"code": 550, "message": "No such user"}}),
    "failed_temporary": mailgun_event("failed", "mg-fail-t", severity="temporary", reason="generic",
                                      **{"delivery-status": {"code": 452, "message": "Mailbox full"}}),
    "complained": mailgun_event("complained", "mg-spam"),
    "unsubscribed": mailgun_event("unsubscribed", "mg-unsub"),
    "accepted": mailgun_event("accepted", "mg-acc"),
}

GUID = "00000000-0000-0000-0000-000000000000"
POSTMARK = {
    "Delivery": {"RecordType": "Delivery", "ServerID": 23, "MessageStream": "outbound", "MessageID": GUID,
                 "Recipient": "john@example.com", "Tag": "welcome-email", "DeliveredAt": "2026-11-05T16:33:54.9070259Z",
                 "Details": "Test delivery webhook details", "Metadata": {"a_key": "a_value"}},
    "HardBounce": {"RecordType": "Bounce", "MessageStream": "outbound", "ID": 4323372036854775807,
                   "Type": "HardBounce", "TypeCode": 1, "Name": "Hard bounce", "Tag": "Invitation",
                   "MessageID": GUID, "ServerID": 23, "Description": "The server was unable to deliver your message",
                   "Details": "Test bounce details", "Email": "john@example.com", "From": "sender@example.com",
                   "BouncedAt": "2026-11-05T16:33:54.9070259Z", "DumpAvailable": True, "Inactive": True,
                   "CanActivate": True, "Subject": "Test subject"},
    "SoftBounce": {"RecordType": "Bounce", "ID": 99, "Type": "SoftBounce", "TypeCode": 4096, "MessageID": GUID,
                   "Description": "Mailbox full", "Email": "john@example.com",
                   "BouncedAt": "2026-11-05T16:34:00Z"},
    "AutoResponder": {"RecordType": "Bounce", "ID": 100, "Type": "AutoResponder", "TypeCode": 2, "MessageID": GUID,
                      "Email": "john@example.com", "BouncedAt": "2026-11-05T16:34:00Z"},
    "Open": {"RecordType": "Open", "MessageStream": "outbound", "FirstOpen": True,
             "Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"},
             "OS": {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.", "Family": "OS X 10"},
             "Platform": "WebMail", "UserAgent": "Mozilla/5.0", "ReadSeconds": 5,
             "Geo": {"CountryISOCode": "RS", "Country": "Serbia"}, "MessageID": GUID, "Metadata": {},
             "ReceivedAt": "2026-11-05T16:33:54.9070259Z", "Tag": "welcome-email", "Recipient": "john@example.com"},
    "Click": {"RecordType": "Click", "MessageStream": "outbound", "ClickLocation": "HTML", "Platform": "Desktop",
              "UserAgent": "Mozilla/5.0", "OriginalLink": "https://example.com/pricing", "MessageID": GUID,
              "Metadata": {}, "ReceivedAt": "2026-10-25T15:21:11.0000000Z", "Tag": "welcome-email",
              "Recipient": "john@example.com"},
    "SpamComplaint": {"RecordType": "SpamComplaint", "MessageStream": "outbound", "ID": 42, "Type": "SpamComplaint",
                      "TypeCode": 512, "Name": "Spam complaint", "Tag": "Test", "MessageID": GUID, "ServerID": 1234,
                      "Description": "", "Details": "Test spam complaint details", "Email": "john@example.com",
                      "From": "sender@example.com", "BouncedAt": "2026-11-05T16:33:54.9070259Z"},
    "SubscriptionChange": {"RecordType": "SubscriptionChange", "MessageID": GUID, "ServerID": 23,
                           "MessageStream": "outbound", "ChangedAt": "2026-02-01T10:53:34.416071Z",
                           "Recipient": "john@example.com", "Origin": "Recipient", "SuppressSending": True,
                           "SuppressionReason": "ManualSuppression", "Tag": "my-tag", "Metadata": {}},
    "Resubscribe": {"RecordType": "SubscriptionChange", "MessageID": GUID, "ChangedAt": "2026-02-02T10:53:34Z",
                    "Recipient": "john@example.com", "Origin": "Customer", "SuppressSending": False},
}

SES_MAIL = {"timestamp": "2026-08-05T00:40:02.012Z", "source": "Sender Name <sender@example.com>",
            "sendingAccountId": "123456789012", "messageId": "EXAMPLE7c191be45-e9aedb9a-000000",
            "destination": ["recipient@example.com"], "headersTruncated": False,
            "commonHeaders": {"from": ["Sender Name <sender@example.com>"], "to": ["recipient@example.com"],
                              "messageId": "EXAMPLE7c191be45", "subject": "Message sent from Amazon SES"}}
SES = {
    "Bounce": {"eventType": "Bounce", "mail": SES_MAIL, "bounce": {
        "bounceType": "Permanent", "bounceSubType": "General",
        "bouncedRecipients": [{"emailAddress": "recipient@example.com", "action": "failed", "status": "5.1.1",
                               "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
        "timestamp": "2026-08-05T00:41:02.669Z", "feedbackId": "01000157c44f053b-61b59c11-000000",
        "reportingMTA": "dsn; mta.example.com"}},
    "TransientBounce": {"eventType": "Bounce", "mail": SES_MAIL, "bounce": {
        "bounceType": "Transient", "bounceSubType": "MailboxFull",
        "bouncedRecipients": [{"emailAddress": "recipient@example.com"}],
        "timestamp": "2026-08-05T00:42:02.669Z", "feedbackId": "01000157c44f053b-transient"}},
    "Complaint": {"eventType": "Complaint", "mail": SES_MAIL, "complaint": {
        "complainedRecipients": [{"emailAddress": "recipient@example.com"}], "timestamp": "2026-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-complaint", "userAgent": "Mozilla/5.0", "complaintFeedbackType": "abuse",
        "arrivalDate": "2026-08-05T00:41:02.669Z"}},
    "Delivery": {"eventType": "Delivery", "mail": SES_MAIL, "delivery": {
        "timestamp": "2026-10-19T23:21:04.133Z", "processingTimeMillis": 11893,
        "recipients": ["recipient@example.com"], "smtpResponse": "250 2.6.0 Message received",
        "reportingMTA": "mta.example.com"}},
    "Open": {"eventType": "Open", "mail": SES_MAIL, "open": {
        "ipAddress": "192.0.2.1", "timestamp": "2026-08-09T22:00:19.652Z", "userAgent": "Mozilla/5.0"}},
    "Click": {"eventType": "Click", "mail": SES_MAIL, "click": {
        "ipAddress": "192.0.2.1", "link": "https://example.com/pricing", "linkTags": {"samplekey0": ["samplevalue0"]},
        "timestamp": "2026-08-09T23:51:25.570Z", "userAgent": "Mozilla/5.0"}},
    "NotificationBounce": {"notificationType": "Bounce", "mail": SES_MAIL, "bounce": {
        "bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "old@example.com"}],
        "timestamp": "2026-08-05T00:41:02.669Z", "feedbackId": "legacy-feedback"}},
    "Send": {"eventType": "Send", "mail": SES_MAIL, "send": {}},
}
SES_EXPECTED = {
    "Bounce": ("email.bounced", {"bounce": "hard", "reason": "General"}),
    "TransientBounce": ("email.bounced", {"bounce": "soft", "reason": "MailboxFull"}),
    "Complaint": ("email.complained", {}),
    "Delivery": ("email.delivered", {}),
    "Open": ("email.opened", {}),
    "Click": ("email.clicked", {}),
    "NotificationBounce": ("email.bounced", {"bounce": "hard"}),
}


def dumps(value) -> bytes:
    return json.dumps(value).encode()
