"""Who an event belongs to: normalized emails, deterministic prospect ids and prospect keys.

Three kinds of key, from least to most resolved: ``anon:<anonymous id>`` (a browser or device),
``user:<user id>`` (the sender's own user id, a Segment/RudderStack ``userId``) and the prospect id
(a person, known by email). Activity accumulates under whichever key an event names; an
``identity.linked`` event joins a key to a more resolved one, and from then on the less resolved
key's activity belongs to the other. Links only ever point up that order, so they cannot form a cycle.
"""

from __future__ import annotations

import hashlib
import re

ANON_PREFIX = "anon:"
USER_PREFIX = "user:"
NOT_A_PERSON = (ANON_PREFIX, USER_PREFIX)  # the prefixes of keys that name no known person
MAX_ID = 200  # longest anonymous or user id accepted
# local part: no whitespace, no control characters (C0, DEL, C1), no surrogates and none of the characters that
# quote or delimit addresses in mail headers and markup (<, >, ", parentheses, brackets, \\, comma, ; and :)
_EMAIL_RE = re.compile(r'[^@\s\x00-\x1f\x7f-\x9f<>()\[\]\\,;:"\ud800-\udfff]{1,64}'
                       r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+")


class InvalidEmail(ValueError):
    pass


def normalize_email(raw: str) -> str:
    """Trim and lowercase; raise InvalidEmail for anything that is not an address."""
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL_RE.fullmatch(email):
        raise InvalidEmail(f"not a valid email address: {raw[:80]!r}")
    return email


def prospect_id_for(email: str) -> str:
    """Stable id from the normalized email, so every source can key an event without a lookup."""
    return "p_" + hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]


def anonymous_key(anonymous_id: str) -> str:
    return ANON_PREFIX + anonymous_id


def user_key(user_id: str) -> str:
    return USER_PREFIX + user_id


def is_anonymous(prospect_key: str) -> bool:
    """Not (yet) a known person: an anonymous visitor or a user id not linked to an email."""
    return prospect_key.startswith(NOT_A_PERSON)


def resolution(prospect_key: str) -> int:
    """0 anonymous visitor, 1 user id, 2 person: a link must point to a higher value."""
    if prospect_key.startswith(ANON_PREFIX):
        return 0
    return 1 if prospect_key.startswith(USER_PREFIX) else 2


def person_id(prospect_key: str) -> str | None:
    """The prospect id a key names, or None for a key that names no known person."""
    return None if is_anonymous(prospect_key) else prospect_key


def key_for(target: str) -> str:
    """The prospect key someone asks about: an email (hashed to its prospect id), a prospect id or an anon: key.
    Raises InvalidEmail for something that looks like an email but is not one."""
    return prospect_id_for(target) if "@" in target and not is_anonymous(target) else target
