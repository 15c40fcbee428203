"""Amazon SES: the v2 ``SendEmail`` API, signed with AWS Signature Version 4 by botocore.

``POST https://email.<LEADFLOW_SES_REGION>.amazonaws.com/v2/email/outbound-emails`` (or
``LEADFLOW_EMAIL_API_URL``) with a JSON body: ``FromEmailAddress``, ``Destination.ToAddresses``,
``ReplyToAddresses``, ``Content.Simple`` (``Subject``, ``Body.Text`` / ``Body.Html``, ``Headers`` as
``[{"Name", "Value"}]``), ``EmailTags`` (``[{"Name", "Value"}]``, returned in SES's event publishing; names and
values may hold only ASCII letters, digits, ``_`` and ``-``, at most 256 characters, so they are sanitized) and
``ConfigurationSetName`` when ``LEADFLOW_SES_CONFIGURATION_SET`` is set (its event destination is what sends
opens, bounces and complaints back). Answers: 200 ``{"MessageId": ...}`` (the ``mail.messageId`` of SES's events);
errors name their type in ``x-amzn-ErrorType`` (or the body's ``__type`` / ``code``) with a ``message``: 400
``MessageRejected``, ``BadRequestException``, ``MailFromDomainNotVerifiedException``, ... are final; 429
``TooManyRequestsException`` (and throttling reported at 400) and 5xx are worth another attempt.

Credentials: ``LEADFLOW_SES_ACCESS_KEY_ID`` / ``LEADFLOW_SES_SECRET_ACCESS_KEY``, else botocore's usual chain
(environment, shared profile, container or instance role; refreshed by botocore as they expire).

Docs: https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html,
https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_MessageTag.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html (Signature Version 4; its test suite's
``get-vanilla`` case is in the tests)
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

import aiohttp
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from connectors.actions.email.calls import Answer, call
from connectors.actions.email.message import Email, Sent
from leadflow.outbound import AttemptFailed

SERVICE = "ses"
PATH = "/v2/email/outbound-emails"
THROTTLED = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
TAG_MAX = 256


def default_chain() -> Any:
    """botocore's credential chain (environment, profile, container or instance role); None when it finds none."""
    from botocore.session import get_session

    return get_session().get_credentials()


class SesProvider:
    name = "ses"

    def __init__(self, region: str, configuration_set: str | None = None, base_url: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None,
                 credential_chain: Callable[[], Any] = default_chain) -> None:
        self.region = region
        self.configuration_set = configuration_set
        self.url = f"{(base_url or f'https://email.{region}.amazonaws.com').rstrip('/')}{PATH}"
        self._static = Credentials(access_key_id, secret_access_key) if access_key_id and secret_access_key else None
        self._chain = credential_chain
        self._found: Any = None

    async def send(self, session: aiohttp.ClientSession, email: Email, now: float) -> Sent:
        body = json.dumps(self.body_of(email), ensure_ascii=False).encode()
        headers = sign("POST", self.url, body, {"Content-Type": "application/json"}, await self._credentials(),
                       self.region, SERVICE, now)
        answer = await call(session, "POST", self.url, now, data=body, headers=headers, detail=_error,
                            also_retryable=lambda a: _error_type(a) in THROTTLED)
        message_id = answer.json().get("MessageId")
        return Sent(self.name, str(message_id) if message_id else None)

    def body_of(self, email: Email) -> dict[str, Any]:
        simple_body: dict[str, Any] = {"Text": {"Data": email.text, "Charset": "UTF-8"}}
        if email.html is not None:
            simple_body["Html"] = {"Data": email.html, "Charset": "UTF-8"}
        body: dict[str, Any] = {
            "FromEmailAddress": email.sender,
            "Destination": {"ToAddresses": [email.to]},
            "Content": {"Simple": {
                "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                "Body": simple_body,
                "Headers": [{"Name": name, "Value": value} for name, value in email.headers.items()],
            }},
            "EmailTags": email_tags(email.metadata),
        }
        if email.reply_to:
            body["ReplyToAddresses"] = [email.reply_to]
        if self.configuration_set:
            body["ConfigurationSetName"] = self.configuration_set
        return body

    async def _credentials(self) -> Any:
        if self._static is not None:
            return self._static
        if self._found is None:
            self._found = await asyncio.to_thread(self._chain)
        if self._found is None:  # an instance role's metadata service may be back on the next attempt
            raise AttemptFailed("no AWS credentials for SES: set LEADFLOW_SES_ACCESS_KEY_ID and "
                                "LEADFLOW_SES_SECRET_ACCESS_KEY, or give the process a profile or role botocore "
                                "finds", retryable=True)
        return await asyncio.to_thread(self._found.get_frozen_credentials)  # may refresh: not on the event loop


def email_tags(metadata: Mapping[str, str]) -> list[dict[str, str]]:
    """The metadata as SES message tags, with what SES refuses replaced by ``_`` and cut to its length."""
    tags = []
    for name, value in metadata.items():
        clean = _TAG_UNSAFE.sub("_", value)[:TAG_MAX]
        if clean:
            tags.append({"Name": _TAG_UNSAFE.sub("_", name)[:TAG_MAX], "Value": clean})
    return tags


class _SigV4At(SigV4Auth):
    """botocore's Signature Version 4 at a given instant (``SigV4Auth.add_auth`` reads the clock itself), so an
    attempt is signed with the time it is made at and the tests can sign AWS's published vector."""

    def __init__(self, credentials: Any, service: str, region: str, at: datetime) -> None:
        super().__init__(credentials, service, region)
        self._at = at

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._at.strftime(SIGV4_TIMESTAMP)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in request.headers:
                del request.headers[name]
        request.headers["X-Amz-Date"] = request.context["timestamp"]
        if self.credentials.token:
            request.headers["X-Amz-Security-Token"] = self.credentials.token
        signature = self.signature(self.string_to_sign(request, self.canonical_request(request)), request)
        signed = self.signed_headers(self.headers_to_sign(request))
        request.headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.scope(request)}, "
                                            f"SignedHeaders={signed}, Signature={signature}")


def sign(method: str, url: str, body: bytes, headers: Mapping[str, str], credentials: Any, region: str,
         service: str, now: float) -> dict[str, str]:
    """The headers of the request signed with SigV4 at ``now`` (unix seconds): ``headers`` plus ``X-Amz-Date``,
    ``Authorization`` (and ``X-Amz-Security-Token`` for temporary credentials). ``Host`` is signed as the URL names it,
    which is what the HTTP client sends."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    _SigV4At(credentials, service, region, datetime.fromtimestamp(now, timezone.utc)).add_auth(request)
    return dict(request.headers.items())


def _error_type(answer: Answer) -> str:
    kind = answer.headers.get("x-amzn-ErrorType") or ""
    if not kind:
        document = answer.json()
        kind = str(document.get("__type") or document.get("code") or document.get("Code") or "")
    return kind.split(":", 1)[0].rsplit("#", 1)[-1]


def _error(answer: Answer) -> str:
    document = answer.json()
    message = document.get("message") or document.get("Message") or answer.text()
    kind = _error_type(answer)
    return f"{kind}: {message}" if kind else str(message)
