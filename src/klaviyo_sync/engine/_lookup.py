"""Profile lookups whose failures stay with the customers they carried.

A batch's lookups are many requests of up to 100 values each (``any(email,[…])``). When one of
them fails all its tries, only the values it carried are unknown: the profiles of every other
request are still good, so the planner and the bulk writer fail those few customers (retryable)
and go on with the rest. A FatalError (the API key refused) still stops everything.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import FatalError, KlaviyoSyncError
from ..klaviyo import KlaviyoClient

__all__ = ["Looked", "list_member_ids", "look_up"]

log = logging.getLogger("klaviyo_sync.engine")

Profile = dict[str, Any]


@dataclass(slots=True)
class Looked:
    """What a lookup found, and the values whose request failed, each with its error."""

    profiles: list[Profile] = field(default_factory=list)
    failed: dict[str, KlaviyoSyncError] = field(default_factory=dict)


async def look_up(
    client: KlaviyoClient,
    field: str,
    values: Sequence[str],
    *,
    additional_fields: Sequence[str] = (),
) -> Looked:
    """Profiles whose ``field`` is any of ``values``, one request per chunk of values."""
    looked = Looked()
    for chunk in client.lookup_chunks(field, values):
        try:
            found = await client.find_profiles(field, chunk, additional_fields=additional_fields)
        except FatalError:
            raise
        except KlaviyoSyncError as err:
            log.warning("a lookup of %d %s values failed: %s", len(chunk), field, err)
            looked.failed.update(dict.fromkeys(chunk, err))
            continue
        looked.profiles.extend(found)
    return looked


async def list_member_ids(
    client: KlaviyoClient, list_id: str, field: str, values: Sequence[str]
) -> set[str]:
    """The ids of the list's members whose ``field`` (``email`` or ``phone_number``) is any of
    ``values``, one request per chunk of values (Klaviyo's "Get Profile IDs for List" with a
    filter). Pending double opt-ins are not members. A failure is raised."""
    members: set[str] = set()
    for chunk in client.lookup_chunks(field, values):
        ids = client.iter_list_profile_ids(list_id, where=(field, chunk), carrying=len(chunk))
        members.update([item async for item in ids])
    return members
