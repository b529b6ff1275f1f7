"""The async Klaviyo API client used by everything in klaviyo-sync that talks to Klaviyo.

```python
async with KlaviyoClient.from_settings(settings) as client:
    profiles = await client.find_profiles("email", emails)
```

Every call is rate limited per operation (``RateLimiter``), retried when it may succeed later
(``RetryPolicy``), and fails with an exception from ``klaviyo_sync.exceptions``.
"""

from __future__ import annotations

from ..clock import Clock, SystemClock
from ._client import (
    MAX_BULK_IMPORT_BYTES,
    MAX_BULK_IMPORT_PROFILES,
    MAX_FILTER_VALUES,
    MAX_LIST_MEMBERS_PER_CALL,
    MAX_PAGE_SIZE,
    MAX_SUBSCRIBE_PER_CALL,
    MAX_UNSUBSCRIBE_PER_CALL,
    KlaviyoClient,
    Saved,
    SubscriptionTarget,
)
from ._errors import error_from_response, error_from_transport
from ._filters import any_of, equals
from ._http import PARTIAL_FAILURE, REVISION, USER_AGENT, partial_failure
from ._ratelimit import RateLimiter
from ._retry import RetryPolicy, default_jitter, no_jitter, should_retry, sleep_time

__all__ = [
    "MAX_BULK_IMPORT_BYTES",
    "MAX_BULK_IMPORT_PROFILES",
    "MAX_FILTER_VALUES",
    "MAX_LIST_MEMBERS_PER_CALL",
    "MAX_PAGE_SIZE",
    "MAX_SUBSCRIBE_PER_CALL",
    "MAX_UNSUBSCRIBE_PER_CALL",
    "PARTIAL_FAILURE",
    "REVISION",
    "USER_AGENT",
    "Clock",
    "KlaviyoClient",
    "RateLimiter",
    "RetryPolicy",
    "Saved",
    "SubscriptionTarget",
    "SystemClock",
    "any_of",
    "default_jitter",
    "equals",
    "error_from_response",
    "error_from_transport",
    "no_jitter",
    "partial_failure",
    "should_retry",
    "sleep_time",
]
