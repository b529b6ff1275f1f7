"""Fields Klaviyo left out of a write it accepted, and not sending them again unchanged.

Since its phone validation change (developer community post 18034), Klaviyo answers a create,
a profile-import or a subscription whose phone is invalid beside another identifier with a 2xx
and ``X-Klaviyo-Partial-Failure: phone_number``: the rest is saved, the phone is not. So:

- the customer's outcome is still ``created`` / ``updated`` / ``matched_…``, with a note, and it
  carries a failure for each field left out (``phone_rejected`` for ``phone_number``; the kind
  by field, ``invalid`` for a field with no kind of its own), which the error log keeps open;
- the applied state and the stored fingerprint leave that field out, so no plan believes
  Klaviyo holds it;
- while the source still has the value Klaviyo left out, later writes leave it out too
  (*withheld*: a ``PATCH`` carrying it would be refused whole, and the rest of the change with
  it), and the failure is carried forward, still open; an unchanged customer is not sent at all
  (``Planner``);
- once the source has another value, or none, it is sent, and that success resolves the failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from ..draft import Draft
from ..outcome import FAILURE_KINDS, Failure, FailureKind, OutcomeKind
from ..store import FailureRecord
from ._diff import flatten
from ._plan import Planned

__all__ = [
    "PARTIAL_KINDS",
    "carried",
    "is_partial",
    "kind_of",
    "left_out",
    "partial_failure",
    "withhold",
    "without",
]

_KIND_BY_FIELD: Final[Mapping[str, str]] = {
    "phone_number": "phone_rejected",
    "email": "invalid_email",
}
"""The failure kind of a field Klaviyo left out; a kind the error log does not have (yet) falls
back to ``invalid``, so a field Klaviyo names tomorrow is logged too."""

_DONE: Final[Mapping[str, str]] = {
    "created": "created the profile",
    "updated": "updated the profile",
    "matched_email": "updated the profile it matched by email",
    "matched_phone": "updated the profile it matched by phone",
}


def kind_of(field: str) -> FailureKind:
    """The failure kind for a field Klaviyo left out as invalid."""
    kind = _KIND_BY_FIELD.get(field, "invalid")
    return kind if kind in FAILURE_KINDS else "invalid"


PARTIAL_KINDS: Final[tuple[FailureKind, ...]] = tuple(
    sorted({kind_of(field) for field in _KIND_BY_FIELD} | {"invalid"})
)
"""Every kind a partial failure can have: what the planner asks the store for."""


def is_partial(detail: Mapping[str, Any]) -> bool:
    """Whether an error-log entry is for fields Klaviyo left out of a write it accepted."""
    return detail.get("partial") is True and isinstance(detail.get("fields"), Mapping)


def left_out(draft: Draft, names: Sequence[str]) -> dict[str, Any]:
    """Each field Klaviyo named, with the value the draft sent for it (None: not sent)."""
    sent = flatten(draft.profile_attributes())
    return {name: sent.get(name) for name in names}


def partial_failure(
    p: Planned,
    fields: Mapping[str, Any],
    *,
    done: OutcomeKind,
    header: str,
    request: str,
    status: int,
    payload: Any,
    answer: str | None = None,
) -> Failure:
    """The error-log entry for ``fields`` (name → value sent), left out of a write that
    otherwise went through (``header``: what Klaviyo named): open, not retryable (the same
    value would be left out again). Named after the first field: a customer has one entry.
    ``answer`` says how Klaviyo left them out, when it was not that header (a bulk import job
    refused for them)."""
    named = ", ".join(f"{name} {value!r}" for name, value in fields.items())
    answer = answer or (
        f"answered {status} with X-Klaviyo-Partial-Failure: {header} (the value is invalid, "
        "so it was left out)"
    )
    message = (
        f"Klaviyo {_DONE.get(done, 'saved the profile')} without its {named}: it {answer}. "
        "Correct it at the source; the rest of the profile was saved"
    )
    detail = {
        "partial": True,
        "fields": dict(fields),
        "klaviyo": {"status": status, "request": request, "partial_failure": header},
        "payload": payload,
        "fingerprint": p.fingerprint,
    }
    return Failure(
        customer_id=p.customer.id,
        stage="write",
        kind=kind_of(next(iter(fields))),
        message=message,
        detail=detail,
    )


def withhold(p: Planned, failure: FailureRecord) -> None:
    """Leave out of ``p``'s draft each value Klaviyo left out last time, while the source
    still has it, and carry that failure (still open) into the customer's outcome."""
    if not is_partial(failure.detail):
        return
    for name, value in failure.detail["fields"].items():
        if value is None or flatten(p.draft.profile_attributes()).get(name) != value:
            continue
        _drop(p.draft, name)
        p.withheld[name] = value
        p.draft.notes.append(
            f"{name} {value!r} not sent: Klaviyo left it out as invalid when it was sent "
            f"before (error log #{failure.id}); correct it at the source"
        )
    if p.withheld:
        p.kept = carried(failure)


def carried(failure: FailureRecord) -> Failure:
    """An open error-log entry as the failure a new outcome carries (so it stays open)."""
    return Failure(
        customer_id=failure.customer_id,
        stage=failure.stage,
        kind=failure.kind,
        message=failure.message,
        retryable=False,
        detail=dict(failure.detail),
    )


def without(draft: Draft, names: Sequence[str]) -> Draft:
    """A copy of ``draft`` without those fields: what was applied when Klaviyo left them out."""
    copy = replace(
        draft,
        attributes=dict(draft.attributes),
        location=dict(draft.location),
        properties=dict(draft.properties),
        notes=list(draft.notes),
    )
    for name in names:
        _drop(copy, name)
    return copy


def _drop(draft: Draft, name: str) -> None:
    """Remove a field named as Klaviyo names it (``phone_number``, ``location.city``)."""
    group, _, key = name.partition(".")
    if key and group == "location":
        draft.location.pop(key, None)
    elif key and group == "properties":
        draft.properties.pop(key, None)
    else:
        draft.attributes.pop(name, None)
