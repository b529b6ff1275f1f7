"""Guardrails: a run that would do more harm than a run should is refused before it writes.

Seed 000 is a sync that wiped good data; seed 004 warns twice that a missing
``SubscribeProfile`` unsubscribes everyone. A broken source export or mapping shows itself as
a run that unsubscribes, clears or removes from lists far more than usual, so before each
batch is written the guard adds up what the run has planned so far and refuses when

- it would unsubscribe more than ``max_unsubscribe_share`` of its customers (default 1%),
- take more than ``max_list_removal_share`` of them off a list (default 1%), or
- clear more than ``max_cleared_fields`` fields (default 100),

unless the run is forced (``--force``). A run may always unsubscribe, or take off a list, up to
``min_affected`` (10) customers: a share of a small run means little, and a small delta export,
a manual sync or a few triggers carrying opt-outs are not accidents; an opt-out held back is a
harm of its own. Only changes that would really happen count: unsubscribing a profile that is,
or may be, subscribed (a new profile is not), clearing a field that holds a value.

``sync`` checks the run so far before each batch; a worker keeps a window of the customers it
handled last (``WORKER_WINDOW``), since each of its micro-batches is a run of its own and a
broken mapping would otherwise slip through one trigger at a time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Final

from ..exceptions import GuardrailError
from ._plan import BatchPlan

__all__ = ["WORKER_ADVICE", "WORKER_WINDOW", "Guard", "Guardrails", "Tally", "sync_advice"]

WORKER_WINDOW: Final = 1_000
"""A worker's guard looks at the last this many customers it handled."""
WORKER_ADVICE: Final = (
    "The customers are parked in the error log (kind guardrail); once a person has looked, "
    "`klaviyo-sync errors retry --all --kind guardrail --force` applies them"
)


def sync_advice(source: str | None) -> str:
    """What a refused sync tells the person who ran it to do next."""
    return (
        f"See each change with `klaviyo-sync plan {source or 'SOURCE'}`, then sync with --force "
        "to apply it anyway"
    )


@dataclass(slots=True, frozen=True)
class Guardrails:
    """The thresholds; see the module docstring."""

    max_unsubscribe_share: float = 0.01
    max_list_removal_share: float = 0.01
    max_cleared_fields: int = 100
    min_affected: int = 10


@dataclass(slots=True)
class Tally:
    """What a batch, or a run so far, would do that the guardrails watch."""

    customers: int = 0
    unsubscribes: int = 0
    list_removals: int = 0
    cleared_fields: int = 0

    @classmethod
    def of(cls, plan: BatchPlan) -> Tally:
        tally = cls(customers=len(plan.planned) + len(plan.settled))
        for p in plan.planned:
            if p.diff is None:
                continue
            tally.unsubscribes += p.diff.unsubscribes
            tally.list_removals += bool(p.diff.list_removals)
            tally.cleared_fields += len(p.diff.of_kind("clear"))
        return tally

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.customers + other.customers,
            self.unsubscribes + other.unsubscribes,
            self.list_removals + other.list_removals,
            self.cleared_fields + other.cleared_fields,
        )

    def __sub__(self, other: Tally) -> Tally:
        return Tally(
            self.customers - other.customers,
            self.unsubscribes - other.unsubscribes,
            self.list_removals - other.list_removals,
            self.cleared_fields - other.cleared_fields,
        )

    def problems(self, rails: Guardrails) -> list[str]:
        """What in this tally goes past the guardrails, each said in a sentence."""
        found = []
        if self.unsubscribes > self._allowed(rails.max_unsubscribe_share, rails):
            found.append(
                f"unsubscribe {self._share(self.unsubscribes)} "
                f"(the limit is {rails.max_unsubscribe_share:.0%}: max_unsubscribe_share)"
            )
        if self.list_removals > self._allowed(rails.max_list_removal_share, rails):
            found.append(
                f"take {self._share(self.list_removals)} off a list "
                f"(the limit is {rails.max_list_removal_share:.0%}: max_list_removal_share)"
            )
        if self.cleared_fields > rails.max_cleared_fields:
            found.append(
                f"clear {self.cleared_fields} fields that hold a value "
                f"(the limit is {rails.max_cleared_fields}: max_cleared_fields)"
            )
        return found

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _allowed(self, share: float, rails: Guardrails) -> float:
        return max(share * self.customers, rails.min_affected)

    def _share(self, count: int) -> str:
        share = count / self.customers if self.customers else 0.0
        return f"{count} of {self.customers} customers ({share:.0%})"


class Guard:
    """Adds up the batches of a run (or a worker's last ``window`` customers) and refuses the
    batch that would take the total past the guardrails."""

    def __init__(
        self, rails: Guardrails, *, window: int | None = None, advice: str | None = None
    ) -> None:
        self.rails = rails
        self._window = window
        self._advice = advice or sync_advice(None)
        self._accepted: deque[Tally] = deque()
        self.total = Tally()

    def admit(self, plan: BatchPlan) -> None:
        """Count ``plan`` in, or raise GuardrailError (and count nothing) when it goes past."""
        tally = Tally.of(plan)
        total = self.total + tally
        problems = total.problems(self.rails)
        if problems:
            raise GuardrailError(problems, total.as_dict(), self._advice)
        self.total = total
        self._accepted.append(tally)
        while self._window is not None and self.total.customers > self._window:
            if len(self._accepted) == 1:
                break
            self.total = self.total - self._accepted.popleft()
