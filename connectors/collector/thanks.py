"""What a person sees after posting a form with their browser (pure: no I/O).

A plain `<form action=".../v1/forms/...">` without `_redirect` navigates the browser to the collector's answer;
raw JSON there looks broken. Browsers prefer `text/html` in their `Accept` header, API clients (curl, fetch,
server code) do not, so content negotiation tells them apart: browsers get a small thank-you page (or the
owner's own, `LEADFLOW_FORM_THANKS_HTML`), API clients keep their JSON. Everything posted that appears in a
page is HTML-escaped.
"""

from __future__ import annotations

import html

from leadflow.redirects import RedirectError, browser_target

DEFAULT_THANKS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Thank you</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}</style>
</head><body>
<h1>Thank you{{greeting}}!</h1>
<p>We received your submission and will be in touch soon.</p>
<p><a href="{{back_url}}">Back to the site</a></p>
</body></html>
"""

ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Please check the form</title></head><body>
<h1>Please check the form</h1>
<p>{{reason}}</p>
<p><a href="{{back_url}}">Back to the form</a></p>
</body></html>
"""


def prefers_html(accept: str | None) -> bool:
    """True when the client ranks text/html above application/json (a browser navigating); ties go to JSON."""
    return _quality(accept, "text/html") > _quality(accept, "application/json")


def _quality(accept: str | None, media: str) -> float:
    best, best_specificity = 0.0, -1
    kind = media.split("/")[0]
    for part in (accept or "").split(","):
        name, *params = [p.strip() for p in part.split(";")]
        specificity = {media: 2, f"{kind}/*": 1, "*/*": 0}.get(name.lower(), -1)
        if specificity < best_specificity or specificity < 0:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        best, best_specificity = quality, specificity
    return best


def back_url(referer: str | None) -> str:
    """The page the form was on, if a browser would read it as an unambiguous web URL (the redirects' own
    parser: a header like `http://[` or one with a backslash is not one); else nothing to go back to."""
    if referer:
        try:
            browser_target(referer)
            return referer
        except RedirectError:
            pass
    return "javascript:history.back()"


def render(template: str, **values: str | None) -> str:
    """Fill `{{name}}` placeholders with escaped values; placeholders not given are left as they are."""
    for name, value in values.items():
        template = template.replace("{{" + name + "}}", html.escape(value or "", quote=True))
    return template


def thank_you_page(template: str, first_name: str | None, form_id: str, referer: str | None) -> str:
    """Placeholders: {{first_name}}, {{greeting}} (", Ada" or nothing), {{form_id}}, {{back_url}}."""
    greeting = f", {first_name}" if first_name else ""
    return render(template, first_name=first_name, greeting=greeting, form_id=form_id, back_url=back_url(referer))


def error_page(reason: str, referer: str | None) -> str:
    return render(ERROR_PAGE, reason=reason, back_url=back_url(referer))
