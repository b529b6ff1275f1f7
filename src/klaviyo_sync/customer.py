"""The customer: a source record with the seed's iPaaS.com field names.

A customer arrives as JSON-like data (``Id``, ``EmailAddress``, ``FirstName``, ``LastName``,
``Company``, ``Phone``, ``Addresses[]``, ``CustomFields{}``). ``Customer.from_record`` checks the
types of the known fields and keeps every key, known or not, in ``raw`` so formulas can reach
fields this model does not name.

A record holding, anywhere (keys too), what no store can keep (a NUL character, an unpaired
surrogate, NaN: see ``storable``) is refused as it is read, naming the field, so it fails alone
instead of stopping the batch it would be written with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .exceptions import InvalidRecordError
from .storable import escape, find_unstorable, is_storable

__all__ = ["Address", "Customer", "readable_id"]

_TEXT_FIELDS = ("EmailAddress", "FirstName", "LastName", "Company", "Phone")
_ADDRESS_TEXT = ("Address1", "Address2", "City", "Region", "PostalCode", "Country", "PhoneNumber")
_ADDRESS_FLAGS = ("IsPrimaryBilling", "IsPrimaryShipping")


@dataclass(slots=True, frozen=True)
class Address:
    """One entry of a customer's ``Addresses``."""

    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    phone_number: str | None = None
    is_primary_billing: bool = False
    is_primary_shipping: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Customer:
    """A validated source customer. ``raw`` is the record as received."""

    id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    phone: str | None = None
    addresses: tuple[Address, ...] = ()
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def primary_billing(self) -> Address | None:
        """The first address flagged as primary billing; the seed reads the address from it."""
        return next((a for a in self.addresses if a.is_primary_billing), None)

    @classmethod
    def from_record(
        cls, record: Any, *, where: str | None = None, screened: bool = False
    ) -> Customer:
        """Build a customer from decoded JSON, or raise InvalidRecordError saying what is wrong.

        ``screened``: the caller has ruled out what no store can keep (the JSON Lines source
        does, from the line's text, more cheaply than the pass over the record made here).
        """
        if not isinstance(record, Mapping):
            raise InvalidRecordError(
                f"a customer must be an object, got {_type_name(record)}", where=where
            )
        if not screened and not is_storable(record):
            raise _unstorable(record, where)
        customer_id = _customer_id(record.get("Id"), where)
        try:
            text = {name: _text(record.get(name), name) for name in _TEXT_FIELDS}
            addresses = _addresses(record.get("Addresses"))
            custom = _custom_fields(record.get("CustomFields"))
        except _FieldError as err:
            raise InvalidRecordError(str(err), where=where, customer_id=customer_id) from None
        return cls(
            id=customer_id,
            email=text["EmailAddress"],
            first_name=text["FirstName"],
            last_name=text["LastName"],
            company=text["Company"],
            phone=text["Phone"],
            addresses=addresses,
            custom_fields=custom,
            raw=dict(record),
        )


def readable_id(value: Any) -> str | None:
    """The customer id a record carries, if it has a usable one, for error reports: as text a
    store can keep (``storable.escape``), so even a failure about an id holding a NUL is logged.
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return escape(str(value).strip()) or None


class _FieldError(ValueError):
    pass


def _unstorable(record: Mapping[str, Any], where: str | None) -> InvalidRecordError:
    # Every field is refused rather than cleaned: each may be sent to Klaviyo (by a mapping row
    # or a formula) and is kept with the failure or in the queue, and quietly changing a value
    # bound for the system of record is what this tool must not do. These characters are also
    # a broken export's mark (a C string's end, a UTF-16 text cut in half): worth seeing.
    problem = find_unstorable(record)
    reason = str(problem) if problem else "holds text or a number that no store can keep"
    raw_id = record.get("Id")
    customer_id = readable_id(raw_id)
    if isinstance(raw_id, str) and customer_id is not None and customer_id != raw_id.strip():
        reason += f"; this failure is logged under Id '{customer_id}', the Id with it escaped"
    return InvalidRecordError(reason, where=where, customer_id=customer_id)


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _customer_id(value: Any, where: str | None) -> str:
    # bool is an int subclass, but True is no customer id.
    if isinstance(value, bool) or not isinstance(value, str | int):
        if value is None:
            raise InvalidRecordError("missing Id", where=where)
        raise InvalidRecordError(
            f"Id must be a string or a whole number, got {_type_name(value)}", where=where
        )
    text = str(value).strip()
    if not text:
        raise InvalidRecordError("Id is empty", where=where)
    return text


def _text(value: Any, name: str) -> str | None:
    """Strings as given; numbers (a phone read as a number) as their digits; null stays None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    raise _FieldError(f"{name} must be text, got {_type_name(value)}")


def _flag(value: Any, name: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", ""}:
        return value.strip().lower() in {"true", "1"}
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _FieldError(f"{name} must be true or false, got {value!r:.40}")


def _addresses(value: Any) -> tuple[Address, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _FieldError(f"Addresses must be a list, got {_type_name(value)}")
    result = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise _FieldError(f"Addresses[{index}] must be an object, got {_type_name(item)}")
        text = {n: _text(item.get(n), f"Addresses[{index}].{n}") for n in _ADDRESS_TEXT}
        flags = {n: _flag(item.get(n), f"Addresses[{index}].{n}") for n in _ADDRESS_FLAGS}
        result.append(
            Address(
                address1=text["Address1"],
                address2=text["Address2"],
                city=text["City"],
                region=text["Region"],
                postal_code=text["PostalCode"],
                country=text["Country"],
                phone_number=text["PhoneNumber"],
                is_primary_billing=flags["IsPrimaryBilling"],
                is_primary_shipping=flags["IsPrimaryShipping"],
                raw=dict(item),
            )
        )
    return tuple(result)


def _custom_fields(value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _FieldError(
            f"CustomFields must be an object of name to value, got {_type_name(value)}"
        )
    return dict(value)
