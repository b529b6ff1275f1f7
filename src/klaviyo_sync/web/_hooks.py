"""``POST /hooks/customers``: the signed webhook receiver behind the seed's outbound triggers.

The body is read first, whatever comes next: a plain HTTP client sends its whole body before it
reads an answer, and one answered early sees its connection reset instead of the refusal. Then
the checks run cheapest and least trusting first: the body fits (413), a secret is configured
(503), the Standard Webhooks signature matches and its timestamp is recent (401, see
``_signature``), it is JSON (400), it is an event with a valid customer (422). Only a signed
sender gets an entry in the event log for a refusal; unsigned junk is not worth a row, since
anyone can send it. A webhook-id delivered within ``REMEMBER_IDS_FOR`` is acknowledged as a
duplicate and not queued again. An accepted event answers 202 as soon as the store has it; the
worker transfers it later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, Literal

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ..config import Settings
from ..store import Store, StoreError
from ._errors import ErrorResponse, WebError
from ._events import EventRejected, ParsedEvent, decide, parse_event
from ._models import WebhookReceipt
from ._signature import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TOLERANCE,
    Verifier,
)

__all__ = ["DRAIN_BYTES", "MAX_WEBHOOK_BYTES", "REMEMBER_IDS_FOR", "WEBHOOK_PATH", "webhook_router"]

MAX_WEBHOOK_BYTES = 1024 * 1024
"""A customer is a few kilobytes; a mebibyte leaves room for long custom fields."""
DRAIN_BYTES = 16 * MAX_WEBHOOK_BYTES
"""How much of an oversized body is read (and thrown away) so its sender can read the 413; a
body declared or sent beyond this is answered at once and its connection may be cut."""
REMEMBER_IDS_FOR = timedelta(hours=72)
"""How long a webhook-id is remembered. At least the timestamp tolerance, so no replay passes
both checks; three days also covers a sender's own retries of an id it thinks was lost
(Standard Webhooks senders retry for about a day)."""
WEBHOOK_PATH = "/hooks/customers"

logger = logging.getLogger("klaviyo_sync.web")

ReceiptStatus = Literal["queued", "ignored", "duplicate"]


@dataclass(slots=True)
class _Receiver:
    settings: Settings
    store: Store
    on_enqueued: Callable[[], None] | None
    verifier: Verifier | None

    async def receive(self, request: Request) -> WebhookReceipt:
        body, webhook_id = await self._authentic(request)
        try:
            event = parse_event(body)
        except EventRejected as refusal:
            await self._record_refusal(refusal)
            raise
        decision = decide(event, self.settings.triggers)
        status, reason, event_id = await self._keep(
            webhook_id, event, decision.status, decision.reason
        )
        logger.info(
            "webhook %s for customer %r: %s (event %d)%s",
            event.event,
            event.customer.id,
            status,
            event_id,
            f": {reason}" if reason else "",
        )
        if status == "queued":
            self._wake_worker()
        return WebhookReceipt(
            status=status,
            event_id=event_id,
            event=event.event,
            customer_id=event.customer.id,
            reason=reason,
        )

    async def _authentic(self, request: Request) -> tuple[bytes, str]:
        """The raw body and its webhook-id, once the signature holds."""
        try:
            body = await read_body(request, MAX_WEBHOOK_BYTES, drain=DRAIN_BYTES)
            webhook_id = self._verifier().verify(request.headers, body)
        except WebError as refusal:
            # Logged, not recorded: anyone can send these, and the operator needs to see a
            # sender with the wrong secret without a row per attempt.
            level = logging.WARNING if refusal.status == 503 else logging.INFO
            client = request.client.host if request.client else "an unknown client"
            logger.log(level, "webhook from %s refused (%s): %s", client, refusal.code, refusal)
            raise
        return body, webhook_id

    def _verifier(self) -> Verifier:
        if self.verifier is None:
            raise WebError(
                503,
                "webhook_secret_not_set",
                "KLAVIYO_SYNC_WEBHOOK_SECRET is not set: webhooks are refused until it is, "
                "because unsigned events are never accepted",
            )
        return self.verifier

    async def _keep(
        self, webhook_id: str, event: ParsedEvent, status: ReceiptStatus, reason: str | None
    ) -> tuple[ReceiptStatus, str | None, int]:
        # The id is remembered in the transaction that queues the event: if recording then
        # fails, the sender's retry (same id) is acknowledged as a duplicate of what is queued.
        items = [(event.customer.id, event.record, event.event)] if status == "queued" else []
        accept = partial(self.store.accept_webhook, webhook_id, items, keep_for=REMEMBER_IDS_FOR)
        try:
            if not await run_in_threadpool(accept):
                status, reason = "duplicate", _duplicate_reason(webhook_id)
            event_id = await run_in_threadpool(
                self.store.record_event,
                event.event,
                customer_id=event.customer.id,
                status=status,
                reason=reason,
            )
        except StoreError as err:
            logger.error("webhook %s could not be stored: %s", event.event, err)
            raise WebError(
                503, "store_unavailable", "the event could not be stored; send it again later"
            ) from None
        return status, reason, event_id

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


def _duplicate_reason(webhook_id: str) -> str:
    hours = int(REMEMBER_IDS_FOR.total_seconds() // 3600)
    return (
        f"{ID_HEADER} {webhook_id!r} was already received in the last {hours} hours; "
        "not queued again"
    )


async def read_body(request: Request, limit: int, *, drain: int | None = None) -> bytes:
    """The raw body, or a 413 WebError when it exceeds ``limit`` bytes.

    An oversized body is still read, and thrown away, up to ``drain`` bytes before the answer:
    a client that sends its whole body before reading (most do) would otherwise meet a reset
    connection instead of the 413. A Content-Length over ``drain`` is answered at once. A
    smaller or missing one is not trusted: the stream is counted as it arrives. Without
    ``drain``, nothing past ``limit`` is read.
    """
    drain = limit if drain is None else max(drain, limit)
    declared = _declared_length(request.headers.get("content-length"))
    if declared is not None and declared > drain:
        raise _too_large(limit)
    body = bytearray()
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > drain:
            raise _too_large(limit)
        if received <= limit:
            body += chunk
        elif body:
            body = bytearray()  # over the limit: only counting from here
    if received > limit:
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


_HEADER_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": ID_HEADER,
        "in": "header",
        "required": True,
        "description": "the delivery's id, the same for each retry of it; 1 to 255 visible "
        "ASCII characters",
        "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"},
    },
    {
        "name": TIMESTAMP_HEADER,
        "in": "header",
        "required": True,
        "description": "when this delivery was signed, in Unix seconds",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    {
        "name": SIGNATURE_HEADER,
        "in": "header",
        "required": True,
        "description": "v1,<base64 HMAC-SHA256>, several separated by spaces while the "
        "sender rotates its secret",
        "schema": {"type": "string"},
    },
]


def _verifier(settings: Settings, clock: Callable[[], float]) -> Verifier | None:
    secret = settings.webhook_secret
    value = secret.get_secret_value() if secret is not None else ""
    return Verifier(value, clock=clock) if value else None


def _refusal(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


def webhook_router(
    settings: Settings,
    store: Store,
    on_enqueued: Callable[[], None] | None,
    *,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """The receiver's route. A KLAVIYO_SYNC_WEBHOOK_SECRET that is set but not a ``whsec_``
    secret raises WebhookSecretError (a ConfigError) here, so ``serve`` refuses to start;
    ``clock`` (Unix seconds) is what webhook-timestamps are held against."""
    receiver = _Receiver(settings, store, on_enqueued, _verifier(settings, clock))
    router = APIRouter(tags=["webhooks"])
    tolerance = int(TOLERANCE.total_seconds() // 60)
    keep_hours = int(REMEMBER_IDS_FOR.total_seconds() // 3600)

    @router.post(
        WEBHOOK_PATH,
        status_code=202,
        response_description=(
            "accepted: queued for transfer, acknowledged and ignored, or a duplicate of a "
            "webhook-id already received (not queued again)"
        ),
        response_model=WebhookReceipt,
        summary="Receive a signed customer event (the outbound trigger)",
        description=(
            "Signed the Standard Webhooks way (https://www.standardwebhooks.com/): "
            f"`{SIGNATURE_HEADER}: v1,<base64>`, the HMAC-SHA256 of "
            f"`{{{ID_HEADER}}}.{{{TIMESTAMP_HEADER}}}.{{raw body}}` keyed with the bytes "
            "KLAVIYO_SYNC_WEBHOOK_SECRET (`whsec_<base64>`) encodes; several space-separated "
            f"signatures are accepted while a secret rotates. A `{TIMESTAMP_HEADER}` more than "
            f"{tolerance} minutes from the server's clock is refused; a `{ID_HEADER}` received "
            f"in the last {keep_hours} hours is acknowledged as `duplicate` and not queued "
            f"again. At most {MAX_WEBHOOK_BYTES} bytes. `customer/created` and "
            "`customer/updated` are queued when their trigger is enabled "
            "(KLAVIYO_SYNC_TRIGGERS), otherwise acknowledged and ignored; `customer/deleted` "
            "is always ignored (outbound delete is not supported)."
        ),
        openapi_extra={
            "parameters": _HEADER_PARAMETERS,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/WebhookEvent"}}
                },
            },
        },
        responses={
            400: _refusal("the body is not JSON"),
            401: _refusal(
                "a signature header is missing or malformed, no signature matches, the "
                f"timestamp is more than {tolerance} minutes off, or only the old "
                "X-Klaviyo-Sync-Signature header was sent"
            ),
            413: _refusal(f"the body is over {MAX_WEBHOOK_BYTES} bytes"),
            422: _refusal("unknown event, or a customer the engine would refuse"),
            503: _refusal("no webhook secret is configured, or the store is unavailable"),
        },
    )
    async def receive_customer_event(request: Request) -> WebhookReceipt:
        return await receiver.receive(request)

    return router
