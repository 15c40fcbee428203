"""Links between an anonymous visitor, a user id and a person, delivered in any interleaving."""

from collections import deque
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.records import Interaction
from streams.core.history import canonical_order
from streams.core.identity import person_id, resolution
from streams.core.prospect import Forward, MergeRequest, ProspectState, apply, scores
from streams.core.recompute import absorb, replay
from tests.streams.core.prospects import MODEL, PID

KEYS = ("anon:a", "user:u", PID)


def interaction(n: int, key: str, type_: str = "page.viewed", url: str | None = "https://a.io/pricing",
                target: str | None = None) -> Interaction:
    return Interaction(event_id=f"e{n}", prospect_key=key, type=type_, occurred_at=n * 1000, received_at=n * 1000,
                       source="test", prospect_id=target if target else person_id(key),
                       email="a@b.io" if key == PID or target == PID else None, url=url)


def link(n: int, source: str, target: str) -> Interaction:
    return interaction(n, source, "identity.linked", None, target)


class Network:
    """Per-key FIFO queues, like Kafka partitions keyed by prospect: order holds per key, not across keys."""

    def __init__(self) -> None:
        self.queues = {key: deque() for key in KEYS}
        self.states = {key: ProspectState(key) for key in KEYS}

    def deliver(self, key: str) -> None:
        item = self.queues[key].popleft()
        state = self.states[key]
        outcome = absorb(state, item, MODEL) if isinstance(item, MergeRequest) else apply(state, item, MODEL)
        self.states[key] = outcome.state
        for effect in outcome.effects:
            if isinstance(effect, Forward):
                self.queues[effect.interaction.prospect_key].append(effect.interaction)
            elif isinstance(effect, MergeRequest):
                self.queues[effect.link.prospect_id].append(effect)

    def run(self, choices: list[int]) -> None:
        for choice in choices:
            ready = [key for key in KEYS if self.queues[key]]
            if not ready:
                return
            self.deliver(ready[choice % len(ready)])
        while any(self.queues.values()):
            self.deliver(next(key for key in KEYS if self.queues[key]))


EVENTS = st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(["/pricing", "/blog", "/docs"])),
                  min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(EVENTS, st.integers(0, 12), st.integers(0, 12), st.lists(st.integers(0, 5), max_size=60))
def test_every_event_ends_with_the_person_whatever_the_interleaving(events, anon_link_at, user_link_at, choices):
    """anon:a -> user:u (an alias) and user:u -> the person (an identify), with events under all three keys
    before and after: the person ends up with exactly what one identity would have scored."""
    net = Network()
    per_key = {key: [] for key in KEYS}
    for n, (key, path) in enumerate(events, start=1):
        per_key[key].append(interaction(n, key, url=f"https://a.io{path}"))
    links = {"anon:a": link(100, "anon:a", "user:u"), "user:u": link(101, "user:u", PID)}
    positions = {"anon:a": anon_link_at, "user:u": user_link_at}
    for key in KEYS:
        items = per_key[key]
        if key in links:
            items.insert(min(positions[key], len(items)), links[key])
        net.queues[key].extend(items)
    net.run(choices)
    person = net.states[PID]
    everything = [replace(i, prospect_key=PID, prospect_id=PID, email="a@b.io")
                  for _, i in sorted((i.event_id, i) for items in per_key.values() for i in items
                                     if i.type != "identity.linked")]
    reference = replay(PID, canonical_order(everything), MODEL)
    got, want = scores(person, MODEL), scores(reference, MODEL)  # arrival order may differ: float rounding
    assert (got.total, got.fit, got.dimensions) == (pytest.approx(want.total), want.fit,
                                                    pytest.approx(want.dimensions))
    assert person.ledger and person.stage == reference.stage
    assert sorted(i.event_id for i in person.history) == sorted(i.event_id for i in everything)
    assert net.states["anon:a"].alias_of == "user:u" and net.states["user:u"].alias_of == PID
    assert all(not net.states[key].history or net.states[key].alias_of for key in ("anon:a", "user:u"))


def test_links_only_point_to_a_more_resolved_key_so_they_cannot_cycle():
    assert resolution("anon:x") < resolution("user:x") < resolution(PID)
    user = ProspectState("user:u")
    backwards = apply(user, link(1, "user:u", "anon:a"), MODEL)
    assert user.alias_of is None and not any(isinstance(e, MergeRequest) for e in backwards.effects)
    sideways = apply(user, link(2, "user:u", "user:v"), MODEL)
    assert user.alias_of is None and not any(isinstance(e, MergeRequest) for e in sideways.effects)
    person = ProspectState(PID)
    apply(person, link(3, PID, "user:u"), MODEL)
    assert person.alias_of is None


def test_a_user_id_is_never_a_lead_until_linked_to_a_person():
    user = ProspectState("user:u")
    for n in range(1, 6):
        apply(user, interaction(n, "user:u"), MODEL)
    assert scores(user, MODEL).total >= 50 and user.stage == "name" and user.prospect_id is None
