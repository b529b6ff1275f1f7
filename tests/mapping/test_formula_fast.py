"""The fast readers of common formula shapes give exactly what Jinja gives, for any record."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from klaviyo_sync.customer import Customer
from klaviyo_sync.exceptions import InvalidRecordError
from klaviyo_sync.mapping import PhoneSettings
from klaviyo_sync.mapping._formula import FormulaScope, compile_formula
from tests.mapping.test_no_accidental_nulls import RECORDS

FAST = [
    "link()",
    "Phone",
    "EmailAddress",
    "customer.FirstName",
    "billing.City",
    "billing.Address1",
    "billing['PostalCode']",
    "shipping.Country",
    "CustomFields.Tier",
    "CustomFields.Nested.Deep",
    "Addresses.City",
    "custom('Tier')",
    "custom(1)",
    "e164(Phone)",
    "e164(billing.PhoneNumber)",
    "e164(CustomFields.Mobile)",
    "NoSuchField",
    "NoSuchField.deeper",
]


def test_common_shapes_have_a_fast_reader_and_others_do_not() -> None:
    for text in FAST:
        assert compile_formula(text)._fast is not None, text
    for text in ("billing.City | title", "e164(Phone, 'GB')", "custom('A', 'x')", "coalesce(A)"):
        assert compile_formula(text)._fast is None, text


@pytest.mark.slow  # Hypothesis
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    record=RECORDS,
    extra=st.dictionaries(
        st.sampled_from(["Tier", "Mobile", "Nested"]),
        st.none()
        | st.text(max_size=12)
        | st.integers()
        | st.dictionaries(st.just("Deep"), st.text(max_size=5)),
    ),
)
def test_fast_readers_agree_with_jinja(record: dict[str, Any], extra: dict[str, Any]) -> None:
    if isinstance(record.get("CustomFields"), dict):
        record = {**record, "CustomFields": {**record["CustomFields"], **extra}}
    try:
        customer = Customer.from_record(record)
    except InvalidRecordError:
        return
    for text in FAST:
        formula = compile_formula(text)
        fast = _scope(customer)
        slow = _scope(customer)
        got = _outcome(formula.evaluate, fast)
        want = _outcome(formula, slow.names)
        assert got == want, (text, record)
        assert fast.phone_failures == slow.phone_failures, text


def _scope(customer: Customer) -> FormulaScope:
    return FormulaScope(customer, profile_id="P1", phone=PhoneSettings())


def _outcome(read: Any, argument: Any) -> Any:
    try:
        return ("value", read(argument))
    except Exception as err:
        return ("error", type(err).__name__)


@pytest.mark.parametrize("key", ["link", "billing", "customer"])
def test_a_record_key_named_like_a_helper_does_not_shadow_it(key: str) -> None:
    customer = Customer.from_record(
        {"Id": 1, key: "from the record", "Addresses": [{"City": "Oslo", "IsPrimaryBilling": True}]}
    )
    for text in ("link()", "billing.City", "customer.Id"):
        formula = compile_formula(text)
        assert formula.evaluate(_scope(customer)) == formula(_scope(customer).names), text
