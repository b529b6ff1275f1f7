"""A SQL query as a source: rows as flat customers, streamed; get() asks the database."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from klaviyo_sync.customer import Customer
from klaviyo_sync.exceptions import ConfigError, InvalidRecordError
from klaviyo_sync.sources import SQLSource, redact_url
from tests.postgres import POSTGRES_URL, require_postgres

from .conftest import errors, ids

QUERY = """
    SELECT id AS "Id", email AS "EmailAddress", first AS "FirstName", last AS "LastName",
           company AS "Company", phone AS "Phone", street AS "BillingAddress1",
           city AS "BillingCity", country AS "BillingCountry", custom AS "CustomFields",
           tier AS "CustomFields.Tier", points AS "LoyaltyPoints"
    FROM customers ORDER BY rowid
"""
ROWS = [
    (
        55260,
        "zoë@example.com",
        "Zoë",
        "Ørsted",
        "Café 株式会社",
        5551234567,
        "1 Main St",
        "東京",
        "JP",
        '{"SubscribeProfile": true}',
        "gold",
        1200,
    ),
    ("C-2", None, "Ann", None, None, None, None, None, None, None, None, None),
    (None, "ghost@example.com", None, None, None, None, None, None, None, None, None, None),
    (4, None, "Bad", None, None, None, None, None, None, "{nope", None, None),
    (5, "x@example.com", None, None, None, "", "", "", "", "", "", None),
]


@pytest.fixture
def database(tmp_path: Path) -> str:
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE customers (id, email TEXT, first TEXT, last TEXT, company TEXT, phone,"
            " street TEXT, city TEXT, country TEXT, custom TEXT, tier TEXT, points INTEGER)"
        )
        db.executemany(f"INSERT INTO customers VALUES ({', '.join('?' * 12)})", ROWS)
    db.close()
    return f"sqlite:///{path}"


def test_rows_become_customers_with_addresses_and_custom_fields(database: str) -> None:
    items = list(SQLSource(database, QUERY))
    first = items[0]
    assert isinstance(first, Customer)
    assert (first.id, first.email, first.first_name, first.last_name) == (
        "55260",
        "zoë@example.com",
        "Zoë",
        "Ørsted",
    )
    assert (first.company, first.phone) == ("Café 株式会社", "5551234567")
    billing = first.primary_billing
    assert billing is not None
    assert (billing.address1, billing.city, billing.country) == ("1 Main St", "東京", "JP")
    assert first.custom_fields == {"SubscribeProfile": True, "Tier": "gold"}
    assert first.raw["LoyaltyPoints"] == 1200
    assert ids(items) == ["55260", "C-2", "5"]


def test_bad_rows_are_reported_by_row_number_and_the_rest_goes_on(database: str) -> None:
    items = list(SQLSource(database, QUERY))
    assert errors(items) == [
        (f"{database}:row 3", "missing Id"),
        (
            f"{database}:row 4",
            "CustomFields is not valid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
    ]


def test_empty_text_is_a_missing_value(database: str) -> None:
    last = list(SQLSource(database, QUERY))[-1]
    assert isinstance(last, Customer)
    assert last.phone is None
    assert last.addresses == ()
    assert last.custom_fields == {"Tier": None}


def test_get_by_string_or_number_compares_as_text(database: str) -> None:
    source = SQLSource(database, QUERY + ";")
    for wanted in ("55260", 55260, " 55260 "):
        found = source.get(wanted)
        assert isinstance(found, Customer)
        assert found.first_name == "Zoë"
    found = source.get("C-2")
    assert isinstance(found, Customer)
    assert found.first_name == "Ann"
    assert source.get("nobody") is None


def test_get_raises_for_a_malformed_row(database: str) -> None:
    with pytest.raises(InvalidRecordError, match="CustomFields is not valid JSON") as caught:
        SQLSource(database, QUERY).get(4)
    assert caught.value.customer_id == "4"


def test_get_binds_the_id_as_a_parameter(database: str) -> None:
    source = SQLSource(database, QUERY)
    assert source.get("x' OR '1'='1") is None
    assert len(ids(source)) == 3


def test_a_failing_query_is_a_config_error_naming_the_cause(database: str) -> None:
    source = SQLSource(database, "SELECT * FROM nope")
    with pytest.raises(ConfigError, match="the customer query failed: no such table: nope"):
        list(source)
    with pytest.raises(ConfigError, match="no such table: nope"):
        source.get(1)


def test_the_name_and_errors_never_show_the_password() -> None:
    # Port 1 on loopback refuses at once; the point is what the error says.
    url = "postgresql+psycopg://sync:s3cr3t-pw@127.0.0.1:1/crm"
    source = SQLSource(url, "SELECT 1")
    assert source.name == "postgresql+psycopg://sync:***@127.0.0.1:1/crm"
    assert "s3cr3t" not in repr(source)
    with pytest.raises(ConfigError) as caught:
        list(source)
    assert "s3cr3t" not in str(caught.value)
    assert str(caught.value).startswith(source.name)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u:s3cr3t@host:notaport/db", "not a SQLAlchemy URL"),
        ("::s3cr3t::", "not a SQLAlchemy URL"),
        ("nosuchdb://u:s3cr3t@h/db", "no database driver for this URL"),
    ],
)
def test_a_bad_url_is_a_config_error_without_the_password(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        SQLSource(url, "SELECT 1")
    assert "s3cr3t" not in str(caught.value)


def test_redact_url_keeps_urls_without_a_password() -> None:
    assert redact_url("sqlite:///tmp/x.db") == "sqlite:///tmp/x.db"


def test_an_empty_query_is_a_config_error(database: str) -> None:
    with pytest.raises(ConfigError, match="the customer query is empty"):
        SQLSource(database, " ; ")


def test_rows_are_streamed_in_batches(database: str) -> None:
    seen: list[dict[str, object]] = []

    def record_options(conn: sa.Connection, *args: object) -> None:
        seen.append(dict(conn.get_execution_options()))

    sa.event.listen(sa.Engine, "before_cursor_execute", record_options)
    try:
        stream = iter(SQLSource(database, QUERY, batch_size=2))
        assert isinstance(next(stream), Customer)
        assert sum(1 for _ in stream) == len(ROWS) - 1
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record_options)
    assert seen == [{"stream_results": True, "yield_per": 2}]


@pytest.fixture
def postgres_table() -> Iterator[str]:
    engine = sa.create_engine(require_postgres())
    table = f"customers_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TABLE {table} (id INTEGER, email TEXT, joined DATE, balance NUMERIC,"
                " ratio NUMERIC, custom JSONB, token UUID)"
            )
        )
        conn.execute(
            sa.text(
                f"INSERT INTO {table} VALUES (55260, 'a@example.com', '2024-02-29', 12.00, 0.5,"
                " '{\"Tier\": \"gold\"}', 'c0ffee00-0000-4000-8000-000000000000')"
            )
        )
    try:
        yield table
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE {table}"))
        engine.dispose()


@pytest.mark.postgres
def test_postgres_types_become_json_values_and_get_casts_the_id(postgres_table: str) -> None:
    query = (
        f'SELECT id AS "Id", email AS "EmailAddress", joined AS "Joined", balance AS "Balance",'
        f' ratio AS "Ratio", custom AS "CustomFields", token AS "Token" FROM {postgres_table}'
    )
    source = SQLSource(POSTGRES_URL, query)
    [customer] = list(source)
    assert isinstance(customer, Customer)
    assert customer.custom_fields == {"Tier": "gold"}
    assert customer.raw["Joined"] == "2024-02-29"
    assert customer.raw["Balance"] == 12
    assert type(customer.raw["Balance"]) is int
    assert customer.raw["Ratio"] == 0.5
    assert customer.raw["Token"] == "c0ffee00-0000-4000-8000-000000000000"
    found = source.get("55260")
    assert isinstance(found, Customer)
    assert found.email == "a@example.com"
    assert source.get("1") is None
