"""The bulk path's pure rules: jobs cut by count and bytes, polling, import errors."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from klaviyo_sync.customer import Customer
from klaviyo_sync.draft import Draft
from klaviyo_sync.engine import Planned
from klaviyo_sync.engine._failures import failure_from_error
from klaviyo_sync.engine._jobs import (
    Row,
    import_error,
    job_chunks,
    poll_delays,
    refused_rows,
    row_index,
)
from klaviyo_sync.exceptions import (
    KlaviyoDuplicateProfileError,
    KlaviyoNotFoundError,
    KlaviyoValidationError,
)
from klaviyo_sync.klaviyo import MAX_BULK_IMPORT_BYTES


def _row(n: int, size: int = 10, profile_id: str | None = None) -> Row:
    draft = Draft(
        str(n), "add", attributes={"email": f"c{n}@example.com", "first_name": "x" * size}
    )
    route = "update" if profile_id else "create"
    return Row.of(Planned(Customer(str(n)), draft, route, profile_id=profile_id))


def test_a_row_is_the_per_record_attributes_with_the_profile_id_when_known() -> None:
    row = _row(1, profile_id="P1")
    assert row.resource == {
        "type": "profile",
        "attributes": {"email": "c1@example.com", "first_name": "x" * 10},
        "id": "P1",
    }
    assert row.size == len(json.dumps(row.resource, separators=(",", ":")).encode())
    assert "id" not in _row(2).resource


def test_jobs_hold_at_most_the_profile_count() -> None:
    rows = [_row(n) for n in range(25)]
    jobs = list(job_chunks(rows, max_profiles=10))
    assert [len(job) for job in jobs] == [10, 10, 5]
    assert [r for job in jobs for r in job] == rows


def test_jobs_are_cut_by_bytes_as_well_as_count() -> None:
    rows = [_row(n, size=1_000) for n in range(12)]
    per_row = rows[0].size + 1
    jobs = list(job_chunks(rows, max_profiles=100, max_bytes=512 + 5 * per_row))
    assert [len(job) for job in jobs] == [5, 5, 2]


def test_real_limits_keep_every_job_body_under_five_megabytes() -> None:
    rows = [_row(n, size=2_000) for n in range(6_000)]
    jobs = list(job_chunks(rows))
    assert len(jobs) == 3
    for job in jobs:
        body = {
            "data": {
                "type": "profile-bulk-import-job",
                "attributes": {"profiles": {"data": [r.resource for r in job]}},
            }
        }
        assert len(json.dumps(body, separators=(",", ":")).encode()) <= MAX_BULK_IMPORT_BYTES


def test_polls_back_off_to_a_cap() -> None:
    delays = list(itertools.islice(poll_delays(), 8))
    assert delays == [0.25, 0.375, 0.5625, 0.84375, 1.265625, 1.8984375, 2.84765625, 4.271484375]
    assert list(itertools.islice(poll_delays(), 12))[-3:] == [5.0, 5.0, 5.0]


def _error(code: str, pointer: str, **attributes: Any) -> dict[str, Any]:
    return {
        "type": "import-error",
        "id": "e1",
        "attributes": {
            "code": code,
            "title": "Invalid input.",
            "detail": "Invalid phone number format",
            "source": {"pointer": pointer},
            "original_payload": {"type": "profile", "attributes": {"external_id": "7"}},
            **attributes,
        },
    }


def test_an_import_error_on_a_phone_is_phone_rejected_as_per_record() -> None:
    error = import_error(
        _error("invalid", "/data/attributes/profiles/data/3/attributes/phone_number"), job_id="J"
    )
    assert error.pointer == "/data/attributes/phone_number"
    assert (error.status, error.method, error.path) == (
        400,
        "POST",
        "/api/profile-bulk-import-jobs",
    )
    failure = failure_from_error(error, stage="write", customer_id="7")
    assert failure.kind == "phone_rejected"
    assert "bulk import job J refused this profile" in failure.message
    assert "original_payload" not in json.dumps(failure.detail)


@pytest.mark.parametrize(
    ("code", "kind", "cls"),
    [
        ("not_found", "not_found", KlaviyoNotFoundError),
        ("duplicate_profile", "conflict", KlaviyoDuplicateProfileError),
    ],
)
def test_import_error_codes_map_to_the_per_record_exceptions(
    code: str, kind: str, cls: type[Exception]
) -> None:
    error = import_error(_error(code, "/data/attributes/profiles/data/0/id"), job_id="J")
    assert isinstance(error, cls)
    assert error.pointer == "/data/id"
    assert failure_from_error(error, stage="write", customer_id="7").kind == kind


def test_row_index_reads_the_pointer() -> None:
    assert row_index(_error("invalid", "/data/attributes/profiles/data/12/attributes")) == 12
    assert row_index(_error("invalid", "/data/attributes")) is None
    assert row_index({"attributes": {}}) is None


def _refusal(*pointers: str) -> KlaviyoValidationError:
    """A job refused at submit, as Klaviyo answers it: one ``errors[]`` item per bad row."""
    items = [
        {
            "id": f"id-{n}",
            "status": 400,
            "code": "invalid",
            "title": "Invalid input.",
            "detail": "Invalid email address" if pointer.endswith("email") else "Invalid phone",
            "source": {"pointer": pointer},
        }
        for n, pointer in enumerate(pointers)
    ]
    return KlaviyoValidationError("refused", status=400, body={"errors": items}, request_id="R")


def test_a_refused_job_names_its_bad_rows_each_with_the_per_record_error() -> None:
    base = "/data/attributes/profiles/data"
    refused = refused_rows(
        _refusal(
            f"{base}/3/attributes/email",
            f"{base}/7/attributes/phone_number",
            f"{base}/7/attributes/email",  # a second error for one row: the first is kept
            f"{base}/12/attributes/email",  # not a row of the job sent
            "/data/relationships/lists/data/0/id",  # names no row
        ),
        10,
    )
    assert set(refused) == {3, 7}
    kinds = {
        i: failure_from_error(e, stage="write", customer_id="c").kind for i, e in refused.items()
    }
    assert kinds == {3: "invalid", 7: "phone_rejected"}
    assert refused[3].pointer == "/data/attributes/email"
    assert "row 3" in str(refused[3])
    assert refused[3].request_id == "id-0"
    assert refused_rows(_refusal("/data/attributes/profiles"), 10) == {}
    assert refused_rows(KlaviyoValidationError("x", body="<html>"), 10) == {}
