"""Every source refuses, record by record, what no store can keep (a NUL, an unpaired surrogate,
NaN or an overflowing number), naming the field; the records around it are read as usual.

The JSON Lines source decides from a line's text whether its record needs the check at all; the
property test holds that shortcut to the full check for any text, escaped or not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from klaviyo_sync.customer import Customer
from klaviyo_sync.exceptions import InvalidRecordError
from klaviyo_sync.sources import (
    CSVSource,
    JSONArraySource,
    JSONLinesSource,
    RecordsSource,
    SQLSource,
)
from klaviyo_sync.storable import is_storable
from tests.postgres import require_postgres

from .conftest import errors, ids
from .test_properties import source_over

TEXT = st.text(st.characters(codec=None, categories=None), max_size=8)
VALUES = st.recursive(
    st.one_of(TEXT, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none()),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=10,
)
RECORDS = st.fixed_dictionaries(
    {"Id": st.one_of(st.integers(), TEXT)},
    optional={"FirstName": TEXT, "CustomFields": st.dictionaries(TEXT, VALUES, max_size=3)},
)


def _line(record: Any, ensure_ascii: bool) -> bytes:
    # A lone surrogate has no UTF-8 form: written raw it could not be a line at all, so an
    # exporter writes it escaped, as json.dumps does with ensure_ascii.
    text = json.dumps(record, ensure_ascii=ensure_ascii)
    return text.encode("utf-8", "surrogatepass" if not ensure_ascii else "strict") + b"\n"


@pytest.mark.slow  # 300 Hypothesis examples
@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(RECORDS, st.booleans()), min_size=1, max_size=6))
def test_the_line_screen_lets_through_exactly_what_the_full_check_would(
    written: list[tuple[dict[str, Any], bool]],
) -> None:
    data = b"".join(_line(record, ascii_only) for record, ascii_only in written)
    items = list(source_over(data))
    assert len(items) == len(written)
    for (record, _), item in zip(written, items, strict=True):
        try:
            expected: Customer | InvalidRecordError = Customer.from_record(record)
        except InvalidRecordError as err:
            expected = err
        if isinstance(item, Customer):
            assert isinstance(expected, Customer), expected
            assert is_storable(dict(item.raw))
        else:
            assert isinstance(expected, InvalidRecordError)


def test_json_lines_poison_fails_its_line_alone(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(
        b'{"Id": 1, "FirstName": "Ada"}\n'
        b'{"Id": "2\\u0000", "FirstName": "Nul"}\n'
        b'{"Id": 3, "CustomFields": {"Big": -1e999}}\n'
        b'{"Id": 4, "CustomFields": {"\\udbff": 1}}\n'
        b'{"Id": 5, "FirstName": "\\u00e9\\\\u0000 is text"}\n'
    )
    items = list(JSONLinesSource(path))
    assert ids(items) == ["1", "5"]
    assert [(w, r.split(";")[0]) for w, r in errors(items)] == [
        (f"{path}:2", "Id holds a NUL character (\\u0000) at character 2"),
        (f"{path}:3", "invalid JSON: the number -1e999 is too large to keep (the largest is "
         "~1.8e308)"),
        (f"{path}:4", "a key of CustomFields, '\\udbff', holds an unpaired surrogate (\\udbff) at "
         "character 1"),
    ]  # fmt: skip
    assert [i.customer_id for i in items if isinstance(i, InvalidRecordError)] == [
        "2\\u0000",
        None,
        "4",
    ]


def test_a_json_array_refuses_a_nul_in_one_item(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('[{"Id": 1}, {"Id": 2, "Company": "A\\u0000B"}, {"Id": 3}]')
    items = list(JSONArraySource(path))
    assert ids(items) == ["1", "3"]
    [(where, reason)] = errors(items)
    assert where == f"{path}:item 2"
    assert reason.startswith("Company holds a NUL character (\\u0000) at character 2;")


def test_a_json_array_number_past_a_float_fails_its_item_and_the_rest_is_read(
    tmp_path: Path,
) -> None:
    # ijson's C parser, asked for floats, stopped the whole file at 1e400.
    path = tmp_path / "c.json"
    path.write_text(
        '[{"Id": 1, "CustomFields": {"Score": 2.5, "Ranks": [1.5, {"r": 0.25}]}},'
        ' {"Id": 2, "CustomFields": {"Big": 1e400}}, {"Id": 3}]'
    )
    items = list(JSONArraySource(path))
    assert ids(items) == ["1", "3"]
    [(where, reason)] = errors(items)
    assert where == f"{path}:item 2"
    assert reason.startswith("CustomFields.Big is Infinity")
    first = next(i for i in items if not isinstance(i, InvalidRecordError))
    custom = first.custom_fields
    assert custom == {"Score": 2.5, "Ranks": [1.5, {"r": 0.25}]}
    assert type(custom["Score"]) is float, "floats, as json.loads gives, not Decimals"


def test_a_csv_cell_or_custom_fields_json_holding_poison_fails_its_row(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "Id,FirstName,BillingCity,CustomFields\n"
        "1,Ada,Paris,\n"
        "2,Nul\x00,Paris,\n"
        "3,Bob,Par\x00is,\n"
        '4,Cy,Rome,"{""Score"": NaN}"\n'
        '5,Di,Oslo,"{""Tier"": ""\\u0000""}"\n'
        "6,Ed,Oslo,\n",
        "utf-8",
    )
    items = list(CSVSource(path))
    assert ids(items) == ["1", "6"]
    assert [reason.split(";")[0] for _, reason in errors(items)] == [
        "FirstName holds a NUL character (\\u0000) at character 4",
        "Addresses[0].City holds a NUL character (\\u0000) at character 4",
        "CustomFields.Score is NaN",
        "CustomFields.Tier holds a NUL character (\\u0000) at character 1",
    ]


def test_a_sqlite_row_with_a_nul_in_text_or_a_blob_fails_alone(tmp_path: Path) -> None:
    query = """
        SELECT 1 AS "Id", 'Ada' AS "FirstName", NULL AS "Note"
        UNION ALL SELECT 2, 'N' || char(0) || 'ul', NULL
        UNION ALL SELECT 3, 'Bob', x'6100'
        UNION ALL SELECT 4, 'Cy', NULL
    """
    items = list(SQLSource(f"sqlite:///{tmp_path / 'src.db'}", query))
    assert ids(items) == ["1", "4"]
    assert [(w.rsplit(":", 1)[1], r.split(";")[0]) for w, r in errors(items)] == [
        ("row 2", "FirstName holds a NUL character (\\u0000) at character 2"),
        ("row 3", "Note holds a NUL character (\\u0000) at character 2"),
    ]


@pytest.mark.postgres
def test_a_postgresql_nan_or_nul_byte_fails_its_row_alone() -> None:
    query = """
        SELECT * FROM (VALUES
            (1, 1.5::float8, NULL::bytea),
            (2, 'NaN'::float8, NULL),
            (3, '-Infinity'::float8, NULL),
            (4, 2.0, '\\x410042'::bytea),
            (5, 3.0, NULL)
        ) AS t("Id", "CustomFields.Score", "Token")
    """
    items = list(SQLSource(require_postgres(), query))
    assert ids(items) == ["1", "5"]
    assert [r.split(";")[0] for _, r in errors(items)] == [
        "CustomFields.Score is NaN",
        "CustomFields.Score is -Infinity",
        "Token holds a NUL character (\\u0000) at character 2",
    ]


@pytest.mark.parametrize("value", ["x\x00", "\ud800", float("inf")])
def test_get_raises_the_records_error_for_a_poisoned_customer(value: Any) -> None:
    source = RecordsSource([{"Id": 9, "FirstName": value}])
    with pytest.raises(InvalidRecordError, match="FirstName"):
        source.get(9)
