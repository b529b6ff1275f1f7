"""Flat rows (CSV, SQL) become nested customers by one conversion."""

from __future__ import annotations

from typing import Any

import pytest

from klaviyo_sync.exceptions import InvalidRecordError
from klaviyo_sync.sources import customer_from_flat, record_from_flat
from klaviyo_sync.sources._flat import near_misses

BILLING = {
    "BillingAddress1": "1 Main St",
    "BillingAddress2": "Apt 2",
    "BillingCity": "Zürich",
    "BillingRegion": "ZH",
    "BillingPostalCode": "8001",
    "BillingCountry": "CH",
    "BillingPhoneNumber": "044 668 18 00",
}


def test_billing_and_shipping_columns_become_primary_addresses() -> None:
    row = {"Id": "1", **BILLING, "ShippingCity": "Bern", "ShippingAddress1": ""}
    customer = customer_from_flat(row)
    billing, shipping = customer.addresses
    assert billing.is_primary_billing
    assert not billing.is_primary_shipping
    assert (billing.address1, billing.address2, billing.city, billing.region) == (
        "1 Main St",
        "Apt 2",
        "Zürich",
        "ZH",
    )
    assert (billing.postal_code, billing.country, billing.phone_number) == (
        "8001",
        "CH",
        "044 668 18 00",
    )
    assert shipping.is_primary_shipping
    assert not shipping.is_primary_billing
    assert (shipping.city, shipping.address1) == ("Bern", None)
    assert customer.primary_billing is billing


def test_no_address_when_every_address_cell_is_empty() -> None:
    row = {"Id": "1", **dict.fromkeys(BILLING, ""), "ShippingCity": None}
    assert customer_from_flat(row).addresses == ()
    assert "Addresses" not in record_from_flat(row)


def test_empty_cells_are_missing_values_not_empty_strings() -> None:
    customer = customer_from_flat({"Id": "1", "EmailAddress": "", "Phone": None, "Note": ""})
    assert customer.email is None
    assert customer.phone is None
    assert customer.raw["Note"] is None


def test_custom_field_columns_and_unknown_columns() -> None:
    row = {
        "Id": "1",
        "CustomFields.SubscribeProfile": "true",
        "CustomFields.LIST_Sms Subscribers": "false",
        "CustomFields.Empty": "",
        "Segment": "vip",
    }
    customer = customer_from_flat(row)
    assert customer.custom_fields == {
        "SubscribeProfile": "true",
        "LIST_Sms Subscribers": "false",
        "Empty": None,
    }
    assert customer.raw["Segment"] == "vip"
    assert "CustomFields.SubscribeProfile" not in customer.raw


@pytest.mark.parametrize("given", ['{"Tier": "gold", "Points": 3}', {"Tier": "gold", "Points": 3}])
def test_a_custom_fields_column_of_json_text_or_a_dict(given: Any) -> None:
    customer = customer_from_flat({"Id": 1, "CustomFields": given, "CustomFields.Tier": "silver"})
    # The named column wins over the same key in the CustomFields object.
    assert customer.custom_fields == {"Tier": "silver", "Points": 3}


def test_an_addresses_column_comes_before_the_billing_columns() -> None:
    row = {"Id": 1, "Addresses": '[{"City": "Oslo", "IsPrimaryBilling": true}]', "BillingCity": "X"}
    customer = customer_from_flat(row)
    assert [a.city for a in customer.addresses] == ["Oslo", "X"]
    assert customer.primary_billing is not None
    assert customer.primary_billing.city == "Oslo"


def test_a_billing_like_column_that_is_not_an_address_part_is_kept() -> None:
    customer = customer_from_flat({"Id": 1, "BillingTerms": "net 30"})
    assert customer.addresses == ()
    assert customer.raw["BillingTerms"] == "net 30"


@pytest.mark.parametrize(
    ("row", "reason", "customer_id"),
    [
        ({"Id": "7", "CustomFields": "{nope"}, "CustomFields is not valid JSON", "7"),
        ({"Id": 8, "Addresses": "[1,"}, "Addresses is not valid JSON", "8"),
        ({"Id": "9", "CustomFields": "[1]"}, "CustomFields must be an object", "9"),
        ({"Id": "", "EmailAddress": "a@b.c"}, "missing Id", None),
        ({"EmailAddress": "a@b.c"}, "missing Id", None),
        ({"Id": "10", "Addresses": "{}"}, "Addresses must be a list", "10"),
    ],
)
def test_bad_rows_raise_with_where_and_id(
    row: dict[str, Any], reason: str, customer_id: str | None
) -> None:
    with pytest.raises(InvalidRecordError) as caught:
        customer_from_flat(row, where="x.csv:4")
    assert caught.value.reason.startswith(reason)
    assert caught.value.where == "x.csv:4"
    assert caught.value.customer_id == customer_id


def test_near_misses_name_the_known_column_a_header_most_likely_means() -> None:
    header = [
        "Id",
        "email",
        "E-Mail Address",
        "PHONE",
        "first_name",
        "Surname",
        "Comapny",
        "zip",
        "billing_city",
        "ShippingZip",
        "customfields.Tier",
        "CustomFields.Tier",
        "EmailAddress",
    ]
    assert near_misses(header) == [
        ("email", "EmailAddress"),
        ("E-Mail Address", "EmailAddress"),
        ("PHONE", "Phone"),
        ("first_name", "FirstName"),
        ("Surname", "LastName"),
        ("Comapny", "Company"),
        ("zip", "BillingPostalCode"),
        ("billing_city", "BillingCity"),
        ("ShippingZip", "ShippingPostalCode"),
        ("customfields.Tier", "CustomFields.Tier"),
    ]


def test_columns_unlike_any_known_one_are_left_alone() -> None:
    unknown = ["LoyaltyPoints", "Tier", "Shipping", "Billing", "Name", "Status", "Notes", "uid"]
    assert near_misses(unknown) == []
