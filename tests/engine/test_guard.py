"""The guardrails: tallies of planned batches, and the batch that takes a run past them."""

from __future__ import annotations

import pytest

from klaviyo_sync.customer import Customer
from klaviyo_sync.draft import Draft
from klaviyo_sync.engine import BatchPlan, Before, Guard, Guardrails, Planned, Tally
from klaviyo_sync.engine._diff import compute_diff
from klaviyo_sync.exceptions import GuardrailError
from tests.world import World

RAILS = Guardrails()


def _planned(n: int, *, subscribe: bool | None, was: bool | None = True) -> Planned:
    draft = Draft(str(n), "update", attributes={"email": f"c{n}@example.com"}, subscribe=subscribe)
    state = {"$list:L": True} if was is None else {"$subscribe": was, "$list:L": True}
    before = Before.from_applied(state)
    planned = Planned(Customer.from_record({"Id": n}), draft, "update", profile_id=f"P{n}")
    planned.before = before
    planned.diff = compute_diff(
        draft, before, frozenset(), subscribe_row=True, existing=True, resend=False
    )
    return planned


def _batch(unsubscribes: int, others: int) -> BatchPlan:
    planned = [_planned(n, subscribe=False) for n in range(unsubscribes)]
    planned += [_planned(1000 + n, subscribe=True) for n in range(others)]
    return BatchPlan(planned=planned)


def test_a_tally_counts_only_real_unsubscribes() -> None:
    plan = BatchPlan(
        planned=[
            _planned(1, subscribe=False),  # subscribed before: counts
            _planned(2, subscribe=False, was=False),  # already unsubscribed: no change
            _planned(3, subscribe=True),
        ]
    )
    assert Tally.of(plan) == Tally(customers=3, unsubscribes=1)


def test_thirty_percent_unsubscribed_is_refused_and_says_why() -> None:
    guard = Guard(RAILS)
    with pytest.raises(GuardrailError) as refused:
        guard.admit(_batch(unsubscribes=60, others=140))
    assert refused.value.counts["unsubscribes"] == 60
    assert "unsubscribe 60 of 200 customers (30%)" in str(refused.value)
    assert "max_unsubscribe_share" in str(refused.value)
    assert "--force" in str(refused.value)
    assert guard.total == Tally(), "a refused batch is not counted in"


def test_a_small_run_may_always_unsubscribe_ten() -> None:
    guard = Guard(RAILS)
    guard.admit(_batch(unsubscribes=1, others=0))
    guard.admit(_batch(unsubscribes=9, others=0))
    assert guard.total.unsubscribes == 10
    with pytest.raises(GuardrailError, match="unsubscribe 11 of 11 customers"):
        guard.admit(_batch(unsubscribes=1, others=0))


def test_the_run_so_far_counts_toward_each_batch() -> None:
    guard = Guard(RAILS)
    guard.admit(_batch(unsubscribes=10, others=1990))  # 0.5%
    with pytest.raises(GuardrailError):
        guard.admit(_batch(unsubscribes=30, others=0))  # 40 of 2030 > 1%


def test_a_window_forgets_old_batches() -> None:
    guard = Guard(RAILS, window=200)
    guard.admit(_batch(unsubscribes=10, others=190))
    for _ in range(3):
        guard.admit(_batch(unsubscribes=0, others=100))
    assert guard.total.customers <= 300
    assert guard.total.unsubscribes == 0, "the opt-out fell out of the window"


def test_list_removals_and_cleared_fields_have_their_own_limits() -> None:
    removals = Tally(customers=1000, list_removals=11)
    assert removals.problems(RAILS) == [
        "take 11 of 1000 customers (1%) off a list (the limit is 1%: max_list_removal_share)"
    ]
    assert Tally(customers=10, cleared_fields=101).problems(RAILS)[0].startswith("clear 101")
    assert Tally(customers=10, cleared_fields=100).problems(RAILS) == []


NEWSLETTER = (
    '[[rows]]\ndestination = "SubscribeProfile"\nkind = "field"\n'
    'source = "CustomFields.Newsletter"\n'
)


def _customer(n: int, newsletter: bool) -> dict[str, object]:
    return {
        "Id": n,
        "EmailAddress": f"c{n}@example.com",
        "CustomFields": {"Newsletter": newsletter},
    }


async def test_a_run_unsubscribing_30_percent_is_refused_unless_forced(world: World) -> None:
    world.single_opt_in().with_mapping(NEWSLETTER)  # subscribed at once, to be unsubscribed
    await world.sync(*(_customer(n, True) for n in range(40)))
    writes = len(world.writes())
    opted_out = [_customer(n, n < 28) for n in range(40)]  # 12 of 40 say no

    with pytest.raises(GuardrailError, match=r"unsubscribe 12 of 40 customers \(30%\)"):
        await world.sync(*opted_out)
    assert len(world.writes()) == writes, "refused before anything was written"
    refused = world.runs[-1]
    assert sorted(o.kind for o in refused) == ["failed"] * 12 + ["unchanged"] * 28
    with world.store() as store:
        parked = store.list_failures(kind="guardrail")
        assert len(parked) == 12
        assert not any(f.retryable for f in parked)
        assert "klaviyo-sync plan" in parked[0].message
    consents = {
        p.email_marketing.consent for p in world.sandbox.profiles.values() if p.email_marketing
    }
    assert consents == {"SUBSCRIBED"}

    applied = await world.sync(*opted_out, force=True)
    assert sorted(o.kind for o in applied) == ["unchanged"] * 28 + ["updated"] * 12
    unsubscribed = [
        p
        for p in world.sandbox.profiles.values()
        if p.email_marketing and p.email_marketing.consent == "UNSUBSCRIBED"
    ]
    assert len(unsubscribed) == 12
    with world.store() as store:
        assert store.list_failures(kind="guardrail") == [], "applying them resolves them"


async def test_a_new_profile_unsubscribed_by_the_seed_rule_is_not_an_unsubscribe(
    world: World,
) -> None:
    world.with_mapping('remove = ["SubscribeProfile"]\n')
    outcomes = await world.sync(
        *({"Id": n, "EmailAddress": f"n{n}@example.com"} for n in range(30))
    )
    assert {o.kind for o in outcomes} == {"created"}
