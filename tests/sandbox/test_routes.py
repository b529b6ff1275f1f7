"""The operation table agrees with the spec's operationIds."""

from __future__ import annotations

import re

import pytest

from klaviyo_sync.klaviyo.limits import LIMITS
from klaviyo_sync.sandbox._ratelimit import limit_for
from klaviyo_sync.sandbox._routes import OPERATIONS
from klaviyo_sync.sandbox._routing import Operation
from tests.spec.validate import operation_id


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.operation_id)
def test_operation_ids_match_the_spec(operation: Operation) -> None:
    concrete = re.sub(r"\{[^}]+\}", "X1", operation.template)
    assert operation_id(operation.method, concrete) == operation.operation_id


def test_every_operation_the_client_uses_is_served_and_limited() -> None:
    served = {op.operation_id for op in OPERATIONS if op.handler is not None}
    assert set(LIMITS) <= served
    assert all(limit_for(op) is not None for op in served)
