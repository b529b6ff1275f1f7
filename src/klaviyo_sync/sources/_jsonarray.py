"""A JSON array of customers, streamed element by element with ijson."""

from __future__ import annotations

from collections.abc import Generator
from decimal import Decimal
from typing import IO, Any

import ijson

from ..exceptions import ConfigError, InvalidRecordError
from ._base import Cut, FileSource, Item, to_customer

__all__ = ["JSONArraySource"]

_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"
_CHUNK = 64 * 1024
_FOUND = {
    b"{": "an object",
    b'"': "a string",
    b"t": "a boolean",
    b"f": "a boolean",
    b"n": "null",
}


class JSONArraySource(FileSource):
    """Customers from a ``.json`` file holding one array; positions are ``path:item N`` (1-based).

    The array is never loaded whole. A syntax error ends the stream with one
    ``InvalidRecordError`` at the item where it happened, since nothing after it can be parsed.
    An empty file holds no customers; a file whose top level is not an array raises
    ``ConfigError`` when read.
    """

    def _read(self) -> Generator[Item, None, None]:
        with self._open() as file:
            head = _first_value(file)
            if not head:
                return
            if not head.startswith(b"["):
                found = _FOUND.get(head[:1], "a number" if head[:1] in b"-0123456789" else "")
                raise ConfigError(
                    f"{self.name}: expected a JSON array of customers, found "
                    f"{found or 'text that is not JSON'}; a file of one object per line "
                    "needs the .jsonl suffix"
                )
            count = 0
            try:
                # Decimals, not use_float: ijson's C parser stops the whole file at a number
                # past a float's range (1e400), where a Decimal lets that one customer fail.
                for value in ijson.items(_Prepended(head, file), "item"):
                    count += 1
                    yield to_customer(_floats(value), f"{self.name}:item {count}")
            except ijson.JSONError as err:
                yield Cut(
                    InvalidRecordError(
                        f"invalid JSON: {_first_line(err)}; the rest of the file cannot be read",
                        where=f"{self.name}:item {count + 1}",
                    )
                )


def _floats(value: Any) -> Any:
    """``value`` with each Decimal ijson made a float, as ``json.loads`` gives (1e400: inf,
    which the customer check then refuses, for that customer alone)."""
    kind = type(value)
    if kind is Decimal:
        return float(value)
    if kind is dict:
        for key, item in value.items():
            if type(item) in _NESTED:
                value[key] = _floats(item)
        return value
    if kind is list:
        return [_floats(item) if type(item) in _NESTED else item for item in value]
    return value


_NESTED = frozenset({Decimal, dict, list})


def _first_value(file: IO[bytes]) -> bytes:
    """The file's bytes from its first non-whitespace one (BOM dropped); empty at end of file."""
    head = file.read(_CHUNK).removeprefix(_BOM)
    while head:
        stripped = head.lstrip(_WHITESPACE)
        if stripped:
            return stripped
        head = file.read(_CHUNK)
    return b""


def _first_line(err: Exception) -> str:
    """ijson's message without the multi-line excerpt it draws (the C backend gives bytes)."""
    message = err.args[0] if err.args else ""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    lines = str(message).strip().splitlines()
    return lines[0] if lines else type(err).__name__


class _Prepended:
    """A file that first gives back the bytes already read from it."""

    def __init__(self, head: bytes, file: IO[bytes]) -> None:
        self._head = head
        self._file = file

    def read(self, size: int = -1) -> bytes:
        # ijson first reads 0 bytes to learn whether the file is text or binary.
        if self._head and size != 0:
            head, self._head = self._head, b""
            return head
        return self._file.read(size)
