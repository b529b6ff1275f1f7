"""The formula language: its names and helpers, its filters, and the sandbox it cannot leave."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest

from klaviyo_sync.exceptions import FormulaError, MappingError
from klaviyo_sync.mapping import Collection, MappingRow, PhoneSettings, compile_collection

from .factories import bare, customer


def evaluate(formula: str, who: Any = None, *, profile_id: str | None = None) -> Any:
    """The value a formula writes to a custom property (None when absent)."""
    compiled = compile_collection(
        Collection("add", (MappingRow("Value", "formula", formula),)), phone=PhoneSettings()
    )
    result = compiled.draft(who or customer(), profile_id=profile_id)
    return result.properties.get("Value")


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("EmailAddress", "ada@example.com"),
        ("customer.EmailAddress", "ada@example.com"),
        ("customer['FirstName'] ~ ' ' ~ LastName", "Ada Lovelace"),
        ("Loyalty.Since", 2019),  # unknown top-level keys are names too
        ("Addresses.1.City", "London"),
        ("billing.City", "London"),
        ("billing.PostalCode | replace(' ', '')", "SW1Y4JH"),
        ("shipping.City", "Brighton"),
        ("custom('Tier') | upper", "GOLD"),
        ("custom('Points') + 5", 125),
        ("custom('Missing', 'none given')", "none given"),
        ("custom('Missing')", None),
        ("link()", "P-9"),
        ("e164(Phone)", "+442079460958"),
        ("e164('415.555.2671', 'US')", "+14155552671"),
        ("e164(e164(Phone))", "+442079460958"),
        ("e164('+1 415 555 2671')", "+14155552671"),
        ("e164('12')", None),
        ("e164(none)", None),
        ("coalesce(none, '', '  ', [], EmailAddress, 'later')", "ada@example.com"),
        ("coalesce(Nothing, Missing)", None),
        ("Company | lower", "analytical engines ltd"),
        ("'  x  ' | trim", "x"),
        ("Nothing | default('fallback')", "fallback"),
        ("Company | default('unused')", "Analytical Engines Ltd"),
        ("'42' | int + 1", 43),
        ("Addresses | map(attribute='City') | join(', ')", "Brighton, London, Leeds"),
        ("Addresses | first", None),  # an object holding the shipping address: see below
        ("[FirstName, LastName] | join('-')", "Ada-Lovelace"),
        ("custom('Newsletter') == 'yes'", True),
        ("Phone is none", False),
        ("Nothing is defined", False),
        ("'vip' if custom('Points') > 100 else 'regular'", "vip"),
        ("Nothing.deeper.still", None),
        ("billing.Missing.deeper", None),
        ("(FirstName ~ ' ' ~ Nothing) | trim", "Ada"),
        ("[1, Nothing, 2]", [1, 2]),
        ("{'a': FirstName, 'b': Nothing}", {"a": "Ada"}),
        ("'x' * 3", "xxx"),
        ("7 % 3", 1),
    ],
)
def test_formula_values(formula: str, expected: Any) -> None:
    value = evaluate(formula, profile_id="P-9")
    if formula == "Addresses | first":
        assert value["City"] == "Brighton"
    else:
        assert value == expected


def test_null_in_a_concatenation_reads_as_empty() -> None:
    who = bare(FirstName="Ada", LastName=None)
    assert evaluate("(FirstName ~ ' ' ~ LastName) | trim", who) == "Ada"


def test_default_replaces_a_null_only_when_asked() -> None:
    who = bare(LastName=None, FirstName="  ")
    assert evaluate("LastName | default('x')", who) is None
    assert evaluate("LastName | default('x', true)", who) == "x"
    assert evaluate("coalesce(FirstName, LastName, 'x')", who) == "x"


def test_helpers_are_not_shadowed_by_record_keys() -> None:
    who = bare(link="not the helper", custom="nope", EmailAddress="a@b.co")
    assert evaluate("link()", who, profile_id="P-1") == "P-1"
    assert evaluate("customer.link", who) == "not the helper"


def test_billing_and_shipping_are_none_without_such_addresses() -> None:
    who = bare(Addresses=[{"City": "Nowhere"}])
    assert evaluate("billing", who) is None
    assert evaluate("shipping.City", who) is None
    assert evaluate("coalesce(billing.City, 'no billing')", who) == "no billing"


def test_e164_uses_the_billing_country_by_default() -> None:
    who = bare(Addresses=[{"Country": "Germany", "IsPrimaryBilling": True}])
    assert evaluate("e164('030 901820')", who) == "+4930901820"
    assert evaluate("e164('030 901820', 'US')", who) is None


def test_runtime_error_names_collection_row_and_customer() -> None:
    with pytest.raises(FormulaError) as caught:
        evaluate("Phone > 5")
    error = caught.value
    assert (error.collection, error.row, error.customer_id) == ("add", "Value", "55260")
    assert "formula 'Phone > 5' failed: TypeError" in str(error)


def test_a_generator_result_says_to_add_list() -> None:
    with pytest.raises(FormulaError, match=r"add \|list"):
        evaluate("Addresses | map(attribute='City')")


def test_a_helper_that_is_not_called_is_not_a_value() -> None:
    with pytest.raises(FormulaError, match="a function"):
        evaluate("link")


def test_formulas_are_compiled_once() -> None:
    compiled = compile_collection(
        Collection("add", (MappingRow("Value", "formula", "FirstName | upper"),)),
        phone=PhoneSettings(),
    )
    import jinja2.parser

    original = jinja2.parser.Parser.__init__

    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a formula was parsed again while drafting")

    jinja2.parser.Parser.__init__ = fail  # type: ignore[method-assign]
    try:
        assert compiled.draft(customer(), profile_id=None).properties == {"Value": "ADA"}
    finally:
        jinja2.parser.Parser.__init__ = original  # type: ignore[method-assign]


# --- the sandbox ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """Fail (instead of hanging the suite) if any formula runs for more than a few seconds."""

    def timeout(signum: int, frame: Any) -> None:
        raise TimeoutError("the formula did not finish")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.setitimer(signal.ITIMER_REAL, 5)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


REJECTED_AT_COMPILE = [
    "customer.__class__",
    "''.__class__.__mro__",
    "''.__class__.__mro__[1].__subclasses__()",
    "cycler.__init__.__globals__",
    "cycler",
    "joiner()",
    "namespace()",
    "dict(a=1)",
    "lipsum",
    "lipsum()",
    "range(10**9)",
    "range(10)",
    "self",
    "self.__init__.__globals__",
    "loop",
    "config",
    "config.items()",
    "import os",
    "__import__('os')",
    "customer._private",
    "customer['_private']",
    "customer.__getitem__('Id')",
    "'{0.__class__}'.format(customer)",
    "'{0:>1000000000}'.format(1)",
    "EmailAddress.format()",
    "EmailAddress.format_map(customer)",
    "'%s' % customer",
    "'%1000000000d' % 1",
    "2 ** 100000000",
    "customer.items()",
    "'a'.center(1000000000)",
    "'a' | center(1000000000)",
    "'a' | indent(1000000000)",
    "'{0}' | format(1)",
    "[1, 2] | batch(1000000000)",
    "[1, 2] | slice(1000000000)",
    "[1] | random",
    "[link][0]()",
    "(custom | first)()",
    "custom.__self__",
    "e164.__globals__",
    "x is nonexistenttest",
    "{% for x in y %}{% endfor %}",
    "{{ 1 }}",
    "1 2",
    "",
    "   ",
]


@pytest.mark.parametrize("formula", REJECTED_AT_COMPILE)
def test_escapes_are_rejected_at_compile_time(formula: str) -> None:
    with pytest.raises(MappingError) as caught:
        compile_collection(
            Collection("add", (MappingRow("Value", "formula", formula),)), phone=PhoneSettings()
        )
    assert caught.value.collection == "add"
    assert caught.value.row == "Value"


FAILING_AT_RUN_TIME = [
    "customer['_' ~ '_class__']",
    "customer[('_' ~ 'private')]",
    "customer | attr('__class__')",
    "Addresses | map(attribute='__class__') | list",
    "Addresses | sort(attribute='__class__')",
    "EmailAddress['format']",
    "EmailAddress | attr('format')",
    "EmailAddress.upper",
    "coalesce(EmailAddress.format)",
    "e164(EmailAddress.format)",
    "EmailAddress % 1",
    "EmailAddress * 10000000",
    "10000000 * EmailAddress",
    "[EmailAddress] * 10000000",
    "(EmailAddress * 1000) | replace('a', 'a' * 2000)",
    "(FirstName * 100) | replace('', 'b' * 100000)",
    "customer | map('center') | list",
    "[EmailAddress * 1000000] * 2",
    "[[EmailAddress * 100] * 1000] * 2",
    "(EmailAddress * 600) | list | join('y' * 1000)",
    "([EmailAddress] * 1) * 1000000",
    "Addresses | join(EmailAddress * 6000)",
]

# The same bombs built from constants only: the same for every customer, so found at compile
# time (see tests/mapping/test_limits.py).
REFUSED_AT_COMPILE = [
    "'a' * 10000000",
    "10000000 * 'a'",
    "['a'] * 10000000",
    "('a' * 1000) | replace('a', 'a' * 2000)",
    "('a' * 100) | replace('', 'b' * 100000)",
    "['x' * 1000000] * 2",
    "[['x' * 1000] * 1000] * 2",
    "('x' * 1000000) | list | join('y' * 1000000)",
    "(['x' * 1000000] * 1) * 1000000",
    "Addresses | join('y' * 1000000)",
]


@pytest.mark.parametrize("formula", REFUSED_AT_COMPILE)
def test_constant_bombs_are_refused_at_compile_time(formula: str) -> None:
    with pytest.raises(MappingError, match="whatever the customer") as caught:
        evaluate(formula)
    assert (caught.value.collection, caught.value.row) == ("add", "Value")


@pytest.mark.parametrize("formula", FAILING_AT_RUN_TIME)
def test_escapes_fail_at_run_time_for_the_record(formula: str) -> None:
    with pytest.raises(FormulaError) as caught:
        evaluate(formula)
    assert (caught.value.collection, caught.value.row) == ("add", "Value")
    assert caught.value.customer_id == "55260"


def test_deeply_nested_formula_is_a_mapping_error() -> None:
    with pytest.raises(MappingError):
        compile_collection(
            Collection("add", (MappingRow("Value", "formula", "(" * 5000 + "1" + ")" * 5000),)),
            phone=PhoneSettings(),
        )


def test_formulas_cannot_change_the_record() -> None:
    who = customer()
    before = dict(who.raw)
    for formula in ("customer.update({'Id': 1})", "Addresses.append(1)", "customer.pop('Id')"):
        with pytest.raises(MappingError):
            evaluate(formula, who)
    assert dict(who.raw) == before
