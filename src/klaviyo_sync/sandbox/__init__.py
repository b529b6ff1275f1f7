"""A local Klaviyo emulated in memory, as a Starlette ASGI app.

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
(``klaviyo-sync sandbox``).

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
    "ManualClock",
    "PendingOptIn",
    "Profile",
    "ProfileList",
    "RequestRecord",
    "RunningSandbox",
    "Sandbox",
    "SandboxConfig",
    "SubscriptionRequest",
    "SystemClock",
    "create_app",
    "running_sandbox",
    "sandbox_transport",
    "serve",
]
