"""A stand-in for the store's two webhook methods, recording each call and the thread it ran in."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from klaviyo_sync.store import StoreError


@dataclass(slots=True)
class Event:
    id: int
    event: str
    customer_id: str | None
    status: str
    reason: str | None


@dataclass
class FakeStore:
    queue: list[tuple[str, Mapping[str, Any], str]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    threads: list[int] = field(default_factory=list)
    fail_enqueue: bool = False
    fail_record: bool = False

    def enqueue(
        self, items: Sequence[tuple[str, Mapping[str, Any], str]], *, delay: float = 0.0
    ) -> None:
        self.threads.append(threading.get_ident())
        if self.fail_enqueue:
            raise StoreError("cannot write the queue to the store at sqlite:///fake.db")
        self.queue.extend(items)

    def record_event(
        self, event: str, *, customer_id: str | None, status: str, reason: str | None = None
    ) -> int:
        self.threads.append(threading.get_ident())
        if self.fail_record:
            raise StoreError("cannot record an event in the store at sqlite:///fake.db")
        self.events.append(Event(len(self.events) + 1, event, customer_id, status, reason))
        return len(self.events)
