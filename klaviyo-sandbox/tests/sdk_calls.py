"""The same calls through Klaviyo's official Python SDK, run as a script in a subprocess.

``python -S sdk_calls.py BASE_URL API_KEY`` with one ``klaviyo-api`` version's folder on
PYTHONPATH (two versions cannot share one environment). Prints one JSON object: the SDK's
version, the revision it sent, and what each call returned, reduced to what both versions
must agree on. Any exception (a refused revision, a body the SDK's strict models reject) ends
the script with a traceback and a non-zero status.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from typing import Any

from klaviyo_api import KlaviyoAPI
from openapi_client.models import (
    ListCreateQuery,
    ListMembersAddQuery,
    ProfileCreateQuery,
    ProfileCreateQueryResourceObjectAttributes,
    ProfileEnum,
    ProfileImportJobCreateQuery,
    ProfilePartialUpdateQuery,
    ProfilePartialUpdateQueryResourceObject,
    SubscriptionCreateJobCreateQuery,
)

INVALID_PHONE = "+1555"


def _profile(attributes: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"type": "profile", "attributes": attributes}}


def _subscription(email: str) -> dict[str, Any]:
    marketing = {"marketing": {"consent": "SUBSCRIBED"}}
    return {
        "type": "profile",
        "attributes": {"email": email, "subscriptions": {"email": marketing}},
    }


def run(api: KlaviyoAPI) -> dict[str, Any]:
    results: dict[str, Any] = {}
    created = api.Profiles.create_profile(
        ProfileCreateQuery.from_dict(_profile({"email": "ada@example.com", "first_name": "Ada"}))
    )
    pid = created.data.id
    results["create_profile"] = created.data.attributes.email

    found = api.Profiles.get_profiles(filter='equals(email,"ada@example.com")')
    results["get_profiles"] = [item.id == pid for item in found.data]

    # Built from its parts, not from_dict: from_dict marks every attribute it lacks as set to
    # null, so the SDK would send nulls that clear the profile's email, phone and names.
    update = ProfilePartialUpdateQuery(
        data=ProfilePartialUpdateQueryResourceObject(
            type=ProfileEnum.PROFILE,
            id=pid,
            attributes=ProfileCreateQueryResourceObjectAttributes(last_name="Lovelace"),
        )
    )
    updated = api.Profiles.update_profile(pid, update)
    results["update_profile"] = [
        updated.data.attributes.first_name,
        updated.data.attributes.last_name,
    ]

    rows = [
        {"type": "profile", "attributes": {"email": f"bulk{i}@example.com", "external_id": f"c{i}"}}
        for i in range(3)
    ]
    job_body = {
        "data": {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": rows}}}
    }
    job = api.Profiles.bulk_import_profiles(ProfileImportJobCreateQuery.from_dict(job_body))
    fetched = api.Profiles.get_bulk_import_profiles_job(job.data.id)
    attributes = fetched.data.attributes
    results["bulk_import"] = [attributes.status, attributes.total_count, attributes.failed_count]

    list_body = {
        "data": {
            "type": "list",
            "attributes": {"name": "SDK single", "opt_in_process": "single_opt_in"},
        }
    }
    made = api.Lists.create_list(ListCreateQuery.from_dict(list_body))
    list_id = made.data.id
    results["create_list"] = made.data.attributes.name

    subscribe = {
        "data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": {"profiles": {"data": [_subscription("sub@example.com")]}},
            "relationships": {"list": {"data": {"type": "list", "id": list_id}}},
        }
    }
    results["subscribe"] = api.Profiles.bulk_subscribe_profiles(
        SubscriptionCreateJobCreateQuery.from_dict(subscribe)
    )

    members = {"data": [{"type": "profile", "id": pid}]}
    results["add_to_list"] = api.Lists.add_profiles_to_list(
        list_id, ListMembersAddQuery.from_dict(members)
    )
    in_list = api.Lists.get_profiles_for_list(list_id)
    results["list_members"] = sorted(item.attributes.email for item in in_list.data)

    partial = api.Profiles.create_profile_with_http_info(
        ProfileCreateQuery.from_dict(
            _profile({"email": "tel@example.com", "phone_number": INVALID_PHONE})
        )
    )
    headers = {key.lower(): value for key, value in (partial.headers or {}).items()}
    results["partial_failure"] = [
        partial.status_code,
        headers.get("x-klaviyo-partial-failure"),
        partial.data.data.attributes.phone_number,
    ]
    return results


def main() -> None:
    base_url, key = sys.argv[1], sys.argv[2]
    api = KlaviyoAPI(key, max_retries=0, test_host=base_url)
    summary = {
        "version": version("klaviyo-api"),
        "revision": api.api_client.default_headers["revision"],
        "results": run(api),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
