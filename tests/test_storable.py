"""What a store can keep: the one-pass check, the walk that says where, and the escapes."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from klaviyo_sync.customer import Customer, readable_id
from klaviyo_sync.exceptions import InvalidRecordError
from klaviyo_sync.storable import escape, find_unstorable, is_storable

# Every code point, surrogates and NUL included: what a decoder or a database may hand us.
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=12)
NUMBERS = st.one_of(st.integers(), st.floats(), st.booleans(), st.none())
JSON_LIKE = st.recursive(
    st.one_of(ANY_TEXT, NUMBERS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(ANY_TEXT, inner, max_size=4)
    ),
    max_leaves=16,
)


@pytest.mark.parametrize(
    ("record", "path", "what"),
    [
        ({"Id": "a\x00b"}, "Id", "holds a NUL character (\\u0000) at character 2"),
        ({"Id": 1, "FirstName": "\ud800"}, "FirstName", "unpaired surrogate (\\ud800)"),
        ({"Addresses": [{}, {"City": "Köln\udfff"}]}, "Addresses[1].City", "(\\udfff) at char"),
        ({"CustomFields": {"Tier\x00": "gold"}}, "a key of CustomFields, 'Tier\\u0000',", "NUL"),
        ({"\ud83d": 1}, "a key, '\\ud83d',", "unpaired surrogate"),
        ({"CustomFields": {"Score": float("nan")}}, "CustomFields.Score", "is NaN"),
        ({"CustomFields": {"Big": [1, float("-inf")]}}, "CustomFields.Big[1]", "is -Infinity"),
    ],
)
def test_the_walk_names_the_field_and_what_is_wrong(
    record: dict[str, Any], path: str, what: str
) -> None:
    assert not is_storable(record)
    found = find_unstorable(record)
    assert found is not None
    assert found.path == path
    assert what in found.what
    assert found.advice in str(found)
    assert is_storable({"message": str(found)}), "the message itself can be stored"


@pytest.mark.parametrize(
    "record",
    [
        {"Id": 1, "FirstName": "José", "LastName": "李", "Company": "😀 \\u0000 text"},
        {"Addresses": [{"City": "Ærøskøbing", "IsPrimaryBilling": True}], "n": 1.5},
        {1: "int key", "nested": {"list": [None, 2, "x"]}},
        OrderedDict(Id="1", CustomFields=OrderedDict(Tier=("gold", 1e308))),
    ],
)
def test_ordinary_records_pass(record: Any) -> None:
    assert is_storable(record)
    assert find_unstorable(record) is None


def test_containers_of_other_types_are_walked_too() -> None:
    assert not is_storable(OrderedDict(Id=("ok", "not\x00ok")))
    assert not is_storable({"x": ("ok", float("inf"))})
    assert not is_storable({"x": {5: "\x00"}})


@pytest.mark.slow  # 300 Hypothesis examples
@settings(max_examples=300)
@given(JSON_LIKE)
def test_the_fast_check_and_the_walk_agree(value: Any) -> None:
    assert is_storable(value) == (find_unstorable(value) is None)


@settings(max_examples=200)
@given(ANY_TEXT)
def test_escape_makes_any_text_storable_and_leaves_storable_text_alone(text: str) -> None:
    escaped = escape(text)
    assert is_storable(escaped)
    escaped.encode("utf-8")
    if is_storable(text):
        assert escaped is text


def test_a_customer_whose_id_holds_a_nul_fails_under_its_escaped_id() -> None:
    with pytest.raises(InvalidRecordError) as caught:
        Customer.from_record({"Id": " 55\x0060 ", "EmailAddress": "a@example.com"}, where="x:3")
    err = caught.value
    assert err.customer_id == "55\\u000060"
    assert err.where == "x:3"
    assert err.reason.startswith("Id holds a NUL character")
    assert "logged under Id '55\\u000060', the Id with it escaped" in err.reason
    assert is_storable([err.reason, err.customer_id, str(err)])


def test_another_field_names_its_path_and_keeps_the_plain_id() -> None:
    record = {"Id": 7, "Addresses": [{"City": "x\x00"}]}
    with pytest.raises(InvalidRecordError, match=r"^Addresses\[0\]\.City holds a NUL") as caught:
        Customer.from_record(record)
    assert caught.value.customer_id == "7"
    assert "logged under" not in caught.value.reason


def test_screened_skips_the_check_for_a_caller_that_made_it() -> None:
    assert Customer.from_record({"Id": 1, "FirstName": "a\x00"}, screened=True).first_name


@pytest.mark.parametrize(
    ("value", "expected"),
    [(" 42 ", "42"), (42, "42"), ("a\ud800", "a\\ud800"), ("", None), (True, None), ([], None)],
)
def test_readable_id_is_storable_text(value: Any, expected: str | None) -> None:
    assert readable_id(value) == expected
