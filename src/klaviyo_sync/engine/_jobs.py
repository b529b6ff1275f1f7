"""Pure helpers of the bulk path: rows, jobs cut to Klaviyo's limits, polling, import errors.

Nothing here talks to Klaviyo, so each rule is tested on its own: how rows are cut into jobs
(count and bytes), how long to wait between polls, and how an ``import-error`` resource, or
one error of a job Klaviyo refused at submit, becomes the same exception a per-record request
would have raised for that profile.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..exceptions import (
    KlaviyoAPIError,
    KlaviyoDuplicateProfileError,
    KlaviyoNotFoundError,
    KlaviyoValidationError,
)
from ..klaviyo import MAX_BULK_IMPORT_BYTES, MAX_BULK_IMPORT_PROFILES
from ._plan import Planned

__all__ = [
    "JOB_PATH",
    "MAX_ROW_BYTES",
    "Row",
    "import_error",
    "job_chunks",
    "poll_delays",
    "refused_rows",
    "row_index",
]

JOB_PATH: Final = "/api/profile-bulk-import-jobs"
MAX_ROW_BYTES: Final = 100 * 1024
"""Klaviyo refuses a whole job holding a profile over 100 KB: such a profile goes alone."""
# The job's envelope around its rows, generously: type, attributes, profiles, data, a list.
_ENVELOPE_BYTES: Final = 512
_ROW_POINTER: Final = re.compile(r"^/data/attributes/profiles/data/(\d+)(/.*)?$")


@dataclass(slots=True)
class Row:
    """One planned customer as a bulk import row: the same attributes the per-record path
    sends, with the profile id when the customer is linked or matched."""

    planned: Planned
    resource: dict[str, Any]
    size: int
    """bytes the resource takes in the job body"""

    @classmethod
    def of(cls, planned: Planned) -> Row:
        resource: dict[str, Any] = {
            "type": "profile",
            "attributes": planned.draft.profile_attributes(),
        }
        if planned.profile_id is not None:
            resource["id"] = planned.profile_id
        return cls.of_resource(planned, resource)

    @classmethod
    def of_resource(cls, planned: Planned, resource: dict[str, Any]) -> Row:
        encoded = json.dumps(resource, separators=(",", ":"), ensure_ascii=False)
        return cls(planned, resource, len(encoded.encode()))


def job_chunks(
    rows: Sequence[Row],
    *,
    max_profiles: int = MAX_BULK_IMPORT_PROFILES,
    max_bytes: int = MAX_BULK_IMPORT_BYTES,
) -> Iterator[list[Row]]:
    """Consecutive jobs of at most ``max_profiles`` rows and ``max_bytes`` of body each."""
    job: list[Row] = []
    size = _ENVELOPE_BYTES
    for row in rows:
        grown = size + row.size + 1  # the comma between rows
        if job and (len(job) >= max_profiles or grown > max_bytes):
            yield job
            job, grown = [], _ENVELOPE_BYTES + row.size + 1
        job.append(row)
        size = grown
    if job:
        yield job


def poll_delays(first: float = 0.25, factor: float = 1.5, cap: float = 5.0) -> Iterator[float]:
    """Seconds to wait before each poll of a job: quick for the small jobs that finish at once,
    backing off for the large ones so polling costs a handful of requests per job."""
    delay = first
    while True:
        yield delay
        delay = min(delay * factor, cap)


def row_index(error: dict[str, Any]) -> int | None:
    """The job row an import error's pointer names, if it names one."""
    return _row_of(_pointer(error))


def import_error(error: dict[str, Any], *, job_id: str) -> KlaviyoAPIError:
    """The exception a per-record request would have raised for this profile.

    The pointer is rewritten from the job's row (``/data/attributes/profiles/data/7/attributes
    /phone_number``) to the single profile's (``/data/attributes/phone_number``), so failure
    kinds such as ``phone_rejected`` are decided by the same rule on both paths.
    """
    attributes = error.get("attributes") or {}
    return _per_record(
        attributes,
        f"bulk import job {job_id} refused this profile",
        request_id=_text(error.get("id")),
        body={"job": job_id, "error": _without_payload(attributes)},
    )


def refused_rows(error: KlaviyoAPIError, rows: int) -> dict[int, KlaviyoAPIError]:
    """The rows a job refused at submit names, each with its per-record exception.

    Klaviyo validates a job as it is submitted: any bad row makes the whole job a 400, with one
    ``errors[]`` item per bad row at ``/data/attributes/profiles/data/N/...``. Items that name
    no row of the ``rows`` sent (the job itself, a list) are left out: an empty answer means the
    refusal cannot be pinned on any row.
    """
    items = error.body.get("errors") if isinstance(error.body, dict) else None
    found: dict[int, KlaviyoAPIError] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        index = _row_of(_pointer({"attributes": item}))
        if index is None or index >= rows or index in found:
            continue
        found[index] = _per_record(
            item,
            f"Klaviyo refused the bulk import job for this profile (row {index})",
            request_id=_text(item.get("id")) or error.request_id,
            body={"refused_job_row": index, "error": item},
        )
    return found


def _per_record(
    attributes: dict[str, Any], what: str, *, request_id: str | None, body: dict[str, Any]
) -> KlaviyoAPIError:
    code = _text(attributes.get("code"))
    title = _text(attributes.get("title"))
    detail = _text(attributes.get("detail"))
    pointer = _pointer({"attributes": attributes})
    match = _ROW_POINTER.match(pointer or "")
    if match:
        pointer = "/data" + (match.group(2) or "")
    reason = " ".join(p for p in (code, detail or title) if p) or "no detail"
    message = f"{what}: {reason}"
    if pointer:
        message += f" (at {pointer})"
    fields: dict[str, Any] = {
        "code": code,
        "title": title,
        "detail": detail,
        "pointer": pointer,
        "request_id": request_id,
        "method": "POST",
        "path": JOB_PATH,
        "body": body,
    }
    if code == "duplicate_profile":
        meta = attributes.get("meta") if isinstance(attributes.get("meta"), dict) else {}
        duplicate = _text((meta or {}).get("duplicate_profile_id"))
        return KlaviyoDuplicateProfileError(
            message, status=409, duplicate_profile_id=duplicate, **fields
        )
    if code == "not_found":
        return KlaviyoNotFoundError(message, status=404, **fields)
    return KlaviyoValidationError(message, status=400, **fields)


def _row_of(pointer: str | None) -> int | None:
    match = _ROW_POINTER.match(pointer or "")
    return int(match.group(1)) if match else None


def _without_payload(attributes: dict[str, Any]) -> dict[str, Any]:
    # The row is in the failure's own payload already; the error need not repeat it.
    return {key: value for key, value in attributes.items() if key != "original_payload"}


def _pointer(error: dict[str, Any]) -> str | None:
    source = (error.get("attributes") or {}).get("source")
    return _text(source.get("pointer")) if isinstance(source, dict) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
