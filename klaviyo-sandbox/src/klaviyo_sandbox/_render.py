"""JSON:API documents and resources in the spec's shapes, links included."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._clock import isoformat
from ._consent import render_subscriptions
from ._errors import invalid
from ._jobs import BulkImportJob, ImportErrorRecord
from ._lists import ProfileList
from ._query import Query
from ._store import Profile
from ._validation import LOCATION_FIELDS, STRING_FIELDS

__all__ = [
    "ProfileView",
    "document",
    "identifier",
    "import_error_resource",
    "job_resource",
    "list_resource",
    "profile_resource",
    "project",
]

_PREDICTIVE = (
    "historic_clv",
    "predicted_clv",
    "total_clv",
    "historic_number_of_orders",
    "predicted_number_of_orders",
    "average_days_between_orders",
    "average_order_value",
    "churn_probability",
    "expected_date_of_next_order",
    "ranked_channel_affinity",
)
_PROFILE_TOP = frozenset(
    {
        *STRING_FIELDS,
        "id",
        "created",
        "updated",
        "last_event_date",
        "location",
        "properties",
        "subscriptions",
        "predictive_analytics",
        "joined_group_at",
    }
)
_COORDINATES = frozenset({"latitude", "longitude"})
_ADDITIONAL = ("subscriptions", "predictive_analytics")


def _stamp(value: float | None) -> str | None:
    return None if value is None else isoformat(value)


def project(source: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """Keep only the dotted ``paths`` of ``source`` (a sparse fieldset)."""
    out: dict[str, Any] = {}
    for path in paths:
        parts = path.split(".")
        node: Any = source
        target = out
        for depth, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                break
            if depth == len(parts) - 1:
                target[part] = node[part]
            else:
                node = node[part]
                target = target.setdefault(part, {})
    return out


@dataclass(slots=True, frozen=True)
class ProfileView:
    """What a request asked to see of a profile: additional fields and a sparse fieldset."""

    additional: frozenset[str] = frozenset()
    fields: tuple[str, ...] | None = None

    @classmethod
    def from_query(cls, query: Query) -> ProfileView:
        additional = query.csv("additional-fields[profile]", _ADDITIONAL) or []
        fields = query.csv("fields[profile]")
        if fields is not None:
            for name in fields:
                if name.split(".", 1)[0] not in _PROFILE_TOP:
                    raise invalid(
                        f"{name!r} is not a valid value for fields[profile].",
                        parameter="fields[profile]",
                    )
        return cls(frozenset(additional), None if fields is None else tuple(fields))


def _location(stored: dict[str, Any] | None) -> dict[str, Any]:
    # The spec types latitude/longitude as nullable oneOf(string, number), which a null
    # fails under OpenAPI 3.0 rules (and strict SDK validation): leave unset ones out.
    location = stored or {}
    return {
        name: location.get(name)
        for name in LOCATION_FIELDS
        if name in location or name not in _COORDINATES
    }


def identifier(kind: str, resource_id: str) -> dict[str, str]:
    return {"type": kind, "id": resource_id}


def profile_resource(
    profile: Profile,
    base: str,
    view: ProfileView = ProfileView(),
    *,
    joined_at: float | None = None,
) -> dict[str, Any]:
    attributes: dict[str, Any] = {name: getattr(profile, name) for name in STRING_FIELDS}
    attributes.update(
        created=isoformat(profile.created),
        updated=isoformat(profile.updated),
        last_event_date=None,
        location=_location(profile.location),
        properties=dict(profile.properties or {}),
    )
    if joined_at is not None:
        attributes["joined_group_at"] = isoformat(joined_at)
    if view.fields is not None:
        attributes = project(attributes, view.fields)
    extra: dict[str, Any] = {}
    if "subscriptions" in view.additional:
        extra["subscriptions"] = render_subscriptions(
            profile.email_marketing, profile.sms_marketing
        )
    if "predictive_analytics" in view.additional:
        extra["predictive_analytics"] = dict.fromkeys(_PREDICTIVE)
    for name, value in extra.items():
        # Asked for explicitly, an additional field shows even outside a sparse fieldset,
        # trimmed only when the fieldset names parts of it.
        paths = [f for f in view.fields or () if f == name or f.startswith(f"{name}.")]
        attributes[name] = project({name: value}, paths)[name] if paths else value
    url = f"{base}/api/profiles/{profile.id}"
    return {
        "type": "profile",
        "id": profile.id,
        "attributes": attributes,
        "relationships": {
            "lists": {"links": {"self": f"{url}/relationships/lists", "related": f"{url}/lists"}},
        },
        "links": {"self": url},
    }


def list_resource(
    item: ProfileList,
    base: str,
    *,
    fields: list[str] | None = None,
    profile_count: bool = False,
) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "name": item.name,
        "created": isoformat(item.created),
        "updated": isoformat(item.updated),
        "opt_in_process": item.opt_in_process,
    }
    if profile_count:
        attributes["profile_count"] = len(item.members)
    if fields is not None:
        attributes = project(attributes, fields)
    url = f"{base}/api/lists/{item.id}"
    return {
        "type": "list",
        "id": item.id,
        "attributes": attributes,
        "relationships": {
            "profiles": {
                "links": {"self": f"{url}/relationships/profiles", "related": f"{url}/profiles"}
            },
        },
        "links": {"self": url},
    }


def job_resource(
    job: BulkImportJob, base: str, *, fields: list[str] | None = None
) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "status": job.status,
        "created_at": isoformat(job.created_at),
        "total_count": job.total_count,
        "completed_count": job.completed_count,
        "failed_count": job.failed_count,
        "completed_at": _stamp(job.completed_at),
        "started_at": _stamp(job.started_at),
        "expires_at": _stamp(job.expires_at),
    }
    if fields is not None:
        # The spec marks these required, and strict clients reject a job without them.
        attributes = project(attributes, [*fields, "status", "created_at", "total_count"])
    url = f"{base}/api/profile-bulk-import-jobs/{job.id}"
    return {
        "type": "profile-bulk-import-job",
        "id": job.id,
        "attributes": attributes,
        "relationships": {
            "lists": {
                "data": [identifier("list", list_id) for list_id in job.list_ids],
                "links": {"self": f"{url}/relationships/lists", "related": f"{url}/lists"},
            },
            "profiles": {
                "links": {"self": f"{url}/relationships/profiles", "related": f"{url}/profiles"}
            },
            "import-errors": {"links": {"related": f"{url}/import-errors"}},
        },
        "links": {"self": url},
    }


def import_error_resource(error: ImportErrorRecord) -> dict[str, Any]:
    return {
        "type": "import-error",
        "id": error.id,
        "attributes": {
            "code": error.code,
            "title": error.title,
            "detail": error.detail,
            "source": {"pointer": error.pointer},
            "original_payload": error.original_payload,
        },
    }


def document(data: Any, self_url: str, next_url: str | None = None) -> dict[str, Any]:
    links = {"self": self_url}
    if next_url is not None:
        links["next"] = next_url
    return {"data": data, "links": links}
