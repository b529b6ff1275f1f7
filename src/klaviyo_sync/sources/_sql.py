"""A SQL query over any SQLAlchemy URL, its rows read as flat customers."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Generator, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import String, bindparam, cast, create_engine, literal_column, select, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import Executable

from ..customer import Customer
from ..exceptions import ConfigError, InvalidRecordError
from ._base import Item, StreamSource
from ._flat import customer_from_flat

__all__ = ["SQLSource", "redact_url"]


class SQLSource(StreamSource):
    """Customers from the rows of ``query``; positions are ``<url>:row N`` (1-based).

    Each row is a flat record (see ``_flat``): alias columns to the customer's names, e.g.
    ``SELECT id AS "Id", email AS "EmailAddress", city AS "BillingCity" FROM customers``. Rows
    are streamed ``batch_size`` at a time. Quote the aliases: PostgreSQL folds ``AS Id`` to
    ``id``. The query is SQLAlchemy ``text``, so a literal ``:word`` is written ``\\:word``.
    ``name`` is the URL with any password hidden. A query that fails, or a database that cannot
    be reached, raises ``ConfigError``.
    """

    def __init__(self, url: str | URL, query: str, *, batch_size: int = 1000) -> None:
        self.name = redact_url(url)
        self.query = query.strip().rstrip(";").strip()
        if not self.query:
            raise ConfigError(f"{self.name}: the customer query is empty")
        self._batch_size = batch_size
        self._engine = _engine(url, self.name)

    def get(self, customer_id: str | int) -> Customer | None:
        """The first row whose ``Id`` reads as ``customer_id``, found by the database."""
        where = f"{self.name}:Id {customer_id}"
        try:
            with self._engine.connect() as conn:
                result = conn.execute(self._by_id(), {"id": str(customer_id).strip()})
                row = result.mappings().first()
        except SQLAlchemyError as err:
            raise self._failed(err) from None
        return None if row is None else customer_from_flat(_plain(row), where=where)

    def _by_id(self) -> Executable:
        id_column = self._engine.dialect.identifier_preparer.quote("Id")
        # Compared as text so a numeric Id column finds "55260"; the id is a bound parameter.
        by_id = cast(literal_column(f"q.{id_column}"), String) == bindparam("id")
        query = text(f"({self.query}) AS q")
        return select(literal_column("*")).select_from(query).where(by_id)

    def _read(self) -> Generator[Item, None, None]:
        try:
            with self._engine.connect() as conn:
                streaming = conn.execution_options(stream_results=True, yield_per=self._batch_size)
                result = streaming.execute(text(self.query))
                for number, row in enumerate(result, start=1):
                    yield _customer(row._mapping, f"{self.name}:row {number}")
        except SQLAlchemyError as err:
            raise self._failed(err) from None

    def _failed(self, err: SQLAlchemyError) -> ConfigError:
        # DBAPIError's own text carries the statement and a help link; the driver's says why.
        reason = str(err.orig) if isinstance(err, DBAPIError) else str(err)
        return ConfigError(f"{self.name}: the customer query failed: {reason.strip()}")


def redact_url(url: str | URL) -> str:
    """The URL as text with its password hidden; raises ConfigError if it is not a URL."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        # The parser's message repeats the text, which may hold a password: say less.
        raise ConfigError(
            "not a SQLAlchemy URL (expected dialect+driver://user:password@host/database, "
            "e.g. sqlite:///customers.db)"
        ) from None


def _engine(url: str | URL, name: str) -> Engine:
    # NullPool: a source connects once per pass, and holding idle connections open helps no one.
    try:
        return create_engine(url, poolclass=NullPool)
    except (NoSuchModuleError, ImportError) as err:
        raise ConfigError(f"{name}: no database driver for this URL: {err}") from None
    except ArgumentError as err:
        raise ConfigError(f"{name}: {err}") from None


def _customer(row: Mapping[Any, Any], where: str) -> Item:
    try:
        return customer_from_flat(_plain(row), where=where)
    except InvalidRecordError as err:
        return err


def _plain(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The row with database types turned into JSON-like values, as a JSON customer has."""
    return {str(column): _plain_value(value) for column, value in row.items()}


def _plain_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        whole = value.is_finite() and value == value.to_integral_value()
        return int(value) if whole else float(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return value
