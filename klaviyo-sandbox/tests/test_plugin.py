"""The pytest plugin's `klaviyo_sandbox` fixture, as any project uses it: plain HTTP (urllib,
from the standard library), nothing of klaviyo-sync, nothing imported to get the fixture.

Every test here starts with an empty account: the fixture resets its session's sandbox."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from klaviyo_sandbox import SandboxAdminError
from klaviyo_sandbox.pytest_plugin import DEFAULT_API_KEY
from klaviyo_sandbox.testing import LiveSandbox

JSON_API = "application/vnd.api+json"


def call(
    live: LiveSandbox, method: str, path: str, body: Any = None, *, key: str | None = None
) -> tuple[int, Any, dict[str, str]]:
    """One Klaviyo API call with urllib: status, parsed body, headers."""
    headers = live.headers()
    if key is not None:
        headers["Authorization"] = f"Klaviyo-API-Key {key}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = JSON_API
    request = urllib.request.Request(
        f"{live.base_url}{path}", data=data, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            raw, status, got = answer.read(), answer.status, dict(answer.headers)
    except urllib.error.HTTPError as refused:
        raw, status, got = refused.read(), refused.code, dict(refused.headers)
    return status, (json.loads(raw) if raw else None), got


def create_profile(live: LiveSandbox, **attributes: Any) -> dict[str, Any]:
    status, body, _ = call(
        live, "POST", "/api/profiles", {"data": {"type": "profile", "attributes": attributes}}
    )
    assert status == 201, body
    created: dict[str, Any] = body["data"]
    return created


def create_list(live: LiveSandbox, name: str, opt_in_process: str) -> str:
    attributes = {"name": name, "opt_in_process": opt_in_process}
    status, body, _ = call(
        live, "POST", "/api/lists", {"data": {"type": "list", "attributes": attributes}}
    )
    assert status == 201, body
    return str(body["data"]["id"])


def test_the_fixture_serves_klaviyo_on_loopback(klaviyo_sandbox: LiveSandbox) -> None:
    assert klaviyo_sandbox.base_url.startswith("http://127.0.0.1:")
    assert klaviyo_sandbox.api_key == DEFAULT_API_KEY
    profile = create_profile(klaviyo_sandbox, email="ada@example.com", first_name="Ada")
    status, body, _ = call(klaviyo_sandbox, "GET", f"/api/profiles/{profile['id']}")
    assert status == 200
    assert body["data"]["attributes"]["first_name"] == "Ada"
    # Another key is refused: the fixture's sandbox accepts its own key only.
    status, body, _ = call(klaviyo_sandbox, "GET", "/api/profiles", key="pk_someoneelse1")
    assert status == 401
    assert body["errors"][0]["code"] == "authentication_failed"


def test_each_test_starts_with_an_empty_account(klaviyo_sandbox: LiveSandbox) -> None:
    """The test before this one created a profile; it is gone, and so are its requests."""
    status, body, _ = call(klaviyo_sandbox, "GET", "/api/profiles")
    assert status == 200
    assert body["data"] == []
    assert [r["operation_id"] for r in klaviyo_sandbox.requests()] == ["get_profiles"]


def test_requests_shows_what_was_sent(klaviyo_sandbox: LiveSandbox) -> None:
    create_profile(klaviyo_sandbox, email="ada@example.com")
    call(klaviyo_sandbox, "GET", "/api/lists")
    [sent] = klaviyo_sandbox.requests(operation_id="create_profile")
    assert sent["method"] == "POST"
    assert sent["path"] == "/api/profiles"
    assert sent["status"] == 201
    assert sent["body"]["data"]["attributes"] == {"email": "ada@example.com"}
    assert [r["path"] for r in klaviyo_sandbox.requests(method="GET")] == ["/api/lists"]
    klaviyo_sandbox.clear_requests()
    assert klaviyo_sandbox.requests() == []


def test_double_opt_in_emails_and_confirm(klaviyo_sandbox: LiveSandbox) -> None:
    list_id = create_list(klaviyo_sandbox, "Newsletter", "double_opt_in")
    job = {
        "data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": {
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "attributes": {
                                "email": "ada@example.com",
                                "subscriptions": {
                                    "email": {"marketing": {"consent": "SUBSCRIBED"}}
                                },
                            },
                        }
                    ]
                }
            },
            "relationships": {"list": {"data": {"type": "list", "id": list_id}}},
        }
    }
    status, body, _ = call(
        klaviyo_sandbox, "POST", "/api/profile-subscription-bulk-create-jobs", job
    )
    assert status == 202, body
    [email] = klaviyo_sandbox.emails()
    assert email["to"] == "ada@example.com"
    assert email["list_id"] == list_id
    # Not a member until the recipient confirms.
    status, body, _ = call(klaviyo_sandbox, "GET", f"/api/lists/{list_id}/profiles")
    assert body["data"] == []

    confirmed = klaviyo_sandbox.confirm(list_id=list_id, email="ada@example.com")
    assert confirmed["list_id"] == list_id
    status, body, _ = call(klaviyo_sandbox, "GET", f"/api/lists/{list_id}/profiles")
    assert [p["attributes"]["email"] for p in body["data"]] == ["ada@example.com"]
    [profile] = klaviyo_sandbox.profiles()
    assert profile["lists"] == [list_id]
    # Confirming twice: nothing is pending any more.
    with pytest.raises(SandboxAdminError) as refused:
        klaviyo_sandbox.confirm(list_id=list_id, profile_id=profile["id"])
    assert refused.value.status == 404


def test_set_faults_makes_klaviyo_fail(klaviyo_sandbox: LiveSandbox) -> None:
    klaviyo_sandbox.set_faults([{"operation": "create_profile", "status": 503, "times": 1}])
    attributes = {"data": {"type": "profile", "attributes": {"email": "ada@example.com"}}}
    status, body, _ = call(klaviyo_sandbox, "POST", "/api/profiles", attributes)
    assert status == 503
    assert body["errors"][0]["code"] == "service_unavailable"
    # The rule was for one request only.
    status, _, _ = call(klaviyo_sandbox, "POST", "/api/profiles", attributes)
    assert status == 201
    assert [r["status"] for r in klaviyo_sandbox.requests()] == [503, 201]


def test_faults_do_not_outlive_their_test(klaviyo_sandbox: LiveSandbox) -> None:
    assert klaviyo_sandbox.summary()["faults"] == []
    klaviyo_sandbox.set_faults([{"operation": "*", "status": 500}])
    status, _, _ = call(klaviyo_sandbox, "GET", "/api/lists")
    assert status == 500


def test_and_the_next_test_has_none(klaviyo_sandbox: LiveSandbox) -> None:
    status, _, _ = call(klaviyo_sandbox, "GET", "/api/lists")
    assert status == 200


def test_behaviour_and_reset(klaviyo_sandbox: LiveSandbox) -> None:
    assert klaviyo_sandbox.set_behaviour(invalid_phone="refuse")["invalid_phone"] == "refuse"
    status, body, _ = call(
        klaviyo_sandbox,
        "POST",
        "/api/profiles",
        {
            "data": {
                "type": "profile",
                "attributes": {"email": "a@example.com", "phone_number": "+1"},
            }
        },
    )
    assert status == 400
    assert body["errors"][0]["source"]["pointer"] == "/data/attributes/phone_number"
    klaviyo_sandbox.reset()
    assert klaviyo_sandbox.summary()["behaviour"]["invalid_phone"] == "drop"
    assert klaviyo_sandbox.requests() == []


def test_bad_admin_calls_say_why(klaviyo_sandbox: LiveSandbox) -> None:
    with pytest.raises(SandboxAdminError, match="Bad fault rule"):
        klaviyo_sandbox.set_faults([{"operation": "create_profile", "status": 200}])
    with pytest.raises(ValueError, match="email or profile_id"):
        klaviyo_sandbox.confirm(list_id="x")


def test_python_tests_may_use_the_state(klaviyo_sandbox: LiveSandbox) -> None:
    assert klaviyo_sandbox.sandbox is not None
    seeded = klaviyo_sandbox.sandbox.create_profile({"email": "grace@example.com"})
    status, body, _ = call(klaviyo_sandbox, "GET", f"/api/profiles/{seeded.id}")
    assert status == 200
    assert body["data"]["attributes"]["email"] == "grace@example.com"
    assert [p["email"] for p in klaviyo_sandbox.profiles()] == ["grace@example.com"]
    assert [item["name"] for item in klaviyo_sandbox.lists()] == []


def test_nothing_of_klaviyo_sync_is_needed() -> None:
    """Every test module of this suite is imported by now: none took klaviyo-sync."""
    import sys

    assert not [name for name in sys.modules if name.split(".")[0] == "klaviyo_sync"]
