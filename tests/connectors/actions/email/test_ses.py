"""Amazon SES v2 SendEmail, as documented: the request field by field, its SigV4 signature checked the way AWS
checks it (and the signing function against AWS's published test vector), and what each answer means."""

import hashlib
import hmac
import json
import re
from datetime import datetime, timezone

from aiohttp import web
from botocore.credentials import Credentials, ReadOnlyCredentials

from connectors.actions.email.message import Sent
from connectors.actions.email.ses import SesProvider, email_tags, sign
from leadflow.outbound import AttemptFailed
from tests.connectors.actions.email.vendor import (ACTION_ID, NOW, PROSPECT_ID, UNSUBSCRIBE, exchange, sample_email,
                                                   unreachable_outcome)

KEY_ID, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "eu-west-1"
MESSAGE_ID = "010201947a8b1c2d-3e4f5a6b-7c8d-9e0f-1a2b-3c4d5e6f7a8b-000000"


def provider(base_url, **options):
    return SesProvider(REGION, "leadflow-events", base_url, KEY_ID, SECRET, **options)


def sent():
    return web.json_response({"MessageId": MESSAGE_ID})


def test_signing_reproduces_the_sigv4_test_suites_get_vanilla_case():
    """AWS Signature Version 4 test suite, get-vanilla: GET / on example.amazonaws.com at 20150830T123600Z."""
    headers = sign("GET", "https://example.amazonaws.com/", b"", {},
                   Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "us-east-1", "service",
                   datetime(2015, 8, 30, 12, 36, tzinfo=timezone.utc).timestamp())
    assert headers["X-Amz-Date"] == "20150830T123600Z"
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def aws_would_accept(request, key_id: str, secret: str, region: str) -> bool:
    """What SES does with a request: rebuild the canonical request from what arrived, sign it, compare. Written
    from the SigV4 specification, independently of the code under test."""
    match = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/ses/aws4_request, "
                         r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", request.headers["Authorization"])
    if not match or match.group(1) != key_id or match.group(3) != region:
        return False
    date, signed_names, signature = match.group(2), match.group(4).split(";"), match.group(5)
    stamp = request.headers["X-Amz-Date"]
    canonical_headers = "".join(f"{n}:{' '.join(request.headers[n].split())}\n" for n in signed_names)
    canonical = "\n".join(["POST", request.path, request.query, canonical_headers, ";".join(signed_names),
                           hashlib.sha256(request.body).hexdigest()])
    scope = f"{date}/{region}/ses/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), "ses"), "aws4_request")
    return {"host", "x-amz-date", "content-type"} <= set(signed_names) and \
        hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), signature)


def test_the_request_is_the_documented_send_email_call_and_its_signature_holds():
    request, outcome = exchange(sent, provider)
    assert outcome == Sent("ses", MESSAGE_ID)
    assert (request.method, request.path) == ("POST", "/v2/email/outbound-emails")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Amz-Date"] == "20260101T000000Z"  # signed at the attempt's time
    assert aws_would_accept(request, KEY_ID, SECRET, REGION)
    assert json.loads(request.body) == {
        "FromEmailAddress": "Example Team <hello@example.com>",
        "Destination": {"ToAddresses": ["ann@example.com"]},
        "ReplyToAddresses": ["Sales <sales@example.com>"],
        "Content": {"Simple": {
            "Subject": {"Data": "Welcome to Example, Ann", "Charset": "UTF-8"},
            "Body": {"Text": {"Data": sample_email().text, "Charset": "UTF-8"},
                     "Html": {"Data": sample_email().html, "Charset": "UTF-8"}},
            "Headers": [{"Name": "List-Unsubscribe", "Value": f"<{UNSUBSCRIBE}>"},
                        {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
                        {"Name": "X-Leadflow-Action-Id", "Value": ACTION_ID}],
        }},
        "EmailTags": [{"Name": "action_id", "Value": ACTION_ID}, {"Name": "prospect_id", "Value": PROSPECT_ID},
                      {"Name": "source", "Value": "welcome_program"}, {"Name": "step", "Value": "1"}],
        "ConfigurationSetName": "leadflow-events",
    }


def test_tags_keep_only_what_ses_allows():
    assert email_tags({"source": "Spring sale: 20% off!", "step": "é" * 300, "empty": ""}) == [
        {"Name": "source", "Value": "Spring_sale__20__off_"}, {"Name": "step", "Value": "_" * 256}]


def test_the_default_endpoint_is_the_regions_and_a_text_only_email_has_no_html():
    assert SesProvider("us-east-2").url == "https://email.us-east-2.amazonaws.com/v2/email/outbound-emails"
    request, _ = exchange(sent, lambda base: SesProvider(REGION, None, base, KEY_ID, SECRET),
                          sample_email(html=None, reply_to=None))
    body = json.loads(request.body)
    assert "Html" not in body["Content"]["Simple"]["Body"] and "ReplyToAddresses" not in body
    assert "ConfigurationSetName" not in body


def test_credentials_from_botocores_chain_sign_with_their_session_token():
    class Role:  # what botocore's chain gives for an instance or container role
        def get_frozen_credentials(self):
            return ReadOnlyCredentials("ASIAROLEEXAMPLE", "role-secret-0123456789", "session-token-abc")

    request, outcome = exchange(sent, lambda base: SesProvider(REGION, None, base, credential_chain=Role))
    assert isinstance(outcome, Sent)
    assert request.headers["X-Amz-Security-Token"] == "session-token-abc"
    assert "x-amz-security-token" in request.headers["Authorization"]
    assert aws_would_accept(request, "ASIAROLEEXAMPLE", "role-secret-0123456789", REGION)


def test_no_credentials_anywhere_is_a_retryable_failure_naming_the_settings():
    import asyncio

    async def attempt():
        try:
            await SesProvider(REGION, credential_chain=lambda: None).send(None, sample_email(), NOW)
        except AttemptFailed as failure:
            return failure

    failure = asyncio.run(attempt())
    assert failure.retryable and "LEADFLOW_SES_ACCESS_KEY_ID" in failure.reason


def ses_error(status, kind, message, in_header=True):
    def answer():
        headers = {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazonaws.sesv2/"} \
            if in_header else {}
        body = {"message": message} if in_header else {"__type": f"com.amazonaws.sesv2#{kind}", "message": message}
        return web.json_response(body, status=status, headers=headers)
    return answer


def test_rejections_are_final_with_the_error_type_and_message():
    _, outcome = exchange(ses_error(400, "MessageRejected", "Email address is not verified. The following "
                                    "identities failed the check in region EU-WEST-1: hello@example.com"), provider)
    assert isinstance(outcome, AttemptFailed) and not outcome.retryable and outcome.status == 400
    assert "MessageRejected: Email address is not verified" in outcome.reason
    _, outcome = exchange(ses_error(400, "BadRequestException", "Missing required field", in_header=False), provider)
    assert isinstance(outcome, AttemptFailed) and not outcome.retryable
    assert "BadRequestException: Missing required field" in outcome.reason


def test_throttling_and_5xx_and_connection_errors_are_retried():
    _, outcome = exchange(ses_error(429, "TooManyRequestsException", "Too many requests"), provider)
    assert isinstance(outcome, AttemptFailed) and outcome.retryable
    _, outcome = exchange(ses_error(400, "ThrottlingException", "Maximum sending rate exceeded."), provider)
    assert isinstance(outcome, AttemptFailed) and outcome.retryable and "Maximum sending rate" in outcome.reason
    _, outcome = exchange(ses_error(500, "InternalFailure", "We encountered an internal error."), provider)
    assert isinstance(outcome, AttemptFailed) and outcome.retryable
    outcome = unreachable_outcome(provider)
    assert isinstance(outcome, AttemptFailed) and outcome.retryable
