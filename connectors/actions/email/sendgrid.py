"""SendGrid: the v3 Mail Send API.

``POST {base}/v3/mail/send`` with ``Authorization: Bearer <LEADFLOW_SENDGRID_API_KEY>`` and a JSON body:
``personalizations`` (the recipient and its ``custom_args``), ``from`` ``{email, name}``, ``reply_to``, ``subject``,
``content`` (``text/plain`` first, then ``text/html``: SendGrid requires that order), ``headers``, ``custom_args``
and ``tracking_settings`` turning SendGrid's own click, open and subscription tracking off (leadflow signs its own
links, and a second rewrite would break them). Answers: 202 Accepted with the message's id in ``X-Message-Id``
(its Event Webhook names it in ``sg_message_id``); 429 with ``X-RateLimit-Reset`` (unix seconds); errors as
``{"errors": [{"message", "field"}]}``.

Docs: https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send,
https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/rate-limits,
https://www.twilio.com/docs/sendgrid/glossary/x-message-id
"""

from __future__ import annotations

from typing import Any

import aiohttp

from connectors.actions.email.calls import Answer, call
from connectors.actions.email.message import Email, Sent, split_address

PUBLIC_API = "https://api.sendgrid.com"
RECIPIENT_ARGS = ("action_id", "prospect_id")  # per recipient: in the personalization; the rest message-wide


class SendGridProvider:
    name = "sendgrid"

    def __init__(self, api_key: str, base_url: str | None = None) -> None:
        self._key = api_key
        self.url = f"{(base_url or PUBLIC_API).rstrip('/')}/v3/mail/send"

    async def send(self, session: aiohttp.ClientSession, email: Email, now: float) -> Sent:
        answer = await call(session, "POST", self.url, now, json=body_of(email), detail=_errors,
                            reset_header="X-RateLimit-Reset", headers={"Authorization": f"Bearer {self._key}"})
        return Sent(self.name, answer.headers.get("X-Message-Id"))


def body_of(email: Email) -> dict[str, Any]:
    name, address = split_address(email.sender)
    sender: dict[str, str] = {"email": address, **({"name": name} if name else {})}
    content = [{"type": "text/plain", "value": email.text}]
    if email.html is not None:
        content.append({"type": "text/html", "value": email.html})
    body: dict[str, Any] = {
        "personalizations": [{"to": [{"email": email.to}],
                              "custom_args": {k: v for k, v in email.metadata.items() if k in RECIPIENT_ARGS}}],
        "from": sender,
        "subject": email.subject,
        "content": content,
        "headers": dict(email.headers),
        "custom_args": {k: v for k, v in email.metadata.items() if k not in RECIPIENT_ARGS},
        "tracking_settings": {"click_tracking": {"enable": False, "enable_text": False},
                              "open_tracking": {"enable": False},
                              "subscription_tracking": {"enable": False}},
    }
    if email.reply_to:
        reply_name, reply_address = split_address(email.reply_to)
        body["reply_to"] = {"email": reply_address, **({"name": reply_name} if reply_name else {})}
    return body


def _errors(answer: Answer) -> str:
    errors = answer.json().get("errors")
    if isinstance(errors, list):
        messages = [str(e.get("message")) + (f" ({e['field']})" if e.get("field") else "")
                    for e in errors if isinstance(e, dict) and e.get("message")]
        if messages:
            return "; ".join(messages)
    return answer.text()
