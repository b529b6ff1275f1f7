"""The one ASGI app ``klaviyo-sync serve`` runs: health check and webhook receiver today, the
dashboard and its ``/api/`` tomorrow.

Each area is its own router, so the dashboard can put its token check on its own routes while
the webhook keeps its signature check and ``/healthz`` stays open for load balancers. Settings
and the store are on ``app.state`` for routers added later.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI

from .. import __version__
from ..config import Settings
from ..store import Store
from ._errors import install_error_handlers
from ._hooks import webhook_router
from ._models import HealthStatus, request_schemas

__all__ = ["Lifespan", "create_app"]

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

_DESCRIPTION = (
    "Keeps Klaviyo profiles in step with customer records. Every refusal is "
    '`{"error": {"code": …, "message": …}}`.'
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
        return super().openapi()


def create_app(
    settings: Settings,
    store: Store,
    *,
    on_enqueued: Callable[[], None] | None = None,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    """The app. ``on_enqueued`` is called (on the event loop) after an event is queued, so an
    in-process worker can wake at once instead of waiting for its next poll; ``lifespan``
    starts and stops such a worker with the server."""
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
    install_error_handlers(app)
    app.include_router(_health_router())
    app.include_router(webhook_router(settings, store, on_enqueued))
    return app


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness, for load balancers (no authentication)")
    async def healthz() -> HealthStatus:
        return HealthStatus(status="ok")

    return router
