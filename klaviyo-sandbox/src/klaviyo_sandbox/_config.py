"""How a sandbox is set up, and which of Klaviyo's behaviours it plays where they differ."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ._clock import Clock, SystemClock
from ._faults import FaultRule

__all__ = ["Behaviour", "SandboxConfig"]

_CHOICES: dict[str, tuple[str | None, ...]] = {
    "invalid_phone": ("drop", "refuse"),
    "bulk_import_validation": ("submit", "row"),
    "bulk_import_null": ("ignore", "clear"),
    "default_opt_in": ("double_opt_in", "single_opt_in"),
    "new_list_opt_in": ("double_opt_in", "single_opt_in", None),
}


@dataclass(slots=True)
class Behaviour:
    """Where Klaviyo changed over time, or the evidence disagrees, the one this account plays.

    The README's sandbox section gives each choice's source. Settable at start-up
    (``SandboxConfig.behaviour``), at run time (``POST /__sandbox__/behaviour``) and from
    the ``klaviyo-sandbox`` command (and ``klaviyo-sync sandbox``).
    """

    invalid_phone: str = "drop"
    """``drop``: beside another identifier an invalid phone is dropped and the write answers 2xx
    with ``X-Klaviyo-Partial-Failure: phone_number`` (Klaviyo since its phone validation
    change); ``refuse``: a 400 at ``/data/attributes/phone_number`` (Klaviyo before it)"""
    bulk_import_validation: str = "submit"
    """``submit``: a bulk import job with any invalid row is a 400 naming every bad row, and
    nothing is imported (Klaviyo today); ``row``: the job is accepted and bad rows fail one by
    one in ``import-errors``"""
    bulk_import_null: str = "ignore"
    """``ignore``: a null in a bulk import row leaves the field as it is (Klaviyo's bulk import
    guide); ``clear``: it clears the field (seed 000's report)"""
    default_opt_in: str = "double_opt_in"
    """the account's opt-in process: subscriptions that name no list, and new lists"""
    new_list_opt_in: str | None = None
    """opt-in process of a list created without ``opt_in_process``; ``None`` follows the account"""

    def __post_init__(self) -> None:
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                shown = ", ".join(repr(choice) for choice in allowed)
                raise ValueError(f"{name} must be one of {shown}")

    @property
    def list_opt_in(self) -> str:
        return self.new_list_opt_in or self.default_opt_in

    def updated(self, changes: Mapping[str, Any]) -> Behaviour:
        """A copy with ``changes`` applied; unknown names and values are a ValueError."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ValueError(f"unknown behaviour settings: {', '.join(unknown)}")
        return replace(self, **dict(changes))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class SandboxConfig:
    """Start-up settings; every field has a default that behaves like a fresh Klaviyo account."""

    api_key: str | None = field(default=None, repr=False)
    """the one key accepted; ``None`` accepts any key shaped like a private key (``pk_…``)"""
    rate_limits: bool = True
    """enforce the published per-operation limits"""
    faults: list[FaultRule] = field(default_factory=list)
    """faults in force from start-up (and again after a reset)"""
    job_processing_seconds: float = 0.2
    """how long a bulk import job takes: half queued, half processing"""
    request_log_limit: int = 100_000
    """how many /api requests ``/__sandbox__/requests`` keeps (oldest dropped first)"""
    clock: Clock = field(default_factory=SystemClock)
    seed: int = 0
    """seeds ids and fault draws, so two runs with the same seed and clock agree"""
    behaviour: Behaviour = field(default_factory=Behaviour)
    """which of Klaviyo's behaviours to play (again after a reset)"""
    max_body_bytes: int = 5 * 1024 * 1024
    """largest request body accepted (Klaviyo's bulk import limit)"""

    def __post_init__(self) -> None:
        if self.job_processing_seconds < 0 or self.request_log_limit < 0:
            raise ValueError("job_processing_seconds and request_log_limit must not be negative")
