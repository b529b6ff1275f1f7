"""The seed's Validation Checklist, one test per item, each named after it."""

from __future__ import annotations

from klaviyo_sync.mapping import PhoneSettings, check_collections, load_collections
from klaviyo_sync.operations import check_configuration
from tests.acceptance.customers import ada
from tests.world import World


async def test_source_customer_has_an_email_or_a_phone_that_normalizes_to_e164(
    world: World,
) -> None:
    outcomes = await world.sync(
        ada(Id="email-only", Phone=None, EmailAddress="e@example.com"),
        ada(Id="phone-only", EmailAddress=None, Phone="+1 310 555 0123"),
        ada(Id="neither", EmailAddress=" ", Phone="not a number"),
    )
    assert [o.kind for o in outcomes] == ["created", "created", "failed"]
    assert outcomes[2].failure is not None
    assert outcomes[2].failure.kind == "no_identifier"


async def test_id_mapping_resolves_the_link_so_the_customer_routes_to_add_or_update(
    world: World,
) -> None:
    [first] = await world.sync(ada())
    [second] = await world.sync(ada(FirstName="Augusta"))
    assert (first.route, second.route) == ("create", "update")
    assert second.profile_id == first.profile_id
    assert world.requests("PATCH")[-1].path == f"/api/profiles/{first.profile_id}"
    # A stale link (the profile was deleted in Klaviyo) is dropped and the customer re-routed.
    world.sandbox.delete_profile(first.profile_id or "")
    [third] = await world.sync(ada(FirstName="Ada"))
    assert third.kind == "created"
    assert third.profile_id != first.profile_id


async def test_external_id_mapping_stores_the_customer_identifier_on_the_created_profile(
    world: World,
) -> None:
    [outcome] = await world.sync(ada(Id="C-0042"))
    assert world.profile(outcome.profile_id or "").external_id == "C-0042"


async def test_subscribe_profile_is_mapped_intentionally(world: World) -> None:
    world.with_mapping('remove = ["SubscribeProfile"]\n')
    messages = await check_configuration(world.settings, connections=world.connections)
    warnings = [m for m in messages if "unsubscribed" in m.message]
    assert {m.collection for m in warnings} == {"add", "update"}
    assert all(m.severity == "warning" for m in warnings)


async def test_list_and_uclist_names_match_real_klaviyo_lists_and_their_opt_in(
    world: World,
) -> None:
    assert not [
        m
        for m in await check_configuration(world.settings, connections=world.connections)
        if m.severity == "error"
    ]
    world.with_mapping(
        '[[rows]]\ndestination = "LIST_Newsletter"\nkind = "static"\nsource = true\n'
        '[[rows]]\ndestination = "UCLIST_Sms Subscribers"\nkind = "static"\nsource = true\n'
    )
    messages = await check_configuration(world.settings, connections=world.connections)
    assert any(m.severity == "error" and "Newsletter" in m.message for m in messages)
    assert any(
        m.severity == "warning" and "Sms Subscribers" in m.message and "double" in m.message
        for m in messages
    )
    # At run time the unknown list fails the customer's list step, after the profile is saved.
    [outcome] = await world.sync(ada())
    assert outcome.failure is not None
    assert outcome.failure.kind == "unknown_list"
    assert outcome.profile_id in world.sandbox.profiles
    with world.store() as store:
        assert store.get_link("55260") is not None


async def test_primary_billing_address_is_present_when_address_values_should_appear(
    world: World,
) -> None:
    [with_billing] = await world.sync(ada())
    assert world.profile(with_billing.profile_id or "").location == {
        "address1": "12 Babbage Row",
        "address2": "Suite 3",
        "city": "San Francisco",
        "region": "CA",
        "zip": "94107",
        "country": "US",
    }
    shipping_only = [{"Address1": "1 Shipping Lane", "City": "Oakland", "IsPrimaryShipping": True}]
    other = ada(Id=2, EmailAddress="b@example.com", Phone=None, Addresses=shipping_only)
    [without] = await world.sync(other)
    assert world.profile(without.profile_id or "").location is None
    # On update, no billing address sends no address values: the existing address stays.
    await world.sync(ada(Addresses=shipping_only, FirstName="Augusta"))
    assert world.profile(with_billing.profile_id or "").location is not None
    assert "location" not in world.requests("PATCH")[-1].body["data"]["attributes"]


async def test_add_only_and_update_only_collections_are_kept_separate(world: World) -> None:
    # FirstName is sent when the profile is created and never on update: Klaviyo owns it after.
    world.with_mapping('[update]\nremove = ["FirstName"]\n')
    [created] = await world.sync(ada())
    profile_id = created.profile_id or ""
    world.sandbox.update_profile(profile_id, {"first_name": "Edited in Klaviyo"})
    [updated] = await world.sync(ada(FirstName="Ada", LastName="King"))
    assert updated.kind == "updated"
    assert world.profile(profile_id).first_name == "Edited in Klaviyo"
    assert world.profile(profile_id).last_name == "King"
    collections = load_collections(world.settings.mapping_path)
    assert collections.add.row("FirstName") is not None
    assert collections.update.row("FirstName") is None
    assert not [
        m for m in check_collections(collections, phone=PhoneSettings()) if m.severity == "error"
    ]
