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

import difflib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from ..customer import Customer, readable_id
from ..exceptions import InvalidRecordError

__all__ = ["KNOWN_COLUMNS", "customer_from_flat", "near_misses", "record_from_flat"]

ADDRESS_PARTS = ("Address1", "Address2", "City", "Region", "PostalCode", "Country", "PhoneNumber")
ADDRESS_KINDS = {"Billing": "IsPrimaryBilling", "Shipping": "IsPrimaryShipping"}
CUSTOM_PREFIX = "CustomFields."
KNOWN_COLUMNS: Final = (
    "Id",
    "EmailAddress",
    "FirstName",
    "LastName",
    "Company",
    "Phone",
    *(kind + part for kind in ADDRESS_KINDS for part in ADDRESS_PARTS),
    "CustomFields",
    "Addresses",
)
# Other names people give the known columns, compared without case or separators.
_ALIASES: Final = {
    "email": "EmailAddress",
    "mail": "EmailAddress",
    "emailaddr": "EmailAddress",
    "phonenumber": "Phone",
    "mobile": "Phone",
    "telephone": "Phone",
    "tel": "Phone",
    "firstname": "FirstName",
    "givenname": "FirstName",
    "surname": "LastName",
    "familyname": "LastName",
    "organization": "Company",
    "organisation": "Company",
    "customerid": "Id",
}
_PART_ALIASES: Final = {
    "address": "Address1",
    "street": "Address1",
    "zip": "PostalCode",
    "zipcode": "PostalCode",
    "postcode": "PostalCode",
    "state": "Region",
    "province": "Region",
    "phone": "PhoneNumber",
}


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


def near_misses(columns: Iterable[str]) -> list[tuple[str, str]]:
    """``(column, known column)`` for each column that is not a known one but is most likely
    meant to be: the same but for case or separators (``email_address``), a common other name
    (``email``, ``zip`` → ``BillingPostalCode``), or a close spelling. Such a column is legal (it
    is kept on the customer for formulas) but is not read as the field it looks like, so
    ``email`` alone leaves every customer without an email address."""
    candidates = {_plain(known): known for known in KNOWN_COLUMNS}
    candidates.update((alias, known) for alias, known in _ALIASES.items())
    for kind in ADDRESS_KINDS:
        for alias, part in _PART_ALIASES.items():
            candidates.setdefault(_plain(kind + alias), kind + part)
    for alias, part in _PART_ALIASES.items():
        candidates.setdefault(alias, "Billing" + part)
    for part in ADDRESS_PARTS:
        candidates.setdefault(_plain(part), "Billing" + part)
    spelled = {_plain(known): known for known in KNOWN_COLUMNS}
    spelled.update(_ALIASES)
    found: list[tuple[str, str]] = []
    for column in columns:
        if column in KNOWN_COLUMNS or column.startswith(CUSTOM_PREFIX):
            continue
        if column.casefold().startswith(CUSTOM_PREFIX.casefold()):
            found.append((column, CUSTOM_PREFIX + column[len(CUSTOM_PREFIX) :]))
            continue
        match = _near(_plain(column), candidates, spelled)
        if match is not None:
            found.append((column, match))
    return found


def _near(plain: str, candidates: Mapping[str, str], spelled: Mapping[str, str]) -> str | None:
    """The known column ``plain`` stands for: by another name, by two letters swapped
    (``emial``), or by a close spelling of a column or name (not of a composed one, such as
    ``shippingzip``, which would take ``Shipping`` for ``ShippingPostalCode``)."""
    if plain in candidates:
        return candidates[plain]
    if len(plain) < 4:
        return None
    for name, known in spelled.items():
        if len(name) == len(plain) and sorted(name) == sorted(plain):
            return known
    close = difflib.get_close_matches(plain, list(spelled), n=1, cutoff=0.85)
    return spelled[close[0]] if close else None


def _plain(name: str) -> str:
    return "".join(c for c in name.casefold() if c.isalnum())


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
