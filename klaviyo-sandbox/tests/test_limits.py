"""The sandbox's table of rate limits is Klaviyo's published one, operation by operation."""

from __future__ import annotations

import json
import re

import pytest

from klaviyo_sandbox.limits import LIMITS, RateLimit, limit_for
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


@pytest.mark.parametrize("operation", sorted(LIMITS))
def test_limit_matches_the_spec(operation: str) -> None:
    published = _published()
    assert operation in published, f"{operation} is not an operation in Klaviyo's spec"
    spec = published[operation]
    expected = RateLimit(
        burst=_per(spec["burst"], "s"),
        steady=_per(spec["steady"], "m"),
        daily=_per(spec["daily"], "d") if "daily" in spec else None,
    )
    assert LIMITS[operation] == expected


def test_an_operation_not_served_has_no_limit() -> None:
    assert limit_for("merge_profiles") is None
    assert limit_for("create_profile") == RateLimit(burst=75, steady=750)
