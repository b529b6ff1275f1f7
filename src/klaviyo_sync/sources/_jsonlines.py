"""JSON Lines: one customer object per line, read line by line."""

from __future__ import annotations

import json
import math
from collections.abc import Generator
from typing import Any

from ..exceptions import InvalidRecordError
from ._base import FileSource, Item, to_customer

__all__ = ["JSONLinesSource"]

_BOM = b"\xef\xbb\xbf"


class JSONLinesSource(FileSource):
    """Customers from a ``.jsonl``/``.ndjson`` file; positions are ``path:line`` (1-based).

    Blank lines are skipped. A line that is not UTF-8, not JSON or not a customer becomes an
    ``InvalidRecordError`` for that line and reading goes on with the next.
    """

    def _read(self) -> Generator[Item, None, None]:
        with self._open() as lines:
            for number, line in enumerate(lines, start=1):
                if number == 1:
                    line = line.removeprefix(_BOM)
                if not line.strip():
                    continue
                where = f"{self.name}:{number}"
                try:
                    value = _parse_line(line)
                except InvalidRecordError as err:
                    yield InvalidRecordError(err.reason, where=where)
                    continue
                yield to_customer(value, where, screened=_screened(line))


def _screened(line: bytes) -> bool:
    """Whether the line's text alone shows that its record holds nothing a store cannot keep.

    Strict JSON refuses raw control characters and the line is decoded as strict UTF-8, so only
    a ``\\u0000`` or ``\\ud…`` escape can put a NUL or an unpaired surrogate into the parsed
    record (``_parse_line`` refuses NaN and overflowing numbers). Most lines have no escape at
    all: one memchr instead of a pass over the record, for every customer.
    """
    if b"\\" not in line:
        return True
    return b"\\u0000" not in line and b"\\ud" not in line and b"\\uD" not in line


def _parse_line(line: bytes) -> Any:
    """One line's JSON value; raises InvalidRecordError with the reason it cannot be read."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidRecordError(f"not UTF-8 text: {err.reason} at byte {err.start + 1}") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as err:
        raise InvalidRecordError(f"invalid JSON: {err.msg} at column {err.colno}") from None
    except (ValueError, RecursionError) as err:
        # Python-only extensions (NaN), integers too long to convert, absurd nesting.
        raise InvalidRecordError(f"invalid JSON: {err}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    # Python reads 1e400 as inf, which JSON, and so the store, cannot hold.
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text:.40} is too large to keep (the largest is ~1.8e308)")
    return value
