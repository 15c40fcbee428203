"""A prospect's retained history: canonical order and the model's retention."""

from dataclasses import replace

from tests.streams.core.prospects import MODEL, event, run


def test_retention_bounds_the_history_by_count_and_age():
    model = replace(MODEL, timeline_max_events=3, timeline_max_age_ms=10_000)
    state, _ = run([event(n, at=n * 1000) for n in range(1, 6)], model=model)
    assert [i.event_id for i in state.history] == ["e3", "e4", "e5"]
    state, _ = run([event(9, at=30_000)], state, model=model)
    assert [i.event_id for i in state.history] == ["e9"]
