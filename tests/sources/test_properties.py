"""Whatever JSON a line holds, a JSON Lines source yields one customer or one error for it."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import IO, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from klaviyo_sync.customer import Customer
from klaviyo_sync.exceptions import InvalidRecordError
from klaviyo_sync.sources import JSONLinesSource

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
field_values = json_values | st.text(max_size=10)
# Customer-shaped objects reach deeper into the model than arbitrary values would.
customer_like = st.fixed_dictionaries(
    {},
    optional={
        "Id": st.integers() | st.text(max_size=6) | json_values,
        "EmailAddress": field_values,
        "Phone": field_values,
        "Addresses": st.lists(
            st.dictionaries(
                st.sampled_from(["Address1", "City", "Country", "IsPrimaryBilling"]),
                field_values,
            ),
            max_size=3,
        )
        | json_values,
        "CustomFields": st.dictionaries(st.text(max_size=8), json_values) | json_values,
    },
)


def source_over(data: bytes) -> JSONLinesSource:
    def opener(_: Path) -> IO[bytes]:
        return io.BytesIO(data)

    return JSONLinesSource("mem.jsonl", opener=opener)


@pytest.mark.slow  # Hypothesis
@settings(max_examples=200, deadline=None)
@given(st.lists(json_values | customer_like, max_size=8))
def test_any_json_value_per_line_yields_exactly_one_item(values: list[Any]) -> None:
    data = "".join(json.dumps(v) + "\n" for v in values).encode()
    items = list(source_over(data))
    assert len(items) == len(values)
    for number, (value, item) in enumerate(zip(values, items, strict=True), start=1):
        if isinstance(item, InvalidRecordError):
            assert item.where == f"mem.jsonl:{number}"
            assert item.reason
        else:
            assert isinstance(item, Customer)
            assert item.id == str(value["Id"]).strip()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=8))
def test_arbitrary_bytes_per_line_never_crash(lines: list[bytes]) -> None:
    items = list(source_over(b"\n".join(lines)))
    # Blank lines (after a leading byte-order mark on line 1) are skipped; every other line
    # yields one item, and an error names its line.
    read = [n for n, line in enumerate(lines, start=1) if not_blank(line, first=n == 1)]
    assert len(items) == len(read)
    for number, item in zip(read, items, strict=True):
        if isinstance(item, InvalidRecordError):
            assert item.where == f"mem.jsonl:{number}"
        else:
            assert isinstance(item, Customer)


def not_blank(line: bytes, *, first: bool) -> bool:
    return bool((line.removeprefix(b"\xef\xbb\xbf") if first else line).strip())
