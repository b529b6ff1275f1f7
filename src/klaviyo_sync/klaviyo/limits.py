"""Klaviyo's published rate limits for the operations klaviyo-sync uses.

Copied from ``x-klaviyo-ratelimit`` in Klaviyo's OpenAPI document, revision 2026-07-15. Limits
are per account and per operation, in fixed windows: ``burst`` per second and ``steady`` per
minute (and for a few operations ``daily`` per day). The client's limiter reads this table; the
sandbox (klaviyo-sandbox, a separate distribution) enforces its own, ``klaviyo_sandbox.limits``.
tests/klaviyo/test_limits.py holds the two to each other and to the spec, operation by operation.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LIMITS", "RateLimit", "scaled"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Requests allowed per window for one operation."""

    burst: int
    """per second"""
    steady: int
    """per minute"""
    daily: int | None = None
    """per day, where Klaviyo publishes one"""


_PROFILES = RateLimit(burst=75, steady=750)
_BULK = RateLimit(burst=10, steady=150)
_SLOW = RateLimit(burst=3, steady=60)

LIMITS: dict[str, RateLimit] = {
    # profiles
    "get_profiles": _PROFILES,
    "create_profile": _PROFILES,
    "get_profile": _PROFILES,
    "update_profile": _PROFILES,
    "create_or_update_profile": _PROFILES,
    "get_lists_for_profile": _SLOW,
    "get_list_ids_for_profile": _SLOW,
    # bulk import jobs
    "bulk_import_profiles": _BULK,
    "get_bulk_import_profiles_jobs": _BULK,
    "get_bulk_import_profiles_job": _BULK,
    "get_errors_for_bulk_import_profiles_job": _BULK,
    "get_profiles_for_bulk_import_profiles_job": _BULK,
    "get_profile_ids_for_bulk_import_profiles_job": _BULK,
    # consent
    "bulk_subscribe_profiles": _PROFILES,
    "bulk_unsubscribe_profiles": _PROFILES,
    # lists
    "get_lists": _PROFILES,
    "create_list": RateLimit(burst=10, steady=150, daily=150),
    "get_list": _PROFILES,
    "get_profiles_for_list": _PROFILES,
    "get_profile_ids_for_list": _PROFILES,
    "add_profiles_to_list": _BULK,
    "remove_profiles_from_list": _BULK,
}


def scaled(limits: dict[str, RateLimit], factor: float) -> dict[str, RateLimit]:
    """The limits times ``factor``: 0.5 for each of two processes sharing one account.

    Never below one request per window, or an operation could not run at all.
    """
    if factor <= 0:
        raise ValueError(f"a rate limit scale must be positive, not {factor}")

    def part(value: int) -> int:
        return max(1, int(value * factor))

    return {
        op: RateLimit(
            burst=part(lim.burst),
            steady=part(lim.steady),
            daily=None if lim.daily is None else part(lim.daily),
        )
        for op, lim in limits.items()
    }
