"""Consent: subscribe and unsubscribe jobs, single vs double opt-in, confirmations."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from klaviyo_sandbox import Behaviour, ManualClock, Sandbox

from .conftest import SpecClient

SUBSCRIBE = "/api/profile-subscription-bulk-create-jobs"
UNSUBSCRIBE = "/api/profile-subscription-bulk-delete-jobs"


def entry(
    consent: str = "SUBSCRIBED",
    *,
    email: str | None = None,
    phone: str | None = None,
    channels: tuple[str, ...] = ("email",),
    consented_at: str | None = None,
    profile_id: str | None = None,
) -> dict[str, Any]:
    marketing: dict[str, Any] = {"consent": consent}
    if consented_at is not None:
        marketing["consented_at"] = consented_at
    attributes: dict[str, Any] = {"subscriptions": {c: {"marketing": marketing} for c in channels}}
    if email is not None:
        attributes["email"] = email
    if phone is not None:
        attributes["phone_number"] = phone
    item: dict[str, Any] = {"type": "profile", "attributes": attributes}
    if profile_id is not None:
        item["id"] = profile_id
    return item


def job(
    kind: str,
    profiles: list[dict[str, Any]],
    list_id: str | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": kind,
        "attributes": {"profiles": {"data": profiles}, **attributes},
    }
    if list_id is not None:
        data["relationships"] = {"list": {"data": {"type": "list", "id": list_id}}}
    return {"data": data}


def subscribe_job(profiles: list[dict[str, Any]], list_id: str | None = None, **kw: Any) -> Any:
    return job("profile-subscription-bulk-create-job", profiles, list_id, **kw)


def unsubscribe_job(profiles: list[dict[str, Any]], list_id: str | None = None) -> Any:
    return job("profile-subscription-bulk-delete-job", profiles, list_id)


async def subscriptions(client: SpecClient, profile_id: str) -> dict[str, Any]:
    response = await client.get(
        f"/api/profiles/{profile_id}", params={"additional-fields[profile]": "subscriptions"}
    )
    subs: dict[str, Any] = response.json()["data"]["attributes"]["subscriptions"]
    return subs


async def members(client: SpecClient, list_id: str) -> list[str]:
    response = await client.get(f"/api/lists/{list_id}/relationships/profiles")
    return [item["id"] for item in response.json()["data"]]


async def test_single_opt_in_list_subscribes_and_adds_at_once(
    client: SpecClient, sandbox: Sandbox
) -> None:
    list_id = await client.create_list("Preview", "single_opt_in")
    response = await client.post(
        SUBSCRIBE, subscribe_job([entry(email="ada@example.com")], list_id)
    )
    assert response.status_code == 202
    assert response.content == b""
    profile = sandbox.find_profile(email="ada@example.com")
    assert profile is not None  # subscribing an unknown address creates its profile
    assert await members(client, list_id) == [profile.id]
    marketing = (await subscriptions(client, profile.id))["email"]["marketing"]
    assert marketing["consent"] == "SUBSCRIBED"
    assert marketing["can_receive_email_marketing"] is True
    assert marketing["double_optin"] is False
    assert sandbox.emails == []


async def test_double_opt_in_list_sends_a_confirmation_and_waits(
    client: SpecClient, sandbox: Sandbox
) -> None:
    list_id = await client.create_list("Sms Subscribers", "double_opt_in")
    pid = (await client.create_profile(email="ada@example.com"))["id"]
    await client.post(SUBSCRIBE, subscribe_job([entry(email="ada@example.com")], list_id))

    emails = (await client.http.get("/__sandbox__/emails")).json()
    assert [(e["to"], e["list_id"], e["profile_id"]) for e in emails] == [
        ("ada@example.com", list_id, pid)
    ]
    assert await members(client, list_id) == []  # pending is not a member
    assert (await subscriptions(client, pid))["email"]["marketing"]["consent"] == (
        "NEVER_SUBSCRIBED"
    )
    # Asking again while pending sends no second email.
    await client.post(SUBSCRIBE, subscribe_job([entry(email="ada@example.com")], list_id))
    assert len(sandbox.emails) == 1

    confirmed = await client.http.post(
        "/__sandbox__/confirm", json={"list_id": list_id, "email": "ada@example.com"}
    )
    assert confirmed.status_code == 200
    assert await members(client, list_id) == [pid]
    marketing = (await subscriptions(client, pid))["email"]["marketing"]
    assert marketing["consent"] == "SUBSCRIBED"
    assert marketing["double_optin"] is True
    again = await client.http.post(
        "/__sandbox__/confirm", json={"list_id": list_id, "profile_id": pid}
    )
    assert again.status_code == 404


async def test_historical_import_skips_double_opt_in(client: SpecClient, sandbox: Sandbox) -> None:
    list_id = await client.create_list("DOI", "double_opt_in")
    body = subscribe_job(
        [entry(email="ada@example.com", consented_at="2024-01-01T00:00:00Z")],
        list_id,
        historical_import=True,
    )
    assert (await client.post(SUBSCRIBE, body)).status_code == 202
    profile = sandbox.find_profile(email="ada@example.com")
    assert profile is not None
    assert sandbox.emails == []
    marketing = (await subscriptions(client, profile.id))["email"]["marketing"]
    assert marketing["consent_timestamp"] == "2024-01-01T00:00:00+00:00"
    assert await members(client, list_id) == [profile.id]


@pytest.mark.parametrize(
    ("consented_at", "historical", "pointer_end"),
    [
        ("2024-01-01T00:00:00Z", None, "consented_at"),
        (None, True, "consented_at"),
        ("2030-01-01T00:00:00+00:00", True, "consented_at"),
        ("yesterday", True, "consented_at"),
    ],
)
async def test_consented_at_rules(
    client: SpecClient, consented_at: str | None, historical: bool | None, pointer_end: str
) -> None:
    extra = {} if historical is None else {"historical_import": historical}
    body = subscribe_job([entry(email="a@example.com", consented_at=consented_at)], **extra)
    response = await client.post(SUBSCRIBE, body)
    assert response.status_code == 400
    pointer = response.json()["errors"][0]["source"]["pointer"]
    assert pointer.endswith(pointer_end)


@pytest.mark.behaviour(default_opt_in="single_opt_in")
async def test_subscribe_without_a_list_follows_the_account_default(
    client: SpecClient, sandbox: Sandbox, make_app: Any
) -> None:
    await client.post(
        SUBSCRIBE,
        subscribe_job(
            [entry(email="a@example.com", phone="+14155552671", channels=("email", "sms"))]
        ),
    )
    profile = sandbox.find_profile(email="a@example.com")
    assert profile is not None
    assert profile.phone_number == "+14155552671"
    subs = await subscriptions(client, profile.id)
    assert subs["email"]["marketing"]["consent"] == "SUBSCRIBED"
    assert subs["sms"]["marketing"]["consent"] == "SUBSCRIBED"
    assert subs["sms"]["marketing"]["can_receive_sms_marketing"] is True

    doi_app = make_app(rate_limits=False, behaviour=Behaviour(default_opt_in="double_opt_in"))
    from .conftest import client_for

    async with client_for(doi_app) as http:
        doi = SpecClient(http)
        await doi.post(SUBSCRIBE, subscribe_job([entry(email="b@example.com")]))
        emails = doi_app.state.sandbox.emails
        assert [(e.to, e.list_id) for e in emails] == [("b@example.com", None)]


async def test_unsubscribe_without_list_is_global_and_suppresses(
    client: SpecClient, sandbox: Sandbox
) -> None:
    list_id = await client.create_list("News")
    await client.post(SUBSCRIBE, subscribe_job([entry(email="a@example.com")], list_id))
    response = await client.post(
        UNSUBSCRIBE, unsubscribe_job([entry("UNSUBSCRIBED", email="a@example.com")])
    )
    assert response.status_code == 202
    assert response.content == b""
    profile = sandbox.find_profile(email="a@example.com")
    assert profile is not None
    marketing = (await subscriptions(client, profile.id))["email"]["marketing"]
    assert marketing["consent"] == "UNSUBSCRIBED"
    assert marketing["can_receive_email_marketing"] is False
    assert [s["reason"] for s in marketing["suppression"]] == ["UNSUBSCRIBE"]
    assert await members(client, list_id) == [profile.id]  # membership is not consent


async def test_unsubscribe_from_a_list_the_profile_is_in_leaves_global_consent(
    client: SpecClient, sandbox: Sandbox
) -> None:
    list_id = await client.create_list("News")
    other = await client.create_list("Other")
    await client.post(SUBSCRIBE, subscribe_job([entry(email="a@example.com")], list_id))
    profile = sandbox.find_profile(email="a@example.com")
    assert profile is not None
    await client.post(
        UNSUBSCRIBE, unsubscribe_job([entry("UNSUBSCRIBED", email="a@example.com")], list_id)
    )
    assert await members(client, list_id) == []
    marketing = (await subscriptions(client, profile.id))["email"]["marketing"]
    assert marketing["consent"] == "SUBSCRIBED"
    assert [s["list_id"] for s in marketing["list_suppressions"]] == [list_id]
    # Not in "Other": the spec warns that this unsubscribes globally.
    await client.post(
        UNSUBSCRIBE, unsubscribe_job([entry("UNSUBSCRIBED", email="a@example.com")], other)
    )
    marketing = (await subscriptions(client, profile.id))["email"]["marketing"]
    assert marketing["consent"] == "UNSUBSCRIBED"


@pytest.mark.behaviour(default_opt_in="single_opt_in")
async def test_resubscribing_lifts_the_suppression(client: SpecClient, sandbox: Sandbox) -> None:
    await client.post(UNSUBSCRIBE, unsubscribe_job([entry("UNSUBSCRIBED", email="a@example.com")]))
    await client.post(SUBSCRIBE, subscribe_job([entry(email="a@example.com")]))
    profile = sandbox.find_profile(email="a@example.com")
    assert profile is not None
    marketing = (await subscriptions(client, profile.id))["email"]["marketing"]
    assert marketing["consent"] == "SUBSCRIBED"
    assert marketing["suppression"] == []


async def test_sms_unsubscribe(client: SpecClient, sandbox: Sandbox) -> None:
    phone = "+14155552671"
    await client.post(SUBSCRIBE, subscribe_job([entry(phone=phone, channels=("sms",))]))
    await client.post(
        UNSUBSCRIBE, unsubscribe_job([entry("UNSUBSCRIBED", phone=phone, channels=("sms",))])
    )
    profile = sandbox.find_profile(phone_number=phone)
    assert profile is not None
    marketing = (await subscriptions(client, profile.id))["sms"]["marketing"]
    assert marketing["consent"] == "UNSUBSCRIBED"
    assert marketing["can_receive_sms_marketing"] is False


@pytest.mark.behaviour(default_opt_in="single_opt_in")
async def test_subscribe_by_profile_id(client: SpecClient, clock: ManualClock) -> None:
    pid = (await client.create_profile(email="a@example.com"))["id"]
    clock.advance(3)
    await client.post(SUBSCRIBE, subscribe_job([entry(profile_id=pid)]))
    marketing = (await subscriptions(client, pid))["email"]["marketing"]
    assert marketing["consent_timestamp"] == "2026-10-15T00:00:03+00:00"


_ROW = "/data/attributes/profiles/data/0"
_ATTRS = f"{_ROW}/attributes"


@pytest.mark.parametrize(
    ("item", "pointer"),
    [
        (entry(email="bad"), f"{_ATTRS}/email"),
        (entry(phone="+15555550100", channels=("sms",)), f"{_ATTRS}/phone_number"),
        (entry(channels=("sms",), email="a@example.com"), f"{_ATTRS}/phone_number"),
        (
            entry("UNSUBSCRIBED", email="a@example.com"),
            f"{_ATTRS}/subscriptions/email/marketing/consent",
        ),
        (
            entry(email="a@example.com", channels=("whatsapp",)),
            f"{_ATTRS}/subscriptions/whatsapp",
        ),
        (entry(profile_id="NOPE"), f"{_ROW}/id"),
    ],
)
async def test_subscribe_validation(client: SpecClient, item: dict[str, Any], pointer: str) -> None:
    response = await client.post(SUBSCRIBE, subscribe_job([item]))
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == pointer


async def test_job_size_limits(client: SpecClient) -> None:
    many = [entry(email=f"p{i}@example.com") for i in range(1001)]
    assert (await client.post(SUBSCRIBE, subscribe_job(many))).status_code == 400
    unsub = [entry("UNSUBSCRIBED", email=f"p{i}@example.com") for i in range(101)]
    assert (await client.post(UNSUBSCRIBE, unsubscribe_job(unsub))).status_code == 400
    unknown_list = subscribe_job([entry(email="a@example.com")], "NOLIST")
    response = await client.post(SUBSCRIBE, unknown_list)
    assert response.status_code == 400


async def test_admin_confirm_needs_a_pending_opt_in(client: SpecClient) -> None:
    http: httpx.AsyncClient = client.http
    missing = await http.post("/__sandbox__/confirm", json={"list_id": "X", "email": "a@b.co"})
    assert missing.status_code == 404
    bad = await http.post("/__sandbox__/confirm", json={"email": "a@b.co"})
    assert bad.status_code == 400
