"""Subscribe and unsubscribe jobs: shapes per the spec, chunked to Klaviyo's limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from klaviyo_sync.klaviyo import PARTIAL_FAILURE, KlaviyoClient, SubscriptionTarget

from .fakes import Canned, FakeKlaviyo

SUBSCRIBE = "/api/profile-subscription-bulk-create-jobs"
UNSUBSCRIBE = "/api/profile-subscription-bulk-delete-jobs"


@pytest.fixture(autouse=True)
def accept_jobs(api: FakeKlaviyo) -> None:
    api.on("POST", SUBSCRIBE, Canned(202))
    api.on("POST", UNSUBSCRIBE, Canned(202))


async def test_subscribe_shape(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    await client.subscribe_profiles(
        [
            SubscriptionTarget(email="a@x.com", profile_id="01A"),
            SubscriptionTarget(email="b@x.com", phone_number="+15005550006", sms_marketing=True),
            SubscriptionTarget(
                phone_number="+15005550007", email_marketing=False, sms_marketing=True
            ),
        ],
        list_id="L1",
        custom_source="klaviyo-sync",
    )

    assert api.calls[0].body == {
        "data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": {
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "id": "01A",
                            "attributes": {
                                "email": "a@x.com",
                                "subscriptions": {
                                    "email": {"marketing": {"consent": "SUBSCRIBED"}}
                                },
                            },
                        },
                        {
                            "type": "profile",
                            "attributes": {
                                "email": "b@x.com",
                                "phone_number": "+15005550006",
                                "subscriptions": {
                                    "email": {"marketing": {"consent": "SUBSCRIBED"}},
                                    "sms": {"marketing": {"consent": "SUBSCRIBED"}},
                                },
                            },
                        },
                        {
                            "type": "profile",
                            "attributes": {
                                "phone_number": "+15005550007",
                                "subscriptions": {"sms": {"marketing": {"consent": "SUBSCRIBED"}}},
                            },
                        },
                    ]
                },
                "custom_source": "klaviyo-sync",
            },
            "relationships": {"list": {"data": {"type": "list", "id": "L1"}}},
        }
    }


async def test_subscribe_without_a_list(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    await client.subscribe_profiles([SubscriptionTarget(email="a@x.com")])
    data = api.calls[0].body["data"]
    assert "relationships" not in data
    assert set(data["attributes"]) == {"profiles"}


async def test_historical_import_carries_consented_at(
    api: FakeKlaviyo, client: KlaviyoClient
) -> None:
    when = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    naive = datetime(2024, 3, 2, 9, 30)
    await client.subscribe_profiles(
        [
            SubscriptionTarget(email="a@x.com", consented_at=when),
            SubscriptionTarget(email="b@x.com", consented_at=naive),
        ],
        historical_import=True,
    )
    attributes = api.calls[0].body["data"]["attributes"]
    assert attributes["historical_import"] is True
    consents = [
        p["attributes"]["subscriptions"]["email"]["marketing"]
        for p in attributes["profiles"]["data"]
    ]
    assert consents == [
        {"consent": "SUBSCRIBED", "consented_at": "2024-03-01T09:30:00+00:00"},
        {"consent": "SUBSCRIBED", "consented_at": "2024-03-02T09:30:00+00:00"},
    ]


async def test_subscribe_chunks_by_1000(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    targets = [SubscriptionTarget(email=f"u{i}@x.com") for i in range(2_500)]
    await client.subscribe_profiles(targets, list_id="L1")
    sizes = [len(c.body["data"]["attributes"]["profiles"]["data"]) for c in api.calls]
    assert sizes == [1_000, 1_000, 500]
    sent = [
        p["attributes"]["email"]
        for c in api.calls
        for p in c.body["data"]["attributes"]["profiles"]["data"]
    ]
    assert sent == [t.email for t in targets]
    assert all(c.body["data"]["relationships"]["list"]["data"]["id"] == "L1" for c in api.calls)


async def test_unsubscribe_shape_and_chunks_by_100(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    targets = [SubscriptionTarget(email=f"u{i}@x.com", profile_id=f"P{i}") for i in range(249)] + [
        SubscriptionTarget(phone_number="+15005550006", email_marketing=False, sms_marketing=True)
    ]
    await client.unsubscribe_profiles(targets, list_id="L1")

    assert [c.path for c in api.calls] == [UNSUBSCRIBE] * 3
    chunks = [c.body["data"]["attributes"]["profiles"]["data"] for c in api.calls]
    assert [len(c) for c in chunks] == [100, 100, 50]
    assert chunks[0][0] == {
        "type": "profile",
        "attributes": {
            "email": "u0@x.com",
            "subscriptions": {"email": {"marketing": {"consent": "UNSUBSCRIBED"}}},
        },
    }
    assert chunks[2][-1]["attributes"] == {
        "phone_number": "+15005550006",
        "subscriptions": {"sms": {"marketing": {"consent": "UNSUBSCRIBED"}}},
    }
    body = api.calls[0].body["data"]
    assert body["type"] == "profile-subscription-bulk-delete-job"
    assert body["relationships"] == {"list": {"data": {"type": "list", "id": "L1"}}}


async def test_nothing_to_send_sends_nothing(api: FakeKlaviyo, client: KlaviyoClient) -> None:
    await client.subscribe_profiles([])
    await client.unsubscribe_profiles([])
    assert api.calls == []


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (SubscriptionTarget(phone_number="+15005550006"), "email marketing needs email"),
        (
            SubscriptionTarget(email="a@x.com", sms_marketing=True),
            "sms marketing needs phone_number",
        ),
        (SubscriptionTarget(email="a@x.com", email_marketing=False), "no channel"),
        (SubscriptionTarget(profile_id="01A"), "email marketing needs email"),
    ],
)
async def test_unusable_targets_are_refused(
    api: FakeKlaviyo, client: KlaviyoClient, target: SubscriptionTarget, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await client.subscribe_profiles([target])
    with pytest.raises(ValueError, match=message):
        await client.unsubscribe_profiles([target])
    assert api.calls == []


async def test_consented_at_only_with_historical_import(
    api: FakeKlaviyo, client: KlaviyoClient
) -> None:
    when = datetime(2024, 3, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="only allowed with historical_import"):
        await client.subscribe_profiles([SubscriptionTarget(email="a@x.com", consented_at=when)])
    with pytest.raises(ValueError, match="needs consented_at"):
        await client.subscribe_profiles(
            [SubscriptionTarget(email="a@x.com")], historical_import=True
        )
    assert api.calls == []


async def test_subscription_jobs_return_the_fields_klaviyo_left_out(
    api: FakeKlaviyo, client: KlaviyoClient
) -> None:
    api.instead("POST", SUBSCRIBE, Canned(202, headers={PARTIAL_FAILURE: "phone_number"}))
    targets = [
        SubscriptionTarget(email=f"p{i}@x.com", phone_number="+15550100199", sms_marketing=True)
        for i in range(1_500)
    ]
    assert await client.subscribe_profiles(targets) == ("phone_number",)
    assert len(api.calls) == 2, "two jobs, one answer"
    assert await client.unsubscribe_profiles(targets[:1]) == ()
