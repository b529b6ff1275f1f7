"""Formulas' resource limits (issue 13, point 3): size, time and nesting, each attack in full.

Every attack here is one a mapping file can hold: a five-fold growth chain, a sort/join chain
that keeps a core busy, nesting deep enough to break Python's compiler. Each must end quickly
as a formula error naming the collection and the row: at compile time when it can be seen
there (``check`` reports it), else as a failure of that customer only.
"""

from __future__ import annotations

import json
import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from klaviyo_sync.cli import main
from klaviyo_sync.customer import Customer
from klaviyo_sync.exceptions import FormulaError, MappingError
from klaviyo_sync.mapping import (
    Collection,
    Collections,
    MappingRow,
    PhoneSettings,
    check_collections,
    compile_collection,
)
from klaviyo_sync.mapping._limits import (
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_MADE,
    MAX_TEXT,
    SECONDS,
    FormulaLimitError,
    weight,
)
from tests.klaviyo.fakes import FakeClock
from tests.world import World

from .factories import bare

# Each step turns text into the list of its characters, then that list into its own text,
# about five times longer: 3 characters become 29 million in ten steps.
FIVE_FOLD = "FirstName" + " | list | string" * 10
# One step sorts the characters of 9,000-character text and joins them again; 7 steps keep
# the nesting legal, and a customer's formula repeats the chain side by side.
SORT_JOIN = "((FirstName * 3000)" + " | list | sort | join" * 8 + ")"
NESTED_FILTERS = "FirstName" + " | lower" * 200
NESTED_BRACKETS = "(" * 200 + "FirstName" + ")" * 200


def compiled(formula: str, clock: FakeClock | None = None) -> Any:
    collection = Collection("add", (MappingRow("Value", "formula", formula),))
    if clock is None:
        return compile_collection(collection, phone=PhoneSettings())
    return compile_collection(collection, phone=PhoneSettings(), clock=clock)


def run(formula: str, who: Customer | None = None, clock: FakeClock | None = None) -> Any:
    """The value ``formula`` writes for ``who``, as a custom property."""
    draft = compiled(formula, clock).draft(who or bare(FirstName="Ada"), profile_id=None)
    return draft.properties.get("Value")


def refused_at_run_time(formula: str, who: Customer | None = None, **kw: Any) -> str:
    """The message of the formula error ``formula`` raises for ``who`` (customer c-1)."""
    with pytest.raises(FormulaError) as caught:
        run(formula, who, **kw)
    error = caught.value
    assert (error.collection, error.row, error.customer_id) == ("add", "Value", "c-1")
    assert "FormulaLimitError" in str(error)
    return str(error)


def refused_at_compile_time(formula: str, clock: FakeClock | None = None) -> str:
    with pytest.raises(MappingError) as caught:
        compiled(formula, clock)
    assert (caught.value.collection, caught.value.row) == ("add", "Value")
    return str(caught.value)


# --- size --------------------------------------------------------------------------------------


def test_five_fold_growth_stops_at_the_first_step_past_the_limit() -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        message = refused_at_run_time(FIVE_FOLD)
        seconds = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Ten steps would build 29 million characters and a list of as many (hundreds of MB);
    # the step that makes a list of 46,875 items is the one refused.
    assert f"a list of more than {MAX_ITEMS:,} items" in message
    assert peak < 20_000_000, f"{peak / 1e6:.1f} MB"
    assert seconds < 2


def test_five_fold_growth_of_constants_is_a_compile_error() -> None:
    message = refused_at_compile_time("('a' * 1000)" + " | list | string" * 10)
    assert f"a list of more than {MAX_ITEMS:,} items" in message
    assert "whatever the customer" in message


def test_a_literal_repetition_past_the_limit_is_a_compile_error_check_reports() -> None:
    collections = Collections(
        Collection("add", (MappingRow("Value", "formula", "'a' * 1000000"),)),
        Collection("update", ()),
    )
    messages = check_collections(collections, phone=PhoneSettings())
    [error] = [m for m in messages if m.severity == "error" and m.row is not None]
    assert (error.collection, error.row) == ("add", "Value")
    assert f"repetition would build more than {MAX_TEXT:,} characters" in error.message


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        (f"FirstName * {MAX_TEXT // 3 + 1}", "repetition would build more than"),
        ("(FirstName * 30000) + (FirstName * 30000)", "text longer than"),
        ("(FirstName * 20000) ~ (FirstName * 20000)", "~ would build text longer than"),
        ("(FirstName * 30000) | replace('a', 'aa')", "replace would build"),
        ("(FirstName * 30) | list | join(FirstName * 1000)", "join would build"),
        (f"[FirstName] * {MAX_ITEMS + 1}", f"a list of more than {MAX_ITEMS:,} items"),
        ("[FirstName * 30000] * 4", "repetition would build more than"),
        ("[FirstName * 30000] + [FirstName * 30000]", "written out"),
        ("[" + ", ".join(["FirstName * 30000"] * 4) + "]", "written out"),
        ("(('9' * 4000) | int) * (('9' * 4000) | int)", None),  # a product of 8,000 digits: fine
        ("[[FirstName] * 10, [FirstName]] | sum(start=[])", "sum adds numbers only"),
    ],
)
def test_what_a_formula_makes_is_bounded(formula: str, message: str | None) -> None:
    if message is None:
        assert run(formula) > 0
        return
    with pytest.raises(FormulaError, match=message):
        run(formula)


def test_many_values_at_the_limit_add_up_to_the_total_limit() -> None:
    each = "(FirstName * 33000)"  # 99,000 characters: under the limit for one value
    message = refused_at_run_time("[" + ", ".join([each] * 12) + "] | length")
    assert f"more than {MAX_MADE:,} characters in all" in message


def test_values_at_the_limit_are_fine() -> None:
    assert len(run(f"FirstName * {MAX_TEXT // 3}")) == MAX_TEXT - 1
    assert run(f"(FirstName * {MAX_ITEMS // 3}) | list | length") == MAX_ITEMS - 1


def test_a_huge_record_value_is_read_but_not_grown() -> None:
    # The record's own values are not the formula's doing: reading or rearranging them is fine.
    who = bare(FirstName="a" * MAX_TEXT, LastName="b" * MAX_TEXT, Notes="c" * MAX_TEXT)
    assert run("customer | dictsort | list | length", who) == 4
    assert run("FirstName | upper | length", who) == MAX_TEXT
    with pytest.raises(FormulaError, match="~ would build text longer than"):
        run("FirstName ~ LastName", who)


def test_weight_counts_shared_values_as_written_out() -> None:
    text = "x" * 1000
    assert weight([text, text]) == 1 + 2 + 2000
    with pytest.raises(FormulaLimitError):
        weight([[text] * 100] * 2)


# --- time ------------------------------------------------------------------------------------


def test_the_sort_join_chain_stops_at_the_deadline_of_a_fake_clock() -> None:
    clock = FakeClock(step=0.01)  # every hook reads it once: 50 hooks spend the half second
    message = refused_at_run_time(" ~ ".join([SORT_JOIN] * 20), clock=clock)
    assert f"ran for more than {SECONDS:g} s" in message
    reads_to_pass_the_deadline = int(SECONDS / clock.step) + 2
    assert clock.reads <= reads_to_pass_the_deadline + 1, "it stopped at the first late hook"


@pytest.mark.slow  # runs to its deadline
def test_the_sort_join_chain_ends_within_seconds_on_the_real_clock() -> None:
    formula = " ~ ".join([SORT_JOIN] * 200)  # 80 s for one customer before the limits
    collection = compiled(formula)  # compiling a 30,000-character formula is not the attack
    started = time.monotonic()
    # The deadline, or on a fast machine the total it may build (each chain builds 225,000
    # characters and items), whichever comes first: both end it within the half second.
    with pytest.raises(FormulaError, match=r"ran for more than|characters in all"):
        collection.draft(bare(FirstName="Ada"), profile_id=None)
    assert time.monotonic() - started < 3


def test_the_time_counts_from_the_first_hook_and_a_quick_formula_passes() -> None:
    clock = FakeClock(step=0.2)
    # Three hooks (~, trim, upper) read it at 0.2 s (the start), 0.4 s and 0.6 s: within 0.5 s.
    assert run("(FirstName ~ ' ' ~ LastName) | trim | upper", clock=clock) == "ADA"
    assert clock.reads == 3
    # A fourth reads 0.8 s, past the deadline.
    refused_at_run_time("(FirstName ~ ' ' ~ LastName) | trim | upper | lower", clock=clock)


def test_a_slow_constant_part_is_a_compile_error() -> None:
    clock = FakeClock(step=1.0)  # past the deadline at the first hook
    message = refused_at_compile_time("(('x' * 9000) | list | sort | join) ~ FirstName", clock)
    assert f"ran for more than {SECONDS:g} s" in message


# --- nesting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "formula",
    [
        NESTED_FILTERS,
        NESTED_BRACKETS,
        "(" * 5000 + "FirstName" + ")" * 5000,
        "[" * 200 + "FirstName" + "]" * 200,
        "{'a': " * 100 + "FirstName" + "}" * 100,
        " + ".join(["FirstName"] * 200),
        " and ".join(["FirstName"] * 200),
        "not " * 2000 + "FirstName",
        "- " * 500 + "1",
        "FirstName" + " if FirstName else FirstName" * 100,
        "customer" + ".a" * 200,
        "FirstName" + " | default(FirstName" * 40 + ")" * 40,
    ],
    ids=lambda f: f[:24],
)
def test_deep_nesting_is_a_clean_compile_error(formula: str) -> None:
    message = refused_at_compile_time(formula)
    assert f"nested more than {MAX_DEPTH} levels deep" in message
    assert len(message) < 400, "a long formula is cut in the message"


def test_nesting_up_to_the_limit_compiles_and_runs() -> None:
    assert run("FirstName" + " | lower" * (MAX_DEPTH - 1)) == "ada"
    assert run("(" * MAX_DEPTH + "FirstName" + ")" * MAX_DEPTH) == "Ada"
    refused_at_compile_time("FirstName" + " | lower" * MAX_DEPTH)
    # Brackets alone make no nesting in the parsed formula: they are counted as written.
    deeper = MAX_DEPTH + 1
    for opening, closing in ("()", "[]"):
        message = refused_at_compile_time(opening * deeper + "FirstName" + closing * deeper)
        assert f"nested more than {MAX_DEPTH} levels deep" in message


# --- check and sync --------------------------------------------------------------------------


def _mapping(tmp_path: Path, **formulas: str) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(
        "".join(
            f'[[rows]]\ndestination = {json.dumps(name)}\nkind = "formula"\n'
            f"source = {json.dumps(formula)}\n"
            for name, formula in formulas.items()
        )
    )
    return path


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("KLAVIYO_")]:
        monkeypatch.delenv(name)


@pytest.mark.usefixtures("offline")
def test_check_names_the_collection_and_row_of_each_nesting_bomb(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, Filters=NESTED_FILTERS, Brackets=NESTED_BRACKETS, Fine="FirstName")
    result = CliRunner().invoke(
        main, ["check", "--offline"], env={"KLAVIYO_SYNC_MAPPING": str(mapping)}
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "SyntaxError" not in result.output
    flat = " ".join(result.output.split())
    for collection in ("add", "update"):
        for row in ("Filters", "Brackets"):
            assert f"[{collection}] '{row}': formula" in flat
    assert flat.count(f"nested more than {MAX_DEPTH} levels deep") == 4
    assert "row 'Fine'" not in flat


def test_sync_refuses_a_nesting_bomb_before_any_customer(
    env: dict[str, str], tmp_path: Path
) -> None:
    mapping = _mapping(tmp_path, Nick=NESTED_FILTERS)
    customers = tmp_path / "customers.jsonl"
    customers.write_text(json.dumps({"Id": 1, "EmailAddress": "one@example.com"}) + "\n")
    result = CliRunner().invoke(
        main, ["sync", str(customers)], env={**env, "KLAVIYO_SYNC_MAPPING": str(mapping)}
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    flat = " ".join(result.output.split())
    assert "collection 'add' row 'Nick'" in flat
    assert f"nested more than {MAX_DEPTH} levels deep" in flat


async def test_a_bomb_fails_its_customer_and_the_run_goes_on(world: World) -> None:
    # Three five-fold steps: a 2-character nickname ends at 250 characters, a 500-character
    # one reaches a list of 12,500 items, past the limit: that customer fails, alone.
    formula = "custom('Nick', '')" + " | list | string" * 3 + " | length"
    world.with_mapping(_mapping(world.tmp, Nick=formula).read_text())
    outcomes = await world.sync(
        {"Id": 1, "EmailAddress": "one@example.com", "CustomFields": {"Nick": "Al"}},
        {"Id": 2, "EmailAddress": "two@example.com", "CustomFields": {"Nick": "x" * 500}},
        {"Id": 3, "EmailAddress": "three@example.com"},
    )
    assert {o.customer_id: o.kind for o in outcomes} == {
        "1": "created",
        "2": "failed",
        "3": "created",
    }
    [failed] = [o for o in outcomes if o.failure is not None]
    assert failed.failure is not None
    assert failed.failure.kind == "formula_error"
    assert failed.failure.stage == "mapping"
    assert "collection 'add' row 'Nick' customer '2'" in failed.failure.message
    assert f"a list of more than {MAX_ITEMS:,} items" in failed.failure.message
    properties = world.profile(outcomes[0].profile_id or "").properties
    assert properties is not None
    assert properties["Nick"] == 250
