"""The bulk writer: a batch's profiles through Klaviyo's bulk import jobs.

The planner's work is the same on both paths: customers are matched by email, then phone,
before anything is written, and a linked or matched customer's row targets its profile id, so
Klaviyo's own matching never decides where a row goes. Each row carries exactly the attributes
the per-record path would send (``Draft.profile_attributes``: absent stays absent, only a
``when_empty = "clear"`` row sends null; seed 000 is about nulls in bulk imports), and a clear
that matters is not left to a job (step 2).

For one batch:

1. Rows are cut into jobs of at most 10,000 profiles and 5 MB. A row that shares an
   identifier (email, phone, profile id, external id) with an earlier row of the batch, or is
   too large for a job, is written afterwards on its own, as the per-record path would: two
   rows for one profile in one job would race inside Klaviyo.
2. **Clears.** Bulk import does not clear: Klaviyo's guide says a null there does not set a
   field to null (seed 000 reports the opposite through Amperity; the engine depends on
   neither). So a customer whose draft clears (``when_empty = "clear"``) a field of an existing
   profile that may hold a value is written on its own with ``PATCH``, where null clears, and
   never goes into a job: one request, where a job row followed by a repairing ``PATCH`` would
   cost the row and the same request, and reading the profiles back to verify would cost reads
   as well. A clear of a field known to be empty stays in the job (the store last applied it
   empty, or the matched profile Klaviyo returned has it empty), so a mapping that clears a
   sparse field does not send most of a resync per record; ``--full`` trusts nothing and sends
   every such clear per record. A create has nothing to clear; a create row Klaviyo merged into
   a profile made meanwhile (step 4) is patched after the job when that profile holds a value
   the draft clears.
3. Jobs are submitted and polled to completion. Klaviyo validates a job at submit: one bad row
   (an invalid email or phone) makes the whole job a 400 with one error per bad row at
   ``/data/attributes/profiles/data/N/...``, and nothing is imported. The rows it names fail
   with their own error, rewritten as the per-record request's (``invalid`` for an email,
   ``phone_rejected`` for a phone), and the others are submitted again at once as one job: a
   refused job costs one more job, never a request per customer. A row refused for its phone
   alone that has an email or a profile id goes into that job without the phone, as today's
   Klaviyo saves a create per record without an invalid phone: the profile is written, and the
   phone is logged as left out (``_partial``), exactly as on that path. That second job is not
   resubmitted: if it is refused too, the rows it names fail and the others fail retryable. A
   refusal that names no row (so no culprit is known) writes the job's rows one by one.
   Every import error of a completed job is mapped back to its row (by the ``external_id`` it
   carries, else the row its pointer names, else its identifiers) and becomes the failure the
   per-record request would have given. A 404 on a row with a profile id is a stale link: that
   customer is rerouted as on the per-record path.
4. Created profiles are looked up in batches (``any(external_id,[…])``, then email, then phone
   for rows without one) to store their links. A profile that existed before the job (Klaviyo
   merged the row into it) is recorded as a match, as a 409 on create is per record, and its
   consent (read with the lookup) is Klaviyo's. A ``duplicate_profile`` import error is an
   identity conflict, as a 409 is per record.
5. Consent, lists and outcomes follow through ``Writer.finish``, exactly as per record.

A request that fails all its tries fails only the customers it carried: a job's submission or
its import errors fail that job's rows (the other jobs go on); a failed poll is not the job
failing (it runs on at Klaviyo), so it is polled again, and only several failed polls in a row
give up on it; a failed lookup of created profiles leaves its customers to the next identifier's
lookup, and fails only those none of them found. Each fails retryable: a rerun matches the
profiles Klaviyo did create by email or phone, so nothing is duplicated.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..draft import CLEAR, Draft
from ..exceptions import (
    FatalError,
    KlaviyoAPIError,
    KlaviyoDuplicateProfileError,
    KlaviyoNotFoundError,
    KlaviyoSyncError,
    KlaviyoTimeoutError,
    KlaviyoUnavailableError,
    KlaviyoUnexpectedError,
    KlaviyoValidationError,
    RecordError,
    RetryableError,
)
from ..klaviyo import KlaviyoClient
from ..outcome import Link
from ._diff import FieldChange
from ._failures import failed, failure_from_error
from ._jobs import (
    JOB_PATH,
    MAX_ROW_BYTES,
    Row,
    import_error,
    job_chunks,
    poll_delays,
    refused_rows,
    row_index,
)
from ._lookup import look_up
from ._partial import left_out
from ._plan import Attempt, BatchPlan, BatchResult, Planned, Written
from ._planner import conflict_outcome, duplicate_of
from ._writer import Writer, adopt

__all__ = ["BulkWriter", "wait_for_job"]

log = logging.getLogger("klaviyo_sync.engine")

_DONE = frozenset({"complete", "cancelled"})
_FAILED_POLLS = 3
"""Polls in a row that may fail all their tries before a job is given up on: each is already
as patient as the job's size earns (``RetryPolicy.patient_from``), so three span minutes."""


@dataclass(slots=True)
class _Created:
    """A create row Klaviyo imported: its profile id is still to be looked up."""

    row: Row
    job_created_at: datetime | None
    dropped: dict[str, Any] = dataclasses.field(default_factory=dict)
    """fields left out of the row after Klaviyo refused the job for them"""


class _Alone:
    """A row to write on its own, per record, once the jobs are done."""

    __slots__ = ("reroute",)

    def __init__(self, *, reroute: bool) -> None:
        self.reroute = reroute


_ALONE = _Alone(reroute=False)
_REROUTE = _Alone(reroute=True)

_Result = Attempt | _Created | _Alone


async def wait_for_job(
    client: KlaviyoClient,
    job_id: str,
    *,
    carrying: int = 1,
    poll: Callable[[], Iterator[float]] = poll_delays,
    # A deadline on the client's clock (fake time in tests), which asyncio.timeout cannot give.
    timeout: float = 3600.0,  # noqa: ASYNC109
) -> dict[str, Any]:
    """Poll the bulk import job until it is ``complete`` or ``cancelled`` and return it, waiting
    ``poll``'s delays on the client's clock before each poll.

    A poll that failed (a RetryableError, after all its tries: ``carrying``, the job's profile
    count, makes each as patient as the job) is not the job failing, so it is polled again:
    only ``_FAILED_POLLS`` failed polls in a row raise that error. Past ``timeout`` seconds,
    KlaviyoTimeoutError; the job runs on at Klaviyo either way.
    """
    clock = client.clock
    deadline = clock.monotonic() + timeout
    failures = 0
    for delay in poll():
        await clock.sleep(delay)
        try:
            job = await client.get_bulk_import_job(job_id, carrying=carrying)
        except RetryableError as err:
            failures += 1
            if failures >= _FAILED_POLLS:
                raise
            log.warning("bulk import job %s: a poll failed, polling again: %s", job_id, err)
        else:
            failures = 0
            if (job.get("attributes") or {}).get("status") in _DONE:
                return job
        if clock.monotonic() >= deadline:
            break
    raise KlaviyoTimeoutError(
        f"bulk import job {job_id} not finished after {timeout:.0f}s",
        method="GET",
        path=f"{JOB_PATH}/{job_id}",
    )


class BulkWriter:
    """Writes profiles with bulk import jobs, then hands over to ``Writer.finish``."""

    def __init__(
        self,
        client: KlaviyoClient,
        writer: Writer,
        *,
        poll: Callable[[], Iterator[float]] = poll_delays,
        job_timeout: float = 3600.0,
    ) -> None:
        self._client = client
        self._writer = writer
        self._poll = poll
        self._timeout = job_timeout

    async def apply(self, plan: BatchPlan) -> tuple[BatchResult, FatalError | None]:
        """Apply ``plan``; a FatalError stops nothing already under way and is returned."""
        return await self._writer.finish(plan, await self.write(plan.planned))

    async def write(self, planned: Sequence[Planned]) -> list[Attempt]:
        """One attempt per planned customer, in order."""
        results: list[_Result | None] = [None] * len(planned)
        jobs_rows: list[tuple[int, Row]] = []
        for index, row in _rows(planned, full=self._writer.planner.full):
            if row is None:
                results[index] = _ALONE
            else:
                jobs_rows.append((index, row))
        chunks = list(job_chunks([row for _, row in jobs_rows]))
        positions = [index for index, _ in jobs_rows]
        done = await asyncio.gather(*(self._job(chunk) for chunk in chunks))
        flat = [result for job in done for result in job]
        for index, result in zip(positions, flat, strict=True):
            results[index] = result
        merged = await self._resolve(results)
        await self._clear_merged(merged, results)
        await self._alone(planned, results)
        return [_settled(r) for r in results]

    # -- one job -----------------------------------------------------------------------------

    async def _job(self, rows: list[Row], *, again: bool = False) -> list[_Result]:
        try:
            return await self._run_job(rows, again=again)
        except FatalError as err:
            return [err] * len(rows)
        except Exception as err:  # every customer ends in exactly one outcome
            if not isinstance(err, KlaviyoSyncError):
                log.exception("a bulk import job failed unexpectedly")
            return [_failed(row.planned, err) for row in rows]

    async def _run_job(self, rows: list[Row], *, again: bool = False) -> list[_Result]:
        """Submit ``rows`` as one job and wait for it; ``again`` when they are what was left
        of a job refused at submit, which may not be resubmitted a second time."""
        try:
            job = await self._client.create_bulk_import_job([row.resource for row in rows])
        except KlaviyoValidationError as err:
            named = refused_rows(err, len(rows))
            if named or again:
                return await self._refused(rows, named, err, again=again)
            if len(rows) == 1:
                raise
            # Refused for something no row is named for: only one by one can find the culprit.
            return [_ALONE] * len(rows)
        except (RecordError, ValueError):
            if len(rows) == 1:
                raise
            return [_ALONE] * len(rows)
        job_id = str(job["id"])
        finished = await wait_for_job(
            self._client, job_id, carrying=len(rows), poll=self._poll, timeout=self._timeout
        )
        attributes = finished.get("attributes") or {}
        if attributes.get("status") != "complete":
            raise KlaviyoUnavailableError(
                f"bulk import job {job_id} was {attributes.get('status')} before it completed",
                method="GET",
                path=f"{JOB_PATH}/{job_id}",
            )
        errors: dict[int, KlaviyoAPIError] = {}
        if int(attributes.get("failed_count") or 0) > 0:
            errors = await self._errors(job_id, rows)
        created_at = _timestamp(attributes.get("created_at"))
        return [_imported(row, errors.get(i), created_at) for i, row in enumerate(rows)]

    async def _refused(
        self,
        rows: list[Row],
        named: dict[int, KlaviyoAPIError],
        error: KlaviyoValidationError,
        *,
        again: bool,
    ) -> list[_Result]:
        """Klaviyo refused the job at submit, naming bad rows (nothing was imported): those
        fail with their own error, the others (and those refused for their phone alone, without
        it) go again as one job. A second refusal fails the
        rows it names and leaves the rest failed, retryable, instead of trying a third job."""
        results: list[_Result | None] = [None] * len(rows)
        retried = {} if again else _without_refused_phones(rows, named)
        for index, row_error in named.items():
            if index not in retried:
                results[index] = _imported(rows[index], row_error, None)
        rest = [i for i in range(len(rows)) if i not in named or i in retried]
        log.warning(
            "a bulk import job of %d rows was refused at submit for %d of them; %s",
            len(rows),
            len(named),
            "giving up on the rest"
            if again
            else f"submitting {len(rest)} again ({len(retried)} without the phone refused)",
        )
        if rest and again:
            twice = _refused_twice(error)
            for i in rest:
                results[i] = _failed(rows[i].planned, twice)
        elif rest:
            resent = await self._job([retried.get(i, rows[i]) for i in rest], again=True)
            for i, result in zip(rest, resent, strict=True):
                results[i] = _left_out(result, rows[i]) if i in retried else result
        return [_present(result) for result in results]

    async def _errors(self, job_id: str, rows: list[Row]) -> dict[int, KlaviyoAPIError]:
        """Each import error of the job, by the index of the row it belongs to."""
        by_key: dict[tuple[str, str], int] = {}
        for index, row in enumerate(rows):
            for key in _keys(row.resource):
                by_key.setdefault(key, index)
        found: dict[int, KlaviyoAPIError] = {}
        errors = self._client.iter_bulk_import_errors(job_id, carrying=len(rows))
        async for error in errors:
            at = _which_row(error, rows, by_key)
            if at is None:
                log.warning("bulk import job %s: an import error names no row we sent", job_id)
                continue
            found.setdefault(at, import_error(error, job_id=job_id))
        return found

    # -- after the jobs ----------------------------------------------------------------------

    async def _resolve(self, results: list[_Result | None]) -> list[int]:
        """Look up the profiles Klaviyo created, by external id, then email, then phone.

        A customer whose lookup failed is looked for by its next identifier; one no lookup
        found fails with the error of its failed lookup, if it had one. Returns the rows Klaviyo
        merged into a profile that holds a value their draft clears."""
        pending = {i: r for i, r in enumerate(results) if isinstance(r, _Created)}
        errors: dict[int, KlaviyoSyncError] = {}
        merged: list[int] = []
        for field in ("external_id", "email", "phone_number"):
            wanted: dict[int, str] = {}
            for i, created in pending.items():
                value = _identifier(created.row, field)
                if value is not None:
                    wanted[i] = value
            if not wanted:
                continue
            try:
                looked = await look_up(
                    self._client, field, list(wanted.values()), additional_fields=("subscriptions",)
                )
            except FatalError as err:
                for i in pending:
                    results[i] = err
                return merged
            by_value = _by_value(looked.profiles, field)
            for i, value in wanted.items():
                profile = by_value.get(value.lower() if field == "email" else value)
                if profile is not None:
                    written = results[i] = self._written_create(pending.pop(i), profile)
                    if written.kind != "created" and _diff_clears(written.planned):
                        merged.append(i)
                elif value in looked.failed:
                    errors.setdefault(i, looked.failed[value])
        for i, created in pending.items():
            error = errors.get(i) or _not_found_after_import(created.row)
            results[i] = _failed(created.row.planned, error)
        return merged

    def _written_create(self, created: _Created, profile: dict[str, Any]) -> Written:
        p = created.row.planned
        profile_id = str(profile["id"])
        attributes = profile.get("attributes") or {}
        born = _timestamp(attributes.get("created"))
        if born is None or created.job_created_at is None or born >= created.job_created_at:
            link = Link(p.customer.id, profile_id, "created")
            written = Written(p, profile_id, "created", p.draft.profile_document(), link)
        else:
            how, kind = adopt(self._writer.planner, p, profile)
            note = f"bulk import merged this customer into existing profile {profile_id}; linked it"
            payload = p.draft.profile_document(profile_id)
            link = Link(p.customer.id, profile_id, how)
            written = Written(p, profile_id, kind, payload, link, (note,))
        return _with_dropped(written, created.dropped) if created.dropped else written

    async def _clear_merged(self, merged: list[int], results: list[_Result | None]) -> None:
        """Rows merged into an existing profile (see ``_written_create``) whose draft clears a
        field it holds: the job left the null as it was, so a PATCH sends the draft again,
        as a create that met a 409 does per record."""
        written = [results[i] for i in merged]
        patches = [w for w in written if isinstance(w, Written)]
        tries = await self._writer.write_each([w.planned for w in patches])
        for i, w, attempt in zip(merged, patches, tries, strict=True):
            if isinstance(attempt, Written):
                cleared = ", ".join(c.field for c in _diff_clears(w.planned))
                w.notes = (*w.notes, f"bulk import does not clear: a PATCH cleared {cleared}")
                attempt = w
            results[i] = attempt

    async def _alone(self, planned: Sequence[Planned], results: list[_Result | None]) -> None:
        """Rows kept out of the jobs, refused with them, or rerouted: one request each."""
        singles = [i for i, r in enumerate(results) if r is _ALONE]
        reroutes = [i for i, r in enumerate(results) if r is _REROUTE]
        tries = await self._writer.write_each([planned[i] for i in singles])
        for i, attempt in zip(singles, tries, strict=True):
            results[i] = attempt
        rerouted = await asyncio.gather(*(self._writer.reroute(planned[i]) for i in reroutes))
        for i, attempt in zip(reroutes, rerouted, strict=True):
            results[i] = attempt


def _rows(planned: Sequence[Planned], *, full: bool) -> Iterator[tuple[int, Row | None]]:
    """Each plan's row, or None for one that must be written on its own."""
    seen: set[tuple[str, str]] = set()
    for index, p in enumerate(planned):
        if _clears_a_value(p, full=full):
            yield index, None
            continue
        row = Row.of(p)
        keys = _keys(row.resource)
        if row.size > MAX_ROW_BYTES or not seen.isdisjoint(keys):
            yield index, None
            continue
        seen.update(keys)
        yield index, row


def _clears_a_value(p: Planned, *, full: bool) -> bool:
    """Whether the draft clears a field of an existing profile that may hold a value.

    Bulk import leaves a null as it is (Klaviyo's guide), so such a customer is written per
    record, where ``PATCH`` clears. A clear of a field known to be empty stays in the job: the
    store last applied it as empty, or Klaviyo's profile (a match) has it empty. ``--full``
    trusts nothing known and sends every clear of an existing profile per record."""
    if p.route == "create":
        return False  # a new profile holds nothing to clear
    cleared = _cleared(p.draft)
    if not cleared:
        return False
    if full:
        return True
    known = p.before.fields
    # A profile Klaviyo returned lists every field it holds; the store only what was applied.
    complete = p.before.source == "klaviyo"
    return any(_holds(known[key]) if key in known else not complete for key in cleared)


def _cleared(draft: Draft) -> list[str]:
    """The draft's cleared fields, flattened as a diff names them (``location.city``)."""
    found = [key for key, value in draft.attributes.items() if value is CLEAR]
    for prefix, values in (("location", draft.location), ("properties", draft.properties)):
        found.extend(f"{prefix}.{key}" for key, value in values.items() if value is CLEAR)
    return found


def _holds(value: Any) -> bool:
    return value is not None and value != "" and value != {} and value != []


def _diff_clears(p: Planned) -> list[FieldChange]:
    return [] if p.diff is None else p.diff.of_kind("clear")


def _keys(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """What could make two rows land on one profile: its id and its identifiers."""
    keys = []
    if isinstance(resource.get("id"), str):
        keys.append(("id", resource["id"]))
    attributes = resource.get("attributes") or {}
    for field in ("email", "phone_number", "external_id"):
        value = attributes.get(field)
        if isinstance(value, str) and value:
            keys.append((field, value.lower() if field == "email" else value))
    return keys


def _which_row(
    error: dict[str, Any], rows: list[Row], by_key: dict[tuple[str, str], int]
) -> int | None:
    payload = (error.get("attributes") or {}).get("original_payload")
    resource = payload if isinstance(payload, dict) else {}
    attributes = resource.get("attributes") if isinstance(resource.get("attributes"), dict) else {}
    external_id = (attributes or {}).get("external_id")
    if isinstance(external_id, str) and ("external_id", external_id) in by_key:
        return by_key[("external_id", external_id)]
    index = row_index(error)
    if index is not None and index < len(rows):
        return index
    for key in _keys(resource):
        if key in by_key:
            return by_key[key]
    return None


def _imported(row: Row, error: KlaviyoAPIError | None, created_at: datetime | None) -> _Result:
    p = row.planned
    if error is not None:
        if isinstance(error, KlaviyoNotFoundError) and p.profile_id is not None:
            return _REROUTE
        if isinstance(error, KlaviyoDuplicateProfileError):
            return conflict_outcome(p, duplicate_of(error))
        return _failed(p, error)
    if p.route == "create":
        return _Created(row, created_at)
    assert p.profile_id is not None
    payload = p.draft.profile_document(p.profile_id)
    if p.route == "update":
        return Written(p, p.profile_id, "updated", payload)
    how = p.matched_by or "matched_email"
    return Written(p, p.profile_id, how, payload, Link(p.customer.id, p.profile_id, how))


def _identifier(row: Row, field: str) -> str | None:
    value = (row.resource.get("attributes") or {}).get(field)
    return value if isinstance(value, str) and value else None


def _by_value(profiles: list[dict[str, Any]], field: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for profile in profiles:
        value = (profile.get("attributes") or {}).get(field)
        if isinstance(value, str):
            found.setdefault(value.lower() if field == "email" else value, profile)
    return found


def _not_found_after_import(row: Row) -> KlaviyoUnexpectedError:
    return KlaviyoUnexpectedError(
        "the bulk import reported no error for this customer, but no profile with its "
        "external id, email or phone number was found afterwards",
        method="POST",
        path=JOB_PATH,
    )


def _failed(planned: Planned, error: BaseException) -> Attempt:
    failure = failure_from_error(
        error,
        stage="write",
        customer_id=planned.customer.id,
        payload=planned.draft.profile_document(planned.profile_id),
    )
    return failed(planned.customer.id, failure, profile_id=planned.profile_id, route=planned.route)


_PHONE_POINTER = "/data/attributes/phone_number"
_BULK_REFUSAL = (
    "refused the bulk import job for it, so the row was imported again without it (as a "
    "create per record leaves an invalid phone out)"
)


def _without_refused_phones(rows: list[Row], named: dict[int, KlaviyoAPIError]) -> dict[int, Row]:
    """The rows refused for their phone alone that another identifier (an email, a profile
    id) still places, each without its phone, to go into the second job."""
    again: dict[int, Row] = {}
    for index, error in named.items():
        row = rows[index]
        attributes = row.resource.get("attributes") or {}
        placed = row.resource.get("id") is not None or _identifier(row, "email") is not None
        if error.pointer == _PHONE_POINTER and placed and "phone_number" in attributes:
            rest = {k: v for k, v in attributes.items() if k != "phone_number"}
            again[index] = Row.of_resource(row.planned, {**row.resource, "attributes": rest})
    return again


def _left_out(result: _Result, row: Row) -> _Result:
    """What the second job gave a row sent without its refused phone: that phone is left
    out of whatever was written, as Klaviyo leaves it out of a create per record."""
    dropped = left_out(row.planned.draft, ["phone_number"])
    if isinstance(result, _Created):
        result.dropped = dropped
        return result
    if isinstance(result, Written):
        return _with_dropped(result, dropped)
    return result


def _with_dropped(written: Written, dropped: dict[str, Any]) -> Written:
    named = ", ".join(f"{name} {value!r}" for name, value in dropped.items())
    written.dropped = dropped
    note = f"Klaviyo refused the bulk import job for {named}: the row went again without it"
    written.notes = (*written.notes, note)
    written.request = f"POST {JOB_PATH}"
    written.status = 202
    written.answer = _BULK_REFUSAL
    return written


def _refused_twice(error: KlaviyoValidationError) -> KlaviyoUnavailableError:
    # Nothing is wrong with these rows: Klaviyo refused the job they were in twice for others.
    # Retryable, so a rerun sends them (an unchanged customer with an open invalid is skipped).
    return KlaviyoUnavailableError(
        "not imported: Klaviyo refused this profile's bulk import job at submit for other rows, "
        f"and again when they were left out ({error})",
        method="POST",
        path=JOB_PATH,
        request_id=error.request_id,
    )


def _present(result: _Result | None) -> _Result:
    assert result is not None, "every row has a result"
    return result


def _settled(result: _Result | None) -> Attempt:
    assert result is not None, "every row has a result"
    assert not isinstance(result, _Created | _Alone), result
    return result


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
