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


def test_a_pending_subscription_is_asked_already_and_shown_as_pending() -> None:
    before = _applied(email="a@example.com", subscribe="pending", lists={"Weekly": "pending"})
    assert before.consent == "pending"
    assert before.list_intent("Weekly", consent=True) is True, "asked, so not asked again"
    assert before.list_pending("Weekly")
    draft = _draft(email="a@example.com", subscribe=True, lists={"Weekly": True})
    assert _diff(draft, before).empty, "the same intent: nothing to send"

    resent = compute_diff(
        draft, before, MAPPED, subscribe_row=True, existing=True, resend=True, double=True
    )
    assert resent.consent is not None
    assert (resent.consent.shown_before, resent.consent.state_after) == ("pending", "pending")
    assert resent.consent.shown_after == "consent email sent (subscribed when confirmed)"
    [weekly] = resent.lists
    assert (weekly.before, weekly.pending, weekly.member) == (True, True, False)
    assert weekly.shown_before == "pending"

    unsubscribe = _diff(
        _draft(email="a@example.com", subscribe=False, lists={"Weekly": False}), before
    )
    assert unsubscribe.consent is not None
    assert unsubscribe.consent.before == "pending"
    assert unsubscribe.unsubscribes, "a pending profile may still confirm: a real unsubscribe"
    [removed] = unsubscribe.lists
    assert (removed.shown_before, removed.shown_after[:7]) == ("pending", "removed")


def test_klaviyo_never_subscribed_is_what_pending_looks_like() -> None:
    before = _applied(subscribe="pending")
    assert before.with_klaviyo_consent("never_subscribed").consent == "pending"
    assert before.with_klaviyo_consent("subscribed").consent == "subscribed"
    assert before.with_klaviyo_consent("unsubscribed").consent == "unsubscribed"
    live = Before.from_profile(_profile("NEVER_SUBSCRIBED"), before)
    assert (live.consent, live.klaviyo) == ("pending", "never_subscribed")


def test_a_subscription_is_pending_only_where_a_consent_email_goes_out() -> None:
    draft = _draft(email="a@example.com", subscribe=True)
    new = compute_diff(draft, Before.new(), MAPPED, subscribe_row=True, existing=False, double=True)
    assert new.consent is not None
    assert new.consent.confirm
    single = compute_diff(draft, Before.new(), MAPPED, subscribe_row=True, existing=False)
    assert single.consent is not None
    assert (single.consent.confirm, single.consent.shown_after) == (False, "subscribed")
    subscribed = Before.from_profile(_profile("SUBSCRIBED"))
    again = compute_diff(
        draft, subscribed, MAPPED, subscribe_row=True, existing=True, resend=True, double=True
    )
    assert again.consent is not None
    assert again.consent.state_after == "subscribed", "Klaviyo sends no email to a subscriber"


def test_consent_nothing_can_be_asked_with_is_skipped_in_the_diff() -> None:
    phone_only = _draft(phone_number="+14155552671", subscribe=True, lists={"Weekly": True})
    diff = _diff(phone_only, Before.new(), existing=False)
    assert diff.consent is not None
    assert diff.consent.skipped == "consent not changed: no email address"
    assert not diff.consent.kept_by_klaviyo
    [weekly] = diff.lists
    assert weekly.skipped == "not added: no email address to ask consent with"
    assert diff.held_back == {"$subscribe", "$list:Weekly"}
    sms = compute_diff(
        phone_only, Before.new(), MAPPED, subscribe_row=True, existing=False, sms=True
    )
    assert sms.consent is not None
    assert sms.consent.skipped is None, "with SMS consent on, the phone is a channel"


def test_applied_state_keeps_pending_and_what_a_failed_step_had() -> None:
    before = {"$subscribe": "pending", "$list:A": "pending", "$uclist:B": False}
    draft = _draft(subscribe=True, lists={"A": True, "C": True}, uclists={"B": True})
    state = applied_state(
        before, draft, done={"$list:C": "pending"}, failed=frozenset({"$uclist:B"})
    )
    assert state == {
        "$subscribe": "pending",
        "$list:A": "pending",
        "$list:C": "pending",
        "$uclist:B": False,
    }, "repeated intents stay pending; the failed one keeps what Klaviyo still has"
    assert applied_state(before, draft, done={"$subscribe": True})["$subscribe"] is True
    new = applied_state(None, draft, failed=frozenset({"$list:C"}))
    assert "$list:C" not in new
