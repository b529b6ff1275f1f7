"""Every Klaviyo operation the client calls: method, path template and operationId.

The operationId is what the rate limiter counts by (see ``limits.py``); a test checks each row
against Klaviyo's spec so the three cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

__all__ = ["ENDPOINTS", "Endpoint"]


@dataclass(slots=True, frozen=True)
class Endpoint:
    """One Klaviyo operation."""

    operation: str
    method: str
    template: str

    def path(self, **ids: str) -> str:
        """The concrete path; ids are percent-encoded so none can alter the path."""
        return self.template.format(**{k: quote(v, safe="") for k, v in ids.items()})


def _e(operation: str, method: str, template: str) -> Endpoint:
    return Endpoint(operation, method, template)


ENDPOINTS: dict[str, Endpoint] = {
    e.operation: e
    for e in (
        _e("get_profiles", "GET", "/api/profiles"),
        _e("create_profile", "POST", "/api/profiles"),
        _e("get_profile", "GET", "/api/profiles/{id}"),
        _e("update_profile", "PATCH", "/api/profiles/{id}"),
        _e("create_or_update_profile", "POST", "/api/profile-import"),
        _e("bulk_import_profiles", "POST", "/api/profile-bulk-import-jobs"),
        _e("get_bulk_import_profiles_job", "GET", "/api/profile-bulk-import-jobs/{id}"),
        _e(
            "get_errors_for_bulk_import_profiles_job",
            "GET",
            "/api/profile-bulk-import-jobs/{id}/import-errors",
        ),
        _e(
            "get_profiles_for_bulk_import_profiles_job",
            "GET",
            "/api/profile-bulk-import-jobs/{id}/profiles",
        ),
        _e("bulk_subscribe_profiles", "POST", "/api/profile-subscription-bulk-create-jobs"),
        _e("bulk_unsubscribe_profiles", "POST", "/api/profile-subscription-bulk-delete-jobs"),
        _e("get_lists", "GET", "/api/lists"),
        _e("create_list", "POST", "/api/lists"),
        _e("get_list", "GET", "/api/lists/{id}"),
        _e("get_profile_ids_for_list", "GET", "/api/lists/{id}/relationships/profiles"),
        _e("add_profiles_to_list", "POST", "/api/lists/{id}/relationships/profiles"),
        _e("remove_profiles_from_list", "DELETE", "/api/lists/{id}/relationships/profiles"),
    )
}
