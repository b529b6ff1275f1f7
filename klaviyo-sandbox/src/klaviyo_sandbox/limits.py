"""Klaviyo's published rate limits for every operation the sandbox serves.

Copied from ``x-klaviyo-ratelimit`` in Klaviyo's OpenAPI document, revision 2026-07-15. Limits
are per account and per operation, in fixed windows: ``burst`` per second and ``steady`` per
minute (and for a few operations ``daily`` per day). The sandbox enforces them (unless started
with ``rate_limits=False`` or ``--no-rate-limits``); a client may read them to pace itself.
The sandbox's tests hold this table against the spec, operation by operation.

```python
from klaviyo_sandbox.limits import LIMITS
LIMITS["create_profile"]   # RateLimit(burst=75, steady=750, daily=None)
```
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LIMITS", "RateLimit", "limit_for"]


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
    "get_list_for_bulk_import_profiles_job": _BULK,
    "get_list_ids_for_bulk_import_profiles_job": _BULK,
    # consent
    "bulk_subscribe_profiles": _PROFILES,
    "bulk_unsubscribe_profiles": _PROFILES,
    # lists
    "get_lists": _PROFILES,
    "create_list": RateLimit(burst=10, steady=150, daily=150),
    "get_list": _PROFILES,
    "update_list": _BULK,
    "delete_list": _BULK,
    "get_profiles_for_list": _PROFILES,
    "get_profile_ids_for_list": _PROFILES,
    "add_profiles_to_list": _BULK,
    "remove_profiles_from_list": _BULK,
}
"""operationId → its published limit, for the operations the sandbox serves (an operation it
answers as not emulated has no entry, and is not counted)"""


def limit_for(operation: str) -> RateLimit | None:
    """The published limit of ``operation`` (an operationId), or None if not served."""
    return LIMITS.get(operation)
