"""File sources stream: the first customer arrives after reading only the start of a big file."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from klaviyo_sync.customer import Customer
from klaviyo_sync.sources import CSVSource, JSONArraySource, JSONLinesSource
from klaviyo_sync.sources._base import FileSource

from .conftest import FULL, CountingOpener

# Writes and reads files of 20,000 customers.
pytestmark = pytest.mark.slow

COUNT = 20_000


def big_jsonl(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for n in range(COUNT):
            f.write(json.dumps({**FULL, "Id": n}, ensure_ascii=False) + "\n")
    return path


def big_json(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as f:
        f.write("[\n")
        f.write(",\n".join(json.dumps({**FULL, "Id": n}) for n in range(COUNT)))
        f.write("\n]\n")
    return path


def big_csv(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Id", "EmailAddress", "FirstName", "BillingCity", "CustomFields.Tier"])
        writer.writerows([n, f"c{n}@example.com", "Zoë" * 20, "東京", "gold"] for n in range(COUNT))
    return path


@pytest.mark.parametrize(
    ("make", "kind", "name"),
    [
        (big_jsonl, JSONLinesSource, "c.jsonl"),
        (big_json, JSONArraySource, "c.json"),
        (big_csv, CSVSource, "c.csv"),
    ],
)
def test_first_customer_arrives_after_reading_a_small_part(
    tmp_path: Path,
    counting_opener: CountingOpener,
    make: Callable[[Path], Path],
    kind: type[FileSource],
    name: str,
) -> None:
    path = make(tmp_path / name)
    size = path.stat().st_size
    assert size > 2_000_000
    stream = iter(kind(path, opener=counting_opener))
    first = next(stream)
    assert isinstance(first, Customer)
    assert first.id == "0"
    [reader] = counting_opener.readers
    assert reader.bytes_read <= 128 * 1024 < size // 10
    assert sum(1 for _ in stream) == COUNT - 1
    assert reader.bytes_read == size
    assert reader.closed
