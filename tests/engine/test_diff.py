"""Diffs of a draft against what is known of its profile, and the state kept once applied."""

from __future__ import annotations

from typing import Any

from klaviyo_sync.draft import CLEAR, Draft
from klaviyo_sync.engine import Before
from klaviyo_sync.engine._diff import applied_state, compute_diff, flatten, list_key

MAPPED = frozenset({"email", "phone_number", "first_name", "location.city", "properties.Tier"})


def _draft(**attributes: Any) -> Draft:
    location = attributes.pop("location", {})
    properties = attributes.pop("properties", {})
    subscribe = attributes.pop("subscribe", None)
    lists = attributes.pop("lists", {})
    uclists = attributes.pop("uclists", {})
    overrides = attributes.pop("overrides", frozenset())
    return Draft(
        "c1",
        "update",
        attributes=attributes,
        location=location,
        properties=properties,
        subscribe=subscribe,
        lists=lists,
        uclists=uclists,
        overrides=overrides,
    )


def _applied(**attributes: Any) -> Before:
    """A store state as ``applied_state`` writes it: flat, with $-keys for intents."""
    subscribe = attributes.pop("subscribe", None)
    lists = attributes.pop("lists", {})
    state = flatten(attributes)
    if subscribe is not None:
        state["$subscribe"] = subscribe
    for name, want in lists.items():
        # In these tests a list named B is a UCLIST_ list, any other a LIST_ list.
        state[list_key(name, consent=name != "B")] = want
    return Before.from_applied(state)


def _kinds(diff: Any) -> dict[str, str]:
    return {change.field: change.kind for change in diff.fields}


def _diff(draft: Draft, before: Before, *, existing: bool = True, resend: bool = False) -> Any:
    return compute_diff(draft, before, MAPPED, subscribe_row=True, existing=existing, resend=resend)


def test_a_new_profile_sets_every_field_and_keeps_nothing() -> None:
    draft = _draft(email="a@example.com", first_name="Ada", location={"city": "Paris"})
    diff = _diff(draft, Before.new(), existing=False)
    assert _kinds(diff) == {"email": "set", "first_name": "set", "location.city": "set"}
    assert not diff.empty


def test_fields_changed_set_cleared_kept_and_untouched() -> None:
    before = _applied(
        email="A@Example.com",
        first_name="Ada",
        phone_number="+14155552671",
        location={"city": "Paris"},
        properties={"Tier": "gold"},
    )
    draft = _draft(
        email="a@example.com",  # the same email: Klaviyo compares emails without case
        first_name="Augusta",
        location={"city": "Paris"},
        properties={"Tier": CLEAR},
        title="Countess",
    )
    diff = _diff(draft, before)
    assert _kinds(diff) == {
        "first_name": "change",
        "properties.Tier": "clear",
        "title": "set",
        "phone_number": "kept",  # mapped, empty in the source: left as Klaviyo has it
    }
    [kept] = diff.of_kind("kept")
    assert kept.before == "+14155552671"


def test_clearing_an_empty_field_is_no_change() -> None:
    diff = _diff(_draft(email="a@example.com", properties={"Tier": CLEAR}), _applied())
    assert "properties.Tier" not in _kinds(diff)


def test_unmapped_fields_are_never_kept_or_cleared() -> None:
    before = _applied(email="a@example.com", organization="Navy")
    diff = _diff(_draft(email="a@example.com"), before)
    assert diff.fields == []
    assert diff.empty


def test_consent_changes_only_when_the_intent_differs_from_what_was_applied() -> None:
    subscribed = _applied(email="a@example.com", subscribe=True)
    assert _diff(_draft(email="a@example.com", subscribe=True), subscribed).consent is None
    change = _diff(_draft(email="a@example.com", subscribe=False), subscribed).consent
    assert change is not None
    assert (change.before, change.after, change.skipped) == ("subscribed", "unsubscribed", None)
    resent = _diff(_draft(email="a@example.com", subscribe=True), subscribed, resend=True)
    assert resent.consent is not None


def test_unsubscribe_counts_only_where_the_profile_is_or_may_be_subscribed() -> None:
    draft = _draft(email="a@example.com", subscribe=False)
    assert _diff(draft, Before.new(), existing=False).unsubscribes is False
    assert _diff(draft, _applied(subscribe=True)).unsubscribes is True
    assert _diff(draft, _applied()).unsubscribes is True  # never set by us: unknown
    never = Before.from_profile(_profile("NEVER_SUBSCRIBED"))
    assert _diff(draft, never).unsubscribes is False


def _profile(consent: str, **attributes: Any) -> dict[str, Any]:
    subscriptions = {"email": {"marketing": {"consent": consent}}}
    return {"id": "P1", "attributes": {**attributes, "subscriptions": subscriptions}}


def test_klaviyo_owns_consent_on_an_existing_profile() -> None:
    draft = _draft(email="a@example.com", subscribe=True, lists={"Weekly": True})
    before = Before.from_profile(_profile("UNSUBSCRIBED", email="a@example.com"))
    diff = _diff(draft, before)
    assert diff.consent is not None
    assert diff.consent.skipped is not None
    assert "override_klaviyo_consent" in diff.consent.skipped
    [weekly] = diff.lists
    assert weekly.skipped is not None
    assert diff.empty, "a skipped change sends nothing"
    assert diff.held_back == {"$subscribe", "$list:Weekly"}, "and is not recorded as applied"


def test_the_override_lets_the_source_subscribe_again() -> None:
    draft = _draft(
        email="a@example.com",
        subscribe=True,
        lists={"Weekly": True},
        overrides=frozenset({"SubscribeProfile", "LIST_Weekly"}),
    )
    diff = _diff(draft, Before.from_profile(_profile("UNSUBSCRIBED")))
    assert diff.consent is not None
    assert diff.consent.skipped is None
    assert [c.skipped for c in diff.lists] == [None]
    assert diff.held_back == set()


def test_a_new_profile_is_subscribed_whatever_klaviyo_said_of_nothing() -> None:
    draft = _draft(email="a@example.com", subscribe=True)
    diff = _diff(draft, Before.new(), existing=False)
    assert diff.consent is not None
    assert diff.consent.skipped is None


def test_lists_join_only_when_subscribe_is_true_and_removals_always_apply() -> None:
    draft = _draft(email="a@example.com", subscribe=None, lists={"A": True}, uclists={"B": False})
    diff = _diff(draft, _applied(lists={"B": True}))
    by_name = {c.name: c for c in diff.lists}
    assert by_name["A"].skipped == "not added: SubscribeProfile is not true"
    assert by_name["B"].action == "remove"
    assert by_name["B"].skipped is None
    assert diff.list_removals == [by_name["B"]]


def test_applied_state_merges_a_partial_patch_and_leaves_unsettled_intents_out() -> None:
    before = {
        "email": "a@example.com",
        "location.city": "Paris",
        "location.zip": "75001",
        "$subscribe": False,
        "$list:A": True,
    }
    draft = _draft(first_name="Ada", location={"city": "Lyon"}, subscribe=True, lists={"B": True})
    state = applied_state(before, draft, frozenset({"$subscribe", "$list:B"}))
    assert state == {
        "email": "a@example.com",
        "first_name": "Ada",
        "location.city": "Lyon",
        "location.zip": "75001",
        "$list:A": True,
    }, "$subscribe is dropped, not kept at False: the next run whose draft changes looks again"
    assert applied_state(before, draft)["$subscribe"] is True
    assert applied_state(before, draft)["$list:B"] is True
    assert Before.from_applied(state).consent == "unknown"
    assert Before.from_applied(state).list_intent("A", consent=True) is True


def test_flatten_names_location_and_properties_by_key() -> None:
    flat = flatten({"email": "x", "location": {"city": "P"}, "properties": {"My Custom": 1}})
    assert flat == {"email": "x", "location.city": "P", "properties.My Custom": 1}


def test_before_from_an_older_store_knows_nothing() -> None:
    before = Before.from_applied(None)
    assert (before.source, before.consent, dict(before.fields)) == ("store", "unknown", {})
    assert before.list_intent("A", consent=True) is None
