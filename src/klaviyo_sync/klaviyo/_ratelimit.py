"""Client-side rate limiting per Klaviyo operation, so a busy run waits instead of drawing 429s.

Klaviyo counts requests per operation in fixed 1-second and 1-minute windows (and a day, for a
few operations) whose boundaries we cannot see, and it counts a request when it *arrives*: after
we let it go, before its answer comes back, and later than we meant whenever it is held up on
its way (the event loop busy planning a batch, a slow connection). So a request holds its place
in every window from the moment the limiter lets it go until its answer is in, and then for a
window's length after that. Whatever the alignment of Klaviyo's windows and however long a
request took to arrive, none of them can then hold more than N of ours: of the requests arriving
in one window, the last one let go found all the others either still on their way or answered
less than a window before, and so counted them.

One ``RateLimiter`` is shared by every task that uses the same client (or by several clients
given the same limiter); a lock per operation queues the tasks fairly.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from ..clock import Clock, SystemClock
from .limits import LIMITS, RateLimit

__all__ = ["RateLimiter"]

logger = logging.getLogger("klaviyo_sync.klaviyo")

_SECOND = 1.0
_MINUTE = 60.0
_DAY = 86_400.0
_LEADING_NUMBER = re.compile(r"\s*(\d+(?:\.\d+)?)")


@dataclass(slots=True)
class _Bucket:
    """One operation's requests on their way, when the others were answered, and any pause."""

    windows: tuple[tuple[float, int], ...]
    answered: deque[float] = field(default_factory=deque)
    """when each recent request's answer came, oldest first"""
    on_the_way: int = 0
    blocked_until: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    landed: asyncio.Event = field(default_factory=asyncio.Event)

    def wait_needed(self, now: float) -> float | None:
        """Seconds until one more request may go; None until a request on its way is answered."""
        longest = max(w for w, _ in self.windows)
        while self.answered and self.answered[0] <= now - longest:
            self.answered.popleft()
        wait = self.blocked_until - now
        for window, allowed in self.windows:
            room = allowed - self.on_the_way
            if room <= 0:
                return None
            if len(self.answered) >= room:
                # The room-th most recent answer must leave the window before another goes.
                wait = max(wait, self.answered[-room] + window - now)
        return max(wait, 0.0)

    def land(self, now: float) -> None:
        self.on_the_way -= 1
        self.answered.append(now)
        self.landed.set()


class RateLimiter:
    """Waits, on the injected clock, until an operation may be called without exceeding its limit.

    ``limits`` maps Klaviyo operationIds to their published limits; an operation missing from
    it is not limited.
    """

    def __init__(
        self, limits: Mapping[str, RateLimit] = LIMITS, *, clock: Clock | None = None
    ) -> None:
        self._limits = dict(limits)
        self._clock: Clock = clock or SystemClock()
        self._buckets: dict[str, _Bucket] = {}

    @property
    def clock(self) -> Clock:
        return self._clock

    async def acquire(self, operation: str) -> None:
        """Return when one more call to ``operation`` is within its limits, and count it as
        sent and answered at once (``sending`` counts a real request's time on its way)."""
        async with self.sending(operation):
            pass

    @asynccontextmanager
    async def sending(self, operation: str) -> AsyncIterator[None]:
        """Wait until one more call to ``operation`` is within its limits; the call is made
        inside the block and counted until the block ends (its answer is in, or it failed)."""
        bucket = self._bucket(operation)
        if bucket is None:
            yield
            return
        async with bucket.lock:
            while (wait := bucket.wait_needed(self._clock.monotonic())) != 0:
                if wait is None:
                    bucket.landed.clear()
                    await bucket.landed.wait()
                else:
                    await self._clock.sleep(wait)
            bucket.on_the_way += 1
        try:
            yield
        finally:
            bucket.land(self._clock.monotonic())

    def pause(self, operation: str, seconds: float) -> None:
        """Hold every caller of ``operation`` for ``seconds``, as a 429 or Remaining: 0 asks."""
        bucket = self._bucket(operation)
        if bucket is not None and seconds > 0:
            until = self._clock.monotonic() + seconds
            bucket.blocked_until = max(bucket.blocked_until, until)

    def observe(self, operation: str, remaining: str | None, reset: str | None) -> None:
        """Follow Klaviyo's ``RateLimit-Remaining``/``RateLimit-Reset``: pause when none remain."""
        left, seconds = _leading_number(remaining), _leading_number(reset)
        if left is not None and left <= 0 and seconds:
            logger.debug("%s: no requests remaining, pausing %.1fs", operation, seconds)
            self.pause(operation, seconds)

    def _bucket(self, operation: str) -> _Bucket | None:
        bucket = self._buckets.get(operation)
        if bucket is None:
            limit = self._limits.get(operation)
            if limit is None:
                return None
            bucket = self._buckets[operation] = _Bucket(windows=_windows(limit))
        return bucket

    def __repr__(self) -> str:
        return f"RateLimiter(operations={len(self._limits)}, clock={self._clock!r})"


def _windows(limit: RateLimit) -> tuple[tuple[float, int], ...]:
    windows = [(_SECOND, limit.burst), (_MINUTE, limit.steady)]
    if limit.daily is not None:
        windows.append((_DAY, limit.daily))
    return tuple(windows)


def _leading_number(value: str | None) -> float | None:
    # Klaviyo's headers follow the IETF draft, e.g. "75, 75;w=1, 750;w=60": the first number counts.
    match = _LEADING_NUMBER.match(value or "")
    return float(match.group(1)) if match else None
