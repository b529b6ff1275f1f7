"""Reading a webhook event from its (already authenticated) body, and deciding its fate.

Pure functions: no store, no HTTP. A refusal is an ``EventRejected`` that also carries what
could be read of the event, so the receiver can record it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..config import Trigger
from ..customer import Customer
from ..exceptions import InvalidRecordError
from ..storable import escape
from ._errors import WebError

__all__ = [
    "DELETE_REASON",
    "EVENTS",
    "Decision",
    "EventName",
    "EventRejected",
    "ParsedEvent",
    "decide",
    "parse_event",
]

EventName = Literal["customer/created", "customer/updated", "customer/deleted"]

# event name → the trigger that enables it (None: never transferred)
EVENTS: dict[EventName, Trigger | None] = {
    "customer/created": "created",
    "customer/updated": "updated",
    "customer/deleted": None,
}
DELETE_REASON = "outbound delete is not supported; remove the profile in Klaviyo"
_EXPECTED = ", ".join(EVENTS)
_UNKNOWN = "unknown"
_RECORDED_NAME_LIMIT = 100


class EventRejected(WebError):
    """The body was signed but is not an event we can take; ``event`` and ``customer_id`` are
    what could be read of it, for the event log."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        event: str = _UNKNOWN,
        customer_id: str | None = None,
    ) -> None:
        super().__init__(status, code, message)
        self.event = event
        self.customer_id = customer_id


@dataclass(slots=True, frozen=True)
class ParsedEvent:
    event: EventName
    customer: Customer
    record: Mapping[str, Any]
    """the customer as received, as the queue stores it"""


@dataclass(slots=True, frozen=True)
class Decision:
    status: Literal["queued", "ignored"]
    reason: str | None = None


def parse_event(body: bytes) -> ParsedEvent:
    """Decode and check an event; raise EventRejected (400 or 422) saying what is wrong.

    A customer holding what no store can keep (a NUL, an unpaired surrogate: ``storable``) is
    a 422 naming the field, never queued: sent again it would fail the same way. What is
    recorded of a refusal (its event name, the customer id) is escaped so it can be.
    """
    data = _decode(body)
    if not isinstance(data, dict):
        raise EventRejected(
            422,
            "invalid_event",
            f"the body must be a JSON object with event and customer, got {_kind(data)}",
        )
    event = _event_name(data.get("event"))
    record = data.get("customer")
    if record is None:
        raise EventRejected(
            422, "invalid_customer", "missing customer: send it as a JSON object", event=event
        )
    try:
        customer = Customer.from_record(record, where="customer")
    except InvalidRecordError as err:
        raise EventRejected(
            422, "invalid_customer", str(err), event=event, customer_id=err.customer_id
        ) from None
    return ParsedEvent(event, customer, record)


def decide(event: ParsedEvent, triggers: frozenset[Trigger]) -> Decision:
    """Queue a created/updated event whose trigger is enabled; ignore everything else."""
    trigger = EVENTS[event.event]
    if trigger is None:
        return Decision("ignored", DELETE_REASON)
    if trigger not in triggers:
        return Decision("ignored", f"trigger '{trigger}' is not enabled (KLAVIYO_SYNC_TRIGGERS)")
    return Decision("queued")


def _decode(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise EventRejected(
            400, "invalid_json", f"the body is not UTF-8 text (byte {err.start})"
        ) from None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        message = f"the body is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        raise EventRejected(400, "invalid_json", message) from None
    except ValueError as err:
        raise EventRejected(400, "invalid_json", f"the body is not valid JSON: {err}") from None
    except RecursionError:
        raise EventRejected(400, "invalid_json", "the body's JSON is nested too deeply") from None


def _no_constant(name: str) -> Any:
    # Python would read NaN and Infinity; JSON has neither.
    raise ValueError(f"{name} is not a JSON value")


def _event_name(value: Any) -> EventName:
    if isinstance(value, str) and value in EVENTS:
        return value
    if value is None:
        raise EventRejected(422, "invalid_event", f"missing event: expected one of {_EXPECTED}")
    # Escaped: the event log keeps the name, and a NUL in it would fail to be stored.
    recorded = escape(value[:_RECORDED_NAME_LIMIT]) if isinstance(value, str) else _UNKNOWN
    raise EventRejected(
        422,
        "invalid_event",
        f"unknown event {value!r:.80}: expected one of {_EXPECTED}",
        event=recorded,
    )


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
