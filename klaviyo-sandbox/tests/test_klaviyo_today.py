"""Klaviyo as it behaves today where it changed over time or the spec is silent (issue 14).

Each behaviour is played by the sandbox setting that names it (``Behaviour``), and the older
or disputed one by the other value, so both can be exercised whatever the defaults are.
"""

from __future__ import annotations

import pytest

from klaviyo_sandbox import ManualClock, Sandbox

from .conftest import SpecClient, profile_doc
from .test_consent import SUBSCRIBE, entry, subscribe_job, subscriptions
from .test_jobs import JOBS, job_doc, row

PARTIAL = "X-Klaviyo-Partial-Failure"
INVALID_PHONE = "+1555"  # too short for any country
ROWS = "/data/attributes/profiles/data"

drop_phone = pytest.mark.behaviour(invalid_phone="drop")
refuse_phone = pytest.mark.behaviour(invalid_phone="refuse")
at_submit = pytest.mark.behaviour(bulk_import_validation="submit")
nulls_ignored = pytest.mark.behaviour(bulk_import_null="ignore")


# -- 2. an invalid phone beside another identifier is dropped, not refused -----------------


@drop_phone
@pytest.mark.parametrize(
    "identifiers",
    [{"email": "ada@example.com"}, {"external_id": "c-1"}],
    ids=["email", "external_id"],
)
async def test_create_drops_an_invalid_phone_beside_another_identifier(
    client: SpecClient, sandbox: Sandbox, identifiers: dict[str, str]
) -> None:
    attributes = {**identifiers, "phone_number": INVALID_PHONE, "first_name": "Ada"}
    response = await client.post("/api/profiles", profile_doc(attributes))
    assert response.status_code == 201
    assert response.headers[PARTIAL] == "phone_number"
    profile = sandbox.profiles[response.json()["data"]["id"]]
    assert (profile.phone_number, profile.first_name) == (None, "Ada")


@drop_phone
async def test_an_invalid_phone_alone_is_still_400(client: SpecClient, sandbox: Sandbox) -> None:
    only_phone = profile_doc({"phone_number": INVALID_PHONE, "first_name": "Ada"})
    for path in ("/api/profiles", "/api/profile-import"):
        response = await client.post(path, only_phone)
        assert response.status_code == 400
        error = response.json()["errors"][0]
        assert error["source"]["pointer"] == "/data/attributes/phone_number"
        assert PARTIAL not in response.headers
    assert sandbox.profiles == {}


@drop_phone
async def test_a_valid_phone_carries_no_partial_failure(client: SpecClient) -> None:
    good = profile_doc({"email": "ada@example.com", "phone_number": "+14155552671"})
    response = await client.post("/api/profiles", good)
    assert response.status_code == 201
    assert PARTIAL not in response.headers


@drop_phone
async def test_profile_import_drops_the_phone_and_keeps_the_stored_one(
    client: SpecClient, sandbox: Sandbox
) -> None:
    created = await client.post(
        "/api/profile-import", profile_doc({"email": "ada@example.com", "phone_number": "bad"})
    )
    assert (created.status_code, created.headers[PARTIAL]) == (201, "phone_number")
    pid = created.json()["data"]["id"]
    sandbox.update_profile(pid, {"phone_number": "+14155552671"})
    again = await client.post(
        "/api/profile-import",
        profile_doc({"email": "ada@example.com", "phone_number": INVALID_PHONE, "title": "Dr"}),
    )
    assert (again.status_code, again.headers[PARTIAL]) == (200, "phone_number")
    assert (sandbox.profiles[pid].phone_number, sandbox.profiles[pid].title) == (
        "+14155552671",
        "Dr",
    )
    by_id = await client.post(
        "/api/profile-import", profile_doc({"phone_number": INVALID_PHONE}, id=pid)
    )
    assert (by_id.status_code, by_id.headers[PARTIAL]) == (200, "phone_number")


@drop_phone
async def test_patch_still_refuses_an_invalid_phone(client: SpecClient) -> None:
    # Klaviyo's announcement names Create Profile, Subscribe and Create Event, not Update.
    pid = (await client.create_profile(email="ada@example.com"))["id"]
    response = await client.patch(
        f"/api/profiles/{pid}", profile_doc({"phone_number": INVALID_PHONE}, id=pid)
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/data/attributes/phone_number"


@pytest.mark.behaviour(invalid_phone="drop", default_opt_in="single_opt_in")
async def test_subscribe_drops_the_phone_and_goes_on_by_the_email(
    client: SpecClient, sandbox: Sandbox
) -> None:
    item = entry(email="ada@example.com", phone=INVALID_PHONE, channels=("email", "sms"))
    response = await client.post(SUBSCRIBE, subscribe_job([item]))
    assert response.status_code == 202
    assert response.headers[PARTIAL] == "phone_number"
    profile = sandbox.find_profile(email="ada@example.com")
    assert profile is not None
    assert profile.phone_number is None
    subs = await subscriptions(client, profile.id)
    assert subs["email"]["marketing"]["consent"] == "SUBSCRIBED"
    assert subs["sms"]["marketing"]["consent"] == "NEVER_SUBSCRIBED"


@drop_phone
async def test_subscribe_with_only_an_invalid_phone_is_400(client: SpecClient) -> None:
    response = await client.post(
        SUBSCRIBE, subscribe_job([entry(phone=INVALID_PHONE, channels=("sms",))])
    )
    assert response.status_code == 400
    pointer = response.json()["errors"][0]["source"]["pointer"]
    assert pointer == f"{ROWS}/0/attributes/phone_number"


@refuse_phone
async def test_the_older_klaviyo_refuses_an_invalid_phone_beside_an_email(
    client: SpecClient,
) -> None:
    beside = {"email": "ada@example.com", "phone_number": INVALID_PHONE}
    for path in ("/api/profiles", "/api/profile-import"):
        response = await client.post(path, profile_doc(beside))
        assert response.status_code == 400, path
        assert response.json()["errors"][0]["source"]["pointer"] == (
            "/data/attributes/phone_number"
        )
    subscribe = await client.post(
        SUBSCRIBE, subscribe_job([entry(email="ada@example.com", phone=INVALID_PHONE)])
    )
    assert subscribe.status_code == 400


@refuse_phone
async def test_the_behaviour_changes_at_run_time_and_a_reset_restores_it(
    client: SpecClient, sandbox: Sandbox
) -> None:
    changed = await client.http.post("/__sandbox__/behaviour", json={"invalid_phone": "drop"})
    assert changed.json()["invalid_phone"] == "drop"
    beside = profile_doc({"email": "ada@example.com", "phone_number": INVALID_PHONE})
    assert (await client.post("/api/profiles", beside)).status_code == 201
    bad = await client.http.post("/__sandbox__/behaviour", json={"invalid_phone": "maybe"})
    assert bad.status_code == 400
    unknown = await client.http.post("/__sandbox__/behaviour", json={"colour": "blue"})
    assert unknown.status_code == 400
    await client.http.post("/__sandbox__/reset")
    assert (await client.http.get("/__sandbox__/behaviour")).json()["invalid_phone"] == "refuse"
    assert sandbox.behaviour.invalid_phone == "refuse"


# -- 3. a bulk import job is validated at submit, all or nothing ---------------------------


@at_submit
async def test_one_bad_row_refuses_the_whole_job_naming_each_bad_row(
    client: SpecClient, sandbox: Sandbox, clock: ManualClock
) -> None:
    rows = [row(email=f"p{i}@example.com") for i in range(6)]
    rows[1] = row(email="not-an-email", external_id="c-1")
    rows[3] = row(email="p3@example.com", phone_number=INVALID_PHONE)
    rows[4] = row(email="p4@example.com", favourite_colour="blue")
    rows[5] = row(first_name="No identifier")
    response = await client.post(JOBS, job_doc(rows))
    assert response.status_code == 400
    pointers = [error["source"]["pointer"] for error in response.json()["errors"]]
    assert pointers == [
        f"{ROWS}/1/attributes/email",
        f"{ROWS}/3/attributes/phone_number",
        f"{ROWS}/4/attributes/favourite_colour",
        f"{ROWS}/5/attributes",
    ]
    clock.advance(1.0)
    assert (sandbox.jobs, sandbox.profiles) == ({}, {})


@at_submit
async def test_rows_that_fail_later_still_show_in_import_errors(
    client: SpecClient, sandbox: Sandbox, clock: ManualClock
) -> None:
    await client.create_profile(email="a@example.com")
    await client.create_profile(phone_number="+14155552671")
    rows = [row(email="a@example.com", phone_number="+14155552671"), row(email="c@example.com")]
    rows.append({"type": "profile", "id": "NOPE", "attributes": {"first_name": "Gone"}})
    created = await client.post(JOBS, job_doc(rows))
    assert created.status_code == 202
    clock.advance(1.0)
    job_id = created.json()["data"]["id"]
    done = (await client.get(f"{JOBS}/{job_id}")).json()["data"]["attributes"]
    assert (done["completed_count"], done["failed_count"]) == (1, 2)
    errors = (await client.get(f"{JOBS}/{job_id}/import-errors")).json()["data"]
    assert [e["attributes"]["code"] for e in errors] == ["duplicate_profile", "not_found"]


@pytest.mark.behaviour(bulk_import_validation="row")
async def test_the_row_by_row_job_accepts_bad_rows_and_fails_them_later(
    client: SpecClient, clock: ManualClock
) -> None:
    rows = [row(email="good@example.com"), row(email="not-an-email")]
    created = await client.post(JOBS, job_doc(rows))
    assert created.status_code == 202
    clock.advance(1.0)
    job_id = created.json()["data"]["id"]
    errors = (await client.get(f"{JOBS}/{job_id}/import-errors")).json()["data"]
    assert [e["attributes"]["source"]["pointer"] for e in errors] == [f"{ROWS}/1/attributes/email"]


# -- 4. a null in a bulk import row is ignored -------------------------------------------


def _full_profile(sandbox: Sandbox) -> str:
    return sandbox.create_profile(
        {
            "email": "ada@example.com",
            "phone_number": "+14155552671",
            "first_name": "Ada",
            "location": {"city": "London", "country": "UK"},
            "properties": {"tier": "gold", "vip": True},
        }
    ).id


_NULLS = {
    "email": "ada@example.com",
    "phone_number": None,
    "first_name": None,
    "last_name": "Lovelace",
    "location": {"city": None},
    "properties": {"tier": None},
}


@nulls_ignored
async def test_bulk_import_leaves_a_field_sent_as_null(
    client: SpecClient, sandbox: Sandbox, clock: ManualClock
) -> None:
    pid = _full_profile(sandbox)
    assert (await client.post(JOBS, job_doc([row(**_NULLS)]))).status_code == 202
    clock.advance(1.0)
    sandbox.process_jobs()
    profile = sandbox.profiles[pid]
    assert (profile.phone_number, profile.first_name, profile.last_name) == (
        "+14155552671",
        "Ada",
        "Lovelace",
    )
    assert profile.location == {"city": "London", "country": "UK"}
    assert profile.properties == {"tier": "gold", "vip": True}


@nulls_ignored
async def test_profile_import_still_clears_on_null(client: SpecClient, sandbox: Sandbox) -> None:
    pid = _full_profile(sandbox)
    response = await client.post("/api/profile-import", profile_doc(_NULLS))
    assert response.status_code == 200
    profile = sandbox.profiles[pid]
    assert (profile.phone_number, profile.first_name) == (None, None)
    assert profile.location == {"country": "UK"}


@pytest.mark.behaviour(bulk_import_null="clear")
async def test_the_clearing_bulk_import_clears_on_null(
    client: SpecClient, sandbox: Sandbox, clock: ManualClock
) -> None:
    pid = _full_profile(sandbox)
    await client.post(JOBS, job_doc([row(**_NULLS)]))
    clock.advance(1.0)
    sandbox.process_jobs()
    profile = sandbox.profiles[pid]
    assert (profile.phone_number, profile.first_name) == (None, None)
    assert profile.properties == {"vip": True}


# -- 5. double opt-in is the account's default -------------------------------------------


@pytest.mark.behaviour(default_opt_in="double_opt_in")
async def test_lists_and_listless_subscriptions_follow_a_double_opt_in_account(
    client: SpecClient, sandbox: Sandbox
) -> None:
    created = await client.post(
        "/api/lists", {"data": {"type": "list", "attributes": {"name": "N"}}}
    )
    assert created.json()["data"]["attributes"]["opt_in_process"] == "double_opt_in"
    await client.post(SUBSCRIBE, subscribe_job([entry(email="ada@example.com")]))
    profile = sandbox.find_profile(email="ada@example.com")
    assert profile is not None
    subs = await subscriptions(client, profile.id)
    assert subs["email"]["marketing"]["consent"] == "NEVER_SUBSCRIBED"
    assert [(e.to, e.list_id) for e in sandbox.emails] == [("ada@example.com", None)]
    sandbox.confirm(None, profile_id=profile.id)
    assert (await subscriptions(client, profile.id))["email"]["marketing"]["consent"] == (
        "SUBSCRIBED"
    )


@pytest.mark.behaviour(default_opt_in="double_opt_in", new_list_opt_in="single_opt_in")
async def test_new_lists_may_default_apart_from_the_account(
    client: SpecClient, sandbox: Sandbox
) -> None:
    created = sandbox.create_list("N")
    assert created.opt_in_process == "single_opt_in"
    await client.post(SUBSCRIBE, subscribe_job([entry(email="ada@example.com")]))
    assert len(sandbox.emails) == 1


@pytest.mark.behaviour(default_opt_in="single_opt_in")
async def test_a_single_opt_in_account_subscribes_at_once(
    client: SpecClient, sandbox: Sandbox
) -> None:
    assert sandbox.create_list("N").opt_in_process == "single_opt_in"
    await client.post(SUBSCRIBE, subscribe_job([entry(email="ada@example.com")]))
    assert sandbox.emails == []


# -- 6. patch_identifiers: null, and sparse fieldsets and include checked everywhere --------


async def test_patch_identifiers_null_is_accepted(
    client: SpecClient, sandbox: Sandbox, clock: ManualClock
) -> None:
    meta = {"patch_properties": None, "patch_identifiers": None}
    imported = await client.post(
        "/api/profile-import", profile_doc({"email": "ada@example.com"}, meta=meta)
    )
    assert imported.status_code == 201
    pid = imported.json()["data"]["id"]
    patched = await client.patch(
        f"/api/profiles/{pid}", profile_doc({"first_name": "Ada"}, id=pid, meta=meta)
    )
    assert patched.status_code == 200
    job_row = {**row(email="b@example.com"), "meta": meta}
    assert (await client.post(JOBS, job_doc([job_row]))).status_code == 202
    asked = await client.patch(
        f"/api/profiles/{pid}",
        profile_doc({}, id=pid, meta={"patch_identifiers": {"append": {"email": ["x@y.io"]}}}),
    )
    assert asked.status_code == 400  # secondary emails are not emulated


async def _paths(client: SpecClient, sandbox: Sandbox) -> dict[str, str]:
    pid = (await client.create_profile(email="ada@example.com"))["id"]
    list_id = await client.create_list("L")
    job_id = sandbox.create_import_job([row(email="b@example.com")]).id
    return {"profile": pid, "list": list_id, "job": job_id}


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/profiles/{profile}/lists", {"fields[list]": "name,colour"}),
        ("/api/profile-bulk-import-jobs/{job}/lists", {"fields[list]": "bogus"}),
        ("/api/profile-bulk-import-jobs/{job}", {"fields[list]": "bogus"}),
        ("/api/lists", {"fields[tag]": "colour"}),
        ("/api/lists/{list}", {"fields[tag]": "bogus"}),
        ("/api/lists/{list}", {"fields[list]": "member_count"}),
        ("/api/profiles", {"include": "everything"}),
        ("/api/profiles/{profile}", {"include": "lists,friends"}),
        ("/api/profiles/{profile}/lists", {"include": "tags"}),
        ("/api/profile-bulk-import-jobs/{job}", {"include": "profiles"}),
        ("/api/lists/{list}/profiles", {"include": "lists"}),
        ("/api/lists", {"include": "profiles"}),
    ],
)
async def test_unknown_fieldset_and_include_values_are_400_everywhere(
    client: SpecClient, sandbox: Sandbox, path: str, params: dict[str, str]
) -> None:
    url = path.format(**await _paths(client, sandbox))
    response = await client.get(url, params=params)
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["source"] == {"parameter": next(iter(params))}
    assert "not a valid value" in error["detail"]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/lists", {"fields[tag]": "name"}, 200),
        ("/api/lists/{list}", {"fields[list]": "name,profile_count"}, 200),
        ("/api/profiles/{profile}/lists", {"fields[list]": "name"}, 200),
        ("/api/lists", {"include": "tags"}, 400),  # a real value, not emulated: said so
        ("/api/profile-bulk-import-jobs/{job}", {"include": "lists"}, 400),
    ],
)
async def test_known_values_are_served_or_refused_as_not_emulated(
    client: SpecClient, sandbox: Sandbox, path: str, params: dict[str, str], status: int
) -> None:
    url = path.format(**await _paths(client, sandbox))
    response = await client.get(url, params=params)
    assert response.status_code == status, response.text
    if status == 400:
        assert "not emulated" in response.json()["errors"][0]["detail"]


async def test_posting_with_an_include_is_400(client: SpecClient) -> None:
    response = await client.post(
        "/api/profiles", profile_doc({"email": "ada@example.com"}), params={"include": "lists"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "include"}
