"""A local Klaviyo: the API (revision 2026-07-15) emulated in memory, as an ASGI app.

```python
app = create_app(SandboxConfig(rate_limits=False))
async with httpx.AsyncClient(transport=sandbox_transport(app), base_url="http://sandbox") as c:
    ...
app.state.sandbox.profiles        # the state, for assertions
```

``running_sandbox()`` serves it on real loopback from a background thread; ``serve()`` blocks
(``klaviyo-sync sandbox``). The admin surface lives under ``/__sandbox__/`` (requests, emails,
confirm, reset, faults, profiles, lists).
"""

from __future__ import annotations

from ._app import create_app
from ._clock import Clock, ManualClock, SystemClock
from ._config import SandboxConfig
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
