"""Records already in memory (webhook events, tests) as a source."""

from __future__ import annotations

import pytest

from klaviyo_sync.customer import Customer
from klaviyo_sync.exceptions import InvalidRecordError
from klaviyo_sync.sources import RecordsSource, Source

from .conftest import FULL, SECOND, assert_full, errors, ids


def test_yields_customers_and_errors_in_order() -> None:
    source = RecordsSource([FULL, {"Email": "no id"}, SECOND, 7], name="webhook")
    items = list(source)
    assert_full(items[0])
    assert ids(items) == ["55260", "C-2"]
    assert errors(items) == [
        ("webhook:record 2", "missing Id"),
        ("webhook:record 4", "a customer must be an object, got int"),
    ]
    assert isinstance(source, Source)
    assert len(source) == 4


def test_a_generator_is_kept_so_the_source_reads_again_and_finds_by_id() -> None:
    source = RecordsSource(r for r in [SECOND, FULL])
    assert ids(source) == ids(source) == ["C-2", "55260"]
    assert_full(source.get(55260))
    assert_full(source.get("55260"))
    found = source.get("C-2")
    assert isinstance(found, Customer)
    assert source.get("missing") is None


def test_get_raises_for_a_malformed_record_with_that_id() -> None:
    source = RecordsSource([{"Id": 9, "Addresses": "nowhere"}])
    with pytest.raises(InvalidRecordError, match="records:record 1: Addresses must be a list"):
        source.get("9")
