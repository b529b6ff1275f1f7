"""The worker's guardrails: a micro-batch that would unsubscribe many subscribed customers is
parked in the error log and the worker goes on; a single opt-out trigger goes through."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from klaviyo_sync.mapping import load_collections
from klaviyo_sync.store import retry_delay
from tests.runtime.rig import Rig, worker_rig
from tests.world import World

# Consent follows a field of the customer record, so an opt-out is a record with it false.
NEWSLETTER = (
    '[[rows]]\ndestination = "SubscribeProfile"\nkind = "field"\n'
    'source = "CustomFields.Newsletter"\n'
)
UNSUBSCRIBE_JOBS = "/api/profile-subscription-bulk-delete-jobs"


def customer(n: int, *, newsletter: bool = True, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Id": n,
        "EmailAddress": f"guard{n}@example.com",
        "FirstName": "Guard",
        "LastName": f"Number {n}",
        "CustomFields": {"Newsletter": newsletter},
    }
    record.update(changes)
    return record


class GuardRig(Rig):
    def consent(self, n: int) -> str:
        profile = self.world.by_email(f"guard{n}@example.com")
        assert profile is not None, f"customer {n} has no profile"
        marketing = profile.email_marketing
        return marketing.consent if marketing is not None else "NEVER_SUBSCRIBED"

    def unsubscribe_requests(self) -> list[Any]:
        return self.world.requests("POST", prefix=UNSUBSCRIBE_JOBS)


@pytest.fixture
async def rig(world: World) -> AsyncIterator[GuardRig]:
    # About guardrails: subscribed at once, not after a confirmation email (Klaviyo's default).
    world.single_opt_in().with_mapping(NEWSLETTER)
    async with worker_rig(world, load_collections(world.settings.mapping_path)) as made:
        yield GuardRig(made.world, made.store, made.clock, made.worker)


async def test_a_broken_export_is_parked_past_the_first_ten_opt_outs(rig: GuardRig) -> None:
    subscribed = await rig.world.sync(*(customer(n) for n in range(1, 17)))
    assert {o.kind for o in subscribed} == {"created"}
    assert {rig.consent(n) for n in range(1, 17)} == {"SUBSCRIBED"}

    # A broken export: fifteen linked, subscribed customers arrive with Newsletter false. The
    # worker takes ten at a time; a run may always unsubscribe ten (they might be real
    # opt-outs), and past that the window of the last customers it handled is 100% opt-outs.
    rig.enqueue(*(customer(n, newsletter=False) for n in range(1, 16)))
    assert await rig.worker.run_once() == 10
    assert len(rig.unsubscribe_requests()) == 1, "the first ten, in one batched call"
    assert rig.store.count_failures() == 0
    assert await rig.worker.run_once() == 5
    assert rig.store.queue_depth() == 0, "the refused batch is acknowledged, not retried"
    failures = rig.store.list_failures()
    parked = {int(f.customer_id or 0) for f in failures}
    assert len(parked) == 5
    assert {(f.kind, f.retryable) for f in failures} == {("guardrail", False)}
    assert "unsubscribe 15 of 15 customers" in failures[0].message
    assert "errors retry --all --kind guardrail --force" in failures[0].message
    assert len(rig.unsubscribe_requests()) == 1
    assert {rig.consent(n) for n in parked} == {"SUBSCRIBED"}
    assert {rig.consent(n) for n in set(range(1, 16)) - parked} == {"UNSUBSCRIBED"}

    rig.clock.advance(retry_delay(1) * 10)
    assert await rig.worker.requeue_due_retries() == 0, "parked: not retried automatically"
    assert rig.store.queue_depth() == 0

    # The worker goes on: the next micro-batch is an ordinary update and a new customer.
    rig.enqueue(customer(16, LastName="Renamed"), customer(17))
    assert await rig.worker.run_once() == 2
    assert rig.store.queue_depth() == 0
    assert rig.world.by_email("guard16@example.com").last_name == "Renamed"  # type: ignore[union-attr]
    assert rig.consent(17) == "SUBSCRIBED"
    assert rig.store.count_failures(kind="guardrail") == 5, "no new refusal"
    assert rig.store.count_failures() == 5


async def test_a_single_opt_out_trigger_is_applied(rig: GuardRig) -> None:
    await rig.world.sync(customer(1), customer(2))
    assert rig.consent(1) == "SUBSCRIBED"

    rig.enqueue(customer(1, newsletter=False))
    assert await rig.worker.run_once() == 1
    assert rig.store.queue_depth() == 0
    assert rig.store.count_failures() == 0
    assert len(rig.unsubscribe_requests()) == 1
    assert rig.consent(1) == "UNSUBSCRIBED"
    assert rig.consent(2) == "SUBSCRIBED"


async def test_single_opt_outs_arriving_as_separate_triggers_are_each_applied(
    rig: GuardRig,
) -> None:
    await rig.world.sync(*(customer(n) for n in range(1, 4)))
    for n in (1, 2):
        rig.enqueue(customer(n, newsletter=False))
        assert await rig.worker.run_once() == 1
    assert [f.kind for f in rig.store.list_failures()] == []
    assert (rig.consent(1), rig.consent(2), rig.consent(3)) == (
        "UNSUBSCRIBED",
        "UNSUBSCRIBED",
        "SUBSCRIBED",
    )
