"""Postmark: the Email API.

``POST {base}/email`` with ``X-Postmark-Server-Token: <LEADFLOW_POSTMARK_SERVER_TOKEN>`` and a JSON body:
``From``, ``To``, ``ReplyTo``, ``Subject``, ``TextBody``, ``HtmlBody``, ``Headers`` (``[{"Name", "Value"}]``),
``Metadata`` (returned in Postmark's webhooks), ``MessageStream`` (``LEADFLOW_POSTMARK_STREAM``, ``broadcast`` by
default, for marketing email; ``outbound`` for transactional email: Postmark keeps the two apart),
``TrackOpens: false`` and ``TrackLinks: "None"`` (leadflow signs its own links). Answers: 200
``{"To", "SubmittedAt", "MessageID", "ErrorCode": 0, "Message": "OK"}``; 422 ``{"ErrorCode", "Message"}`` for a
request Postmark refuses (300 invalid email request, 406 inactive recipient: a bounce, complaint or
unsubscribe Postmark recorded), final; 401 a bad token; 429 and 5xx worth another attempt.

Docs: https://postmarkapp.com/developer/user-guide/sending-email/sending-with-api,
https://postmarkapp.com/developer/api/email-api, https://postmarkapp.com/developer/api/overview#error-codes,
https://postmarkapp.com/support/article/1125-custom-metadata-faq
"""

from __future__ import annotations

from typing import Any

import aiohttp

from connectors.actions.email.calls import Answer, call
from connectors.actions.email.message import Email, Sent
from leadflow.outbound import AttemptFailed

PUBLIC_API = "https://api.postmarkapp.com"
TRANSACTIONAL_STREAM = "outbound"


class PostmarkProvider:
    name = "postmark"

    def __init__(self, server_token: str, marketing_stream: str = "broadcast", base_url: str | None = None) -> None:
        self._token = server_token
        self.marketing_stream = marketing_stream
        self.url = f"{(base_url or PUBLIC_API).rstrip('/')}/email"

    async def send(self, session: aiohttp.ClientSession, email: Email, now: float) -> Sent:
        answer = await call(session, "POST", self.url, now, json=self.body_of(email), detail=_error,
                            headers={"X-Postmark-Server-Token": self._token, "Accept": "application/json"})
        document = answer.json()
        code = document.get("ErrorCode", 0)
        if code not in (0, None):  # a 200 that still refused the message
            raise AttemptFailed(f"Postmark refused the message: {_error(answer)}", retryable=False,
                                status=answer.status)
        message_id = document.get("MessageID")
        return Sent(self.name, str(message_id) if message_id else None)

    def body_of(self, email: Email) -> dict[str, Any]:
        body: dict[str, Any] = {
            "From": email.sender,
            "To": email.to,
            "Subject": email.subject,
            "TextBody": email.text,
            "Headers": [{"Name": name, "Value": value} for name, value in email.headers.items()],
            "Metadata": dict(email.metadata),
            "MessageStream": TRANSACTIONAL_STREAM if email.transactional else self.marketing_stream,
            "TrackOpens": False,
            "TrackLinks": "None",
        }
        if email.html is not None:
            body["HtmlBody"] = email.html
        if email.reply_to:
            body["ReplyTo"] = email.reply_to
        return body


def _error(answer: Answer) -> str:
    document = answer.json()
    if "ErrorCode" in document or "Message" in document:
        return f"ErrorCode {document.get('ErrorCode')}: {document.get('Message', '')}".strip()
    return answer.text()
