"""Klaviyo's published rate limits (``limits.LIMITS``), enforced per operation in fixed windows.

Windows are aligned to the clock (second, minute, UTC day), as Klaviyo's fixed windows are;
a refused request does not count against the window that refused it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ._clock import Clock
from .limits import RateLimit, limit_for

__all__ = ["RateDecision", "RateLimiter", "limit_for"]


@dataclass(slots=True)
class _Window:
    seconds: int
    limit: int
    index: int = -1
    count: int = 0

    def roll(self, now: float) -> None:
        index = int(now // self.seconds)
        if index != self.index:
            self.index = index
            self.count = 0

    def seconds_left(self, now: float) -> int:
        return max(1, math.ceil((self.index + 1) * self.seconds - now))


@dataclass(slots=True)
class _Bucket:
    windows: list[_Window] = field(default_factory=list)


@dataclass(slots=True)
class RateDecision:
    allowed: bool
    retry_after: int = 0
    headers: dict[str, str] = field(default_factory=dict)


class RateLimiter:
    """One bucket per operation id, each holding its second, minute and (maybe) day window."""

    __slots__ = ("_buckets", "_clock", "enabled")

    def __init__(self, clock: Clock, *, enabled: bool) -> None:
        self._clock = clock
        self.enabled = enabled
        self._buckets: dict[str, _Bucket] = {}

    def check(self, operation: str) -> RateDecision:
        limit = limit_for(operation)
        if not self.enabled or limit is None:
            return RateDecision(allowed=True)
        now = self._clock.now()
        bucket = self._bucket(operation, limit)
        for window in bucket.windows:
            window.roll(now)
        full = [w for w in bucket.windows if w.count >= w.limit]
        if full:
            return RateDecision(allowed=False, retry_after=max(w.seconds_left(now) for w in full))
        for window in bucket.windows:
            window.count += 1
        # The headers describe the steady (per-minute) window, as Klaviyo's docs say.
        steady = bucket.windows[1]
        return RateDecision(
            allowed=True,
            headers={
                "RateLimit-Limit": str(steady.limit),
                "RateLimit-Remaining": str(max(steady.limit - steady.count, 0)),
                "RateLimit-Reset": str(steady.seconds_left(now)),
            },
        )

    def _bucket(self, operation: str, limit: RateLimit) -> _Bucket:
        bucket = self._buckets.get(operation)
        if bucket is None:
            windows = [_Window(1, limit.burst), _Window(60, limit.steady)]
            if limit.daily is not None:
                windows.append(_Window(86_400, limit.daily))
            bucket = self._buckets[operation] = _Bucket(windows)
        return bucket

    def reset(self) -> None:
        self._buckets.clear()
