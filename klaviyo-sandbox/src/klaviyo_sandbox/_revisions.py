"""Which API revisions Klaviyo serves on a given day, worked out from the sandbox's clock.

Klaviyo names a revision after its release date and, since 2024-07-15, releases one each
quarter (…-01-15, -04-15, -07-15, -10-15). A revision is stable for a year, deprecated for the
next, then retired: two years after its release it is no longer served. Beta endpoints take the
same date with a ``.pre`` suffix. The releases before the quarterly rhythm are listed by hand,
so a retired one (410) is told apart from a date that never was a release (400).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ._errors import ApiError, invalid

__all__ = ["RevisionWindow", "check_revision", "window"]

# Klaviyo's releases before the quarterly rhythm began (all retired by 2026-06-15).
_EARLY_RELEASES = frozenset(
    date.fromisoformat(day)
    for day in (
        "2022-10-17",
        "2023-01-24",
        "2023-02-22",
        "2023-06-15",
        "2023-07-15",
        "2023-09-15",
        "2023-10-15",
        "2023-12-15",
        "2024-02-15",
        "2024-05-15",
        "2024-06-15",
    )
)
_FIRST_QUARTERLY = date(2024, 7, 15)
_QUARTER_MONTHS = (1, 4, 7, 10)
_SUPPORT_YEARS = 2
_SHAPE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:\.pre)?$")


def _releases(today: date) -> list[date]:
    """Every release up to ``today``, oldest first."""
    days = sorted(day for day in _EARLY_RELEASES if day <= today)
    year, index = _FIRST_QUARTERLY.year, _QUARTER_MONTHS.index(_FIRST_QUARTERLY.month)
    while (day := date(year, _QUARTER_MONTHS[index], 15)) <= today:
        days.append(day)
        year, index = (year + 1, 0) if index == len(_QUARTER_MONTHS) - 1 else (year, index + 1)
    return days


def _retires_on(day: date) -> date:
    # Releases fall on the 15th or on the early dates above, never on 29 February.
    return day.replace(year=day.year + _SUPPORT_YEARS)


@dataclass(slots=True, frozen=True)
class RevisionWindow:
    """What Klaviyo serves on ``today``: ``served`` oldest first, and every past release."""

    today: date
    released: frozenset[date]
    served: tuple[date, ...]

    def span(self) -> str:
        # A clock set before Klaviyo's first revision serves none.
        return f"{self.served[0]} to {self.served[-1]}" if self.served else "none"


def window(now: float) -> RevisionWindow:
    """The revisions released and served at ``now`` (seconds since the epoch, UTC)."""
    today = datetime.fromtimestamp(now, UTC).date()
    releases = _releases(today)
    served = tuple(day for day in releases if _retires_on(day) > today)
    return RevisionWindow(today, frozenset(releases), served)


def check_revision(value: str, now: float) -> None:
    """Refuse a missing or unknown revision (400) and a retired one (410), as Klaviyo does."""
    known = window(now)
    span = known.span()
    if not value:
        raise invalid(
            f"The revision header is required (revisions served today: {span}).",
            parameter="revision",
        )
    day = _parse(value)
    if day is None or day not in known.released:
        raise invalid(
            f"{value[:40]!r} is not a valid revision. Revisions served today run from {span} "
            "(YYYY-MM-DD, or YYYY-MM-DD.pre for beta endpoints).",
            parameter="revision",
        )
    if day not in known.served:
        # Klaviyo may instead serve a retired revision with a newer one unless the caller opts
        # out of that fall-forward; refusing makes code pinned to a retired revision fail here
        # rather than change behaviour silently in production.
        raise ApiError(
            410,
            "gone",
            f"Revision {day} was retired on {_retires_on(day)} and is no longer served; use "
            f"a supported revision ({span}).",
            parameter="revision",
        )


def _parse(value: str) -> date | None:
    match = _SHAPE.match(value)
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None
