"""Scrub details before they are written: no API key, and only values JSON can hold."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ..storable import escape

__all__ = ["redact", "scrub_text", "storable_text"]

# Header-like names compared after lower-casing and turning "-" into "_".
_SECRET_KEYS = frozenset(
    {"authorization", "proxy_authorization", "api_key", "apikey", "x_api_key", "klaviyo_api_key"}
)
# Klaviyo's Authorization header value, should one end up inside a message or a body.
_KEY_IN_TEXT = re.compile(r"(Klaviyo-API-Key)\s+\S+", re.IGNORECASE)
REDACTED = "Klaviyo-API-Key [redacted]"


def redact(detail: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``detail`` without secrets, holding only JSON values.

    Drops every key named like an auth header (``Authorization``, ``api_key``, ``api-key``,
    ``X-Api-Key``… in any case, at any depth, also as ``[name, value]`` header pairs), replaces
    ``Klaviyo-API-Key <key>`` inside strings, and turns values JSON cannot hold into strings, so
    writing a failure never fails because of what its detail carries.
    """
    return {str(k): _clean(v) for k, v in detail.items() if not is_secret_key(k)}


def scrub_text(text: str) -> str:
    """``text`` with any ``Klaviyo-API-Key <key>`` replaced."""
    return _KEY_IN_TEXT.sub(REDACTED, text)


def storable_text(text: str) -> str:
    """``scrub_text``, with any NUL or unpaired surrogate escaped (``storable.escape``): for the
    error log's text columns, where one such character would fail the batch's transaction.
    Customers holding one are refused as they are read; this keeps a message that quotes
    something else (a file name, Klaviyo's answer) from doing it."""
    return escape(scrub_text(text))


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and key.strip().lower().replace("-", "_") in _SECRET_KEYS


def _clean(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        # JSON has no NaN or Infinity and PostgreSQL's json refuses them: kept as their names.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value if not _is_secret_pair(v)]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return scrub_text(str(value))


def _is_secret_pair(value: Any) -> bool:
    """A header as a ``(name, value)`` pair, the shape httpx and ASGI use for header lists."""
    return isinstance(value, list | tuple) and len(value) == 2 and is_secret_key(value[0])
