"""The operation table: every /api path the sandbox knows, by the spec's operationId."""

from __future__ import annotations

from . import _api_consent as consent
from . import _api_jobs as jobs
from . import _api_lists as lists
from . import _api_profiles as profiles
from ._routing import Operation

__all__ = ["OPERATIONS"]

_JOBS = "/api/profile-bulk-import-jobs"
_LIST_INCLUDES = ("flow-triggers", "tags")

OPERATIONS: tuple[Operation, ...] = (
    # profiles
    Operation(
        "GET",
        "/api/profiles",
        "get_profiles",
        profiles.get_profiles,
        include=("conversations", "push-tokens"),
    ),
    Operation("POST", "/api/profiles", "create_profile", profiles.create_profile, True),
    Operation(
        "GET",
        "/api/profiles/{id}",
        "get_profile",
        profiles.get_profile,
        include=("conversations", "lists", "push-tokens", "segments"),
    ),
    Operation("PATCH", "/api/profiles/{id}", "update_profile", profiles.update_profile, True),
    Operation(
        "POST",
        "/api/profile-import",
        "create_or_update_profile",
        profiles.create_or_update_profile,
        True,
    ),
    Operation(
        "GET", "/api/profiles/{id}/lists", "get_lists_for_profile", profiles.get_lists_for_profile
    ),
    Operation(
        "GET",
        "/api/profiles/{id}/relationships/lists",
        "get_list_ids_for_profile",
        profiles.get_list_ids_for_profile,
    ),
    # bulk import jobs
    Operation("GET", _JOBS, "get_bulk_import_profiles_jobs", jobs.get_bulk_import_profiles_jobs),
    Operation("POST", _JOBS, "bulk_import_profiles", jobs.bulk_import_profiles, True),
    Operation(
        "GET",
        f"{_JOBS}/{{job_id}}",
        "get_bulk_import_profiles_job",
        jobs.get_bulk_import_profiles_job,
        include=("lists",),
    ),
    Operation(
        "GET",
        f"{_JOBS}/{{id}}/import-errors",
        "get_errors_for_bulk_import_profiles_job",
        jobs.get_errors_for_bulk_import_profiles_job,
    ),
    Operation(
        "GET",
        f"{_JOBS}/{{id}}/profiles",
        "get_profiles_for_bulk_import_profiles_job",
        jobs.get_profiles_for_bulk_import_profiles_job,
    ),
    Operation(
        "GET",
        f"{_JOBS}/{{id}}/relationships/profiles",
        "get_profile_ids_for_bulk_import_profiles_job",
        jobs.get_profile_ids_for_bulk_import_profiles_job,
    ),
    Operation(
        "GET",
        f"{_JOBS}/{{id}}/lists",
        "get_list_for_bulk_import_profiles_job",
        jobs.get_list_for_bulk_import_profiles_job,
    ),
    Operation(
        "GET",
        f"{_JOBS}/{{id}}/relationships/lists",
        "get_list_ids_for_bulk_import_profiles_job",
        jobs.get_list_ids_for_bulk_import_profiles_job,
    ),
    # consent
    Operation(
        "POST",
        "/api/profile-subscription-bulk-create-jobs",
        "bulk_subscribe_profiles",
        consent.bulk_subscribe_profiles,
        True,
    ),
    Operation(
        "POST",
        "/api/profile-subscription-bulk-delete-jobs",
        "bulk_unsubscribe_profiles",
        consent.bulk_unsubscribe_profiles,
        True,
    ),
    # lists
    Operation("GET", "/api/lists", "get_lists", lists.get_lists, include=_LIST_INCLUDES),
    Operation("POST", "/api/lists", "create_list", lists.create_list, True),
    Operation("GET", "/api/lists/{id}", "get_list", lists.get_list, include=_LIST_INCLUDES),
    Operation("PATCH", "/api/lists/{id}", "update_list", lists.update_list, True),
    Operation("DELETE", "/api/lists/{id}", "delete_list", lists.delete_list),
    Operation(
        "GET", "/api/lists/{id}/profiles", "get_profiles_for_list", lists.get_profiles_for_list
    ),
    Operation(
        "GET",
        "/api/lists/{id}/relationships/profiles",
        "get_profile_ids_for_list",
        lists.get_profile_ids_for_list,
    ),
    Operation(
        "POST",
        "/api/lists/{id}/relationships/profiles",
        "add_profiles_to_list",
        lists.add_profiles_to_list,
        True,
    ),
    Operation(
        "DELETE",
        "/api/lists/{id}/relationships/profiles",
        "remove_profiles_from_list",
        lists.remove_profiles_from_list,
        True,
    ),
    # In Klaviyo's API (and the vendored spec) but not emulated: a clear 404 says so.
    Operation("POST", "/api/profile-merge", "merge_profiles", None),
    Operation("GET", "/api/push-tokens", "get_push_tokens", None),
    Operation("POST", "/api/push-tokens", "create_push_token", None),
    Operation(
        "GET", "/api/profile-suppression-bulk-create-jobs", "get_bulk_suppress_profiles_jobs", None
    ),
    Operation("POST", "/api/profile-suppression-bulk-create-jobs", "bulk_suppress_profiles", None),
    Operation(
        "GET",
        "/api/profile-suppression-bulk-delete-jobs",
        "get_bulk_unsuppress_profiles_jobs",
        None,
    ),
    Operation(
        "POST", "/api/profile-suppression-bulk-delete-jobs", "bulk_unsuppress_profiles", None
    ),
    Operation("GET", "/api/profiles/{id}/segments", "get_segments_for_profile", None),
    Operation("GET", "/api/profiles/{id}/push-tokens", "get_push_tokens_for_profile", None),
    Operation("GET", "/api/lists/{id}/tags", "get_tags_for_list", None),
    Operation("GET", "/api/lists/{id}/flow-triggers", "get_flows_triggered_by_list", None),
)
