"""The web app ``klaviyo-sync serve`` runs: the signed webhook receiver (the seed's outbound
triggers), a health check, and Integration Monitoring (the dashboard and its JSON API), in one
FastAPI app.

```python
app = create_app(settings, store, on_enqueued=worker.wake)
body = json.dumps({"event": "customer/updated", "customer": {"Id": 55260, …}}).encode()
headers = signed_headers(secret, body)  # webhook-id, webhook-timestamp, webhook-signature
```

``POST /hooks/customers`` answers 202 with ``{"status": "queued" | "ignored" | "duplicate",
"event_id": …}`` or an error ``{"error": {"code": …, "message": …}}``: 503 without
KLAVIYO_SYNC_WEBHOOK_SECRET, 413 over ``MAX_WEBHOOK_BYTES``, 401 for a missing, malformed or
wrong Standard Webhooks signature or a timestamp more than 5 minutes off, 400 for bad JSON, 422
for an unknown event or a customer the engine would refuse. A secret that is not
``whsec_<base64>`` makes ``create_app`` raise a ConfigError. ``GET /healthz`` answers
``{"status": "ok"}``. The OpenAPI document is at ``/openapi.json``.

The dashboard's pages (``/`` Overview, ``/failures`` Error Logs, ``/sync`` Manual Sync,
``/links``, ``/runs``) and ``/api/…`` want KLAVIYO_SYNC_DASHBOARD_TOKEN: typed once on
``/login`` (a signed, HttpOnly, SameSite=Strict session cookie follows), or sent to the API as
``Authorization: Bearer <token>``. Without a token configured they answer 503. A session's
POST carries its CSRF token (form field ``csrf_token``, header ``X-CSRF-Token``).
"""

from __future__ import annotations

from ._app import Lifespan, create_app
from ._auth import CSRF_HEADER, SESSION_COOKIE
from ._hooks import MAX_WEBHOOK_BYTES, REMEMBER_IDS_FOR, WEBHOOK_PATH
from ._signature import (
    ID_HEADER,
    LEGACY_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TOLERANCE,
    WebhookSecretError,
    sign,
    signed_headers,
    signing_key,
)

__all__ = [
    "CSRF_HEADER",
    "ID_HEADER",
    "LEGACY_SIGNATURE_HEADER",
    "MAX_WEBHOOK_BYTES",
    "REMEMBER_IDS_FOR",
    "SESSION_COOKIE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE",
    "WEBHOOK_PATH",
    "Lifespan",
    "WebhookSecretError",
    "create_app",
    "sign",
    "signed_headers",
    "signing_key",
]
