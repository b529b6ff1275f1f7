"""The client's limits table is Klaviyo's published one, and so is the sandbox's: the two
tables (``klaviyo_sync.klaviyo.limits``, ``klaviyo_sandbox.limits``) are held to each other and
to the spec's ``x-klaviyo-ratelimit``, operation by operation, so the client never paces itself
by one limit while the sandbox enforces another."""

from __future__ import annotations

import json
import re

import pytest
from klaviyo_sandbox import limits as sandbox_limits
from klaviyo_sandbox._routes import OPERATIONS

from klaviyo_sync.klaviyo.limits import LIMITS, RateLimit
from tests.spec.validate import SPEC_DIR


def _published() -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for name in ("profiles", "lists"):
        doc = json.loads((SPEC_DIR / f"{name}.json").read_text())
        for ops in doc["paths"].values():
            for op in ops.values():
                if isinstance(op, dict) and "x-klaviyo-ratelimit" in op:
                    found[op["operationId"]] = op["x-klaviyo-ratelimit"]
    return found


def _per(value: str, unit: str) -> int:
    match = re.fullmatch(rf"(\d+)/{unit}", value)
    assert match, f"unexpected rate limit {value!r}"
    return int(match.group(1))


def _spec_limit(operation: str) -> tuple[int, int, int | None]:
    """(burst, steady, daily) as the spec publishes them for ``operation``."""
    published = _published()
    assert operation in published, f"{operation} is not an operation in Klaviyo's spec"
    spec = published[operation]
    daily = _per(spec["daily"], "d") if "daily" in spec else None
    return _per(spec["burst"], "s"), _per(spec["steady"], "m"), daily


def _triple(limit: RateLimit | sandbox_limits.RateLimit) -> tuple[int, int, int | None]:
    return limit.burst, limit.steady, limit.daily


@pytest.mark.parametrize("operation", sorted(LIMITS))
def test_limit_matches_the_spec(operation: str) -> None:
    assert _triple(LIMITS[operation]) == _spec_limit(operation)


@pytest.mark.parametrize("operation", sorted(sandbox_limits.LIMITS))
def test_the_sandboxs_limit_matches_the_spec(operation: str) -> None:
    assert _triple(sandbox_limits.LIMITS[operation]) == _spec_limit(operation)


@pytest.mark.parametrize("operation", sorted(LIMITS))
def test_the_client_and_the_sandbox_agree(operation: str) -> None:
    """Every operation the client paces is one the sandbox serves, with the same limit."""
    served = {op.operation_id for op in OPERATIONS if op.handler is not None}
    assert operation in served, f"the client uses {operation}, which the sandbox does not serve"
    sandbox = sandbox_limits.limit_for(operation)
    assert sandbox is not None, f"the sandbox serves {operation} without a rate limit"
    assert _triple(LIMITS[operation]) == _triple(sandbox)


def test_scaled_limits_share_the_quota() -> None:
    from klaviyo_sync.klaviyo.limits import scaled

    half = scaled(LIMITS, 0.5)
    assert half["create_profile"] == RateLimit(burst=37, steady=375)
    assert scaled(LIMITS, 0.01)["get_list_ids_for_profile"] == RateLimit(burst=1, steady=1)
    assert scaled(LIMITS, 2)["create_list"].daily == 300
    with pytest.raises(ValueError, match="positive"):
        scaled(LIMITS, 0)
