"""A real store whose webhook methods note the thread they run in and can be made to fail."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from klaviyo_sync.store import Store, StoreError


@dataclass
class SpyStore:
    inner: Store
    threads: list[int] = field(default_factory=list)
    fail_enqueue: bool = False
    fail_record: bool = False

    def accept_webhook(
        self,
        webhook_id: str,
        items: Sequence[tuple[str, Mapping[str, Any], str]],
        *,
        keep_for: timedelta,
    ) -> bool:
        self.threads.append(threading.get_ident())
        if self.fail_enqueue:
            raise StoreError("cannot write the queue to the store at sqlite:///spy.db")
        return self.inner.accept_webhook(webhook_id, items, keep_for=keep_for)

    def record_event(
        self, event: str, *, customer_id: str | None, status: str, reason: str | None = None
    ) -> int:
        self.threads.append(threading.get_ident())
        if self.fail_record:
            raise StoreError("cannot record an event in the store at sqlite:///spy.db")
        return self.inner.record_event(event, customer_id=customer_id, status=status, reason=reason)
