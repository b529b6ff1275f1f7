"""The whole numbers the dashboard and ``/api/`` take (ids, page sizes, offsets), with ranges.

Every one is checked at the edge, before it reaches the store: SQLite and PostgreSQL hold
integers up to 2^63-1 (run ids up to 2^31-1 on PostgreSQL), and a larger one (or a negative
offset) used to fail in the driver with a 500. A number out of range, or not a number, is
refused as ``<where>.<name>: must be a whole number from LOW to HIGH``, which names the
parameter and its range.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError

__all__ = [
    "MAX_ID",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "MAX_RUN_ID",
    "FailureIdPath",
    "LimitQuery",
    "OffsetQuery",
    "RunIdPath",
    "StoreId",
    "range_message",
    "whole",
]

MAX_ID = 2**63 - 1
"""The largest integer SQLite's INTEGER and PostgreSQL's BIGINT hold (failure ids)."""
MAX_RUN_ID = 2**31 - 1
"""Run ids are an INTEGER column, 32 bits on PostgreSQL: a larger one fails in the driver."""
MAX_LIMIT = 200
MAX_OFFSET = MAX_ID


def range_message(low: int, high: int) -> str:
    return f"must be a whole number from {low} to {high}"


def whole(low: int, high: int) -> WrapValidator:
    """Replaces pydantic's several messages (not an integer, too small, too big) by one that
    gives the whole range; the bounds themselves are the field's ``ge`` and ``le``, which also
    go into the OpenAPI document."""

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> int:
        try:
            number: int = handler(value)
        except ValidationError:
            raise PydanticCustomError(
                "int_range", range_message(low, high), {"low": low, "high": high}
            ) from None
        return number

    return WrapValidator(check)


StoreId = Annotated[int, Field(ge=1, le=MAX_ID), whole(1, MAX_ID)]
"""A row id in a request body."""

FailureIdPath = Annotated[
    int, Path(ge=1, le=MAX_ID, description="a failure's id"), whole(1, MAX_ID)
]
RunIdPath = Annotated[
    int, Path(ge=1, le=MAX_RUN_ID, description="a run's id"), whole(1, MAX_RUN_ID)
]
LimitQuery = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"how many, at most {MAX_LIMIT}"),
    whole(1, MAX_LIMIT),
]
OffsetQuery = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description="how many to skip"), whole(0, MAX_OFFSET)
]
