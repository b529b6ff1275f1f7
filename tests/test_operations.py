"""The library calls behind the command line (``klaviyo_sync.operations``): retries that fall
back to the record kept with a failure, and the lists a mapping names."""

from __future__ import annotations

from pathlib import Path

from klaviyo_sandbox import FaultRule

from klaviyo_sync.operations import create_lists, named_lists, retry_failures
from klaviyo_sync.sources import RecordsSource
from klaviyo_sync.store import Store
from tests.world import World

WEBHOOK_ONLY = {"Id": "7001", "EmailAddress": "hook-only@example.com", "FirstName": "Hook"}


async def _failed_once(world: World) -> int:
    """Customer 7001 fails, retryable, with its record kept; returns the failure's id."""
    world.sandbox.set_faults([FaultRule(operation="create_profile", status=503, times=50)])
    try:
        [outcome] = await world.sync(WEBHOOK_ONLY)
    finally:
        world.sandbox.set_faults([])
    assert outcome.kind == "failed"
    with Store.open(world.settings.store_url) as store:
        [failure] = store.list_failures()
    return failure.id


async def test_a_customer_missing_from_the_source_is_retried_with_its_kept_record(
    tmp_path: Path,
) -> None:
    world = World.make(tmp_path)
    failure_id = await _failed_once(world)
    other = RecordsSource([{"Id": "1", "EmailAddress": "other@example.com"}], name="export.csv")
    [result] = await retry_failures(
        world.settings, [failure_id], source=other, connections=world.connections
    )
    assert result.skipped is None
    assert result.outcome is not None
    assert result.outcome.kind == "created"
    assert result.note == "not in export.csv: retried with the record kept with the failure"
    assert world.by_email("hook-only@example.com") is not None


async def test_a_customer_in_the_source_is_read_from_it_without_a_note(tmp_path: Path) -> None:
    world = World.make(tmp_path)
    failure_id = await _failed_once(world)
    fixed = {**WEBHOOK_ONLY, "FirstName": "Fixed"}
    [result] = await retry_failures(
        world.settings,
        [failure_id],
        source=RecordsSource([fixed], name="export.csv"),
        connections=world.connections,
    )
    assert result.note is None
    assert result.outcome is not None
    profile = world.by_email("hook-only@example.com")
    assert profile is not None
    assert profile.first_name == "Fixed"


async def test_nothing_to_retry_with_says_so(tmp_path: Path) -> None:
    world = World.make(tmp_path)
    failure_id = await _failed_once(world)
    with Store.open(world.settings.store_url) as store:
        store.resolve_failure(failure_id, note="by hand")
    [result] = await retry_failures(world.settings, [failure_id], connections=world.connections)
    assert result.outcome is None
    assert result.skipped == "already resolved"


async def test_create_lists_makes_what_the_mapping_names_and_leaves_the_rest(
    tmp_path: Path,
) -> None:
    world = World.make(tmp_path).with_mapping(
        'remove = ["LIST_Sms Subscribers"]\n'
        '[[rows]]\ndestination = "LIST_Vip"\nkind = "static"\nsource = true\n'
        '[[rows]]\ndestination = "UCLIST_Sms Subscribers"\nkind = "static"\nsource = true\n'
        '[[rows]]\ndestination = "UCLIST_Imported"\nkind = "static"\nsource = false\n'
        'collections = ["update"]\n'
    )
    assert named_lists(world.settings) == {
        "Preview List": "single_opt_in",
        "Vip": "double_opt_in",
        "Sms Subscribers": "single_opt_in",
        "Imported": "single_opt_in",
    }
    dry = await create_lists(world.settings, dry_run=True, connections=world.connections)
    assert {r.name: r.status for r in dry} == {
        "Preview List": "exists",
        "Vip": "would_create",
        "Sms Subscribers": "differs",
        "Imported": "would_create",
    }
    assert {item.name for item in world.sandbox.lists.values()} == {
        "Sms Subscribers",
        "Preview List",
    }

    made = await create_lists(world.settings, connections=world.connections)
    assert [r.name for r in made if r.status == "created"] == ["Vip", "Imported"]
    processes = {item.name: item.opt_in_process for item in world.sandbox.lists.values()}
    assert processes["Vip"] == "double_opt_in"
    assert processes["Imported"] == "single_opt_in"
    assert processes["Sms Subscribers"] == "double_opt_in", "an existing list is left alone"
    again = await create_lists(world.settings, connections=world.connections)
    assert "created" not in {r.status for r in again}
