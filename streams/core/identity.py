"""Who an event belongs to: normalized emails, deterministic prospect ids and prospect keys."""

from __future__ import annotations

import hashlib
import re

ANON_PREFIX = "anon:"
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")


class InvalidEmail(ValueError):
    pass


def normalize_email(raw: str) -> str:
    """Trim and lowercase; raise InvalidEmail for anything that is not an address."""
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL_RE.match(email):
        raise InvalidEmail(f"not a valid email address: {raw[:80]!r}")
    return email


def prospect_id_for(email: str) -> str:
    """Stable id from the normalized email, so every source can key an event without a lookup."""
    return "p_" + hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]


def anonymous_key(anonymous_id: str) -> str:
    return ANON_PREFIX + anonymous_id


def is_anonymous(prospect_key: str) -> bool:
    return prospect_key.startswith(ANON_PREFIX)


def key_for(target: str) -> str:
    """The prospect key someone asks about: an email (hashed to its prospect id), a prospect id or an anon: key.
    Raises InvalidEmail for something that looks like an email but is not one."""
    return prospect_id_for(target) if "@" in target and not is_anonymous(target) else target
