"""Invariant 1 at the wire: whatever customers arrive, no request the engine sends to Klaviyo
carries a null (the shipped templates have no ``when_empty = "clear"`` row), every customer
gets exactly one outcome, and nothing crashes; on the per-record path and in bulk import jobs
alike (seed 000 is about nulls in a bulk import)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.twins import strategy_world
from tests.mapping.test_no_accidental_nulls import RECORDS

# Hypothesis runs whole syncs, hundreds of them.
pytestmark = pytest.mark.slow


def _nulls(value: Any, path: str = "") -> list[str]:
    if value is None:
        return [path or "/"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _nulls(v, f"{path}/{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _nulls(v, f"{path}/{i}")]
    return []


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@pytest.mark.parametrize("strategy", ["per-record", "bulk"])
@given(batches=st.lists(st.lists(RECORDS, min_size=1, max_size=4), min_size=1, max_size=2))
def test_no_request_carries_null_and_every_customer_gets_one_outcome(
    strategy: str, batches: list[list[dict[str, Any]]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        world = strategy_world(Path(tmp), strategy)
        for records in batches:
            outcomes = asyncio.run(world.sync(*records))
            assert len(outcomes) == len(records)
        for request in world.writes():
            assert _nulls(request.body) == [], (request.method, request.path, request.body)
