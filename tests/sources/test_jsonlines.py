"""JSON Lines: line by line, each bad line reported where it is, the rest read on."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from klaviyo_sync.customer import Customer
from klaviyo_sync.exceptions import ConfigError, InvalidRecordError
from klaviyo_sync.sources import JSONLinesSource, Source

from .conftest import FULL, SECOND, assert_full, errors, ids, write_jsonl


def test_reads_full_customers_in_order(tmp_path: Path) -> None:
    source = JSONLinesSource(write_jsonl(tmp_path / "customers.jsonl", [FULL, SECOND]))
    items = list(source)
    assert_full(items[0])
    assert ids(items) == ["55260", "C-2"]
    assert isinstance(source, Source)
    assert source.name == str(tmp_path / "customers.jsonl")


def test_can_be_read_twice(tmp_path: Path) -> None:
    source = JSONLinesSource(write_jsonl(tmp_path / "c.jsonl", [FULL, SECOND]))
    assert ids(source) == ids(source) == ["55260", "C-2"]


def test_every_kind_of_bad_line_is_reported_with_its_line_and_the_rest_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.jsonl"
    lines = [
        json.dumps({"Id": 1}),  # 1
        "{not json",  # 2
        "",  # 3: blank, skipped
        "   \t",  # 4: blank, skipped
        json.dumps([1, 2]),  # 5
        json.dumps({"EmailAddress": "x@example.com"}),  # 6
        json.dumps({"Id": "7", "FirstName": {"a": 1}}),  # 7
        json.dumps({"Id": True}),  # 8
        json.dumps({"Id": "9", "Addresses": {"City": "x"}}),  # 9
        '{"Id": NaN}',  # 10
        json.dumps({"Id": "11", "CustomFields": ["a"]}),  # 11
        json.dumps({"Id": 12}),  # 12
    ]
    path.write_bytes("\n".join(lines).encode() + b"\n" + b'{"Id": "\xff"}\n' + b'{"Id": 14}')
    items = list(JSONLinesSource(path))
    assert ids(items) == ["1", "12", "14"]
    where = {e: r for e, r in errors(items)}
    assert list(where) == [f"{path}:{n}" for n in (2, 5, 6, 7, 8, 9, 10, 11, 13)]
    assert where[f"{path}:2"].startswith("invalid JSON: Expecting property name")
    assert "must be an object" in where[f"{path}:5"]
    assert where[f"{path}:6"] == "missing Id"
    assert where[f"{path}:7"] == "FirstName must be text, got an object"
    assert where[f"{path}:8"].startswith("Id must be a string or a whole number")
    assert where[f"{path}:9"] == "Addresses must be a list, got an object"
    assert where[f"{path}:10"] == "invalid JSON: NaN is not a JSON value"
    assert where[f"{path}:11"].startswith("CustomFields must be an object")
    assert where[f"{path}:13"].startswith("not UTF-8 text")


def test_an_error_names_the_customer_when_its_id_was_readable(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"Id": 7, "Phone": [1]}])
    [error] = list(JSONLinesSource(path))
    assert isinstance(error, InvalidRecordError)
    assert error.customer_id == "7"
    assert str(error) == f"{path}:1: Phone must be text, got a list"


def test_bom_and_crlf_line_ends_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"Id": 1}\r\n{"Id": 2}\r\n')
    assert ids(JSONLinesSource(path)) == ["1", "2"]


def test_get_finds_a_customer_by_string_or_number(tmp_path: Path) -> None:
    source = JSONLinesSource(write_jsonl(tmp_path / "c.jsonl", [SECOND, FULL]))
    assert_full(source.get("55260"))
    assert_full(source.get(55260))
    assert_full(source.get(" 55260 "))
    found = source.get("C-2")
    assert isinstance(found, Customer)
    assert found.first_name == "Ann"
    assert source.get("404") is None


def test_get_returns_the_first_record_with_that_id(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"Id": 1, "FirstName": "A"}, {"Id": "1"}])
    found = JSONLinesSource(path).get(1)
    assert isinstance(found, Customer)
    assert found.first_name == "A"


def test_get_raises_for_a_malformed_record_with_that_id(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{bad\n{"Id": 3, "Addresses": 5}\n{"Id": 4}\n', "utf-8")
    source = JSONLinesSource(path)
    with pytest.raises(InvalidRecordError) as caught:
        source.get("3")
    assert caught.value.where == f"{path}:2"
    # A bad line whose id cannot be read does not hide the customers after it.
    assert isinstance(source.get("4"), Customer)


def test_gzip_file_is_read_through_the_default_opener(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"Id": 1}\n{"Id": 2}\n'))
    assert ids(JSONLinesSource(path)) == ["1", "2"]


def test_a_missing_file_is_a_config_error_on_reading(tmp_path: Path) -> None:
    source = JSONLinesSource(tmp_path / "nope.jsonl")
    with pytest.raises(ConfigError, match=r"cannot read customer file .*nope\.jsonl"):
        list(source)
