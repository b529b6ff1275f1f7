"""Customers already in memory: webhook events, tests."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any

from ._base import Item, StreamSource, to_customer

__all__ = ["RecordsSource"]


class RecordsSource(StreamSource):
    """Customers from decoded JSON records; positions are ``<name>:record N`` (1-based).

    The records are kept (a generator is read once, up front), so the source can be iterated
    again and ``get`` can look a customer up by ``Id``.
    """

    def __init__(self, records: Iterable[Any], *, name: str = "records") -> None:
        self.name = name
        self._records = tuple(records)

    def __len__(self) -> int:
        return len(self._records)

    def _read(self) -> Generator[Item, None, None]:
        for number, record in enumerate(self._records, start=1):
            yield to_customer(record, f"{self.name}:record {number}")
