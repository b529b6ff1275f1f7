"""A JSON array, streamed element by element; a syntax error ends the stream where it happened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from klaviyo_sync.customer import Customer
from klaviyo_sync.exceptions import ConfigError, InvalidRecordError
from klaviyo_sync.sources import JSONArraySource

from .conftest import FULL, SECOND, assert_full, errors, ids


def write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


def test_reads_full_customers_in_order(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", json.dumps([FULL, SECOND], ensure_ascii=False, indent=2))
    items = list(JSONArraySource(path))
    assert_full(items[0])
    assert ids(items) == ["55260", "C-2"]


def test_numbers_stay_numbers_not_decimals(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.json", '[{"Id": 1, "Phone": 5551234567, "CustomFields": {"x": 1.5}}]'
    )
    [customer] = list(JSONArraySource(path))
    assert isinstance(customer, Customer)
    assert customer.phone == "5551234567"
    assert customer.custom_fields == {"x": 1.5}
    assert type(customer.custom_fields["x"]) is float


def test_bad_items_are_reported_by_position_and_the_rest_goes_on(tmp_path: Path) -> None:
    records = [{"Id": 1}, "text", {"FirstName": "no id"}, {"Id": "4", "Company": [1]}]
    path = write(tmp_path / "c.json", json.dumps([*records, {"Id": 5}]))
    items = list(JSONArraySource(path))
    assert ids(items) == ["1", "5"]
    assert errors(items) == [
        (f"{path}:item 2", "a customer must be an object, got a string"),
        (f"{path}:item 3", "missing Id"),
        (f"{path}:item 4", "Company must be text, got a list"),
    ]
    assert [i.customer_id for i in items if isinstance(i, InvalidRecordError)] == [None, None, "4"]


@pytest.mark.parametrize(
    ("text", "good", "at", "why"),
    [
        ('[{"Id": 1}, {"Id": 2},, {"Id": 3}]', ["1", "2"], 3, "unallowed token"),
        ('[{"Id": 1}, {"Id": 2', ["1"], 2, "premature EOF"),
        ('[{"Id": 1}] trailing', ["1"], 2, "trailing garbage"),
        ('[{"Id": 1}, {"Id": NaN}]', ["1"], 2, "invalid char"),
    ],
)
def test_a_syntax_error_ends_the_stream_with_one_error_where_it_happened(
    tmp_path: Path, text: str, good: list[str], at: int, why: str
) -> None:
    path = write(tmp_path / "c.json", text)
    items = list(JSONArraySource(path))
    assert ids(items) == good
    [(where, reason)] = errors(items)
    assert where == f"{path}:item {at}"
    assert reason.startswith("invalid JSON: ")
    assert why in reason
    assert reason.endswith("the rest of the file cannot be read")
    assert "\n" not in reason


def test_bytes_that_are_not_utf8_are_a_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(b'[{"Id": 1}, {"Id": "\xff"}]')
    [(where, reason)] = errors(JSONArraySource(path))
    assert where == f"{path}:item 2"
    assert "invalid bytes in UTF8" in reason
    assert not reason.startswith("invalid JSON: b'")


def test_bom_and_leading_whitespace_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(b"\xef\xbb\xbf \n\t" + b'[{"Id": 1}]')
    assert ids(JSONArraySource(path)) == ["1"]


@pytest.mark.parametrize("text", ["", "  \n", "[]"])
def test_an_empty_file_or_array_holds_no_customers(tmp_path: Path, text: str) -> None:
    assert list(JSONArraySource(write(tmp_path / "c.json", text))) == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ('{"Id": 1}', "an object"),
        ('"x"', "a string"),
        ("12", "a number"),
        ("true", "a boolean"),
        ("null", "null"),
        ("<xml/>", "text that is not JSON"),
    ],
)
def test_a_top_level_that_is_not_an_array_is_a_config_error(
    tmp_path: Path, text: str, found: str
) -> None:
    path = write(tmp_path / "c.json", text)
    with pytest.raises(ConfigError, match=f"expected a JSON array of customers, found {found}"):
        list(JSONArraySource(path))


def test_get_finds_by_string_or_number(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", json.dumps([SECOND, FULL]))
    source = JSONArraySource(path)
    assert_full(source.get("55260"))
    assert_full(source.get(55260))
    assert source.get("nobody") is None


def test_get_raises_when_the_file_breaks_before_the_customer_is_found(tmp_path: Path) -> None:
    source = JSONArraySource(write(tmp_path / "c.json", '[{"Id": 1}, {"Id": 2,, {"Id": 3}]'))
    assert isinstance(source.get(1), Customer)
    with pytest.raises(InvalidRecordError, match="the rest of the file cannot be read"):
        source.get(3)
