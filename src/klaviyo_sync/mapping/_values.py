"""What counts as empty, and how a mapped value becomes something a draft may hold.

Every value a row produces (a static value, a field read from the record, a formula's result)
passes through one of the coercions here before it reaches a draft. They return ``None`` for an
empty value, so the caller decides between *absent* and *clear* in one place; a value that no
coercion can use raises ``Unusable`` with a reason the caller turns into a FormulaError.
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Undefined

__all__ = [
    "Unusable",
    "describe",
    "is_empty",
    "lookup_path",
    "parse_path",
    "to_bool",
    "to_json",
    "to_text",
]

_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


class Unusable(ValueError):
    """A non-empty value that the destination cannot take (a list for an email, "maybe"...)."""


def describe(value: Any) -> str:
    """A short, human description of a value for error messages (never the whole value)."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the text {_clip(value)!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, types.GeneratorType):
        return "a generator (add |list to the formula)"
    if callable(value):
        return "a function (call it, or use a filter instead of a method)"
    return f"a value of type {type(value).__name__}"


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_empty(value: Any) -> bool:
    """None, undefined, blank text and empty lists or objects are empty; 0 and false are not."""
    kind = type(value)
    if kind is str:  # the common case first: this runs for every row of every customer
        return not value.strip()
    if kind is dict or kind is list:
        return not value
    if value is None or isinstance(value, Undefined):
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, Mapping | list | tuple):
        return len(value) == 0
    return False


def to_text(value: Any) -> str | None:
    """Text for a profile attribute or location field; numbers are written as their digits."""
    if type(value) is str:
        return value.strip() or None
    if is_empty(value):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        # A zip code or phone read as a JSON number (12345.0) must not become "12345.0".
        return str(int(value)) if value.is_integer() else repr(value)
    raise Unusable(f"expected text, got {describe(value)}")


def to_bool(value: Any) -> bool | None:
    """true/false, yes/no, 1/0 in any case; anything else is unusable, not silently false."""
    if is_empty(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise Unusable(f"expected true or false, got {describe(value)}")


def to_json(value: Any) -> Any:
    """A custom property value: JSON types kept, text stripped, nulls inside lists and
    objects dropped (a property must never smuggle a ``null`` into the payload)."""
    if is_empty(value):
        return None
    if isinstance(value, str):
        return value.strip()
    result = _json(value)
    return None if is_empty(result) else result


def _json(value: Any) -> Any:
    if isinstance(value, str):
        # str() turns a Markup or other str subclass from a formula into plain text.
        return str(value)
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unusable(f"expected a finite number, got {value!r}")
        return value
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Unusable(f"object keys must be text, got {describe(key)}")
            if item is not None and not isinstance(item, Undefined):
                result[key] = _json(item)
        return result
    if isinstance(value, list | tuple):
        return [_json(v) for v in value if v is not None and not isinstance(v, Undefined)]
    raise Unusable(f"expected a JSON value, got {describe(value)}")


def parse_path(path: str) -> tuple[str, ...]:
    """``Addresses.0.City`` → ``("Addresses", "0", "City")``; ValueError on an empty part."""
    parts = tuple(part.strip() for part in path.split("."))
    if not all(parts):
        raise ValueError(f"field path {path!r} has an empty part (write it like Addresses.0.City)")
    return parts


def lookup_path(record: Any, path: Sequence[str]) -> Any:
    """The value at ``path`` in ``record``, or None when any step is missing."""
    current = record
    for part in path:
        if type(current) is dict or isinstance(current, Mapping):
            if part not in current:
                return None
            current = current[part]
        elif isinstance(current, list | tuple) and _is_index(part):
            index = int(part)
            if index >= len(current):
                return None
            current = current[index]
        else:
            return None
    return current


def _is_index(part: str) -> bool:
    return part.isascii() and part.isdigit()
