"""Mailgun: the Messages API.

``POST {base}/v3/<LEADFLOW_MAILGUN_DOMAIN>/messages`` with HTTP Basic ``api:<LEADFLOW_MAILGUN_API_KEY>`` and a
``multipart/form-data`` body: ``from``, ``to``, ``subject``, ``text``, ``html``, headers as ``h:<Name>``
(``h:Reply-To``, ``h:List-Unsubscribe``, ``h:List-Unsubscribe-Post``, ``h:X-Leadflow-Action-Id``), custom
variables as ``v:<name>`` (``v:action_id``, ...: Mailgun's webhooks carry them in ``user-variables``) and
``o:tracking=no`` (plus ``o:tracking-clicks`` / ``o:tracking-opens``, which outrank the domain's settings):
leadflow signs its own links. Answers: 200 ``{"id": "<...@domain>", "message": "Queued. Thank you."}`` (the id
without its angle brackets is the ``message-id`` its webhooks name); refusals as ``{"message": "..."}``. Domains
in the EU region use ``LEADFLOW_EMAIL_API_URL=https://api.eu.mailgun.net``.

Docs: https://documentation.mailgun.com/docs/mailgun/api-reference/openapi-final/tag/Messages/,
https://documentation.mailgun.com/docs/mailgun/user-manual/sending-messages/send-http,
https://documentation.mailgun.com/docs/mailgun/user-manual/sending-messages/pass-sending-options,
https://documentation.mailgun.com/docs/mailgun/quickstart-guide/responses
"""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from connectors.actions.email.calls import Answer, call
from connectors.actions.email.message import Email, Sent

PUBLIC_API = "https://api.mailgun.net"


class MailgunProvider:
    name = "mailgun"

    def __init__(self, api_key: str, domain: str, base_url: str | None = None) -> None:
        self._authorization = aiohttp.encode_basic_auth("api", api_key)
        self.url = f"{(base_url or PUBLIC_API).rstrip('/')}/v3/{quote(domain, safe='')}/messages"

    async def send(self, session: aiohttp.ClientSession, email: Email, now: float) -> Sent:
        form = aiohttp.FormData(fields_of(email), default_to_multipart=True)
        answer = await call(session, "POST", self.url, now, data=form, detail=_message,
                            headers={"Authorization": self._authorization})
        message_id = answer.json().get("id")
        return Sent(self.name, message_id.strip().strip("<>") if isinstance(message_id, str) else None)


def fields_of(email: Email) -> list[tuple[str, str]]:
    fields = [("from", email.sender), ("to", email.to), ("subject", email.subject), ("text", email.text)]
    if email.html is not None:
        fields.append(("html", email.html))
    if email.reply_to:
        fields.append(("h:Reply-To", email.reply_to))
    fields.extend((f"h:{name}", value) for name, value in email.headers.items())
    fields.extend((f"v:{name}", value) for name, value in email.metadata.items())
    fields.extend([("o:tracking", "no"), ("o:tracking-clicks", "no"), ("o:tracking-opens", "no")])
    return fields


def _message(answer: Answer) -> str:
    message = answer.json().get("message")
    return str(message) if message else answer.text()
