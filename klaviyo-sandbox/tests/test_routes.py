"""The operation table agrees with the spec's operationIds, and every operation served has its
published rate limit."""

from __future__ import annotations

import re

import pytest

from klaviyo_sandbox._routes import OPERATIONS
from klaviyo_sandbox._routing import Operation
from klaviyo_sandbox.limits import LIMITS
from tests.spec.validate import operation_id


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.operation_id)
def test_operation_ids_match_the_spec(operation: Operation) -> None:
    concrete = re.sub(r"\{[^}]+\}", "X1", operation.template)
    assert operation_id(operation.method, concrete) == operation.operation_id


def test_every_operation_served_is_limited_and_only_those() -> None:
    served = {op.operation_id for op in OPERATIONS if op.handler is not None}
    assert set(LIMITS) == served
