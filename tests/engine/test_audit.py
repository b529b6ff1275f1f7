"""The consent audit: every consent or list change the engine makes, with before and after."""

from __future__ import annotations

from klaviyo_sync.store import AuditRecord
from tests.acceptance.customers import ada
from tests.world import World

NEWSLETTER = """
[[rows]]
destination = "SubscribeProfile"
kind = "field"
source = "CustomFields.Newsletter"

[[rows]]
destination = "UCLIST_Preview List"
kind = "field"
source = "CustomFields.Preview"
"""


def _audit(world: World, customer_id: str = "55260") -> list[AuditRecord]:
    with world.store() as store:
        return list(reversed(store.list_audit(customer_id=customer_id)))


def _changes(records: list[AuditRecord]) -> list[tuple[str | None, ...]]:
    return [(r.action, r.list_name, r.before, r.after, r.row) for r in records]


async def test_the_audit_shows_each_consent_and_list_change(world: World) -> None:
    world.with_mapping(NEWSLETTER)
    subscribed = {"Newsletter": True, "Preview": True}
    [created] = await world.sync(ada(CustomFields=subscribed))
    first = _audit(world)
    # Klaviyo's default account is double opt-in: the subscription waits for a confirmation.
    assert _changes(first) == [
        (
            "subscribe",
            None,
            "new",
            "consent email sent (subscribed when confirmed)",
            "SubscribeProfile",
        ),
        (
            "list_add",
            "Sms Subscribers",
            "unknown",
            "consent email sent (joins when confirmed)",
            "LIST_Sms Subscribers",
        ),
        ("list_add", "Preview List", "unknown", "member", "UCLIST_Preview List"),
    ]
    assert {r.profile_id for r in first} == {created.profile_id}
    runs = {r.run_id for r in first}

    [changed] = await world.sync(ada(LastName="King", CustomFields=subscribed))
    assert changed.kind == "updated"
    assert len(_audit(world)) == 3, "consent as last applied: no change, nothing audited"

    await world.sync(ada(CustomFields={"Newsletter": False, "Preview": False}))
    latest = _audit(world)[3:]
    assert _changes(latest) == [
        ("unsubscribe", None, "subscribed", "unsubscribed", "SubscribeProfile"),
        ("list_remove", "Preview List", "member", "removed", "UCLIST_Preview List"),
    ]
    assert len(runs | {r.run_id for r in latest}) == 2
    assert world.profile(created.profile_id or "").email_marketing is not None


async def test_a_seed_unsubscribe_without_a_row_names_the_missing_row(world: World) -> None:
    world.with_mapping('remove = ["SubscribeProfile"]\n')
    await world.sync(ada())
    [unsubscribed] = [r for r in _audit(world) if r.action == "unsubscribe"]
    assert unsubscribed.row == "(no SubscribeProfile row)"


async def test_changes_not_made_are_not_audited(world: World) -> None:
    # A list Klaviyo does not have fails the customer's consent stage before any call.
    world.with_mapping('[[rows]]\ndestination = "UCLIST_Nowhere"\nkind = "static"\nsource = true\n')
    [outcome] = await world.sync(ada())
    assert outcome.failure is not None
    assert outcome.failure.kind == "unknown_list"
    assert _audit(world) == []
    assert world.profile(outcome.profile_id or "").email_marketing is None
