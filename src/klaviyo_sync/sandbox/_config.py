"""How a sandbox is set up."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._clock import Clock, SystemClock
from ._faults import FaultRule

__all__ = ["SandboxConfig"]


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
    default_opt_in: str = "single_opt_in"
    """the account's opt-in process for a subscription that names no list"""
    new_list_opt_in: str = "single_opt_in"
    """opt-in process of a list created without ``opt_in_process``"""
    max_body_bytes: int = 5 * 1024 * 1024
    """largest request body accepted (Klaviyo's bulk import limit)"""

    def __post_init__(self) -> None:
        for name in ("default_opt_in", "new_list_opt_in"):
            if getattr(self, name) not in ("single_opt_in", "double_opt_in"):
                raise ValueError(f"{name} must be 'single_opt_in' or 'double_opt_in'")
        if self.job_processing_seconds < 0 or self.request_log_limit < 0:
            raise ValueError("job_processing_seconds and request_log_limit must not be negative")
