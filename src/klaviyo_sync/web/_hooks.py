"""``POST /hooks/customers``: the signed webhook receiver behind the seed's outbound triggers.

Checks run cheapest and least trusting first: a secret is configured (503), the body fits
(413), its signature matches (401), it is JSON (400), it is an event with a valid customer
(422). Only a signed sender gets an entry in the event log for a refusal; unsigned junk is not
worth a row, since anyone can send it. An accepted event answers 202 as soon as the store has
it; the worker transfers it later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ..config import Settings
from ..store import Store, StoreError
from ._errors import ErrorResponse, WebError
from ._events import Decision, EventRejected, ParsedEvent, decide, parse_event
from ._models import WebhookReceipt
from ._signature import SIGNATURE_HEADER, check_signature

__all__ = ["MAX_WEBHOOK_BYTES", "WEBHOOK_PATH", "webhook_router"]

MAX_WEBHOOK_BYTES = 1024 * 1024
"""A customer is a few kilobytes; a mebibyte leaves room for long custom fields."""
WEBHOOK_PATH = "/hooks/customers"

logger = logging.getLogger("klaviyo_sync.web")


@dataclass(slots=True)
class _Receiver:
    settings: Settings
    store: Store
    on_enqueued: Callable[[], None] | None

    async def receive(self, request: Request) -> WebhookReceipt:
        body = await self._authentic_body(request)
        try:
            event = parse_event(body)
        except EventRejected as refusal:
            await self._record_refusal(refusal)
            raise
        decision = decide(event, self.settings.triggers)
        event_id = await self._keep(event, decision)
        logger.info(
            "webhook %s for customer %r: %s (event %d)%s",
            event.event,
            event.customer.id,
            decision.status,
            event_id,
            f": {decision.reason}" if decision.reason else "",
        )
        if decision.status == "queued":
            self._wake_worker()
        return WebhookReceipt(
            status=decision.status,
            event_id=event_id,
            event=event.event,
            customer_id=event.customer.id,
            reason=decision.reason,
        )

    async def _authentic_body(self, request: Request) -> bytes:
        try:
            secret = self._secret()
            body = await read_body(request, MAX_WEBHOOK_BYTES)
            check_signature(secret, body, request.headers.get(SIGNATURE_HEADER))
        except WebError as refusal:
            # Logged, not recorded: anyone can send these, and the operator needs to see a
            # sender with the wrong secret without a row per attempt.
            level = logging.WARNING if refusal.status == 503 else logging.INFO
            client = request.client.host if request.client else "an unknown client"
            logger.log(level, "webhook from %s refused (%s): %s", client, refusal.code, refusal)
            raise
        return body

    def _secret(self) -> str:
        secret = self.settings.webhook_secret
        value = secret.get_secret_value() if secret is not None else ""
        if not value:
            raise WebError(
                503,
                "webhook_secret_not_set",
                "KLAVIYO_SYNC_WEBHOOK_SECRET is not set: webhooks are refused until it is, "
                "because unsigned events are never accepted",
            )
        return value

    async def _keep(self, event: ParsedEvent, decision: Decision) -> int:
        # Queue first: if recording then fails the sender retries, and a second copy of the
        # event only coalesces with the first in the queue.
        try:
            if decision.status == "queued":
                item = (event.customer.id, event.record, event.event)
                await run_in_threadpool(self.store.enqueue, [item])
            return await run_in_threadpool(
                self.store.record_event,
                event.event,
                customer_id=event.customer.id,
                status=decision.status,
                reason=decision.reason,
            )
        except StoreError as err:
            logger.error("webhook %s could not be stored: %s", event.event, err)
            raise WebError(
                503, "store_unavailable", "the event could not be stored; send it again later"
            ) from None

    async def _record_refusal(self, refusal: EventRejected) -> None:
        logger.warning("webhook refused (%s): %s", refusal.code, refusal.message)
        try:
            await run_in_threadpool(
                self.store.record_event,
                refusal.event,
                customer_id=refusal.customer_id,
                status="rejected",
                reason=refusal.message,
            )
        except StoreError as err:
            # The sender's problem is its event; a store hiccup must not hide that answer.
            logger.error("a refused webhook could not be recorded: %s", err)

    def _wake_worker(self) -> None:
        if self.on_enqueued is None:
            return
        try:
            self.on_enqueued()
        except Exception:
            # The event is safely queued; the worker finds it at its next poll anyway.
            logger.exception("waking the worker after a queued webhook failed")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, or a 413 WebError as soon as it is known to exceed ``limit`` bytes.

    A Content-Length over the limit is refused before reading; a smaller or missing one is not
    trusted, so the stream is counted as it arrives.
    """
    declared = _declared_length(request.headers.get("content-length"))
    if declared is not None and declared > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _declared_length(header: str | None) -> int | None:
    if header is None:
        return None
    try:
        return int(header)
    except ValueError:
        return None


def _too_large(limit: int) -> WebError:
    return WebError(413, "body_too_large", f"the body is larger than {limit} bytes")


def _refusal(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


def webhook_router(
    settings: Settings, store: Store, on_enqueued: Callable[[], None] | None
) -> APIRouter:
    receiver = _Receiver(settings, store, on_enqueued)
    router = APIRouter(tags=["webhooks"])

    @router.post(
        WEBHOOK_PATH,
        status_code=202,
        response_description="accepted: queued for transfer, or acknowledged and ignored",
        response_model=WebhookReceipt,
        summary="Receive a signed customer event (the outbound trigger)",
        description=(
            f"Sign the raw body with HMAC-SHA256 and KLAVIYO_SYNC_WEBHOOK_SECRET and send the "
            f"hex digest as `{SIGNATURE_HEADER}: sha256=<hex>`. At most {MAX_WEBHOOK_BYTES} "
            "bytes. `customer/created` and `customer/updated` are queued when their trigger is "
            "enabled (KLAVIYO_SYNC_TRIGGERS), otherwise acknowledged and ignored; "
            "`customer/deleted` is always ignored (outbound delete is not supported)."
        ),
        openapi_extra={
            "parameters": [
                {
                    "name": SIGNATURE_HEADER,
                    "in": "header",
                    "required": True,
                    "description": "sha256=<hex HMAC-SHA256 of the raw body>",
                    "schema": {"type": "string", "pattern": "^sha256=[0-9a-fA-F]{64}$"},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/WebhookEvent"}}
                },
            },
        },
        responses={
            400: _refusal("the body is not JSON"),
            401: _refusal("the signature is missing, malformed or wrong"),
            413: _refusal(f"the body is over {MAX_WEBHOOK_BYTES} bytes"),
            422: _refusal("unknown event, or a customer the engine would refuse"),
            503: _refusal("no webhook secret is configured, or the store is unavailable"),
        },
    )
    async def receive_customer_event(request: Request) -> WebhookReceipt:
        return await receiver.receive(request)

    return router
