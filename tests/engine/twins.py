"""Twin worlds: the same customers through two strategies, and Klaviyo's state to compare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from klaviyo_sandbox import Profile

from klaviyo_sync.engine import Engine, EngineOptions
from klaviyo_sync.klaviyo import KlaviyoClient
from klaviyo_sync.mapping import load_collections
from klaviyo_sync.store import Store
from tests.world import FAST_RETRY, World


def strategy_world(tmp: Path, strategy: str, **overrides: Any) -> World:
    """A world whose runs use ``strategy``; its bulk jobs finish as soon as they are polled."""
    tmp.mkdir(parents=True, exist_ok=True)
    world = World.make(tmp, KLAVIYO_SYNC_STRATEGY=strategy, **overrides)
    world.sandbox.config.job_processing_seconds = 0.0
    return world


def engine(world: World, store: Store, **options: Any) -> Engine:
    """An engine over the world's sandbox with options the settings do not reach."""
    client = KlaviyoClient(
        world.settings.require_api_key(),
        base_url=world.settings.klaviyo_base_url,
        transport=world.connections.transport,
        clock=world.connections.clock,
        retry=FAST_RETRY,
    )
    return Engine(
        client,
        store,
        load_collections(world.settings.mapping_path),
        options=EngineOptions(**options),
    )


def klaviyo_state(world: World) -> list[dict[str, Any]]:
    """Every profile as a person would compare two accounts: no ids, no timestamps."""
    lists = world.sandbox.lists
    pending = {
        (profile_id, lists[list_id].name if list_id in lists else None)
        for profile_id, list_id in world.sandbox.pending
    }
    state = [_profile(p, world, pending) for p in world.sandbox.profiles.values()]
    return sorted(state, key=repr)


def _profile(
    profile: Profile, world: World, pending: set[tuple[str, str | None]]
) -> dict[str, Any]:
    fields = (
        "email",
        "phone_number",
        "external_id",
        "first_name",
        "last_name",
        "organization",
        "title",
        "location",
        "properties",
    )
    view: dict[str, Any] = {name: getattr(profile, name) for name in fields}
    for channel in ("email_marketing", "sms_marketing"):
        consent = getattr(profile, channel)
        view[channel] = None if consent is None else (consent.consent, consent.double_optin)
    view["lists"] = sorted(item.name for item in world.sandbox.lists_of(profile.id))
    view["pending"] = sorted(str(name) for pid, name in pending if pid == profile.id)
    view["emails"] = sum(1 for e in world.sandbox.emails if e.profile_id == profile.id)
    return view
