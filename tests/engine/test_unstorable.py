"""Issue 13 (2): a customer holding what no store can keep (a NUL, an unpaired surrogate, NaN)
fails alone, on SQLite and on PostgreSQL; the rest of its batch and of the run go on.

Before, one NUL in an ``Id`` made PostgreSQL refuse the whole batch's transaction: no outcomes,
no summary, nothing in the error log, and every rerun stopped the same way.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from klaviyo_sync.cli import main
from klaviyo_sync.operations import sync_source
from klaviyo_sync.outcome import Outcome
from klaviyo_sync.sources import open_source
from tests.postgres import fresh_postgres, postgres_wanted, with_postgres
from tests.world import World

BACKENDS = with_postgres("sqlite")


def _store_url(backend: str, tmp_path: Path) -> str:
    return fresh_postgres() if backend == "postgresql" else f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _store_url(request.param, tmp_path)


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> World:
    return World.make(tmp_path, KLAVIYO_SYNC_STORE=store_url)


def _good(n: int) -> dict[str, Any]:
    return {"Id": n, "EmailAddress": f"good{n}@example.com", "FirstName": f"Good {n}"}


def _poison(**fields: Any) -> dict[str, Any]:
    return {"Id": "poison", "EmailAddress": "poison@example.com", **fields}


# case → (record, the id its failure is logged under, where the message says the problem is)
POISON: dict[str, tuple[dict[str, Any], str, str]] = {
    "nul in the id": (_poison(Id="po\x00ison"), "po\\u0000ison", "Id holds a NUL"),
    "surrogate id": (_poison(Id="\udc80"), "\\udc80", "Id holds an unpaired surrogate"),
    "nul in a name": (_poison(FirstName="Ada\x00"), "poison", "FirstName holds a NUL"),
    "surrogate city": (
        _poison(Addresses=[{"City": "K\ud800ln", "IsPrimaryBilling": True}]),
        "poison",
        "Addresses[0].City holds an unpaired surrogate (\\ud800)",
    ),
    "nul in a key": (
        _poison(CustomFields={"Tier\x00": "gold"}),
        "poison",
        "a key of CustomFields, 'Tier\\u0000', holds a NUL",
    ),
    "nan": (_poison(CustomFields={"Score": float("nan")}), "poison", "CustomFields.Score is NaN"),
}


def _assert_logged_once(world: World, customer_id: str, where: str, attempts: int) -> None:
    with world.store() as store:
        [failure] = store.list_failures(customer_id=customer_id)
        assert failure.kind == "invalid_record"
        assert where in failure.message
        assert failure.attempts == attempts
        assert not failure.retryable
        [found] = store.list_failures(text=customer_id)
        assert found.id == failure.id, "findable by the escaped id in the error log's search"


@pytest.mark.parametrize("case", POISON)
async def test_a_poison_customer_fails_alone_and_the_run_goes_on(world: World, case: str) -> None:
    record, logged_as, where = POISON[case]
    records = [_good(1), _good(2), record, _good(3), _good(4)]

    outcomes = await world.sync(*records)

    assert sorted(o.kind for o in outcomes) == ["created"] * 4 + ["failed"]
    [failed] = [o for o in outcomes if o.kind == "failed"]
    assert failed.customer_id == logged_as
    assert failed.failure is not None
    assert where in failed.failure.message
    assert len(world.sandbox.profiles) == 4, "the good customers of the batch were sent"
    with world.store() as store:
        [run] = store.list_runs()
        assert run.counts == {"created": 4, "failed": 1}
        assert len(store.run_outcomes(run.id)) == 5
    _assert_logged_once(world, logged_as, where, attempts=1)

    again = await world.sync(*records)

    assert sorted(o.kind for o in again) == ["failed"] + ["unchanged"] * 4
    _assert_logged_once(world, logged_as, where, attempts=2)


async def test_a_jsonl_file_with_escaped_poison_fails_those_lines_alone(
    world: World, tmp_path: Path
) -> None:
    # Written as an export writes them: escapes in the text, which the source screens for.
    path = tmp_path / "customers.jsonl"
    lines = [
        json.dumps(_good(1)),
        '{"Id": "a\\u0000b", "EmailAddress": "p1@example.com"}',
        '{"Id": 5, "EmailAddress": "p2@example.com", "LastName": "\\uD834"}',
        '{"Id": 6, "EmailAddress": "p3@example.com", "CustomFields": {"n": 1e400}}',
        json.dumps({**_good(2), "LastName": "Ørsted \U0001d11e"}),  # a real pair is fine
        json.dumps(_good(3), ensure_ascii=True) + " ",
    ]
    path.write_text("\n".join(lines) + "\n")
    outcomes: list[Outcome] = []

    summary = await sync_source(
        world.settings,
        open_source(path),
        on_outcome=outcomes.append,
        connections=world.connections,
    )

    assert summary.outcomes == {"created": 3, "failed": 3}
    failures = {o.customer_id: o.failure.message for o in outcomes if o.failure}
    assert failures[f"{path}:4"].endswith("too large to keep (the largest is ~1.8e308)")
    assert "LastName holds an unpaired surrogate (\\ud834)" in failures["5"]
    assert f"{path}:2: Id holds a NUL" in failures["a\\u0000b"]
    with world.store() as store:
        assert store.count_failures() == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_cli_sync_ends_normally_with_a_summary_and_exits_as_documented(
    backend: str, env: dict[str, str], tmp_path: Path
) -> None:
    env = {**env, "KLAVIYO_SYNC_STORE": _store_url(backend, tmp_path)}
    path = tmp_path / "customers.jsonl"
    records = [_good(11), _poison(Id="cli\x00poison"), _good(12)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))

    for _ in range(2):  # a rerun does not stop either
        result = CliRunner().invoke(main, ["sync", str(path), "--json", "--strict"], env=env)
        assert result.exit_code == 3, "the record's own data: 0, or 3 with --strict"
        *per_customer, summary = [json.loads(line) for line in result.stdout.splitlines()]
        assert len(per_customer) == 3
        assert sum(summary["outcomes"].values()) == 3
        assert summary["outcomes"]["failed"] == 1
        [failed] = [line for line in per_customer if line.get("outcome") == "failed"]
        assert failed["customer_id"] == "cli\\u0000poison"


# Arbitrary customers: any text (surrogates and NUL included) in every field a customer has,
# keys too, numbers of every kind, and nested JSON where a record may hold it. One text in four
# is a known poison, so most batches mix poisoned customers with clean ones.
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=10)
POISON_TEXT = st.sampled_from(["\x00", "Ada\x00", "\ud800", "K\udfffln", "\x00\ud83d"])
TEXT = st.one_of(ANY_TEXT, ANY_TEXT, ANY_TEXT, POISON_TEXT)
SCALAR = st.one_of(TEXT, st.integers(), st.floats(), st.booleans(), st.none())
NESTED = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
ADDRESS = st.fixed_dictionaries(
    {},
    optional={
        **{k: SCALAR for k in ("Address1", "City", "Region", "PostalCode", "Country")},
        "IsPrimaryBilling": st.booleans(),
    },
)
CUSTOMER = st.fixed_dictionaries(
    {"Id": st.one_of(TEXT, st.integers(min_value=0))},
    optional={
        "EmailAddress": st.one_of(TEXT, st.emails()),
        "FirstName": SCALAR,
        "LastName": SCALAR,
        "Company": TEXT,
        "Phone": st.one_of(TEXT, st.just("(415) 555-2671")),
        "Addresses": st.lists(ADDRESS, max_size=2),
        "CustomFields": st.dictionaries(TEXT, NESTED, max_size=3),
        "Other": NESTED,
    },
)


@pytest.mark.postgres
@pytest.mark.skipif(not postgres_wanted(), reason="PostgreSQL is not reachable")
def test_arbitrary_customers_each_end_in_one_outcome_on_postgresql(tmp_path: Path) -> None:
    world = World.make(tmp_path, KLAVIYO_SYNC_STORE=fresh_postgres())

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(CUSTOMER, min_size=1, max_size=6))
    def one_run(records: list[dict[str, Any]]) -> None:
        outcomes = asyncio.run(world.sync(*records))
        assert len(outcomes) == len(records), "every customer ends in exactly one outcome"
        # "unexpected" is a batch's error given to each of its customers: none may fail for
        # what another holds.
        assert not [o for o in outcomes if o.failure and o.failure.kind == "unexpected"]
        with world.store() as store:
            run = store.list_runs(limit=1)[0]
            assert sum(run.counts.values()) == len(records), "the run ended normally"
            assert len(store.run_outcomes(run.id)) == len(records)
            # A customer's last outcome in the run decides its error log: one open failure.
            last = {o.customer_id: o for o in outcomes}
            for outcome in last.values():
                if outcome.failure is not None and outcome.failure.customer_id is not None:
                    assert store.count_failures(customer_id=outcome.customer_id) == 1

    one_run()


@pytest.mark.parametrize(
    "formula",
    [
        "FirstName ~ '\\u0000'",  # Jinja reads the escape in its literal: a NUL
        "FirstName ~ '\\ud800'",
        "[FirstName, '\\udfff']",
    ],
)
async def test_a_formula_that_makes_poison_fails_its_customer_alone(
    world: World, formula: str
) -> None:
    # The record is clean; the formula makes the unstorable value. Left in, it would reach
    # the applied state and fail the whole batch on PostgreSQL.
    world.with_mapping(
        f'[[rows]]\ndestination = "Nick"\nkind = "formula"\n'
        f"source = {json.dumps(f'({formula}) if FirstName else none')}\n"
        '[[rows]]\ndestination = "ExternalId"\nkind = "field"\nsource = "Id"\n'
        '[[rows]]\ndestination = "EmailAddress"\nkind = "field"\nsource = "EmailAddress"\n'
    )
    outcomes = await world.sync(_good(1), {**_good(2), "FirstName": ""}, _good(3))
    kinds = {o.customer_id: o.kind for o in outcomes}
    assert kinds == {"1": "failed", "2": "created", "3": "failed"}
    failure = outcomes[0].failure
    assert failure is not None
    assert failure.kind == "formula_error"
    assert "holds what no store can keep" in failure.message
    assert "row 'Nick'" in failure.message
