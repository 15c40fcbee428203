"""Segment/RudderStack traits -> profile attributes (pure).

Senders use the specs' reserved trait names (``firstName``, ``title``, ``company.name``,
``address.country``, ...), while the scoring model's fit rules and the CRM read leadflow's
profile attributes (``first_name``, ``job_title``, ``company``, ``country``, the names forms
produce too). Reserved traits are mapped by the table below, in camelCase or snake_case;
every other trait is kept under its own name (nested values as JSON), so nothing sent is
lost.
"""

from __future__ import annotations

import json
from typing import Any

# profile attribute <- trait names (first present wins); dotted names reach into nested objects
RESERVED: dict[str, tuple[str, ...]] = {
    "first_name": ("firstName", "first_name", "firstname"),
    "last_name": ("lastName", "last_name", "lastname"),
    "name": ("name",),
    "job_title": ("title", "jobTitle", "job_title"),
    "company": ("company.name", "company", "companyName", "company_name"),
    "company_id": ("company.id",),
    "industry": ("company.industry", "industry"),
    "company_size": ("company.employee_count", "company.employees", "employees"),
    "plan": ("company.plan", "plan"),
    "phone": ("phone",),
    "country": ("address.country", "country"),
    "region": ("address.state", "state"),
    "city": ("address.city", "city"),
    "postal_code": ("address.postalCode", "address.postal_code", "postalCode", "postal_code"),
    "street": ("address.street", "street"),
    "website": ("website",),
    "username": ("username",),
    "description": ("description",),
    "gender": ("gender",),
    "age": ("age",),
    "birthday": ("birthday",),
    "avatar": ("avatar",),
    "created_at": ("createdAt", "created_at"),
    "consent": ("consent", "marketingConsent", "marketing_consent"),
}
# a group call's traits describe the account: the same attributes as the person's company
GROUP: dict[str, tuple[str, ...]] = {
    "company": ("name",),
    "industry": ("industry",),
    "company_size": ("employees", "employee_count"),
    "plan": ("plan",),
    "company_website": ("website",),
}
_NESTED = ("company", "address")  # reserved objects: mapped field by field, the rest kept as parent.field
IDENTITY_TRAITS = frozenset({"email", "userId", "user_id", "id", "anonymousId"})  # identity, not profile


def profile_from_traits(traits: dict[str, Any], table: dict[str, tuple[str, ...]] = RESERVED) -> dict[str, str]:
    """Profile attributes from one call's traits: reserved traits mapped, the others kept as sent."""
    profile: dict[str, str] = {}
    used: set[str] = set()
    for attribute, names in table.items():
        for name in names:
            value = _lookup(traits, name)
            if value is not None and not isinstance(value, (dict, list)):
                profile[attribute] = text(value)
                used.add(name)
                break
    if "name" in profile and "first_name" not in profile and "last_name" not in profile:
        first, _, last = profile["name"].strip().partition(" ")
        profile["first_name"] = first
        if last.strip():
            profile["last_name"] = last.strip()
    if "consent" in profile:
        profile["consent"] = "true" if profile["consent"].lower() in ("on", "true", "yes", "1") else "false"
    for key, value in traits.items():
        if key in used or key in IDENTITY_TRAITS or value is None:
            continue
        if key in _NESTED and table is RESERVED and isinstance(value, dict):
            for sub, sub_value in value.items():
                if f"{key}.{sub}" not in used and sub_value is not None:
                    profile[f"{key}.{sub}"] = text(sub_value)
            continue
        profile.setdefault(key, text(value))
    return profile


def text(value: Any) -> str:
    """Avro maps hold strings: scalars as text, booleans as true/false, nested values as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def flat(values: dict[str, Any]) -> dict[str, str]:
    return {key: text(value) for key, value in values.items() if value is not None}


def _lookup(traits: dict[str, Any], name: str) -> Any:
    parent, dot, child = name.partition(".")
    if not dot:
        return traits.get(name)
    nested = traits.get(parent)
    return nested.get(child) if isinstance(nested, dict) else None
