"""Client-side rate limiting per Klaviyo operation, so a busy run waits instead of drawing 429s.

Klaviyo counts requests per operation in fixed 1-second and 1-minute windows (and a day, for a
few operations) whose boundaries we cannot see. The limiter therefore keeps a sliding log of
send times and allows at most N sends in *any* window of that length: whatever the alignment
of Klaviyo's windows, none of them can hold more than N of ours. Klaviyo counts a request when
it arrives, not when we let it go: a request held up on its way (the event loop busy planning
a batch, a slow connection) lands closer to the next ones. Each window is therefore kept a
little longer than Klaviyo's (``SKEW``), which costs under 2% of the steady rate and keeps
bunched arrivals from drawing 429s.

One ``RateLimiter`` is shared by every task that uses the same client (or by several clients
given the same limiter); a lock per operation queues the tasks fairly.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from ._clock import Clock, SystemClock
from .limits import LIMITS, RateLimit

__all__ = ["RateLimiter"]

logger = logging.getLogger("klaviyo_sync.klaviyo")

_SECOND = 1.0
_MINUTE = 60.0
_DAY = 86_400.0
SKEW = 1.0
"""Seconds a request may take from the limiter to Klaviyo's counter; a window is widened by
this much, or by a tenth of itself when that is less (the 1-second window)."""
_LEADING_NUMBER = re.compile(r"\s*(\d+(?:\.\d+)?)")


@dataclass(slots=True)
class _Bucket:
    """The send log and any server-imposed pause of one operation."""

    windows: tuple[tuple[float, int], ...]
    sent: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def wait_needed(self, now: float) -> float:
        longest = max(w for w, _ in self.windows)
        while self.sent and self.sent[0] <= now - longest:
            self.sent.popleft()
        wait = self.blocked_until - now
        for window, allowed in self.windows:
            if len(self.sent) >= allowed:
                # The allowed-th most recent send must leave the window before another goes.
                wait = max(wait, self.sent[-allowed] + window - now)
        return max(wait, 0.0)


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
        """Return when one more call to ``operation`` is within its limits, and count it."""
        bucket = self._bucket(operation)
        if bucket is None:
            return
        async with bucket.lock:
            while (wait := bucket.wait_needed(self._clock.monotonic())) > 0:
                await self._clock.sleep(wait)
            bucket.sent.append(self._clock.monotonic())

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
    return tuple((length + min(SKEW, length / 10), allowed) for length, allowed in windows)


def _leading_number(value: str | None) -> float | None:
    # Klaviyo's headers follow the IETF draft, e.g. "75, 75;w=1, 750;w=60": the first number counts.
    match = _LEADING_NUMBER.match(value or "")
    return float(match.group(1)) if match else None
