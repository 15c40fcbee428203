"""An optional CAPTCHA check before a form post counts: Cloudflare Turnstile, hCaptcha or reCAPTCHA.

Why: a minimum fill time and a honeypot stop naive bots, not someone who posts a victim's
address on purpose. With ``LEADFLOW_FORM_CAPTCHA_VERIFY_URL`` and
``LEADFLOW_FORM_CAPTCHA_SECRET`` set, a post counts only if the widget's token passes the
vendor's ``siteverify`` API. All three speak the same format: POST form-encoded
``secret``, ``response`` (the token) and ``remoteip``; the answer is JSON
``{"success": true|false, "error-codes": [...]}``. The widget puts the token in
``cf-turnstile-response``, ``h-captcha-response`` or ``g-recaptcha-response``.

The check is asynchronous with a timeout, so a slow vendor delays only that post; a vendor
that does not answer is CaptchaUnavailable (the form answers 503: retry), a token that does
not pass is a reason (the form answers 400 with it, so a person whose token expired can try
again, and records the post as rejected).
"""

from __future__ import annotations

from typing import Any, Mapping

import aiohttp

TOKEN_FIELDS = ("cf-turnstile-response", "h-captcha-response", "g-recaptcha-response")
TIMEOUT_S = 5.0


class CaptchaUnavailable(Exception):
    """The verify URL did not give a usable answer in time."""


def token_of(fields: Mapping[str, str]) -> str | None:
    for name in TOKEN_FIELDS:
        if fields.get(name):
            return fields[name]
    return None


def refusal(answer: Any) -> str | None:
    """None when the siteverify answer says the token passed, else why not (pure)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("success"), bool):
        raise CaptchaUnavailable("the verify URL did not answer {\"success\": true|false}")
    if answer["success"]:
        return None
    codes = answer.get("error-codes")
    detail = ", ".join(str(code)[:60] for code in codes[:5]) if isinstance(codes, list) and codes else "no reason given"
    return f"CAPTCHA check failed ({detail})"


class CaptchaVerifier:
    def __init__(self, verify_url: str, secret: str, timeout_s: float = TIMEOUT_S) -> None:
        self._url, self._secret, self._timeout = verify_url, secret, aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def check(self, token: str | None, remote_ip: str | None) -> str | None:
        """None when the token passes; the reason when it does not. Raises CaptchaUnavailable."""
        if not token:
            return "CAPTCHA token missing (" + " / ".join(TOKEN_FIELDS) + ")"
        form = {"secret": self._secret, "response": token}
        if remote_ip:
            form["remoteip"] = remote_ip
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self._url, data=form) as response:
                if response.status != 200:
                    raise CaptchaUnavailable(f"the verify URL answered {response.status}")
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise CaptchaUnavailable(exc.__class__.__name__) from None
        return refusal(answer)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
