"""Where a browser would go: redirect targets read the way browsers read them (WHATWG URL rules).

Why: Python's ``urlsplit`` and a browser disagree on hostile URLs. ``https://evil.com\\@www.example.com``
is ``www.example.com`` to Python and ``evil.com`` to Chrome (a backslash ends the authority in
http(s) URLs, so ``\\@www.example.com`` is the path); browsers silently strip tabs and newlines,
decode ``%2e`` in hosts, map full-width letters and dots (UTS #46), read ``https:evil.com`` and
``https:///evil.com`` as ``https://evil.com/``, and read ``0x7f.1`` as an IPv4 address. An
allow-list check on the host Python sees is an open redirect.

So this module does not try to reproduce every browser quirk: it accepts only URLs on which
Python and browsers cannot disagree and refuses everything ambiguous with the reason:
control characters and whitespace anywhere, backslashes, a scheme other than http(s) or not
followed by exactly ``//``, userinfo (``user@``), ``%`` in the host, empty labels, numeric hosts
that are not a plain dotted quad, malformed IPv6 literals (``http://[``) and bad ports. A
non-ASCII host is normalized with IDNA (UTS #46, as browsers do) and compared in ASCII, so a
homoglyph is a different host. Pure: no I/O.

Why shared (a runtime piece in ``leadflow``): signed click links read their target this way when the action
delivery signs them and again when the collector follows them (``signed_links``); the collector's form
redirects use it too.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

import idna

MAX_URL = 2048
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$|^xn--[a-z0-9-]{1,59}$")
_NUMERIC = re.compile(r"^(?:0[xX][0-9a-fA-F]*|[0-9]+)$")
_DOTTED_QUAD = re.compile(r"^(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|"
                          r"1[0-9][0-9]|[1-9]?[0-9])){3}$")
# Printable ASCII stays as it is; anything else in the path, query or fragment is percent-encoded.
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))


class RedirectError(ValueError):
    """The URL is not one a browser would follow to an unambiguous host; the message says why."""


@dataclass(frozen=True)
class Target:
    url: str  # what goes into Location: ASCII, the host normalized
    scheme: str  # "http" or "https"
    host: str  # lower-case ASCII (IDNA) host, or "[v6]"
    port: int | None


def browser_target(url: object) -> Target:
    """The http(s) target a browser would go to, or RedirectError for anything ambiguous."""
    if not isinstance(url, str) or not url:
        raise RedirectError("redirect target is empty")
    if len(url) > MAX_URL:
        raise RedirectError(f"redirect target is longer than {MAX_URL} characters")
    for char in url:
        if char <= " " or char == "\x7f" or char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            raise RedirectError(f"redirect target contains a control or whitespace character ({char!r})")
        if char == "\\":
            raise RedirectError("redirect target contains a backslash (browsers read it as '/')")
    scheme_match = _SCHEME.match(url)
    scheme = scheme_match.group(1).lower() if scheme_match else ""
    if scheme not in ("http", "https"):
        raise RedirectError("redirect target must be an absolute http(s) URL")
    rest = url[scheme_match.end():]  # type: ignore[union-attr]
    if not rest.startswith("//") or rest.startswith("///"):
        raise RedirectError("redirect target must have exactly '//' after the scheme")
    rest = rest[2:]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:
        raise RedirectError("redirect target must not carry a user name or password ('@')")
    if "%" in authority:
        raise RedirectError("redirect target host must not be percent-encoded")
    host, port = _split_port(authority)
    host = _host(host)
    netloc = host if port is None else f"{host}:{port}"
    return Target(f"{scheme}://{netloc}{quote(tail, safe=_SAFE) or '/'}", scheme, host, port)


def allowed_redirect(url: object, hosts: tuple[str, ...]) -> Target:
    """``browser_target`` whose host is one of ``hosts`` (compared in ASCII after IDNA)."""
    target = browser_target(url)
    allowed = set()
    for host in hosts:
        try:
            allowed.add(_host(host.strip()))
        except RedirectError:
            continue
    if target.host not in allowed:
        raise RedirectError(f"redirect host {target.host!r} is not in LEADFLOW_FORM_REDIRECT_HOSTS")
    return target


def _split_port(authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise RedirectError("redirect target has an unterminated IPv6 address ('[')")
        host, after = authority[:close + 1], authority[close + 1:]
    else:
        host, colon, port_text = authority.partition(":")
        after = colon + port_text
    if not after:
        return host, None
    port_text = after[1:]
    if not after.startswith(":") or not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5 \
            or not 0 < int(port_text) <= 65535:
        raise RedirectError(f"redirect target has a bad port ({after[:12]!r})")
    return host, int(port_text)


def _host(host: str) -> str:
    if not host:
        raise RedirectError("redirect target has no host")
    if host.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            raise RedirectError("redirect target has a malformed IPv6 address") from None
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            raise RedirectError("redirect target host is not a valid internationalized name") from None
    host = host.lower()
    labels = host.split(".")
    if _NUMERIC.match(labels[-1]):  # browsers parse this as IPv4 (octal, hex, a single number...)
        if not _DOTTED_QUAD.match(host):
            raise RedirectError("redirect target host is a numeric address that is not a plain dotted quad")
        return host
    if not all(_LABEL.match(label) for label in labels):
        raise RedirectError(f"redirect target host {host[:80]!r} is not a valid host name")
    return host
