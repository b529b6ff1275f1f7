"""Identifiers Klaviyo hands out, and the sorted id index that cursor pagination walks."""

from __future__ import annotations

import random
import string
import uuid
from bisect import bisect_right, insort
from collections.abc import Callable

__all__ = ["IdFactory", "SortedIds"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LIST_ALPHABET = string.ascii_letters + string.digits


# Two base-32 digits per 10 bits: 13 table lookups spell a 130-bit ULID.
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]
_SHIFTS = tuple(range(120, -10, -10))


def _ulid(value: int) -> str:
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


class IdFactory:
    """ULID-shaped ids that sort in creation order; short list ids; uuids for errors.

    Seeded so that a sandbox started twice with the same seed and clock hands out the same ids.
    """

    __slots__ = ("_last", "_now", "_rng")

    def __init__(self, now: Callable[[], float], seed: int) -> None:
        self._now = now
        self._rng = random.Random(seed)
        self._last = 0

    def ulid(self) -> str:
        millis = int(self._now() * 1000)
        candidate = (millis << 80) | self._rng.getrandbits(80)
        # Same millisecond (or a clock that stepped back): keep strictly increasing, as
        # ULID's monotonic mode does, so id order is creation order.
        self._last = max(candidate, self._last + 1)
        return _ulid(self._last)

    def short(self, taken: Callable[[str], bool]) -> str:
        while True:
            candidate = "".join(self._rng.choices(_LIST_ALPHABET, k=6))
            if not taken(candidate):
                return candidate

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


class SortedIds:
    """Ids kept sorted: O(log n) to find a cursor's place, O(1) to append a newer id."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[str] = []

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: str) -> None:
        if not self.items or item > self.items[-1]:
            self.items.append(item)
        else:
            index = bisect_right(self.items, item)
            if index == 0 or self.items[index - 1] != item:
                insort(self.items, item)

    def discard(self, item: str) -> None:
        index = bisect_right(self.items, item) - 1
        if index >= 0 and self.items[index] == item:
            del self.items[index]

    def after(self, cursor: str | None, count: int) -> list[str]:
        start = 0 if cursor is None else bisect_right(self.items, cursor)
        return self.items[start : start + count]

    def clear(self) -> None:
        self.items.clear()
