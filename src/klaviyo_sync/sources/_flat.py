"""Flat records (CSV rows, SQL rows) as customers: one conversion for both.

Columns, by name (case-sensitive):

- ``Id``, ``EmailAddress``, ``FirstName``, ``LastName``, ``Company``, ``Phone``: as in a
  JSON customer.
- ``BillingAddress1``, ``BillingAddress2``, ``BillingCity``, ``BillingRegion``,
  ``BillingPostalCode``, ``BillingCountry``, ``BillingPhoneNumber``: the primary billing
  address, one ``Addresses`` entry with ``IsPrimaryBilling`` true, made only when at least one
  of these cells has a value.
- ``ShippingAddress1`` … ``ShippingPhoneNumber``: likewise, an entry with ``IsPrimaryShipping``
  true, after the billing one.
- ``CustomFields.<Name>``: the custom field ``<Name>``.
- ``CustomFields``: an object of custom fields, as JSON text or (from a JSON column) a dict;
  ``CustomFields.<Name>`` columns win over its keys.
- ``Addresses``: a list of addresses, as JSON text or a list; the Billing/Shipping entries
  are added after it.
- Any other column is kept as an unknown key of the customer (``Customer.raw``).

An empty cell (``""``) or SQL ``NULL`` is a missing value (``None``), never an empty string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..customer import Customer, readable_id
from ..exceptions import InvalidRecordError

__all__ = ["customer_from_flat", "record_from_flat"]

ADDRESS_PARTS = ("Address1", "Address2", "City", "Region", "PostalCode", "Country", "PhoneNumber")
ADDRESS_KINDS = {"Billing": "IsPrimaryBilling", "Shipping": "IsPrimaryShipping"}
CUSTOM_PREFIX = "CustomFields."


def customer_from_flat(row: Mapping[str, Any], *, where: str | None = None) -> Customer:
    """A customer from one flat row; raises ``InvalidRecordError`` saying what is wrong."""
    return Customer.from_record(record_from_flat(row, where=where), where=where)


def record_from_flat(row: Mapping[str, Any], *, where: str | None = None) -> dict[str, Any]:
    """The nested customer record (``Addresses``, ``CustomFields``) a flat row stands for."""
    record: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    addresses: dict[str, dict[str, Any]] = {kind: {} for kind in ADDRESS_KINDS}
    for column, cell in row.items():
        value = None if cell == "" else cell
        address_part = _address_column(column)
        if column.startswith(CUSTOM_PREFIX):
            custom[column.removeprefix(CUSTOM_PREFIX)] = value
        elif address_part is not None:
            if value is not None:
                kind, part = address_part
                addresses[kind][part] = value
        else:
            record[column] = value
    try:
        _nest_custom_fields(record, custom)
        _nest_addresses(record, addresses)
    except _CellError as err:
        raise InvalidRecordError(
            str(err), where=where, customer_id=readable_id(record.get("Id"))
        ) from None
    return record


class _CellError(ValueError):
    pass


def _address_column(column: str) -> tuple[str, str] | None:
    for kind in ADDRESS_KINDS:
        part = column.removeprefix(kind)
        if part != column and part in ADDRESS_PARTS:
            return kind, part
    return None


def _nest_custom_fields(record: dict[str, Any], custom: dict[str, Any]) -> None:
    given = _json_cell(record.pop("CustomFields", None), "CustomFields")
    if given is None and not custom:
        return
    if given is not None and not isinstance(given, Mapping):
        # Leave it for Customer.from_record, which names the wrong type.
        record["CustomFields"] = given
        return
    record["CustomFields"] = {**(given or {}), **custom}


def _nest_addresses(record: dict[str, Any], addresses: dict[str, dict[str, Any]]) -> None:
    given = _json_cell(record.pop("Addresses", None), "Addresses")
    flat = [{**parts, ADDRESS_KINDS[kind]: True} for kind, parts in addresses.items() if parts]
    if given is None and not flat:
        return
    if given is not None and not isinstance(given, list):
        record["Addresses"] = given
        return
    record["Addresses"] = [*(given or []), *flat]


def _json_cell(value: Any, column: str) -> Any:
    """A cell that holds JSON text is decoded; anything else (a dict from a JSON column) is kept."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError) as err:
        raise _CellError(f"{column} is not valid JSON: {err}") from None
