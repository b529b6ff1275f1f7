"""Checks a request body the way Klaviyo does: JSON:API shape first, then field values.

Shape errors (wrong type, a string where an object belongs) are always answered at once.
Value errors (a malformed email, a phone number that is not a valid E.164 number, no
identifier) are answered at once by the single-profile endpoints (or, for an invalid phone
beside another identifier, dropped), and by bulk import jobs either for every bad row at submit
or per row when imported, so the two kinds live in separate functions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from ._errors import ApiError, invalid

__all__ = [
    "IDENTIFIERS",
    "LOCATION_FIELDS",
    "PHONE_DETAIL",
    "STRING_FIELDS",
    "PropertyPatch",
    "check_profile_values",
    "child",
    "loads_strict",
    "normalize_phone",
    "parse_json",
    "parse_profile_attributes",
    "parse_property_patch",
    "require_array",
    "require_identifier",
    "require_object",
    "require_resource",
    "valid_email",
]

IDENTIFIERS = ("email", "phone_number", "external_id")
STRING_FIELDS = (
    *IDENTIFIERS,
    "first_name",
    "last_name",
    "organization",
    "locale",
    "title",
    "image",
)
LOCATION_FIELDS = (
    "address1",
    "address2",
    "city",
    "country",
    "latitude",
    "longitude",
    "region",
    "zip",
    "timezone",
    "ip",
)
_NUMERIC_LOCATION = frozenset({"latitude", "longitude"})

_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
PHONE_DETAIL = "Invalid phone number format (Example of a valid format: +12345678901)"


def child(pointer: str, key: str | int) -> str:
    """A JSON pointer one level down, escaped as RFC 6901 asks."""
    token = str(key).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{token}"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400 parses to inf, which no JSON answer could carry back
        raise ValueError(f"{text[:40]} is out of range")
    return value


def loads_strict(raw: bytes | str) -> Any:
    """JSON as a client may send it, minus what no JSON answer could echo (NaN, inf)."""
    return json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)


def parse_json(raw: bytes) -> Any:
    """The parsed body; malformed JSON is a 400 like any other invalid input."""
    if not raw.strip():
        raise invalid(
            "The request body is empty; a JSON:API document is required.", pointer="/data"
        )
    try:
        return loads_strict(raw)
    except (ValueError, RecursionError) as err:
        detail = f"The request body is not valid JSON: {str(err)[:200]}"
        raise invalid(detail, pointer="/data") from None


def require_object(value: Any, pointer: str, what: str = "value") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"The {what} at {pointer or '/'} must be an object.", pointer=pointer)
    return value


def require_array(value: Any, pointer: str, what: str = "value") -> list[Any]:
    if not isinstance(value, list):
        raise invalid(f"The {what} at {pointer} must be an array.", pointer=pointer)
    return value


def require_resource(
    document: Any,
    expected_type: str,
    *,
    pointer: str = "/data",
    attributes: bool = True,
) -> dict[str, Any]:
    """``document[data]`` (or the object at ``pointer``) as a resource of ``expected_type``."""
    if pointer == "/data":
        body = require_object(document, "", "request body")
        if "data" not in body:
            raise invalid("'data' is a required property.", pointer="/data")
        data = require_object(body["data"], "/data", "primary data")
    else:
        data = require_object(document, pointer, "resource")
    kind = data.get("type")
    if kind != expected_type:
        shown = json.dumps(kind)[:80] if "type" in data else "missing"
        raise invalid(
            f"The resource type must be '{expected_type}' (got {shown}).",
            pointer=child(pointer, "type"),
        )
    if attributes:
        if "attributes" not in data:
            raise invalid(
                "'attributes' is a required property.", pointer=child(pointer, "attributes")
            )
        require_object(data["attributes"], child(pointer, "attributes"), "attributes")
    return data


def _string_or_null(value: Any, pointer: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise invalid(f"Expected a string or null at {pointer}.", pointer=pointer)


def _location(value: Any, pointer: str) -> dict[str, Any] | None:
    if value is None:
        return None
    location = require_object(value, pointer, "location")
    clean: dict[str, Any] = {}
    for key, item in location.items():
        where = child(pointer, key)
        if key not in LOCATION_FIELDS:
            raise invalid(f"'{key}' is not a valid location field.", pointer=where)
        numeric = isinstance(item, int | float) and not isinstance(item, bool)
        if key in _NUMERIC_LOCATION and numeric:
            clean[key] = item
        else:
            clean[key] = _string_or_null(item, where)
    return clean


def parse_profile_attributes(raw: Any, pointer: str, *, allow_kx: bool = False) -> dict[str, Any]:
    """Profile attributes with their shapes checked; a key maps to ``None`` to clear it."""
    attributes = require_object(raw, pointer, "attributes")
    clean: dict[str, Any] = {}
    for key, value in attributes.items():
        where = child(pointer, key)
        if key in STRING_FIELDS:
            clean[key] = _string_or_null(value, where)
        elif key == "location":
            clean[key] = _location(value, where)
        elif key == "properties":
            clean[key] = None if value is None else require_object(value, where, "properties")
        elif key == "_kx" and allow_kx:
            _string_or_null(value, where)  # an anonymous tracking id: accepted, not kept
        else:
            raise invalid(
                f"'{key}' is not a valid field for the resource 'profile'.", pointer=where
            )
    return clean


def valid_email(value: str) -> bool:
    return len(value) <= 254 and _EMAIL.match(value) is not None


def normalize_phone(value: str) -> str | None:
    """E.164 form of a number Klaviyo would accept: ``+`` and a *valid* number; else None."""
    text = value.strip()
    if not text.startswith("+"):
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_profile_values(
    attributes: dict[str, Any],
    pointer: str,
    *,
    drop_invalid_phone: bool = False,
    has_id: bool = False,
) -> tuple[str, ...]:
    """Validate email and phone values in place, storing the phone in E.164 form.

    With ``drop_invalid_phone``, an invalid phone beside another identifier (a valid email, an
    external id, or ``has_id``) is removed instead of refused; the fields removed are returned.
    """
    email = attributes.get("email")
    if email is not None:
        email = email.strip()
        if not valid_email(email):
            raise invalid(
                f"Invalid email address: {email[:100]!r}.", pointer=child(pointer, "email")
            )
        attributes["email"] = email
    phone = attributes.get("phone_number")
    if phone is None:
        return ()
    normalized = normalize_phone(phone)
    if normalized is not None:
        attributes["phone_number"] = normalized
        return ()
    others = has_id or any(attributes.get(name) for name in ("email", "external_id"))
    if drop_invalid_phone and others:
        del attributes["phone_number"]
        return ("phone_number",)
    raise invalid(PHONE_DETAIL, pointer=child(pointer, "phone_number"))


def require_identifier(current: Mapping[str, Any], pointer: str) -> None:
    if not any(current.get(name) for name in IDENTIFIERS):
        raise invalid("One or more identifiers is required", pointer=pointer)


@dataclass(slots=True)
class PropertyPatch:
    """``meta.patch_properties``: edits to custom properties beyond a plain merge."""

    append: dict[str, Any] = field(default_factory=dict)
    unappend: dict[str, Any] = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)


def parse_property_patch(meta: Any, pointer: str) -> PropertyPatch | None:
    if meta is None:
        return None
    body = require_object(meta, pointer, "meta")
    for key, value in body.items():
        # The spec's own example sends "patch_identifiers": null, which asks for nothing.
        if key == "patch_identifiers" and value is None:
            continue
        if key != "patch_properties":
            detail = f"'{key}' in meta is not emulated by the sandbox."
            if key != "patch_identifiers":
                detail = f"'{key}' is not a valid meta field."
            raise ApiError(400, "invalid", detail, pointer=child(pointer, key))
    raw = body.get("patch_properties")
    if raw is None:
        return None
    where = child(pointer, "patch_properties")
    patch_body = require_object(raw, where, "patch_properties")
    patch = PropertyPatch()
    for key, value in patch_body.items():
        at = child(where, key)
        if key in ("append", "unappend"):
            values = {} if value is None else require_object(value, at, key)
            setattr(patch, key, dict(values))
        elif key == "unset":
            patch.unset = _unset_keys(value, at)
        else:
            raise invalid(f"'{key}' is not a valid patch_properties operation.", pointer=at)
    return patch


def _unset_keys(value: Any, pointer: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise invalid("'unset' must be a string or a list of strings.", pointer=pointer)
