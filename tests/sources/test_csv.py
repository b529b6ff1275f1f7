"""CSV: flat columns, one customer a row, each bad row reported at its line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from klaviyo_sync.customer import Customer
from klaviyo_sync.exceptions import ConfigError, InvalidRecordError
from klaviyo_sync.sources import CSVSource

from .conftest import errors, ids

HEADER = [
    "Id",
    "EmailAddress",
    "FirstName",
    "LastName",
    "Company",
    "Phone",
    "ShippingAddress1",
    "ShippingCity",
    "BillingAddress1",
    "BillingAddress2",
    "BillingCity",
    "BillingRegion",
    "BillingPostalCode",
    "BillingCountry",
    "BillingPhoneNumber",
    "CustomFields.SubscribeProfile",
    "CustomFields.LIST_Sms Subscribers",
    "CustomFields.Tier",
    "LoyaltyPoints",
]
FULL_ROW = [
    "55260",
    "zoë@example.com",
    "Zoë",
    "Ørsted-Łukasz",
    "Café 株式会社",
    "5551234567",
    "2 Side St",
    "Springfield",
    "1-1 Chiyoda",
    "Suite 5",
    "東京",
    "Tōkyō",
    "100-0001",
    "JP",
    "+81 3 1234 5678",
    "true",
    "true",
    "gold",
    "1200",
]


def write(path: Path, rows: list[list[str]], *, bom: bool = False) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_reads_a_full_customer(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", [HEADER, FULL_ROW], bom=True)
    [customer] = list(CSVSource(path))
    assert isinstance(customer, Customer)
    assert customer.id == "55260"
    assert customer.email == "zoë@example.com"
    assert (customer.first_name, customer.last_name) == ("Zoë", "Ørsted-Łukasz")
    assert (customer.company, customer.phone) == ("Café 株式会社", "5551234567")
    billing, shipping = customer.addresses
    assert customer.primary_billing is billing
    assert (billing.address1, billing.address2, billing.city) == ("1-1 Chiyoda", "Suite 5", "東京")
    assert (billing.region, billing.postal_code, billing.country) == ("Tōkyō", "100-0001", "JP")
    assert billing.phone_number == "+81 3 1234 5678"
    assert (shipping.address1, shipping.city) == ("2 Side St", "Springfield")
    assert shipping.is_primary_shipping
    assert not shipping.is_primary_billing
    # CSV cells are text: flags and numbers arrive as text for the mappings to read.
    assert customer.custom_fields == {
        "SubscribeProfile": "true",
        "LIST_Sms Subscribers": "true",
        "Tier": "gold",
    }
    assert customer.raw["LoyaltyPoints"] == "1200"


def test_empty_cells_are_missing_and_a_row_without_billing_cells_has_no_address(
    tmp_path: Path,
) -> None:
    row = ["7", "", "Ann", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""]
    [customer] = list(CSVSource(write(tmp_path / "c.csv", [HEADER, row])))
    assert isinstance(customer, Customer)
    assert customer.email is None
    assert customer.phone is None
    assert customer.addresses == ()
    assert customer.custom_fields == {
        "SubscribeProfile": None,
        "LIST_Sms Subscribers": None,
        "Tier": None,
    }


def test_bad_rows_are_reported_at_their_line_and_the_rest_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(
        b"Id,EmailAddress,CustomFields\n"  # 1
        b"1,a@example.com,\n"  # 2
        b"2,too,many,cells\n"  # 3
        b"\n"  # 4: blank, skipped
        b",nobody@example.com,\n"  # 5: no Id
        b'3,"multi\nline",\n'  # 6-7
        b"4,short\n"  # 8
        b'5,b@example.com,"{bad json"\n'  # 9
        b"6,\xff@example.com,\n"  # 10: not UTF-8
        b'7,"bad"quote,\n'  # 11
        b"8,c@example.com,\n"  # 12
    )
    items = list(CSVSource(path))
    assert ids(items) == ["1", "3", "8"]
    assert errors(items) == [
        (f"{path}:3", "expected 3 cells as in the header, got 4"),
        (f"{path}:5", "missing Id"),
        (f"{path}:8", "expected 3 cells as in the header, got 2"),
        (
            f"{path}:9",
            "CustomFields is not valid JSON: Expecting property name enclosed in "
            "double quotes: line 1 column 2 (char 1)",
        ),
        (f"{path}:10", "column EmailAddress is not UTF-8 text"),
        (f"{path}:11", "malformed CSV: ',' expected after '\"'"),
    ]
    multi = next(i for i in items if isinstance(i, Customer) and i.id == "3")
    assert multi.email == "multi\nline"
    bad_json = next(
        i for i in items if isinstance(i, InvalidRecordError) and i.where == f"{path}:9"
    )
    assert bad_json.customer_id == "5"


def test_an_unterminated_quote_is_reported_at_the_line_it_starts(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text('Id,FirstName\n1,Ann\n2,"Bo\n3,Cy\n', "utf-8")
    items = list(CSVSource(path))
    assert ids(items) == ["1"]
    assert [where for where, _ in errors(items)] == [f"{path}:3"]


def test_crlf_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"Id,FirstName\r\n1,Ann\r\n2,Bo\r\n")
    assert ids(CSVSource(path)) == ["1", "2"]


def test_an_empty_file_holds_no_customers(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"")
    assert list(CSVSource(path)) == []


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("EmailAddress,Phone", "the header has no Id column$"),
        ("id,EmailAddress", "no Id column \\(found 'id': column names are case-sensitive\\)"),
        ("Id,Phone,Phone", "column named more than once: Phone"),
    ],
)
def test_a_bad_header_is_a_config_error(tmp_path: Path, header: str, message: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(header + "\n1,2,3\n", "utf-8")
    with pytest.raises(ConfigError, match=message):
        list(CSVSource(path))


def test_get_finds_by_id(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("Id,FirstName,Phone\n1,Ann,\n55260,Zoë,5551234567\n9,Bad\n", "utf-8")
    source = CSVSource(path)
    found = source.get(55260)
    assert isinstance(found, Customer)
    assert (found.first_name, found.phone) == ("Zoë", "5551234567")
    assert source.get("2") is None
