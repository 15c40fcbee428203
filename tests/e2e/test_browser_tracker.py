"""The website tracker in a real headless Chromium: a website on its own origin pastes the README's snippet, a
visitor browses and posts a form, and the worker's prospect holds the visits with their full URLs, joined."""

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.collector.tracker import snippet
from tests.conftest import API_TOKEN
from tests.e2e.chromium import chromium
from tests.processes import leadflow, read_prospect, wait_for_http
from tests.topic_reader import read_topic

pytestmark = pytest.mark.e2e

# Test pages record what the tracker hands to navigator.sendBeacon, to check what is (not) sent.
SPY = """<script>window.__sent = []; (function () { var send = navigator.sendBeacon.bind(navigator);
navigator.sendBeacon = function (url, body) { window.__sent.push({url: url, item: JSON.parse(body)});
return send(url, body); }; })();</script>"""
# The form arrives after the tracker has loaded, like forms rendered by a framework.
FORM = """<script>setTimeout(function () { document.body.insertAdjacentHTML("beforeend",
'<form id="demo" method="post" action="COLLECTOR/v1/forms/demo-request">' +
'<input name="email" type="email" required><input name="first_name"><button>Request a demo</button></form>');
}, 300);</script>"""


class Website:
    """A website on http://localhost:<port>, another origin (and site) than the collector on 127.0.0.1."""

    def __init__(self, collector: str) -> None:
        page = "<!doctype html><html><head><title>TITLE</title>" + SPY + snippet(collector) + \
               "</head><body><h1>TITLE</h1>" + FORM.replace("COLLECTOR", collector) + "</body></html>"

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?")[0]
                body = page.replace("TITLE", path.strip("/").title() or "Home").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Website":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_until(check, timeout_s: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def sent(browser) -> list[dict]:
    return browser.execute_script("return window.__sent || []")


def sent_urls(browser) -> list[str]:
    return [hit["item"]["context"]["page"]["url"] for hit in sent(browser)]


def form_field(browser, name: str) -> str | None:
    return browser.execute_script(f"var i = document.querySelector('#demo input[name={name}]'); return i && i.value")


def prospect(config, who: str) -> dict | None:
    return read_prospect(config.worker_metrics_port, who, API_TOKEN)


def test_a_visitor_is_tracked_across_pages_and_joined_by_a_form(config, tmp_path):
    collector = f"http://127.0.0.1:{config.http_port}"
    with Website(collector) as site:
        env = {**config.as_env(), "LEADFLOW_CORS_ORIGINS": site.origin, "LEADFLOW_FORM_MIN_FILL_SECONDS": "0.5"}
        with leadflow(["collector"], env, tmp_path / "collector.log"), \
                leadflow(["worker"], env, tmp_path / "worker.log"), chromium() as browser:
            assert wait_for_http(f"{collector}/readyz", 30), (tmp_path / "collector.log").read_text()[-2000:]
            browser.get(f"{site.origin}/")
            wait_until(lambda: sent(browser), what="the first page view")
            visitor = browser.execute_script("return leadflow.anonymousId()")
            assert len(visitor) == 32 and browser.get_cookie("_lf_aid")["value"] == visitor  # the site's own domain

            browser.execute_script("location.href = '/pricing?utm_campaign=spring'")  # a link on the site
            wait_until(lambda: browser.execute_script("return location.pathname") == "/pricing" and sent(browser),
                       what="the pricing page view")
            assert wait_until(lambda: form_field(browser, "_aid"), what="_aid in the form added later") == visitor
            [hit] = sent(browser)
            assert hit["url"] == f"{collector}/t/e" and hit["item"]["anonymousId"] == visitor
            assert hit["item"]["context"]["page"] == {
                "url": f"{site.origin}/pricing?utm_campaign=spring", "path": "/pricing",
                "search": "?utm_campaign=spring", "title": "Pricing", "referrer": f"{site.origin}/"}
            assert hit["item"]["context"]["campaign"] == {"name": "spring"}

            rendered = int(form_field(browser, "_ts"))
            browser.execute_script("var f = document.getElementById('demo'); f.email.value = 'Ada@Example.com';"
                                   "f.first_name.value = 'Ada';")
            time.sleep(max(0.0, (rendered + 600) / 1000 - time.time()))  # a human takes longer than the bot limit
            browser.execute_script("document.querySelector('#demo button').click()")
            wait_until(lambda: "Thank you, Ada!" in browser.page_source, what="the thank-you page")

            # A single-page app: pushState and the back button are page views; after the form they join Ada.
            browser.get(f"{site.origin}/app")
            wait_until(lambda: sent(browser), what="the app's page view")
            browser.execute_script("history.pushState({}, '', '/app/settings?tab=team'); document.title = 'Settings';")
            wait_until(lambda: f"{site.origin}/app/settings?tab=team" in sent_urls(browser), what="pushState view")
            browser.execute_script("history.back()")
            wait_until(lambda: sent_urls(browser).count(f"{site.origin}/app") == 2, what="popstate view")
            spa = sent(browser)[1]["item"]["context"]["page"]
            assert spa["title"] == "Settings" and spa["referrer"] == f"{site.origin}/app"

            # Consent withdrawn: nothing is sent and the id is forgotten; given again: the pending view is sent.
            before = len(sent(browser))
            browser.execute_script("leadflow.consent(false); history.pushState({}, '', '/app/billing');")
            time.sleep(0.3)
            assert len(sent(browser)) == before and browser.execute_script("return leadflow.anonymousId()") is None
            assert browser.get_cookie("_lf_aid") is None
            browser.execute_script("leadflow.consent(true)")
            wait_until(lambda: sent_urls(browser)[before:] == [f"{site.origin}/app/billing"], what="consented view")
            assert sent(browser)[-1]["item"]["anonymousId"] != visitor and "consent=1" in sent(browser)[-1]["url"]

            def joined():
                state = prospect(config, "ada@example.com")
                urls = {e["url"] for e in (state or {}).get("timeline", []) if e["type"] == "page.viewed"}
                return state if {f"{site.origin}/", f"{site.origin}/pricing?utm_campaign=spring",
                                 f"{site.origin}/app/settings?tab=team"} <= urls else None

            state = wait_until(joined, 30, "the joined prospect")
            timeline = state["timeline"]
            assert any(e["type"] == "form.submitted" and e["source"] == "form" for e in timeline)
            assert {e["source"] for e in timeline if e["type"] == "page.viewed"} == {"tracker"}
            assert f"{site.origin}/app/billing" not in {e["url"] for e in timeline}  # another visitor by then
            assert "pricing-visitors" in state["segments"] and state["profile"]["first_name"] == "Ada"
            assert [e["points"] for e in state["ledger"] if e["rule"] == "pricing-page"] == [20]


def test_nothing_is_sent_before_consent_or_with_do_not_track(config, tmp_path):
    collector = f"http://127.0.0.1:{config.http_port}"
    with Website(collector) as site:
        env = {**config.as_env(), "LEADFLOW_TRACKING_CONSENT": "required"}
        with leadflow(["collector"], env, tmp_path / "collector.log"):
            assert wait_for_http(f"{collector}/readyz", 30), (tmp_path / "collector.log").read_text()[-2000:]
            with chromium() as browser:
                browser.get(f"{site.origin}/pricing")
                wait_until(lambda: form_field(browser, "_ts"), what="the tracker to fill _ts")
                browser.execute_script("leadflow.track('asset.downloaded', {asset: 'guide.pdf'});"
                                       "history.pushState({}, '', '/pricing/team');")
                time.sleep(0.3)
                assert sent(browser) == [] and not form_field(browser, "_aid")
                assert browser.execute_script("return leadflow.anonymousId()") is None
                assert browser.get_cookie("_lf_aid") is None
                browser.execute_script("leadflow.consent(true)")  # the cookie banner's "accept"
                wait_until(lambda: sent(browser), what="the view after consent")
                assert sent_urls(browser) == [f"{site.origin}/pricing/team"] and "consent=1" in sent(browser)[0]["url"]
                assert form_field(browser, "_aid") == browser.execute_script("return leadflow.anonymousId()")
            with chromium(do_not_track=True) as browser:
                browser.get(f"{site.origin}/pricing")
                wait_until(lambda: form_field(browser, "_ts"), what="the tracker to fill _ts")
                browser.execute_script("leadflow.consent(true); history.pushState({}, '', '/pricing/dnt');")
                time.sleep(0.3)
                assert sent(browser) == [] and not form_field(browser, "_aid")  # Do Not Track wins over consent
        records = [r for _, r in asyncio.run(read_topic(config, "interactions", 2, timeout_s=3))]
        assert [(r.url, r.source) for r in records] == [(f"{site.origin}/pricing/team", "tracker")]
