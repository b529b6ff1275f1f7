"""Wrong dashboard tokens slow their sender down: a few are free, then each further attempt from
that address must wait 1 s, 2 s, 4 s … up to 5 minutes after the last wrong one.

The count lives in the store, so every ``serve`` process behind a load balancer, and the next
one after a restart, applies the same wait. An attempt made too early is refused at once with a
429 and ``Retry-After``, without looking at its token: a sleeping server would let an attacker
tie up its workers, and a refusal costs one indexed read. A right token clears the count.

Attempts from one address are checked one after another in this process (a lock per address),
so a burst of parallel guesses cannot all read "no failures yet" before the first is counted.
Between processes the store is the only link, so N processes may each let one guess through on
the same count: still N guesses per wait, not thousands.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import ParamSpec, Protocol, TypeVar

from ..store import StoreError
from ._errors import WebError

__all__ = [
    "FIRST_DELAY_SECONDS",
    "FORGET_AFTER",
    "FREE_FAILURES",
    "MAX_DELAY_SECONDS",
    "LoginStore",
    "Throttle",
    "Throttled",
    "delay_after",
    "store_call",
]

P = ParamSpec("P")
T = TypeVar("T")

FREE_FAILURES = 5
"""Wrong tokens in a row an address may send before it must wait (typos happen)."""
FIRST_DELAY_SECONDS = 1
MAX_DELAY_SECONDS = 5 * 60
FORGET_AFTER = timedelta(hours=1)
"""An address quiet this long starts afresh; longer than the longest wait, so waiting out the
longest delay does not wipe the count."""


class LoginStore(Protocol):
    """What the throttle needs of the store (``klaviyo_sync.store.Store`` has it)."""

    def login_failed(self, client: str, *, forget_after: timedelta) -> int: ...

    def login_failures(
        self, client: str, *, forget_after: timedelta
    ) -> tuple[int, datetime | None]: ...

    def login_succeeded(self, client: str) -> None: ...


class Throttled(WebError):
    """429: this address sent too many wrong tokens and must wait ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            "too_many_attempts",
            f"too many wrong tokens from your address: try again in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


def delay_after(failures: int) -> float:
    """Seconds to wait after ``failures`` wrong tokens in a row: 0 for the free ones, then
    doubling from ``FIRST_DELAY_SECONDS`` up to ``MAX_DELAY_SECONDS``."""
    if failures < FREE_FAILURES:
        return 0.0
    # The exponent is capped so a huge count cannot build a huge integer.
    doublings = min(failures - FREE_FAILURES, 32)
    return float(min(FIRST_DELAY_SECONDS * 2**doublings, MAX_DELAY_SECONDS))


class Throttle:
    def __init__(self, store: LoginStore, *, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def attempt(self, client: str, matches: Callable[[], bool]) -> bool:
        """Whether the token ``matches`` (a constant-time comparison) for ``client``, counted;
        raises ``Throttled`` without calling ``matches`` while ``client`` must wait."""
        async with self._one_at_a_time(client):
            failures, last_at = await store_call(
                self._store.login_failures, client, forget_after=FORGET_AFTER
            )
            wait = self._wait(failures, last_at)
            if wait > 0:
                raise Throttled(math.ceil(wait))
            if matches():
                if failures:
                    await store_call(self._store.login_succeeded, client)
                return True
            await store_call(self._store.login_failed, client, forget_after=FORGET_AFTER)
            return False

    def _wait(self, failures: int, last_at: datetime | None) -> float:
        if last_at is None:
            return 0.0
        waited = (self._clock() - last_at).total_seconds()
        return delay_after(failures) - waited

    @asynccontextmanager
    async def _one_at_a_time(self, client: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(client, (asyncio.Lock(), 0))
        self._locks[client] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            # Forget the lock when nobody holds or waits for it: one per address would grow.
            lock, users = self._locks[client]
            if users == 1:
                del self._locks[client]
            else:
                self._locks[client] = (lock, users - 1)


async def store_call(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """A store call off the event loop; a store that cannot answer is a 503."""
    try:
        return await asyncio.to_thread(call, *args, **kwargs)
    except StoreError as err:
        raise WebError(503, "store_unavailable", str(err)) from None
