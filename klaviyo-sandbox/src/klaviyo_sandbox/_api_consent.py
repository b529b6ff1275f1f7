"""Handlers for the subscribe and unsubscribe jobs (202, no body; applied at once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ._errors import invalid
from ._routing import Context, Reply, partial_failure
from ._sandbox import SubscriptionRequest
from ._validation import (
    PHONE_DETAIL,
    child,
    normalize_phone,
    require_array,
    require_object,
    require_resource,
    valid_email,
)

__all__ = ["bulk_subscribe_profiles", "bulk_unsubscribe_profiles"]

_PROFILES = "/data/attributes/profiles/data"
_CHANNEL_FIELD = {"email": "email", "sms": "phone_number"}
# Channels Klaviyo accepts that the sandbox does not model; refusing beats pretending.
_NOT_EMULATED = {"whatsapp", "push", "mobile_push"}


def _datetime(value: Any, pointer: str) -> float:
    if not isinstance(value, str):
        raise invalid("consented_at must be an ISO 8601 datetime string.", pointer=pointer)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid("consented_at must be an ISO 8601 datetime.", pointer=pointer) from None
    if parsed.tzinfo is None:
        raise invalid("consented_at needs a timezone offset.", pointer=pointer)
    return parsed.timestamp()


def _channels(
    raw: Any, pointer: str, consent: str, *, historical: bool, now: float
) -> dict[str, float | None]:
    subscriptions = require_object(raw, pointer, "subscriptions")
    channels: dict[str, float | None] = {}
    for channel, body in subscriptions.items():
        where = child(pointer, channel)
        if channel not in _CHANNEL_FIELD:
            detail = f"The {channel!r} channel is not emulated by the sandbox."
            if channel not in _NOT_EMULATED:
                detail = f"{channel!r} is not a subscription channel."
            raise invalid(detail, pointer=where)
        for key, value in require_object(body, where, channel).items():
            if key != "marketing":
                raise invalid(
                    f"{channel}.{key} is not emulated by the sandbox.", pointer=child(where, key)
                )
            channels[channel] = _marketing(value, child(where, key), consent, historical, now)
    if not channels:
        raise invalid("At least one subscription channel is required.", pointer=pointer)
    return channels


def _marketing(raw: Any, pointer: str, consent: str, historical: bool, now: float) -> float | None:
    body = require_object(raw, pointer, "marketing")
    if body.get("consent") != consent:
        raise invalid(f"consent must be {consent!r}.", pointer=child(pointer, "consent"))
    unknown = set(body) - {"consent", "consented_at"}
    if unknown:
        name = sorted(unknown)[0]
        raise invalid(f"'{name}' is not a valid field here.", pointer=child(pointer, name))
    at = child(pointer, "consented_at")
    raw_at = body.get("consented_at")
    if not historical:
        if raw_at is not None:
            raise invalid("consented_at is only allowed with historical_import: true.", pointer=at)
        return None
    if raw_at is None:
        raise invalid("consented_at is required with historical_import: true.", pointer=at)
    moment = _datetime(raw_at, at)
    if moment > now:
        raise invalid("consented_at must be in the past.", pointer=at)
    return moment


def _text(attributes: dict[str, Any], key: str, pointer: str) -> str | None:
    value = attributes.get(key)
    if value is not None and not isinstance(value, str):
        raise invalid(f"{key} must be a string.", pointer=child(pointer, key))
    return value


def _email(attributes: dict[str, Any], pointer: str) -> str | None:
    value = _text(attributes, "email", pointer)
    if value is None:
        return None
    if not valid_email(value.strip()):
        where = child(pointer, "email")
        raise invalid(f"Invalid email address: {value[:100]!r}.", pointer=where)
    return value.strip()


def _phone(attributes: dict[str, Any], pointer: str, *, droppable: bool) -> str | None:
    """The phone in E.164 form; an invalid one is a 400 unless it may be dropped (None)."""
    value = _text(attributes, "phone_number", pointer)
    if value is None:
        return None
    phone = normalize_phone(value)
    if phone is None and not droppable:
        raise invalid(PHONE_DETAIL, pointer=child(pointer, "phone_number"))
    return phone


def _request(
    raw: Any,
    index: int,
    consent: str,
    *,
    historical: bool,
    now: float,
    allow_id: bool,
    drop_invalid_phone: bool = False,
) -> SubscriptionRequest:
    pointer = child(_PROFILES, index)
    data = require_resource(raw, "profile", pointer=pointer)
    attributes = data["attributes"]
    where = child(pointer, "attributes")
    for key in attributes:
        if key not in ("email", "phone_number", "subscriptions", "age_gated_date_of_birth"):
            raise invalid(f"'{key}' is not a valid field here.", pointer=child(where, key))
    if "subscriptions" not in attributes:
        raise invalid(
            "'subscriptions' is a required property.", pointer=child(where, "subscriptions")
        )
    profile_id = data.get("id") if allow_id else None
    if profile_id is not None and not isinstance(profile_id, str):
        raise invalid("A profile id must be a string.", pointer=child(pointer, "id"))
    email = _email(attributes, where)
    droppable = drop_invalid_phone and (email is not None or profile_id is not None)
    phone = _phone(attributes, where, droppable=droppable)
    channels = _channels(
        attributes["subscriptions"],
        child(where, "subscriptions"),
        consent,
        historical=historical,
        now=now,
    )
    dropped: tuple[str, ...] = ()
    if phone is None and attributes.get("phone_number") is not None:
        # The invalid phone is ignored and the request goes on by the email (or id): SMS
        # consent for that number has nothing to land on.
        dropped = ("phone_number",)
        channels.pop("sms", None)
    request = SubscriptionRequest(email, phone, profile_id, channels, pointer, dropped)
    for channel, field in _CHANNEL_FIELD.items():
        if channel in request.channels and getattr(request, field) is None and profile_id is None:
            raise invalid(
                f"{field} is required to change {channel} consent.", pointer=child(where, field)
            )
    return request


def _job(
    ctx: Context, kind: str, limit: int, allowed: frozenset[str]
) -> tuple[dict[str, Any], list[Any], str | None]:
    data = require_resource(ctx.body, kind)
    for key in data["attributes"]:
        if key not in allowed:
            raise invalid(
                f"'{key}' is not a valid field here.", pointer=child("/data/attributes", key)
            )
    pointer = "/data/attributes/profiles"
    profiles = require_object(data["attributes"].get("profiles"), pointer, "profiles")
    rows = require_array(profiles.get("data"), _PROFILES, "profiles")
    if not 1 <= len(rows) <= limit:
        raise invalid(f"Between 1 and {limit} profiles are allowed per job.", pointer=_PROFILES)
    return data, rows, _list_id(data)


def _list_id(data: dict[str, Any]) -> str | None:
    relationships = data.get("relationships")
    if relationships is None:
        return None
    pointer = "/data/relationships"
    body = require_object(relationships, pointer, "relationships").get("list")
    if body is None:
        return None
    link = require_object(body, f"{pointer}/list", "list relationship")
    item = require_resource(
        link.get("data"), "list", pointer=f"{pointer}/list/data", attributes=False
    )
    if not isinstance(item.get("id"), str):
        raise invalid("A list id must be a string.", pointer=f"{pointer}/list/data/id")
    return str(item["id"])


def bulk_subscribe_profiles(ctx: Context) -> Reply:
    data, rows, list_id = _job(
        ctx,
        "profile-subscription-bulk-create-job",
        1000,
        frozenset({"profiles", "historical_import", "custom_source"}),
    )
    attributes = data["attributes"]
    historical = attributes.get("historical_import")
    if historical is not None and not isinstance(historical, bool):
        raise invalid(
            "historical_import must be a boolean.", pointer="/data/attributes/historical_import"
        )
    source = attributes.get("custom_source")
    if source is not None and not isinstance(source, str):
        raise invalid("custom_source must be a string.", pointer="/data/attributes/custom_source")
    now = ctx.sandbox.clock.now()
    drop = ctx.sandbox.behaviour.invalid_phone == "drop"
    requests = [
        _request(
            raw,
            i,
            "SUBSCRIBED",
            historical=bool(historical),
            now=now,
            allow_id=True,
            drop_invalid_phone=drop,
        )
        for i, raw in enumerate(rows)
    ]
    ctx.sandbox.subscribe(
        requests, list_id=list_id, historical_import=bool(historical), custom_source=source
    )
    dropped = sorted({name for request in requests for name in request.dropped})
    return Reply(202, headers=partial_failure(dropped))


def bulk_unsubscribe_profiles(ctx: Context) -> Reply:
    _, rows, list_id = _job(
        ctx, "profile-subscription-bulk-delete-job", 100, frozenset({"profiles"})
    )
    now = ctx.sandbox.clock.now()
    requests = [
        _request(raw, i, "UNSUBSCRIBED", historical=False, now=now, allow_id=False)
        for i, raw in enumerate(rows)
    ]
    ctx.sandbox.unsubscribe(requests, list_id=list_id)
    return Reply(202)
