"""Shared customers and helpers for the source tests."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import pytest

from klaviyo_sync.customer import Customer
from klaviyo_sync.exceptions import InvalidRecordError

#: A customer with every part filled in, unicode text and numbers where text is expected.
FULL: dict[str, Any] = {
    "Id": 55260,
    "EmailAddress": "zoë@example.com",
    "FirstName": "Zoë",
    "LastName": "Ørsted-Łukasz",
    "Company": "Café 株式会社",
    "Phone": 5551234567,
    "Addresses": [
        {"Address1": "2 Side St", "City": "Springfield", "IsPrimaryShipping": True},
        {
            "Address1": "1-1 Chiyoda",
            "Address2": "Suite 5",
            "City": "東京",
            "Region": "Tōkyō",
            "PostalCode": "100-0001",
            "Country": "JP",
            "PhoneNumber": "+81 3 1234 5678",
            "IsPrimaryBilling": True,
        },
    ],
    "CustomFields": {"SubscribeProfile": True, "LIST_Sms Subscribers": "true", "Tier": "gold"},
    "LoyaltyPoints": 1200,
}

SECOND: dict[str, Any] = {"Id": "C-2", "EmailAddress": "ann@example.com", "FirstName": "Ann"}


def assert_full(customer: Customer | InvalidRecordError | None) -> None:
    """``customer`` is FULL, read back whole."""
    assert isinstance(customer, Customer), customer
    assert customer.id == "55260"
    assert customer.email == "zoë@example.com"
    assert (customer.first_name, customer.last_name) == ("Zoë", "Ørsted-Łukasz")
    assert customer.company == "Café 株式会社"
    assert customer.phone == "5551234567"
    billing = customer.primary_billing
    assert billing is not None
    assert (billing.address1, billing.address2, billing.city) == ("1-1 Chiyoda", "Suite 5", "東京")
    assert (billing.region, billing.postal_code, billing.country) == ("Tōkyō", "100-0001", "JP")
    assert billing.phone_number == "+81 3 1234 5678"
    assert [a.is_primary_shipping for a in customer.addresses] == [True, False]
    assert customer.custom_fields == FULL["CustomFields"]
    assert customer.raw["LoyaltyPoints"] == 1200


def errors(items: Iterable[Customer | InvalidRecordError]) -> list[tuple[str | None, str]]:
    """(where, reason) of each error among ``items``."""
    return [(i.where, i.reason) for i in items if isinstance(i, InvalidRecordError)]


def ids(items: Iterable[Customer | InvalidRecordError]) -> list[str]:
    return [i.id for i in items if isinstance(i, Customer)]


def write_jsonl(path: Path, records: Iterable[Any]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


class CountingReader(io.RawIOBase):
    """A raw file that counts the bytes handed out, to prove a source reads only what it needs."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 -- closed in close()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._file.readinto(buffer) or 0
        self.bytes_read += count
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


class CountingOpener:
    """An opener for sources that remembers the readers it made."""

    def __init__(self) -> None:
        self.readers: list[CountingReader] = []

    def __call__(self, path: Path) -> IO[bytes]:
        reader = CountingReader(path)
        self.readers.append(reader)
        return io.BufferedReader(reader)


@pytest.fixture
def counting_opener() -> CountingOpener:
    return CountingOpener()
