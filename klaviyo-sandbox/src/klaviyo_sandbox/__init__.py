"""klaviyo-sandbox: a local Klaviyo emulated in memory, as a Starlette ASGI app.

It serves every API revision Klaviyo serves on the day its clock says (2026-10-15 and the
seven before it, on 2026-12-03), with the shapes of revision 2026-07-15's OpenAPI document.
Where Klaviyo's behaviour changed over time or the evidence disagrees, ``Behaviour`` says which
one it plays.

```python
app = create_app(SandboxConfig(rate_limits=False, clock=ManualClock()))
async with httpx.AsyncClient(transport=sandbox_transport(app), base_url="http://sandbox") as c:
    ...
app.state.sandbox.profiles        # the state (a Sandbox), for assertions and seeding
```

``running_sandbox()`` serves it on real loopback from a background thread; ``serve()`` blocks
(the ``klaviyo-sandbox`` command). ``limits.LIMITS`` is Klaviyo's published rate limits, per
operation. The pytest plugin (``pytest_plugin``, loaded by pytest when this package is installed)
gives tests the ``klaviyo_sandbox`` fixture, a ``LiveSandbox`` (``testing``).

Admin surface (no key, never rate limited, not logged):

- ``GET /__sandbox__`` — counts, revisions served, behaviour, rate-limit switch, faults
- ``GET|POST /__sandbox__/behaviour`` ``{"invalid_phone": "drop", …}`` — which of Klaviyo's
  behaviours to play; posting changes the settings named (a reset restores the configured ones)
- ``GET /__sandbox__/requests[?method=&path=&operation_id=]`` — every /api request:
  ``method, path, query, status, body, operation_id, at, dropped``; ``DELETE`` clears it
- ``GET /__sandbox__/emails`` — confirmations sent: ``to, list_id, profile_id, channel, sent_at``
- ``POST /__sandbox__/confirm`` ``{"list_id", "profile_id" | "email"}`` — answer a double opt-in
- ``POST /__sandbox__/reset`` — forget all state; faults and behaviour go back to the
  configured ones
- ``GET|POST /__sandbox__/faults`` ``{"rules": [FaultRule…], "seed": int}`` — a rule is
  ``{"operation": "create_profile" | "*", "status": 503 | null, "rate": 1.0, "times": null,
  "latency": 0.0, "drop": false, "after": false}``; posting replaces the rules
- ``GET /__sandbox__/profiles[?page[size]=&page[cursor]=&email=]``, ``/profiles/{id}`` —
  profiles with consent, lists and pending double opt-ins (``DELETE /profiles/{id}`` deletes
  one, as someone might in Klaviyo's UI); ``GET /__sandbox__/lists``
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._app import create_app
    from ._clock import Clock, ManualClock, SystemClock
    from ._config import Behaviour, SandboxConfig
    from ._consent import ChannelConsent, ConfirmationEmail, PendingOptIn
    from ._errors import ApiError
    from ._faults import DroppedConnection, FaultRule
    from ._jobs import BulkImportJob, ImportErrorRecord
    from ._lists import ProfileList
    from ._sandbox import RequestRecord, Sandbox, SubscriptionRequest
    from ._serve import RunningSandbox, running_sandbox, sandbox_transport, serve
    from ._store import Profile
    from .testing import LiveSandbox, SandboxAdminError

# Names are imported when first used: the pytest plugin loads this package in every test run
# of a project that installs it, and the app's modules (uvicorn, httpx, phonenumbers) take a
# good part of a second to import.
_WHERE = {
    "create_app": "._app",
    "Clock": "._clock",
    "ManualClock": "._clock",
    "SystemClock": "._clock",
    "Behaviour": "._config",
    "SandboxConfig": "._config",
    "ChannelConsent": "._consent",
    "ConfirmationEmail": "._consent",
    "PendingOptIn": "._consent",
    "ApiError": "._errors",
    "DroppedConnection": "._faults",
    "FaultRule": "._faults",
    "BulkImportJob": "._jobs",
    "ImportErrorRecord": "._jobs",
    "ProfileList": "._lists",
    "RequestRecord": "._sandbox",
    "Sandbox": "._sandbox",
    "SubscriptionRequest": "._sandbox",
    "RunningSandbox": "._serve",
    "running_sandbox": "._serve",
    "sandbox_transport": "._serve",
    "serve": "._serve",
    "Profile": "._store",
    "LiveSandbox": ".testing",
    "SandboxAdminError": ".testing",
}

__all__ = [
    "ApiError",
    "Behaviour",
    "BulkImportJob",
    "ChannelConsent",
    "Clock",
    "ConfirmationEmail",
    "DroppedConnection",
    "FaultRule",
    "ImportErrorRecord",
    "LiveSandbox",
    "ManualClock",
    "PendingOptIn",
    "Profile",
    "ProfileList",
    "RequestRecord",
    "RunningSandbox",
    "Sandbox",
    "SandboxAdminError",
    "SandboxConfig",
    "SubscriptionRequest",
    "SystemClock",
    "create_app",
    "running_sandbox",
    "sandbox_transport",
    "serve",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
