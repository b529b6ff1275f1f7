"""Customers and collections for the mapping tests."""

from __future__ import annotations

from typing import Any

from klaviyo_sync.customer import Customer
from klaviyo_sync.draft import Draft
from klaviyo_sync.mapping import (
    Collection,
    MappingRow,
    PhoneSettings,
    compile_collection,
    default_collections,
)

FULL_RECORD: dict[str, Any] = {
    "Id": 55260,
    "EmailAddress": "ada@example.com",
    "FirstName": "Ada",
    "LastName": "Lovelace",
    "Company": "Analytical Engines Ltd",
    "Phone": "(020) 7946-0958",
    "Addresses": [
        {
            "Address1": "9 Ship Street",
            "City": "Brighton",
            "Country": "GB",
            "IsPrimaryShipping": True,
        },
        {
            "Address1": "12 St James's Square",
            "Address2": "Flat 3",
            "City": "London",
            "Region": "Greater London",
            "PostalCode": "SW1Y 4JH",
            "Country": "GB",
            "PhoneNumber": "+44 20 7946 0000",
            "IsPrimaryBilling": True,
        },
        {"Address1": "Second billing", "City": "Leeds", "IsPrimaryBilling": True},
    ],
    "CustomFields": {"Newsletter": "yes", "Tier": "gold", "Points": 120},
    "Loyalty": {"Since": 2019},
}


def customer(**fields: Any) -> Customer:
    """A full customer with ``fields`` replaced; a value of ``...`` removes the key."""
    record = {**FULL_RECORD, **fields}
    return Customer.from_record({k: v for k, v in record.items() if v is not ...})


def bare(**fields: Any) -> Customer:
    """A customer with nothing but an Id and ``fields``."""
    return Customer.from_record({"Id": "c-1", **fields})


def rows(*specs: tuple[Any, ...]) -> Collection:
    """An ``add`` collection from (destination, kind, source[, when_empty]) tuples."""
    return Collection("add", tuple(MappingRow(*spec) for spec in specs))


def draft(
    collection: Collection,
    who: Customer,
    *,
    profile_id: str | None = None,
    phone: PhoneSettings | None = None,
) -> Draft:
    compiled = compile_collection(collection, phone=phone or PhoneSettings())
    return compiled.draft(who, profile_id=profile_id)


def template(name: str = "add") -> Collection:
    collections = default_collections()
    return collections.add if name == "add" else collections.update
