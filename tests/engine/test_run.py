"""Runs end to end against the in-process sandbox: outcomes, failures, batching, faults."""

from __future__ import annotations

import pytest
from klaviyo_sandbox import FaultRule

from klaviyo_sync.exceptions import KlaviyoAuthError
from tests.acceptance.customers import ada
from tests.world import World


def _customer(n: int, **extra: object) -> dict[str, object]:
    return {"Id": n, "EmailAddress": f"c{n}@example.com", "FirstName": f"C{n}", **extra}


async def test_every_customer_ends_in_exactly_one_outcome(world: World) -> None:
    world.settings = world.settings.model_copy(update={"batch_size": 40})
    good = [_customer(n) for n in range(95)]
    bad = [
        {"Id": "x1"},
        {"FirstName": "no id"},
        "not an object",
        _customer(7, Phone="(555) 010-0199"),
    ]
    outcomes = await world.sync(*good, *bad)

    assert len(outcomes) == len(good) + len(bad)
    kinds = [o.kind for o in outcomes]
    assert kinds.count("created") == 95
    failures = [o.failure.kind for o in outcomes if o.failure]
    assert sorted(failures) == [
        "invalid_record",
        "invalid_record",
        "no_identifier",
        "phone_rejected",
    ]
    with world.store() as store:
        [run] = store.list_runs()
        assert run.counts == {"created": 95, "failed": 4}
        assert len(store.run_outcomes(run.id)) == 99
        assert store.count_failures() == 4


async def test_malformed_record_is_logged_with_its_position(world: World) -> None:
    [outcome] = await world.sync({"Id": 3, "Addresses": "12 Main St"})
    assert outcome.failure is not None
    assert outcome.failure.kind == "invalid_record"
    assert outcome.failure.detail["where"] == "records:record 1"
    assert "Addresses must be a list" in outcome.failure.message


async def test_the_same_customer_twice_is_written_in_order_not_twice_at_once(
    world: World,
) -> None:
    outcomes = await world.sync(ada(), ada(LastName="King"))
    assert [o.kind for o in outcomes] == ["created", "updated"]
    assert len(world.sandbox.profiles) == 1
    assert world.profile(outcomes[0].profile_id or "").last_name == "King"


async def test_409_on_create_links_the_existing_profile(world: World) -> None:
    # Two customers sharing an email in one batch: both look unmatched, both try to create.
    outcomes = await world.sync(
        _customer(1, EmailAddress="shared@example.com"),
        _customer(2, EmailAddress="shared@example.com"),
    )
    assert sorted(o.kind for o in outcomes) == ["created", "matched_email"]
    assert len(world.sandbox.profiles) == 1
    adopted = next(o for o in outcomes if o.kind == "matched_email")
    assert "409 duplicate_profile" in adopted.detail["notes"][0]
    with world.store() as store:
        links = store.get_links(["1", "2"])
    assert links["1"].profile_id == links["2"].profile_id


async def test_klaviyo_unavailable_is_a_retryable_failure_that_loses_nothing(
    world: World,
) -> None:
    world.sandbox.set_faults([FaultRule(operation="create_profile", status=503)])
    [outcome] = await world.sync(ada())

    assert outcome.failure is not None
    assert (outcome.failure.kind, outcome.failure.retryable) == ("klaviyo_unavailable", True)
    assert world.clock.sleeps, "the client retried with backoff before giving up"
    world.sandbox.set_faults([])
    [retried] = await world.sync(ada())
    assert retried.kind == "created"
    with world.store() as store:
        assert store.count_failures() == 0, "the later success resolves the logged failure"
        assert store.count_failures(include_resolved=True) == 1


async def test_a_refused_api_key_stops_the_run_and_records_the_batch(tmp_path: object) -> None:
    from pathlib import Path

    world = World.make(Path(str(tmp_path)), KLAVIYO_API_KEY="pk_wrong0000")
    world.sandbox.config.api_key = "pk_right1111"
    with pytest.raises(KlaviyoAuthError):
        await world.sync(ada(), _customer(2))
    with world.store() as store:
        [run] = store.list_runs()
        assert run.finished_at is not None
        assert run.counts == {"failed": 2}
        assert {f.kind for f in store.list_failures()} == {"auth"}


async def test_full_resends_unchanged_customers(world: World) -> None:
    await world.sync(ada())
    [unchanged] = await world.sync(ada())
    [resent] = await world.sync(ada(), full=True)
    assert (unchanged.kind, resent.kind) == ("unchanged", "updated")


async def test_formula_error_names_collection_row_and_customer(world: World) -> None:
    world.with_mapping(
        '[[rows]]\ndestination = "SubscribeProfile"\nkind = "field"\nsource = "CustomFields.Opt"\n'
    )
    [outcome] = await world.sync(ada(CustomFields={"Opt": "maybe"}))
    assert outcome.failure is not None
    assert outcome.failure.kind == "formula_error"
    assert outcome.failure.stage == "mapping"
    for part in ("'add'", "SubscribeProfile", "55260"):
        assert part in outcome.failure.message
    assert world.writes() == []
