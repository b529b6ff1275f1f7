"""Lists and their members; membership never touches consent."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._ids import SortedIds

__all__ = ["LIST_FIELDS", "ListBook", "ProfileList"]

OPT_IN_PROCESSES = ("double_opt_in", "single_opt_in")
LIST_FIELDS = ("name", "created", "updated", "opt_in_process", "id")
"""what ``fields[list]`` may name (``get_list`` also takes ``profile_count``)"""


@dataclass(slots=True)
class ProfileList:
    id: str
    name: str
    opt_in_process: str
    created: float
    updated: float
    sequence: int
    members: dict[str, float] = field(default_factory=dict)
    """profile id → when it joined"""
    order: SortedIds = field(default_factory=SortedIds)

    def add(self, profile_id: str, at: float) -> bool:
        if profile_id in self.members:
            return False
        self.members[profile_id] = at
        self.order.add(profile_id)
        return True

    def remove(self, profile_id: str) -> bool:
        if self.members.pop(profile_id, None) is None:
            return False
        self.order.discard(profile_id)
        return True


class ListBook:
    """All lists, in creation order."""

    __slots__ = ("_sequence", "lists")

    def __init__(self) -> None:
        self.lists: dict[str, ProfileList] = {}
        self._sequence = 0

    def add(self, list_id: str, name: str, opt_in_process: str, now: float) -> ProfileList:
        self._sequence += 1
        created = ProfileList(list_id, name, opt_in_process, now, now, self._sequence)
        self.lists[list_id] = created
        return created

    def get(self, list_id: str) -> ProfileList | None:
        return self.lists.get(list_id)

    def containing(self, profile_id: str) -> list[ProfileList]:
        # Accounts hold few lists, so a pass over them beats a reverse index per profile.
        return [lst for lst in self.lists.values() if profile_id in lst.members]

    def clear(self) -> None:
        self.lists.clear()
        self._sequence = 0
