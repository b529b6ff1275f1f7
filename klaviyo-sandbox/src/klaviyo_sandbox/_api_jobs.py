"""Handlers for /api/profile-bulk-import-jobs."""

from __future__ import annotations

from typing import Any

from ._errors import ApiError, invalid
from ._jobs import BulkImportJob
from ._lists import LIST_FIELDS
from ._render import (
    ProfileView,
    document,
    identifier,
    import_error_resource,
    job_resource,
    list_resource,
    profile_resource,
)
from ._routing import Context, Reply, offset_page
from ._validation import require_array, require_object, require_resource

__all__ = [
    "bulk_import_profiles",
    "get_bulk_import_profiles_job",
    "get_bulk_import_profiles_jobs",
    "get_errors_for_bulk_import_profiles_job",
    "get_list_for_bulk_import_profiles_job",
    "get_list_ids_for_bulk_import_profiles_job",
    "get_profile_ids_for_bulk_import_profiles_job",
    "get_profiles_for_bulk_import_profiles_job",
]

_MAX_PROFILES = 10_000
_JOB_FIELDS = (
    "completed_at",
    "completed_count",
    "created_at",
    "expires_at",
    "failed_count",
    "id",
    "started_at",
    "status",
    "total_count",
)
_STATUSES = frozenset({"queued", "processing", "complete", "cancelled"})


def _job_fields(ctx: Context) -> list[str] | None:
    return ctx.query.csv("fields[profile-bulk-import-job]", _JOB_FIELDS)


def _list_ids(data: dict[str, Any]) -> list[str]:
    relationships = data.get("relationships")
    if relationships is None:
        return []
    pointer = "/data/relationships"
    lists = require_object(relationships, pointer, "relationships").get("lists")
    if lists is None:
        return []
    body = require_object(lists, f"{pointer}/lists", "lists relationship")
    items = require_array(body.get("data"), f"{pointer}/lists/data", "lists")
    ids = []
    for index, raw in enumerate(items):
        where = f"{pointer}/lists/data/{index}"
        item = require_resource(raw, "list", pointer=where, attributes=False)
        if not isinstance(item.get("id"), str):
            raise invalid("A list id must be a string.", pointer=f"{where}/id")
        ids.append(item["id"])
    return ids


def bulk_import_profiles(ctx: Context) -> Reply:
    fields = _job_fields(ctx)
    data = require_resource(ctx.body, "profile-bulk-import-job")
    pointer = "/data/attributes/profiles"
    profiles = require_object(data["attributes"].get("profiles"), pointer, "profiles")
    rows = require_array(profiles.get("data"), f"{pointer}/data", "profiles")
    if not rows:
        raise invalid("A bulk import needs at least one profile.", pointer=f"{pointer}/data")
    if len(rows) > _MAX_PROFILES:
        raise ApiError(
            400,
            "invalid",
            f"A bulk import accepts at most {_MAX_PROFILES:,} profiles (got {len(rows):,}).",
            pointer=f"{pointer}/data",
        )
    job = ctx.sandbox.create_import_job(rows, _list_ids(data))
    return Reply(202, document(job_resource(job, ctx.base, fields=fields), ctx.url))


def get_bulk_import_profiles_jobs(ctx: Context) -> Reply:
    fields = _job_fields(ctx)
    conditions = ctx.query.filters({"status": frozenset({"equals", "any"})})
    for condition in conditions:
        for value in condition.values:
            if value not in _STATUSES:
                raise invalid(f"{value!s:.40} is not a job status.", parameter="filter")
    sort = ctx.query.get("sort") or "created_at"
    if sort not in ("created_at", "-created_at"):
        raise invalid("sort must be created_at or -created_at.", parameter="sort")
    jobs = [
        job
        for job in ctx.sandbox.jobs.values()
        if all(job.status in condition.values for condition in conditions)
    ]
    if sort.startswith("-"):
        jobs.reverse()
    positions, position = offset_page(len(jobs), ctx.query.page())
    data = [job_resource(jobs[i], ctx.base, fields=fields) for i in positions]
    next_url = None if position is None else ctx.query.next_url(ctx.base, ctx.path, position)
    return Reply(200, document(data, ctx.url, next_url))


def _job(ctx: Context) -> BulkImportJob:
    key = "job_id" if "job_id" in ctx.params else "id"
    return ctx.sandbox.get_job(ctx.params[key])


def get_bulk_import_profiles_job(ctx: Context) -> Reply:
    fields = _job_fields(ctx)
    return Reply(200, document(job_resource(_job(ctx), ctx.base, fields=fields), ctx.url))


def get_errors_for_bulk_import_profiles_job(ctx: Context) -> Reply:
    job = _job(ctx)
    positions, position = offset_page(len(job.errors), ctx.query.page())
    data = [import_error_resource(job.errors[i]) for i in positions]
    next_url = None if position is None else ctx.query.next_url(ctx.base, ctx.path, position)
    return Reply(200, document(data, ctx.url, next_url))


def _profile_page(ctx: Context) -> tuple[list[str], str | None]:
    job = _job(ctx)
    positions, position = offset_page(len(job.profile_ids), ctx.query.page())
    next_url = None if position is None else ctx.query.next_url(ctx.base, ctx.path, position)
    return [job.profile_ids[i] for i in positions], next_url


def get_profiles_for_bulk_import_profiles_job(ctx: Context) -> Reply:
    view = ProfileView.from_query(ctx.query)
    ids, next_url = _profile_page(ctx)
    profiles = ctx.sandbox.store.many(ids)
    data = [profile_resource(profile, ctx.base, view) for profile in profiles]
    return Reply(200, document(data, ctx.url, next_url))


def get_profile_ids_for_bulk_import_profiles_job(ctx: Context) -> Reply:
    ids, next_url = _profile_page(ctx)
    return Reply(200, document([identifier("profile", i) for i in ids], ctx.url, next_url))


def get_list_for_bulk_import_profiles_job(ctx: Context) -> Reply:
    job = _job(ctx)
    fields = ctx.query.csv("fields[list]", LIST_FIELDS)
    found = [ctx.sandbox.lists[i] for i in job.list_ids if i in ctx.sandbox.lists]
    return Reply(200, document([list_resource(i, ctx.base, fields=fields) for i in found], ctx.url))


def get_list_ids_for_bulk_import_profiles_job(ctx: Context) -> Reply:
    job = _job(ctx)
    return Reply(200, document([identifier("list", i) for i in job.list_ids], ctx.url))
