"""Bulk profile import jobs, moved along by the clock rather than by background threads.

A job spends the first half of ``job_processing_seconds`` queued and the second half
processing, importing its rows in proportion to the time elapsed; every request (and
``Sandbox.process_jobs``) first catches the jobs up with the clock. So a test that advances a
ManualClock sees ``queued`` → ``processing`` → ``complete`` exactly, with nothing sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._errors import ApiError

__all__ = ["BulkImportJob", "ImportErrorRecord", "JobBook", "RowImporter"]

EXPIRY_SECONDS = 7 * 24 * 3600

RowImporter = Callable[["BulkImportJob", int, dict[str, Any]], str]
"""Imports row ``index`` of a job; returns the profile id or raises ApiError."""


@dataclass(slots=True)
class ImportErrorRecord:
    id: str
    code: str
    title: str
    detail: str
    pointer: str
    original_payload: dict[str, Any]


@dataclass(slots=True)
class BulkImportJob:
    id: str
    created_at: float
    rows: list[dict[str, Any]]
    list_ids: list[str]
    total_count: int = 0
    status: str = "queued"
    started_at: float | None = None
    completed_at: float | None = None
    expires_at: float | None = None
    completed_count: int = 0
    failed_count: int = 0
    next_row: int = 0
    profile_ids: list[str] = field(default_factory=list)
    errors: list[ImportErrorRecord] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    def record_profile(self, profile_id: str) -> None:
        if profile_id not in self._seen:
            self._seen.add(profile_id)
            self.profile_ids.append(profile_id)


class JobBook:
    """All jobs in creation order, and the ones still running."""

    __slots__ = ("_active", "jobs")

    def __init__(self) -> None:
        self.jobs: dict[str, BulkImportJob] = {}
        self._active: list[BulkImportJob] = []

    def add(self, job: BulkImportJob) -> None:
        job.total_count = len(job.rows)
        self.jobs[job.id] = job
        self._active.append(job)

    def get(self, job_id: str) -> BulkImportJob | None:
        return self.jobs.get(job_id)

    def advance(
        self,
        now: float,
        duration: float,
        importer: RowImporter,
        error_id: Callable[[], str],
    ) -> None:
        still_running = []
        for job in self._active:
            _advance(job, now, duration, importer, error_id)
            if job.status != "complete":
                still_running.append(job)
        self._active = still_running

    def clear(self) -> None:
        self.jobs.clear()
        self._active.clear()


def _advance(
    job: BulkImportJob,
    now: float,
    duration: float,
    importer: RowImporter,
    error_id: Callable[[], str],
) -> None:
    # A microsecond of slack: a clock advanced by 0.1 + 0.1 should reach "+0.2".
    now += 1e-6
    start = job.created_at + duration / 2
    end = job.created_at + duration
    if now < start:
        return
    if job.started_at is None:
        job.status = "processing"
        job.started_at = start
    elapsed = 1.0 if now >= end else (now - start) / (end - start)
    target = int(job.total_count * elapsed)
    while job.next_row < target:
        _import_row(job, job.next_row, importer, error_id)
        job.next_row += 1
    if now >= end:
        job.status = "complete"
        job.completed_at = end
        job.expires_at = end + EXPIRY_SECONDS
        job.rows = []  # the submitted payloads live on only in the errors that quote them


def _import_row(
    job: BulkImportJob, index: int, importer: RowImporter, error_id: Callable[[], str]
) -> None:
    row = job.rows[index]
    try:
        job.record_profile(importer(job, index, row))
        job.completed_count += 1
    except ApiError as err:
        job.failed_count += 1
        job.errors.append(
            ImportErrorRecord(
                id=error_id(),
                code=err.code,
                title=err.title,
                detail=err.detail,
                pointer=err.pointer or f"/data/attributes/profiles/data/{index}",
                original_payload=row,
            )
        )
