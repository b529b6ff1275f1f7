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
from ..klaviyo import MAX_PAGE_SIZE, KlaviyoClient, any_of

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
    filter). Pending double opt-ins are not members. A failure is raised.

    ``KlaviyoClient`` has no method for this filtered read yet, so its paging is used here,
    as its own ``iter_list_profile_ids`` uses it."""
    members: set[str] = set()
    for chunk in client.lookup_chunks(field, values):
        params: dict[str, str | int] = {
            "page[size]": MAX_PAGE_SIZE,
            "filter": any_of(field, chunk),
        }
        pages = client._pages(
            "get_profile_ids_for_list", id=list_id, params=params, carrying=len(chunk)
        )
        members.update([str(item["id"]) async for item in pages])
    return members
