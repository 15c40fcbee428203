"""The worker's GC policy: survivors of a checkpoint are frozen; a full collection comes only when due."""

import gc

from streams import gc_policy


def test_a_checkpoint_freezes_and_a_full_collection_comes_when_due(monkeypatch):
    now = [0.0]
    freezer = gc_policy.Freezer(clock=lambda: now[0])
    calls = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "unfreeze", lambda: calls.append("unfreeze"))
    monkeypatch.setattr(gc, "collect", lambda: calls.append("collect"))
    assert freezer.after_checkpoint() == 0.0 and calls == ["freeze"]
    now[0] = gc_policy.FULL_EVERY_S + 1
    freezer.after_checkpoint()
    assert calls == ["freeze", "unfreeze", "collect", "freeze"]
    now[0] += 1
    freezer.after_checkpoint()
    assert calls[-2:] == ["freeze", "freeze"]  # the next full one is FULL_EVERY_S away again
