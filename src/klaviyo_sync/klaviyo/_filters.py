"""Klaviyo filter expressions (``equals(email,"a@b.c")``, ``any(id,["1","2"])``).

Klaviyo documents neither an escape character nor what happens to a quote inside a quoted
value. Strings are written in double quotes with ``\\`` and ``"`` backslash-escaped, the common
convention and the one our sandbox parses; field names are checked so that no value can break
out of the expression.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import date, datetime

__all__ = [
    "MAX_FILTER_CHARS",
    "FilterValue",
    "any_of",
    "any_of_chunks",
    "equals",
    "value_chunks",
]

# URLs past a few KB are refused by proxies and by httpx itself; Klaviyo documents no limit.
MAX_FILTER_CHARS = 4000

FilterValue = str | int | float | bool | datetime | date

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def equals(field: str, value: FilterValue) -> str:
    """``equals(field,value)`` with the value quoted for Klaviyo."""
    return f"equals({_field(field)},{_literal(value)})"


def any_of(field: str, values: Iterable[FilterValue]) -> str:
    """``any(field,[v1,v2,…])``; an empty list is refused because Klaviyo rejects it."""
    literals = [_literal(v) for v in values]
    if not literals:
        raise ValueError(f"any_of({field!r}, …) needs at least one value")
    return f"any({_field(field)},[{','.join(literals)}])"


def any_of_chunks(field: str, values: Iterable[str], *, max_values: int) -> list[str]:
    """``any(field,[…])`` filters covering ``values``, each with at most ``max_values`` values
    and ``MAX_FILTER_CHARS`` characters. A value too long to fit even alone is left out: no
    real email or phone number is that long, so no profile can hold it."""
    return [any_of(field, chunk) for chunk in value_chunks(field, values, max_values=max_values)]


def value_chunks(field: str, values: Iterable[str], *, max_values: int) -> list[list[str]]:
    """The values of each filter ``any_of_chunks`` makes, in order: one request's worth each."""
    head = len(f"any({_field(field)},[])")
    chunks: list[list[str]] = []
    chunk: list[str] = []
    size = head
    for value in values:
        literal = _literal(value)
        if head + len(literal) > MAX_FILTER_CHARS:
            continue
        added = len(literal) + (1 if chunk else 0)
        if chunk and (len(chunk) >= max_values or size + added > MAX_FILTER_CHARS):
            chunks.append(chunk)
            chunk, size, added = [], head, len(literal)
        chunk.append(value)
        size += added
    if chunk:
        chunks.append(chunk)
    return chunks


def _field(field: str) -> str:
    if not _FIELD.fullmatch(field):
        raise ValueError(f"not a filterable field name: {field!r}")
    return field


def _literal(value: FilterValue) -> str:
    # bool before int: True is an int too.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"cannot filter on {value!r}")
        return repr(value)
    if isinstance(value, datetime | date):
        # Klaviyo wants datetimes bare; a quoted datetime is compared as a string.
        return value.isoformat()
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"cannot use {type(value).__name__} in a Klaviyo filter")
