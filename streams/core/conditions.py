"""What a rule matches: interaction conditions (type, event name, URL, form, campaign, asset, property) and
profile-attribute conditions for fit rules. Pure predicates, compiled once from the model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from schemas.records import Interaction


@dataclass(frozen=True, slots=True)
class ValueTest:
    """equals / in / regex on one string value; all given tests must hold."""

    equals: str | None = None
    one_of: frozenset[str] | None = None
    regex: re.Pattern[str] | None = None

    def holds(self, value: str | None) -> bool:
        if value is None:
            return False
        if self.equals is not None and value != self.equals:
            return False
        if self.one_of is not None and value not in self.one_of:
            return False
        return self.regex is None or self.regex.search(value) is not None


@dataclass(frozen=True, slots=True)
class EventCondition:
    type: str | None  # None: any type (a condition on the sender's event name alone)
    event: str | None = None  # the sender's event name, compared case-insensitively
    url: str | None = None
    url_contains: str | None = None
    url_regex: re.Pattern[str] | None = None
    form_id: str | None = None
    campaign: str | None = None
    asset: str | None = None
    property_name: str | None = None
    property_test: ValueTest | None = None
    narrows: bool = field(init=False, repr=False, compare=False)  # tests more than the type

    def __post_init__(self) -> None:
        filters = (self.event, self.url, self.url_contains, self.url_regex, self.form_id, self.campaign, self.asset,
                   self.property_test)
        object.__setattr__(self, "narrows", any(f is not None for f in filters))
        if self.event is not None:
            object.__setattr__(self, "event", self.event.casefold())

    def matches(self, event: Interaction) -> bool:
        if self.type is not None and event.type != self.type:
            return False
        if self.event is not None and (event.event is None or event.event.casefold() != self.event):
            return False
        url = event.url
        if self.url is not None and url != self.url:
            return False
        if self.url_contains is not None and (url is None or self.url_contains not in url):
            return False
        if self.url_regex is not None and (url is None or not self.url_regex.search(url)):
            return False
        if self.form_id is not None and event.form_id != self.form_id:
            return False
        if self.campaign is not None and event.campaign != self.campaign:
            return False
        if self.asset is not None and event.properties.get("asset") != self.asset:
            return False
        if self.property_test is not None:
            return self.property_test.holds(event.properties.get(self.property_name or ""))
        return True


@dataclass(frozen=True, slots=True)
class AttributeCondition:
    attribute: str
    test: ValueTest

    def matches(self, profile: Mapping[str, str]) -> bool:
        return self.test.holds(profile.get(self.attribute))
