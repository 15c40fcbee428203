/*! leadflow website tracker. Records page views (full URL, title, referrer, UTM parameters) and single-page-app
 * navigation, honours Do Not Track, Global Privacy Control and leadflow.consent(), keeps an anonymous id on the
 * website's own domain and fills it (_aid) and the render time (_ts) into forms that post to the collector, so a
 * form post joins the visitor's earlier visits. No dependencies. Hits go to POST <collector>/t/e as text/plain
 * JSON (navigator.sendBeacon: no CORS preflight), Segment-shaped: {type, anonymousId, event, properties, traits,
 * context: {page, campaign}, messageId}. */
(function (w, d) {
  "use strict";
  var VERSION = "1";
  var CONSENT_MODE = "__LEADFLOW_CONSENT__"; // the collector serves "implied" or "required" here
  var ID = "_lf_aid", CONSENT = "_lf_consent", YEAR = 31536000, HEX32 = /^[0-9a-f]{32}$/;
  var stub = w.leadflow;
  if (stub && stub.loaded) return;
  var queue = (stub && stub.q) || [];
  var base = String((stub && stub.u) || scriptBase()).replace(/\/+$/, "");
  var formsPrefix = base + "/v1/forms/";
  var currentUrl = null, referrer = d.referrer, pendingPage = null;

  function scriptBase() {
    var s = d.currentScript;
    return s && s.src ? s.src.replace(/\/t\/lf\.js.*$/, "") : "";
  }

  // First-party storage: a cookie on the website's domain, mirrored in localStorage.
  function readCookie(name) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function get(name) {
    var v = readCookie(name);
    if (v === null) { try { v = w.localStorage.getItem(name); } catch (e) { v = null; } }
    return v;
  }
  function put(name, value, maxAge) {
    var secure = w.location.protocol === "https:" ? "; Secure" : "";
    d.cookie = name + "=" + encodeURIComponent(value) + "; Max-Age=" + maxAge + "; Path=/; SameSite=Lax" + secure;
    try { if (maxAge > 0) w.localStorage.setItem(name, value); else w.localStorage.removeItem(name); } catch (e) {}
  }

  function privacySignal() {
    var n = w.navigator;
    return n.doNotTrack === "1" || w.doNotTrack === "1" || n.msDoNotTrack === "1" || n.globalPrivacyControl === true;
  }
  function allowed() {
    var consent = get(CONSENT);
    return !privacySignal() && consent !== "0" && (CONSENT_MODE !== "required" || consent === "1");
  }
  function randomHex() {
    var bytes = new Uint8Array(16), out = "", i;
    if (w.crypto && w.crypto.getRandomValues) w.crypto.getRandomValues(bytes);
    else for (i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    for (i = 0; i < 16; i++) out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return out;
  }
  function visitorId() {
    var id = get(ID);
    if (!id || !HEX32.test(id)) id = randomHex();
    put(ID, id, YEAR); // refreshed on every hit
    return id;
  }

  function extend(target, source) {
    for (var k in source) if (Object.prototype.hasOwnProperty.call(source, k)) target[k] = source[k];
    return target;
  }
  function utm() {
    var out = {}, pairs = w.location.search.replace(/^\?/, "").split("&"), i, kv, key;
    for (i = 0; i < pairs.length; i++) {
      kv = pairs[i].split("=");
      try { key = decodeURIComponent(kv[0]); } catch (e) { continue; }
      if (/^utm_[a-z]+$/.test(key) && kv.length > 1) {
        try { out[key] = decodeURIComponent(kv.slice(1).join("=").replace(/\+/g, " ")); } catch (e) {}
      }
    }
    return out;
  }
  function context() {
    var u = utm(), campaign = {}, k;
    for (k in u) campaign[k === "utm_campaign" ? "name" : k.slice(4)] = u[k];
    var page = {url: w.location.href, path: w.location.pathname, search: w.location.search, title: d.title};
    if (referrer) page.referrer = referrer;
    return {page: page, campaign: campaign, library: {name: "leadflow.js", version: VERSION}};
  }

  function send(item) {
    if (!allowed()) return false;
    item.anonymousId = visitorId();
    item.messageId = randomHex();
    item.context = context();
    var body = JSON.stringify(item);
    var url = base + "/t/e" + (get(CONSENT) === "1" ? "?consent=1" : "");
    var n = w.navigator;
    if (n.sendBeacon && n.sendBeacon(url, body)) return true;
    if (w.fetch) {
      w.fetch(url, {method: "POST", body: body, keepalive: true, credentials: "include", mode: "no-cors",
                    headers: {"Content-Type": "text/plain"}});
    }
    return true;
  }

  function page(properties) {
    currentUrl = w.location.href;
    pendingPage = null;
    if (!allowed()) { pendingPage = properties || {}; return; } // sent if consent comes on this page
    send({type: "page", properties: extend(utm(), properties || {})});
  }
  function track(event, properties) {
    send({type: "track", event: String(event), properties: properties || {}});
  }
  function identify(userId, traits) {
    if (userId && typeof userId === "object") { traits = userId; userId = null; }
    var item = {type: "identify", traits: traits || {}};
    if (userId) item.userId = String(userId);
    send(item);
  }
  function consent(granted) {
    put(CONSENT, granted ? "1" : "0", YEAR);
    if (!granted) put(ID, "", 0); // forget the visitor
    fillForms();
    if (granted && pendingPage) page(pendingPage);
  }

  // Single-page apps: a pushState/replaceState/popstate that changes the URL is a page view.
  function navigated() {
    setTimeout(function () {
      if (currentUrl !== null && w.location.href !== currentUrl) {
        referrer = currentUrl;
        page();
      }
    }, 0);
  }
  function wrap(name) {
    var original = w.history && w.history[name];
    if (typeof original !== "function") return;
    w.history[name] = function () {
      var result = original.apply(this, arguments);
      navigated();
      return result;
    };
  }

  // Forms that post to the collector get _ts (render time, for the bot check) and _aid (this visitor).
  var resolver = d.createElement("a");
  function postsToCollector(form) {
    var action = form.getAttribute("action");
    if (!action) return false;
    resolver.href = action;
    return resolver.href.indexOf(formsPrefix) === 0;
  }
  function hidden(form, name) {
    var input = form.querySelector("input[name='" + name + "']");
    if (!input) {
      input = d.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    return input;
  }
  function fillForm(form) {
    if (!postsToCollector(form)) return;
    var ts = hidden(form, "_ts");
    if (!ts.value) ts.value = String(new Date().getTime());
    var ok = allowed(), aid = form.querySelector("input[name='_aid']");
    if (ok) hidden(form, "_aid").value = visitorId();
    else if (aid) aid.value = "";
  }
  function fillForms() {
    var forms = d.getElementsByTagName("form");
    for (var i = 0; i < forms.length; i++) fillForm(forms[i]);
  }
  function watchForms() {
    fillForms();
    d.addEventListener("submit", function (e) { if (e.target && e.target.tagName === "FORM") fillForm(e.target); },
                       true);
    if (w.MutationObserver) {
      var scheduled = false;
      new w.MutationObserver(function () {
        if (scheduled) return;
        scheduled = true;
        setTimeout(function () { scheduled = false; fillForms(); }, 0);
      }).observe(d.documentElement, {childList: true, subtree: true});
    }
  }

  var methods = {page: page, track: track, identify: identify, consent: consent};
  var api = function (method) { // leadflow("track", ...) works like leadflow.track(...)
    if (Object.prototype.hasOwnProperty.call(methods, method)) methods[method].apply(null, [].slice.call(arguments, 1));
  };
  extend(api, methods);
  api.loaded = true;
  api.version = VERSION;
  api.anonymousId = function () { return allowed() ? visitorId() : null; };
  w.leadflow = api;

  wrap("pushState");
  wrap("replaceState");
  w.addEventListener("popstate", navigated);
  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", watchForms);
  else watchForms();
  for (var i = 0; i < queue.length; i++) api.apply(null, [].slice.call(queue[i])); // calls made before loading
})(window, document);
