"""A deterministic generator of realistic customers in the seed's iPaaS.com shape.

``customer(i, version)`` is a pure function of the seed, the customer's index and the data
version, so a file of a million customers can be written line by line (nothing is kept in
memory), and a later version of the same customers changes exactly the ones it should:

- version 0: the initial data;
- version 1: 10% of the customers changed (a new company and loyalty tier);
- version 2: every customer changed.

``write_customers(..., invalid_email_every=1000)`` writes the same customers with one in a
thousand given an email Klaviyo refuses (the benchmark's refused-job scenario).

The mix, per customer (drawn from a hash of the index, so it is the same in every run):

====================================  =====  =========================================
what                                  share  why it matters
====================================  =====  =========================================
no email, phone only                    6%   matched by phone; Klaviyo's identifier
no email, no usable phone               1%   fails ``no_identifier`` before any request
phone present                          65%   US, GB, DE and CA formats, spaces, dots
bad phone (un-normalizable)             2%   omitted with a note, never sent as null
bad phone (possible, not valid)       0.5%   sent; Klaviyo rejects it: ``phone_rejected``
no billing address                     20%   no address fields sent (some have shipping)
already in Klaviyo (same email)         4%   matched by email before import
already in Klaviyo (same phone only)    1%   matched by phone before import
custom fields                          70%   ``CustomFields`` values, some mapped
unicode names and cities               15%   José, Zoë, Łukasz, 李, Søren, Ærøskøbing
====================================  =====  =========================================
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Mix", "customer", "existing_profiles", "invalid_email", "write_customers"]

_FIRST = ("Ada", "Grace", "Alan", "Katherine", "Linus", "Barbara", "Edsger", "Margaret", "Ken")
_FIRST_UNICODE = ("José", "Zoë", "Łukasz", "李", "Søren", "Chloé", "Jürgen", "Ngọc", "Siobhán")
_LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Liskov", "Dijkstra", "Kernighan")
_LAST_UNICODE = ("Núñez", "Müller", "Wiśniewski", "王", "Ørsted", "Dvořák", "Ó Briain", "Nguyễn")
_COMPANIES = ("Analytical Engines Ltd", "Harvard Mark I", "Bletchley Park", "NASA", "", "")
_DOMAINS = ("example.com", "example.org", "mail.example.net", "example.co.uk")
_TIERS = ("bronze", "silver", "gold", "platinum")
_US_AREAS = (212, 312, 415, 617, 646, 702, 713, 805, 917, 206)


@dataclass(slots=True, frozen=True)
class Mix:
    """Shares of each kind of customer, in parts per thousand."""

    phone_only: int = 60
    no_identifier: int = 10
    phone: int = 650
    bad_phone: int = 20
    rejected_phone: int = 5
    no_billing: int = 200
    existing_email: int = 40
    existing_phone: int = 10
    custom_fields: int = 700
    unicode: int = 150


MIX = Mix()


def _draw(seed: int, i: int, salt: str) -> int:
    """A stable number in 0..999 for customer ``i``: the same in every run and process."""
    digest = hashlib.blake2b(f"{seed}:{i}:{salt}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % 1000


def _pick(options: tuple[str, ...], seed: int, i: int, salt: str) -> str:
    return options[_draw(seed, i, salt) % len(options)]


def _us_phone(i: int) -> tuple[str, str]:
    """A valid, unique US number for customer ``i``, as a person would type it, and E.164."""
    area = _US_AREAS[i % len(_US_AREAS)]
    exchange = 200 + (i // len(_US_AREAS)) // 10_000 % 700
    line = (i // len(_US_AREAS)) % 10_000
    e164 = f"+1{area}{exchange}{line:04d}"
    styles = (
        f"({area}) {exchange}-{line:04d}",
        f"{area}.{exchange}.{line:04d}",
        f"+1 {area} {exchange} {line:04d}",
        f"{area}{exchange}{line:04d}",
    )
    return styles[i % len(styles)], e164


def _address(seed: int, i: int, unicode: bool) -> dict[str, Any]:
    where = _draw(seed, i, "country")
    if where < 800:
        city, region, postal, country = "San Francisco", "CA", f"94{i % 1000:03d}", "US"
    elif where < 900:
        city, region, postal, country = "London", "", f"EC1A {i % 10}BB", "GB"
    elif where < 950:
        city, region, postal, country = "Toronto", "ON", "M5V 2T6", "CA"
    else:
        city, region, postal, country = "Berlin", "", f"10{i % 1000:03d}", "DE"
    if unicode and country == "US":
        city = "San José"
    elif unicode:
        city = "Ærøskøbing"
    address: dict[str, Any] = {
        "Address1": f"{1 + i % 9999} Market Street",
        "City": city,
        "Region": region,
        "PostalCode": postal,
        "Country": country,
        "IsPrimaryBilling": True,
    }
    if i % 3 == 0:
        address["Address2"] = f"Suite {i % 500}"
    return address


def _phone(seed: int, i: int, abroad: bool) -> str | None:
    draw = _draw(seed, i, "phone")
    if draw < MIX.rejected_phone:
        return f"(555) 010-{i % 10_000:04d}"  # the right length, but no such US number
    if draw < MIX.rejected_phone + MIX.bad_phone:
        return ("555 0100", "12-34", "call me", "n/a")[i % 4]  # cannot be normalized
    if draw < MIX.phone:
        return _typed(i, abroad)
    return None


def _typed(i: int, abroad: bool) -> str:
    """Customer ``i``'s valid US number as typed: billed abroad, it needs its country code to
    be read as a US number."""
    typed, e164 = _us_phone(i)
    return f"+1 {e164[2:5]} {e164[5:8]} {e164[8:]}" if abroad else typed


def customer(i: int, version: int = 0, *, seed: int = 1) -> dict[str, Any]:
    """Customer number ``i`` (0-based) at data ``version`` (0, 1: 10% changed, 2: all)."""
    unicode = _draw(seed, i, "unicode") < MIX.unicode
    first = _pick(_FIRST_UNICODE if unicode else _FIRST, seed, i, "first")
    last = _pick(_LAST_UNICODE if unicode else _LAST, seed, i, "last")
    kind = _draw(seed, i, "kind")
    record: dict[str, Any] = {"Id": 100_000 + i, "FirstName": first, "LastName": last}
    if kind >= MIX.phone_only + MIX.no_identifier:
        local = f"customer.{i}" if i % 7 else f"Customer.{i}"  # some mixed case
        record["EmailAddress"] = f"{local}@{_pick(_DOMAINS, seed, i, 'domain')}"
    addresses = []
    if _draw(seed, i, "billing") >= MIX.no_billing:
        addresses.append(_address(seed, i, unicode))
    elif i % 2:
        addresses.append({"Address1": "1 Shipping Lane", "City": "Oakland", "Country": "US"})
    abroad = any(a.get("IsPrimaryBilling") and a["Country"] != "US" for a in addresses)
    if kind < MIX.phone_only:
        record["Phone"] = _typed(i, abroad)
    elif kind < MIX.phone_only + MIX.no_identifier:
        record["Phone"] = "n/a"
    else:
        phone = _phone(seed, i, abroad)
        if phone is not None:
            record["Phone"] = phone
    company = _pick(_COMPANIES, seed, i, "company")
    if company:
        record["Company"] = company
    if addresses:
        record["Addresses"] = addresses
    if _draw(seed, i, "custom") < MIX.custom_fields:
        record["CustomFields"] = {
            "LoyaltyTier": _pick(_TIERS, seed, i, "tier"),
            "CustomerSince": f"20{10 + i % 15:02d}-0{1 + i % 9}-1{i % 10}",
            "Newsletter": "yes" if i % 2 else "no",
        }
    if changed(i, version, seed=seed):
        record["Company"] = f"{company or 'Independent'} (v{version})"
        record.setdefault("CustomFields", {})["LoyaltyTier"] = f"{_TIERS[i % 4]} v{version}"
    return record


def changed(i: int, version: int, *, seed: int = 1) -> bool:
    """Whether ``version`` changes customer ``i`` compared with version 0."""
    if version == 0:
        return False
    if version == 1:
        return _draw(seed, i, "changed") < 100
    return True


def existing_profiles(n: int, *, seed: int = 1) -> Iterator[dict[str, Any]]:
    """Profiles already in Klaviyo before the first sync: a share of the customers signed up
    some other way (same email, or same phone and no email on file), with fields the
    collections do not map, which a sync must leave alone."""
    for i in range(n):
        record = customer(i, seed=seed)
        draw = _draw(seed, i, "existing")
        attributes: dict[str, Any] = {"title": "Signed up in store", "first_name": "Old"}
        if draw < MIX.existing_email and "EmailAddress" in record:
            attributes["email"] = str(record["EmailAddress"]).lower()
        elif draw < MIX.existing_email + MIX.existing_phone and _has_valid_phone(record, i):
            attributes["phone_number"] = _us_phone(i)[1]
        else:
            continue
        yield attributes


def _has_valid_phone(record: dict[str, Any], i: int) -> bool:
    return record.get("Phone") in (_typed(i, False), _typed(i, True))


def write_customers(
    path: Path, n: int, version: int = 0, *, seed: int = 1, invalid_email_every: int = 0
) -> Path:
    """Write ``n`` customers as JSON Lines, one at a time; with ``invalid_email_every`` (say
    1,000), one customer in that many has an email Klaviyo refuses, the rest as usual."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            record = customer(i, version, seed=seed)
            if invalid_email_every and i % invalid_email_every == invalid_email_every // 2:
                record["EmailAddress"] = invalid_email(i)
            out.write(json.dumps(record, ensure_ascii=False))
            out.write("\n")
    return path


def invalid_email(i: int) -> str:
    """An address with no ``@``: mapped and sent as it is, refused by Klaviyo as invalid."""
    return f"customer.{i} at example.com"
