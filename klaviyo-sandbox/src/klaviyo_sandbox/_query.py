"""Query parameters: page size, cursors (bare or inside a whole next URL), sparse fieldsets."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from ._errors import invalid
from ._filters import Condition, allow, parse_filter

__all__ = ["Page", "Query", "decode_cursor", "encode_cursor"]

_CURSOR_KEY = "page[cursor]"
_SIZE_KEY = "page[size]"


_CURSOR_TAG = "sbx1:"  # lets a cursor from elsewhere fail loudly instead of paging oddly


def encode_cursor(position: str) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_TAG}{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (ValueError, binascii.Error, UnicodeError):
        text = ""
    if not text.startswith(_CURSOR_TAG):
        raise invalid("The page cursor is not valid.", parameter=_CURSOR_KEY)
    return text.removeprefix(_CURSOR_TAG)


@dataclass(slots=True)
class Page:
    size: int
    after: str | None
    """decoded cursor position: the last item of the previous page"""


class Query:
    """Decoded query parameters (first value wins for a repeated key)."""

    __slots__ = ("params",)

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.params: dict[str, str] = {}
        for key, value in pairs:
            self.params.setdefault(key, value)

    @classmethod
    def from_string(cls, query: str) -> Query:
        return cls(parse_qsl(query, keep_blank_values=True))

    def get(self, key: str) -> str | None:
        return self.params.get(key)

    def page(self, *, default: int = 20, maximum: int = 100) -> Page:
        raw_size = self.params.get(_SIZE_KEY)
        size = default
        if raw_size is not None:
            try:
                size = int(raw_size.strip())
            except ValueError:
                size = 0
            if not 1 <= size <= maximum:
                raise invalid(
                    f"page[size] must be an integer between 1 and {maximum}.", parameter=_SIZE_KEY
                )
        cursor = self.cursor()
        return Page(size, None if cursor is None else decode_cursor(cursor))

    def cursor(self) -> str | None:
        raw = self.params.get(_CURSOR_KEY)
        if raw is None or raw == "":
            return None
        # Klaviyo's SDK sometimes passes a whole next URL as the cursor, or one with a
        # stray leading "=": take what a tolerant server would.
        if "://" in raw or "?" in raw:
            inner = dict(parse_qsl(urlsplit(raw).query, keep_blank_values=True))
            raw = inner.get(_CURSOR_KEY, "")
            if not raw:
                raise invalid("The page cursor URL holds no page[cursor].", parameter=_CURSOR_KEY)
        return raw.lstrip("=") or None

    def filters(self, supported: Mapping[str, frozenset[str]]) -> list[Condition]:
        text = self.params.get("filter")
        if text is None or not text.strip():
            return []
        return allow(parse_filter(text), supported)

    def csv(self, key: str, allowed: Collection[str] | None = None) -> list[str] | None:
        raw = self.params.get(key)
        if raw is None:
            return None
        items = [item.strip() for item in raw.split(",") if item.strip()]
        if allowed is not None:
            for item in items:
                if item not in allowed:
                    raise invalid(f"{item!r} is not a valid value for {key}.", parameter=key)
        return items

    def next_url(self, base: str, path: str, position: str) -> str:
        params = dict(self.params)
        params[_CURSOR_KEY] = encode_cursor(position)
        return f"{base}{path}?{urlencode(params)}"
