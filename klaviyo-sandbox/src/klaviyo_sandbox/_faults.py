"""Fault injection: errors, latency and dropped connections, per operation, reproducibly.

A rule *hits* a request when its operation matches, it has hits left (``times``), and the
seeded RNG draws below its ``rate``. A hit adds the rule's latency and, unless the rule is
latency-only, answers with its status or drops the connection; ``after=True`` lets the
request take effect first, so the caller loses only the answer.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["DroppedConnection", "FaultInjector", "FaultOutcome", "FaultRule"]


MAX_LATENCY = 600.0


class DroppedConnection(Exception):
    """Raised after the response has started so the server closes the socket mid-answer."""


@dataclass(slots=True)
class FaultRule:
    """One fault. ``FaultRule(operation="create_profile", times=3)``: next 3 creates get 503."""

    operation: str = "*"
    """an operationId such as ``create_profile``, or ``*`` for every /api operation"""
    status: int | None = 503
    """status to answer with; ``None`` for a latency-only rule"""
    rate: float = 1.0
    """share of matching requests hit, drawn from the sandbox's seeded RNG"""
    times: int | None = None
    """hit only the next N matching requests, then retire; ``None`` for no bound"""
    latency: float = 0.0
    """seconds added before answering a hit request"""
    drop: bool = False
    """drop the connection instead of answering"""
    after: bool = False
    """let the request take effect, then fail or drop its answer"""

    def __post_init__(self) -> None:
        if not self.operation:
            raise ValueError("operation must be an operationId or '*'")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError("status must be a 4xx or 5xx code, or null")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be zero or more")
        if not 0 <= self.latency <= MAX_LATENCY:
            raise ValueError(f"latency must be between 0 and {MAX_LATENCY:g} seconds")

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        if not isinstance(data, Mapping):
            raise ValueError("each fault rule must be an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault rule keys: {', '.join(unknown)}")
        types: dict[str, tuple[type, ...]] = {
            "operation": (str,),
            "status": (int, type(None)),
            "rate": (int, float),
            "times": (int, type(None)),
            "latency": (int, float),
            "drop": (bool,),
            "after": (bool,),
        }
        for key, value in data.items():
            wrong_bool = isinstance(value, bool) and bool not in types[key]
            if wrong_bool or not isinstance(value, types[key]):
                raise ValueError(f"fault rule key {key!r} has the wrong type")
        return cls(**dict(data))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class FaultOutcome:
    latency: float = 0.0
    status: int | None = None
    drop: bool = False
    after: bool = False

    @property
    def fails(self) -> bool:
        return self.drop or self.status is not None


@dataclass(slots=True)
class _Armed:
    rule: FaultRule
    remaining: int | None


class FaultInjector:
    """The rules in force, each with its remaining hit count, and the seeded RNG."""

    __slots__ = ("_armed", "_rng", "seed")

    def __init__(self, rules: Iterable[FaultRule] = (), seed: int = 0) -> None:
        self._armed: list[_Armed] = []
        self._rng = random.Random(seed)
        self.seed = seed
        self.set(rules, seed)

    def set(self, rules: Iterable[FaultRule], seed: int | None = None) -> None:
        # Copies, so retiring a rule never edits the caller's (or the config's) objects.
        self._armed = [_Armed(FaultRule(**asdict(rule)), rule.times) for rule in rules]
        if seed is not None:
            self.seed = seed
            self._rng = random.Random(seed)

    def rules(self) -> list[dict[str, Any]]:
        return [{**armed.rule.to_json(), "remaining": armed.remaining} for armed in self._armed]

    def outcome(self, operation: str) -> FaultOutcome | None:
        result: FaultOutcome | None = None
        for armed in self._armed:
            if not self._hits(armed, operation):
                continue
            result = result or FaultOutcome()
            result.latency += armed.rule.latency
            if not result.fails and (armed.rule.drop or armed.rule.status is not None):
                result.drop = armed.rule.drop
                result.status = None if armed.rule.drop else armed.rule.status
                result.after = armed.rule.after
        return result

    def _hits(self, armed: _Armed, operation: str) -> bool:
        rule = armed.rule
        if rule.operation not in ("*", operation):
            return False
        if armed.remaining is not None and armed.remaining <= 0:
            return False
        # A certain rule draws nothing, so adding one never shifts another rule's sequence.
        if rule.rate < 1.0 and self._rng.random() >= rule.rate:
            return False
        if armed.remaining is not None:
            armed.remaining -= 1
        return True
