"""The sandbox's state and the operations the API performs on it.

Every public method takes the sandbox's lock, so a test thread may read or seed the state
while uvicorn serves requests from another; handlers run whole under the same (re-entrant)
lock and never await while holding it.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ._clock import isoformat
from ._config import SandboxConfig
from ._consent import ConfirmationEmail, PendingOptIn
from ._errors import ApiError, ApiErrors, conflict_duplicate, invalid, not_found
from ._faults import FaultInjector, FaultRule
from ._ids import IdFactory
from ._jobs import BulkImportJob, JobBook
from ._lists import OPT_IN_PROCESSES, ListBook, ProfileList
from ._ratelimit import RateLimiter
from ._store import Profile, ProfileStore
from ._validation import (
    IDENTIFIERS,
    PropertyPatch,
    check_profile_values,
    child,
    parse_profile_attributes,
    parse_property_patch,
    require_identifier,
    require_resource,
)

__all__ = ["RequestRecord", "Sandbox", "SubscriptionRequest"]

_PROFILE_MAX_BYTES = 100 * 1024


@dataclass(slots=True)
class RequestRecord:
    """One /api request as the sandbox saw it (never its headers: they carry the key)."""

    method: str
    path: str
    query: dict[str, str]
    status: int | None
    body: Any
    operation_id: str | None
    at: float
    dropped: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "body": self.body,
            "operation_id": self.operation_id,
            "at": isoformat(self.at),
            "dropped": self.dropped,
        }


@dataclass(slots=True)
class SubscriptionRequest:
    """One profile of a subscribe or unsubscribe job, already checked."""

    email: str | None = None
    phone_number: str | None = None
    profile_id: str | None = None
    channels: dict[str, float | None] = field(default_factory=dict)
    """``email``/``sms`` → ``consented_at`` (only for historical imports)"""
    pointer: str = "/data/attributes/profiles/data/0"
    dropped: tuple[str, ...] = ()
    """fields Klaviyo ignored as invalid (``X-Klaviyo-Partial-Failure``)"""


class Sandbox:
    """A Klaviyo account in memory: profiles, lists, consent, jobs, and what was asked of it."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.behaviour = replace(self.config.behaviour)
        self.clock = self.config.clock
        self.lock = threading.RLock()
        self.limiter = RateLimiter(self.clock, enabled=self.config.rate_limits)
        self.faults = FaultInjector(self.config.faults, self.config.seed)
        self.store = ProfileStore()
        self.list_book = ListBook()
        self.job_book = JobBook()
        self.pending: dict[tuple[str, str | None], PendingOptIn] = {}
        self.emails: list[ConfirmationEmail] = []
        self.requests: deque[RequestRecord] = deque(maxlen=self.config.request_log_limit)
        self.ids = IdFactory(self.clock.now, self.config.seed)

    # -- views -------------------------------------------------------------------------------

    @property
    def profiles(self) -> dict[str, Profile]:
        return self.store.profiles

    @property
    def lists(self) -> dict[str, ProfileList]:
        return self.list_book.lists

    @property
    def jobs(self) -> dict[str, BulkImportJob]:
        return self.job_book.jobs

    def reset(self) -> None:
        """Forget everything; faults go back to the configured ones."""
        with self.lock:
            self.store.clear()
            self.list_book.clear()
            self.job_book.clear()
            self.pending.clear()
            self.emails.clear()
            self.requests.clear()
            self.limiter.reset()
            self.faults.set(self.config.faults, self.config.seed)
            self.behaviour = replace(self.config.behaviour)
            # Ids keep counting up: a stale id from before the reset must never find a new
            # profile.

    def set_faults(self, rules: Iterable[FaultRule], seed: int | None = None) -> None:
        with self.lock:
            self.faults.set(rules, seed)

    def record(self, entry: RequestRecord) -> None:
        with self.lock:
            self.requests.append(entry)

    # -- profiles ----------------------------------------------------------------------------

    def get_profile(self, profile_id: str) -> Profile:
        with self.lock:
            profile = self.store.get(profile_id)
            if profile is None:
                raise not_found(f"A profile with id {profile_id!r} does not exist.")
            return profile

    def find_profile(
        self,
        *,
        email: str | None = None,
        phone_number: str | None = None,
        external_id: str | None = None,
    ) -> Profile | None:
        """The profile holding the first identifier given that any profile holds."""
        with self.lock:
            wanted = {"email": email, "phone_number": phone_number, "external_id": external_id}
            owners = self.store.owners(wanted)
            return self.store.profiles[owners[0][1]] if owners else None

    def create_profile(
        self,
        attributes: Mapping[str, Any],
        *,
        pointer: str = "/data/attributes",
        dropped: list[str] | None = None,
    ) -> Profile:
        """Create a profile; fields ignored as invalid (a dropped phone) go to ``dropped``."""
        with self.lock:
            attrs = parse_profile_attributes(attributes, pointer)
            _report(dropped, check_profile_values(attrs, pointer, drop_invalid_phone=self._drops))
            require_identifier(attrs, pointer)
            self._refuse_duplicates(attrs, None, pointer)
            return self._insert(attrs, None)

    def update_profile(
        self,
        profile_id: str,
        attributes: Mapping[str, Any],
        patch: PropertyPatch | None = None,
        *,
        pointer: str = "/data/attributes",
    ) -> Profile:
        with self.lock:
            profile = self.get_profile(profile_id)
            attrs = parse_profile_attributes(attributes, pointer)
            # Never drops an invalid phone: Klaviyo's change names Create Profile, Subscribe
            # and Create Event, and Update Profile still answers it with a 400.
            check_profile_values(attrs, pointer)
            self._write(profile, attrs, patch, pointer)
            return profile

    def import_profile(
        self,
        attributes: Mapping[str, Any],
        profile_id: str | None = None,
        patch: PropertyPatch | None = None,
        *,
        pointer: str = "/data/attributes",
        id_pointer: str = "/data/id",
        dropped: list[str] | None = None,
    ) -> tuple[Profile, bool]:
        """Create or update by identifiers, as ``/api/profile-import``; True when created."""
        with self.lock:
            attrs = parse_profile_attributes(attributes, pointer, allow_kx=True)
            found = check_profile_values(
                attrs, pointer, drop_invalid_phone=self._drops, has_id=profile_id is not None
            )
            _report(dropped, found)
            return self._import(attrs, profile_id, patch, pointer, id_pointer)

    def _import(
        self,
        attrs: dict[str, Any],
        profile_id: str | None,
        patch: PropertyPatch | None,
        pointer: str,
        id_pointer: str,
    ) -> tuple[Profile, bool]:
        if profile_id is not None:
            profile = self.store.get(profile_id)
            if profile is None:
                raise not_found(
                    f"A profile with id {profile_id!r} does not exist.", pointer=id_pointer
                )
            self._write(profile, attrs, patch, pointer)
            return profile, False
        owners = self.store.owners(attrs)
        if not owners:
            require_identifier(attrs, pointer)
            return self._insert(attrs, patch), True
        # The first identifier (email, then phone, then external id) picks the profile;
        # another identifier held by a different profile is a conflict, as on Klaviyo.
        profile = self.store.profiles[owners[0][1]]
        self._write(profile, attrs, patch, pointer)
        return profile, False

    @property
    def _drops(self) -> bool:
        return self.behaviour.invalid_phone == "drop"

    def delete_profile(self, profile_id: str) -> None:
        """Delete as someone might in Klaviyo's UI: the id is gone, its identifiers free."""
        with self.lock:
            profile = self.get_profile(profile_id)
            self.store.remove(profile)
            for target in self.list_book.containing(profile_id):
                target.remove(profile_id)
            for key in [key for key in self.pending if key[0] == profile_id]:
                del self.pending[key]

    def _insert(self, attrs: Mapping[str, Any], patch: PropertyPatch | None) -> Profile:
        now = self.clock.now()
        profile = Profile(self.ids.ulid(), now, now)
        self.store.insert(profile)
        self.store.write(profile, attrs, patch, now)
        return profile

    def _write(
        self,
        profile: Profile,
        attrs: Mapping[str, Any],
        patch: PropertyPatch | None,
        pointer: str,
    ) -> None:
        merged = {name: attrs.get(name, getattr(profile, name)) for name in IDENTIFIERS}
        require_identifier(merged, pointer)
        self._refuse_duplicates(attrs, profile.id, pointer)
        self.store.write(profile, attrs, patch, self.clock.now())

    def _refuse_duplicates(
        self, attrs: Mapping[str, Any], own_id: str | None, pointer: str
    ) -> None:
        for field_name, owner in self.store.owners(attrs):
            if owner != own_id:
                raise conflict_duplicate(owner, field_name, child(pointer, field_name))

    # -- lists -------------------------------------------------------------------------------

    def create_list(self, name: str, opt_in_process: str | None = None) -> ProfileList:
        with self.lock:
            process = opt_in_process or self.behaviour.list_opt_in
            if process not in OPT_IN_PROCESSES:
                raise invalid(
                    "opt_in_process must be 'double_opt_in' or 'single_opt_in'.",
                    pointer="/data/attributes/opt_in_process",
                )
            list_id = self.ids.short(lambda candidate: candidate in self.list_book.lists)
            return self.list_book.add(list_id, name, process, self.clock.now())

    def get_list(self, list_id: str, *, pointer: str | None = None) -> ProfileList:
        with self.lock:
            found = self.list_book.get(list_id)
            if found is None:
                if pointer is not None:
                    raise invalid(f"A list with id {list_id!r} does not exist.", pointer=pointer)
                raise not_found(f"A list with id {list_id!r} does not exist.")
            return found

    def delete_list(self, list_id: str) -> None:
        with self.lock:
            self.get_list(list_id)
            del self.list_book.lists[list_id]
            for key in [key for key in self.pending if key[1] == list_id]:
                del self.pending[key]

    def lists_of(self, profile_id: str) -> list[ProfileList]:
        with self.lock:
            return self.list_book.containing(profile_id)

    def add_to_list(self, list_id: str, profile_ids: Iterable[str]) -> None:
        """Membership only: consent, suppressions and pending opt-ins stay as they are."""
        with self.lock:
            target = self.get_list(list_id)
            ids = list(profile_ids)
            for index, profile_id in enumerate(ids):
                if self.store.get(profile_id) is None:
                    raise invalid(
                        f"A profile with id {profile_id!r} does not exist.",
                        pointer=f"/data/{index}/id",
                    )
            now = self.clock.now()
            for profile_id in ids:
                target.add(profile_id, now)

    def remove_from_list(self, list_id: str, profile_ids: Iterable[str]) -> None:
        with self.lock:
            target = self.get_list(list_id)
            for profile_id in profile_ids:
                target.remove(profile_id)

    # -- consent -----------------------------------------------------------------------------

    def subscribe(
        self,
        requests: Iterable[SubscriptionRequest],
        *,
        list_id: str | None = None,
        historical_import: bool = False,
        custom_source: str | None = None,
    ) -> None:
        with self.lock:
            target_list = None if list_id is None else self.get_list(list_id, pointer=_LIST_POINTER)
            process = target_list.opt_in_process if target_list else self.behaviour.default_opt_in
            double = process == "double_opt_in" and not historical_import
            for request in requests:
                for profile, channels in self._consent_targets(request):
                    if double:
                        self._request_confirmation(profile, channels, target_list, custom_source)
                    else:
                        self._subscribe_now(profile, channels, target_list, custom_source)

    def _subscribe_now(
        self,
        profile: Profile,
        channels: Mapping[str, float | None],
        target_list: ProfileList | None,
        custom_source: str | None,
    ) -> None:
        now = self.clock.now()
        list_id = None if target_list is None else target_list.id
        for channel, consented_at in channels.items():
            profile.consent(channel).subscribe(
                now, consented_at, double_optin=False, custom_source=custom_source, list_id=list_id
            )
        if target_list is not None:
            target_list.add(profile.id, now)

    def _request_confirmation(
        self,
        profile: Profile,
        channels: Mapping[str, float | None],
        target_list: ProfileList | None,
        custom_source: str | None,
    ) -> None:
        list_id = None if target_list is None else target_list.id
        if target_list is not None and profile.id in target_list.members:
            return  # already confirmed into this list: Klaviyo sends nothing
        now = self.clock.now()
        pending = self.pending.setdefault(
            (profile.id, list_id), PendingOptIn(profile.id, list_id, set(), now, custom_source)
        )
        for channel in channels:
            if channel in pending.channels:
                continue  # one confirmation per list and channel until it is answered
            pending.channels.add(channel)
            to = profile.email if channel == "email" else profile.phone_number
            self.emails.append(ConfirmationEmail(to or "", list_id, profile.id, now, channel))

    def confirm(
        self,
        list_id: str | None,
        *,
        profile_id: str | None = None,
        email: str | None = None,
    ) -> PendingOptIn:
        """Confirm a pending double opt-in as its recipient would: subscribe, then join."""
        with self.lock:
            if profile_id is None and email is not None:
                profile_id = self.store.owner("email", email)
            pending = self.pending.pop((profile_id or "", list_id), None)
            if pending is None:
                raise not_found("No double opt-in is pending for that profile and list.")
            profile = self.get_profile(pending.profile_id)
            now = self.clock.now()
            for channel in pending.channels:
                profile.consent(channel).subscribe(
                    now,
                    None,
                    double_optin=True,
                    custom_source=pending.custom_source,
                    list_id=list_id,
                )
            target_list = None if list_id is None else self.list_book.get(list_id)
            if target_list is not None:
                target_list.add(profile.id, now)
            return pending

    def unsubscribe(
        self, requests: Iterable[SubscriptionRequest], *, list_id: str | None = None
    ) -> None:
        """Unsubscribe: from the list if a member, else globally, as the spec warns."""
        with self.lock:
            target_list = None if list_id is None else self.get_list(list_id, pointer=_LIST_POINTER)
            now = self.clock.now()
            for request in requests:
                for profile, channels in self._consent_targets(request):
                    self._unsubscribe_profile(profile, channels, target_list, now)

    def _unsubscribe_profile(
        self,
        profile: Profile,
        channels: Iterable[str],
        target_list: ProfileList | None,
        now: float,
    ) -> None:
        list_id = None if target_list is None else target_list.id
        pending = self.pending.get((profile.id, list_id))
        if pending is not None:
            pending.channels.difference_update(channels)
            if not pending.channels:
                del self.pending[(profile.id, list_id)]
        if target_list is not None and profile.id in target_list.members:
            target_list.remove(profile.id)
            for channel in channels:
                profile.consent(channel).suppress_list(target_list.id, now)
            return
        for channel in channels:
            profile.consent(channel).unsubscribe(now, suppress=channel == "email")

    def _consent_targets(
        self, request: SubscriptionRequest
    ) -> list[tuple[Profile, dict[str, float | None]]]:
        """Which profile each channel's consent lands on: the one holding that address."""
        primary = self._consent_profile(request)
        targets: dict[str, dict[str, float | None]] = {}
        for channel, consented_at in request.channels.items():
            field_name = "email" if channel == "email" else "phone_number"
            address = getattr(request, field_name)
            holder = primary
            if address:
                owner = self.store.owner(field_name, address)
                if owner is not None:
                    holder = self.store.profiles[owner]
            targets.setdefault(holder.id, {})[channel] = consented_at
        return [(self.store.profiles[pid], channels) for pid, channels in targets.items()]

    def _consent_profile(self, request: SubscriptionRequest) -> Profile:
        attrs = {"email": request.email, "phone_number": request.phone_number}
        if request.profile_id is not None:
            profile = self.store.get(request.profile_id)
            if profile is None:
                raise invalid(
                    f"A profile with id {request.profile_id!r} does not exist.",
                    pointer=child(request.pointer, "id"),
                )
        else:
            owners = self.store.owners(attrs)
            if not owners:
                return self._insert({k: v for k, v in attrs.items() if v}, None)
            profile = self.store.profiles[owners[0][1]]
        # Give the profile an address it lacks, unless another profile already holds it.
        free = {k: v for k, v in attrs.items() if v and getattr(profile, k) is None}
        free = {k: v for k, v in free.items() if self.store.owner(k, v) is None}
        if free:
            self.store.write(profile, free, None, self.clock.now())
        return profile

    # -- bulk import jobs --------------------------------------------------------------------

    def create_import_job(self, rows: list[Any], list_ids: Iterable[str] = ()) -> BulkImportJob:
        """Queue a bulk import: refused whole for any bad row, or bad rows failed one by one
        when imported, as ``behaviour.bulk_import_validation`` says."""
        with self.lock:
            base = "/data/attributes/profiles/data"
            if self.behaviour.bulk_import_validation == "submit":
                errors = [_row_error(row, child(base, i)) for i, row in enumerate(rows)]
                refused = [error for error in errors if error is not None]
                if refused:
                    raise ApiErrors(refused)
            else:
                for index, row in enumerate(rows):
                    _check_import_row(row, child(base, index))
            ids = list(list_ids)
            for index, list_id in enumerate(ids):
                self.get_list(list_id, pointer=f"/data/relationships/lists/data/{index}/id")
            job = BulkImportJob(self.ids.ulid(), self.clock.now(), list(rows), ids)
            self.job_book.add(job)
            return job

    def get_job(self, job_id: str) -> BulkImportJob:
        with self.lock:
            job = self.job_book.get(job_id)
            if job is None:
                raise not_found(f"A bulk import job with id {job_id!r} does not exist.")
            return job

    def process_jobs(self) -> None:
        """Catch bulk import jobs up with the clock."""
        with self.lock:
            self.job_book.advance(
                self.clock.now(),
                self.config.job_processing_seconds,
                self._import_row,
                self.ids.uuid,
            )

    def _import_row(self, job: BulkImportJob, index: int, row: dict[str, Any]) -> str:
        base = f"/data/attributes/profiles/data/{index}"
        pointer = child(base, "attributes")
        patch = parse_property_patch(row.get("meta"), child(base, "meta"))
        raw = row["attributes"]
        if self.behaviour.bulk_import_null == "ignore":
            raw = _without_nulls(raw)
        attrs = parse_profile_attributes(raw, pointer, allow_kx=True)
        # Bulk rows never drop an invalid phone: the row fails (or the job is refused).
        check_profile_values(attrs, pointer)
        profile, _ = self._import(attrs, row.get("id"), patch, pointer, child(base, "id"))
        now = self.clock.now()
        for list_id in job.list_ids:
            target = self.list_book.get(list_id)
            if target is not None:
                target.add(profile.id, now)
        return profile.id


_LIST_POINTER = "/data/relationships/list/data/id"


def _check_import_row(row: Any, pointer: str) -> None:
    data = require_resource(row, "profile", pointer=pointer)
    if "id" in data and data["id"] is not None and not isinstance(data["id"], str):
        raise invalid("A profile id must be a string.", pointer=child(pointer, "id"))
    parse_profile_attributes(data["attributes"], child(pointer, "attributes"), allow_kx=True)
    parse_property_patch(data.get("meta"), child(pointer, "meta"))
    if len(json.dumps(row)) > _PROFILE_MAX_BYTES:
        raise ApiError(
            400,
            "invalid",
            "A profile in a bulk import may be at most 100 KB.",
            pointer=pointer,
        )


def _row_error(row: Any, pointer: str) -> ApiError | None:
    """What is wrong with a bulk import row, shape or value, found before anything runs."""
    try:
        _check_import_row(row, pointer)
        where = child(pointer, "attributes")
        attrs = parse_profile_attributes(row["attributes"], where, allow_kx=True)
        check_profile_values(attrs, where)
        if row.get("id") is None:
            require_identifier(attrs, where)
    except ApiError as err:
        return err
    return None


def _without_nulls(raw: Any) -> Any:
    """A bulk row's attributes with every null left out, one level into objects too."""
    if not isinstance(raw, dict):
        return raw
    kept: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if key in ("location", "properties") and isinstance(value, dict):
            value = {inner: item for inner, item in value.items() if item is not None}
        kept[key] = value
    return kept


def _report(dropped: list[str] | None, found: Iterable[str]) -> None:
    if dropped is not None:
        dropped.extend(name for name in found if name not in dropped)
