"""The ids of a prospect's most recent inputs: how a redelivered event is recognised and ignored."""

from __future__ import annotations

from typing import Iterable, Iterator


class RecentIds(set[str]):
    """A bounded set that forgets its oldest ids first.

    A ``set`` subclass so the membership test every input makes stays a C-level lookup;
    iteration follows insertion order, which is what gets persisted.
    """

    __slots__ = ("limit", "_order")

    def __init__(self, limit: int, ids: Iterable[str] = ()) -> None:
        super().__init__()
        self.limit = limit
        self._order: list[str] = []  # oldest first; a list, not a deque: 56 bytes empty where a deque takes 760
        for event_id in ids:
            if event_id not in self:
                self.add(event_id)

    @classmethod
    def restored(cls, limit: int, ids: list[str]) -> RecentIds:
        """The window as it was persisted (distinct ids, oldest first, at most ``limit``): no checks per id."""
        window = cls(limit)
        window._order.extend(ids)
        set.update(window, ids)
        return window

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecentIds) and self._order == other._order

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RecentIds({len(self._order)} of {self.limit})"

    def add(self, event_id: str) -> None:
        """Remember an id not in the window yet (callers check first: they must ignore a redelivery)."""
        order = self._order
        if len(order) >= self.limit and order:
            self.discard(order.pop(0))
        order.append(event_id)
        super().add(event_id)
