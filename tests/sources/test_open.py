"""open_source picks the source by suffix, URL or explicit format, and says what it supports."""

from __future__ import annotations

from pathlib import Path

import pytest

from klaviyo_sync.customer import Customer
from klaviyo_sync.exceptions import ConfigError
from klaviyo_sync.sources import (
    CSVSource,
    JSONArraySource,
    JSONLinesSource,
    SQLSource,
    open_source,
)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("c.jsonl", JSONLinesSource),
        ("c.ndjson", JSONLinesSource),
        ("C.JSONL", JSONLinesSource),
        ("c.json", JSONArraySource),
        ("c.csv", CSVSource),
        ("c.export.csv", CSVSource),
        ("c.jsonl.gz", JSONLinesSource),
        ("c.csv.gz", CSVSource),
    ],
)
def test_files_by_suffix(tmp_path: Path, name: str, kind: type) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    source = open_source(path)
    assert type(source) is kind
    assert source.name == str(path)
    assert type(open_source(str(path))) is kind


@pytest.mark.parametrize(
    ("format", "kind"),
    [("csv", CSVSource), ("JSONL", JSONLinesSource), (".json", JSONArraySource)],
)
def test_format_overrides_the_suffix(tmp_path: Path, format: str, kind: type) -> None:
    path = tmp_path / "export.txt"
    path.write_bytes(b"")
    assert type(open_source(path, format=format)) is kind


def test_a_url_with_a_query_is_a_sql_source(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    source = open_source(url, query='SELECT 1 AS "Id"')
    assert isinstance(source, SQLSource)
    assert [c.id for c in source if isinstance(c, Customer)] == ["1"]
    assert isinstance(open_source(url, query="SELECT 1", format="sql"), SQLSource)


def test_a_url_without_a_query_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match=r"postgresql://u:\*\*\*@h/db: a SQL source needs a query"
    ):
        open_source("postgresql://u:s3cr3t@h/db")


def test_a_query_for_a_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"")
    with pytest.raises(ConfigError, match="a query applies only to a SQL source"):
        open_source(path, query="SELECT 1")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("customers.xlsx", "'.xlsx' is not a file type klaviyo-sync reads"),
        ("customers", "its name has no suffix to tell the file type by"),
        ("customers.gz", "'.gz' says it is compressed, but not what is inside"),
    ],
)
def test_an_unknown_file_type_names_the_file_what_is_read_and_format(
    tmp_path: Path, name: str, why: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(ConfigError) as caught:
        open_source(path)
    message = str(caught.value)
    assert message.startswith(f"cannot read customers from {path}: {why}. ")
    for supported in (".jsonl", ".ndjson", ".json", ".csv", ".gz", "SQLAlchemy URL", "--query"):
        assert supported in message
    assert message.endswith("add --format jsonl|json|csv")


def test_an_unknown_format_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="format 'xml' is not one of jsonl, ndjson, json, csv, sql"
    ):
        open_source(tmp_path / "c.csv", format="xml")


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"customer file .*nope\.jsonl does not exist"):
        open_source(tmp_path / "nope.jsonl")


def test_a_url_read_as_a_file_keeps_its_password_hidden() -> None:
    with pytest.raises(ConfigError) as caught:
        open_source("postgresql://u:s3cr3t@h/db", format="csv")
    assert "s3cr3t" not in str(caught.value)
