"""The one ASGI app ``klaviyo-sync serve`` runs: health check, webhook receiver, and the
Integration Monitoring dashboard with its ``/api/``.

Each area is its own router with its own access rule: ``/healthz`` is open for load balancers,
the webhook checks its signature, the pages and ``/api/`` want the dashboard token (see
``_auth``). Settings and the store are on ``app.state``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..config import Settings
from ..operations import Connections
from ..store import Store
from ._api import api_router
from ._auth import Gate
from ._errors import install_error_handlers
from ._hooks import webhook_router
from ._models import HealthStatus, request_schemas
from ._monitor import Monitor
from ._pages import STATIC_DIR, LoginRequired, html_error, login_redirect, page_router

__all__ = ["Lifespan", "create_app"]

logger = logging.getLogger("klaviyo_sync.web")

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


_DESCRIPTION = (
    "Keeps Klaviyo profiles in step with customer records. Every refusal is "
    '`{"error": {"code": …, "message": …}}`. The `dashboard` operations want '
    "`Authorization: Bearer <KLAVIYO_SYNC_DASHBOARD_TOKEN>` (or the dashboard's session cookie "
    "plus an `X-CSRF-Token` header on POST)."
)


class _App(FastAPI):
    """FastAPI, with the webhook's request models in the OpenAPI components.

    The receiver reads its raw body itself (the signature covers the exact bytes), so FastAPI
    never sees a body parameter to describe; the models are added here instead.
    """

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            document = super().openapi()
            components = document.setdefault("components", {}).setdefault("schemas", {})
            components.update(request_schemas())
            document["components"]["securitySchemes"] = {
                "dashboardToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "KLAVIYO_SYNC_DASHBOARD_TOKEN",
                }
            }
            for path, operations in document.get("paths", {}).items():
                if path.startswith("/api/"):
                    for operation in operations.values():
                        operation["security"] = [{"dashboardToken": []}]
        return super().openapi()


def create_app(
    settings: Settings,
    store: Store,
    *,
    on_enqueued: Callable[[], None] | None = None,
    lifespan: Lifespan | None = None,
    connections: Connections | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> FastAPI:
    """The app. ``on_enqueued`` is called (on the event loop) after an event is queued, so an
    in-process worker can wake at once instead of waiting for its next poll; ``lifespan``
    starts and stops such a worker with the server. ``connections`` is how the dashboard's
    manual syncs, retries and email lookups reach Klaviyo (default: from the settings).
    ``clock`` (aware datetimes) is the dashboard's: session expiry, sign-in waits, the chart.

    A dashboard token shorter than 32 characters is a ``ConfigError``."""
    app = _App(
        title="klaviyo-sync",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        # The bundled docs pages load from a CDN; the machine running this may be offline.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    gate = Gate(settings.dashboard_token, store, clock=clock)
    if not gate.configured:
        logger.warning(
            "the dashboard and /api/ are closed: KLAVIYO_SYNC_DASHBOARD_TOKEN is not set"
        )
    app.state.dashboard_gate = gate
    monitor = Monitor(settings, store, connections=connections, clock=clock)
    install_error_handlers(app, html=html_error(gate))
    app.add_exception_handler(LoginRequired, login_redirect)
    app.include_router(_health_router())
    app.include_router(_favicon_router())
    app.include_router(webhook_router(settings, store, on_enqueued))
    app.include_router(api_router(monitor, gate))
    app.include_router(page_router(monitor, gate))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness, for load balancers (no authentication)")
    async def healthz() -> HealthStatus:
        return HealthStatus(status="ok")

    return router


FAVICON = (STATIC_DIR / "favicon.svg").read_bytes()
_FAVICON_HEADERS = {
    "Cache-Control": "public, max-age=86400",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


def _favicon_router() -> APIRouter:
    """The icon, open to anyone as ``/static/`` is: browsers ask for ``/favicon.ico`` on their
    own, before any sign-in, and from pages that do not link it (``/healthz``, ``/api/``)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/favicon.ico")
    async def favicon() -> Response:
        return Response(FAVICON, media_type="image/svg+xml", headers=_FAVICON_HEADERS)

    return router
