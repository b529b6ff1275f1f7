"""`klaviyo-sync demo`: the whole flow against a sandbox started in this process.

It sets Klaviyo up the way the seed's templates expect (the ``Sms Subscribers`` double opt-in
list and the single opt-in ``Preview List``), adds two profiles "already in Klaviyo" to be
matched, syncs a bundled sample of customers with every hard case, plans the next sync (what
would change, field by field, with nothing written), syncs it, runs a Manual Sync, shows the
consent audit, and says what happened at each step. Nothing leaves the machine:
the settings are forced to the sandbox and a throwaway store, whatever the environment says.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from klaviyo_sandbox import RunningSandbox, SandboxConfig, running_sandbox
from pydantic import SecretStr
from rich.console import Console
from rich.rule import Rule

from ..config import Settings
from ..engine import PlanEntry
from ..klaviyo import KlaviyoClient
from ..operations import check_configuration, plan_source, sync_one, sync_source
from ..outcome import Outcome
from ..sources import open_source
from ..store import Store
from .plan_view import print_audit, print_plan, print_plan_entry
from .report import print_check, print_manual_sync, print_outcomes, print_summary

__all__ = ["run_demo"]

DEMO_KEY = "pk_demo0000000000000000000000000000"


def run_demo(console: Console | None = None) -> None:
    """Start a sandbox on a free loopback port and narrate two syncs and a manual sync."""
    console = console or Console()
    with (
        running_sandbox(SandboxConfig(api_key=DEMO_KEY)) as running,
        tempfile.TemporaryDirectory(prefix="klaviyo-sync-demo-") as tmp,
        _sample("customers.jsonl") as first,
        _sample("customers-changed.jsonl") as second,
    ):
        settings = _settings(running.base_url, Path(tmp))
        console.print(Rule("klaviyo-sync demo"))
        console.print(f"Klaviyo sandbox on {running.base_url}; store in {tmp}")
        asyncio.run(_story(console, settings, running, first, second))


async def _story(
    console: Console, settings: Settings, running: RunningSandbox, first: Path, second: Path
) -> None:
    await _set_up_klaviyo(console, settings)
    console.print(Rule("1. check the shipped templates against Klaviyo"))
    print_check(console, await check_configuration(settings), consulted=True)

    console.print(Rule(f"2. first sync: {first.name}"))
    await _sync(console, settings, first, "First run")

    console.print(Rule(f"3. plan the next sync, nothing written: {second.name}"))
    await _plan(console, settings, second)

    console.print(Rule(f"4. second sync, some customers changed: {second.name}"))
    await _sync(console, settings, second, "Second run")
    ada = running.sandbox.find_profile(external_id="55260")
    if ada is not None:
        console.print(
            f"Customer 55260 arrived with an empty Phone; Klaviyo still has "
            f"[bold]{ada.phone_number}[/] (an absent field is never sent as null), "
            f"and the new last name [bold]{ada.last_name}[/]."
        )

    console.print(Rule("5. manual sync of customer 55260"))
    print_manual_sync(console, await sync_one(settings, "55260", open_source(second)))

    console.print(Rule("6. the consent audit of customer 55260"))
    with Store.open(settings.store_url) as store:
        print_audit(console, store.list_audit(customer_id="55260"), total=store.count_audit())

    console.print(Rule("7. what Klaviyo saw"))
    emails = running.sandbox.emails
    console.print(f"Double opt-in confirmation emails sent: {len(emails)}")
    for email in emails:
        # No list: SubscribeProfile's subscription, double opt-in as Klaviyo's accounts are.
        what = "email marketing" if email.list_id is None else f"list {email.list_id}"
        console.print(f"  to {email.to} for {what}")
    console.print(f"Profiles in Klaviyo: {len(running.sandbox.profiles)}")
    console.print(
        "Failures stay in the store's error log with Klaviyo's answer and the payload sent."
    )


async def _set_up_klaviyo(console: Console, settings: Settings) -> None:
    console.print(Rule("0. Klaviyo as the templates expect it"))
    async with KlaviyoClient.from_settings(settings) as client:
        for name, process in (
            ("Sms Subscribers", "double_opt_in"),
            ("Preview List", "single_opt_in"),
        ):
            made = await client.create_list(name, opt_in_process=process)
            console.print(f"list {name!r} ({process}) → {made['id']}")
        for attributes in (
            {"email": "grace.hopper@example.com", "first_name": "Grace"},
            {"phone_number": "+12125550175", "first_name": "A. M."},
        ):
            saved = await client.create_profile(attributes)
            console.print(f"existing profile {saved.id}: {attributes}")


async def _plan(console: Console, settings: Settings, path: Path) -> None:
    entries: list[PlanEntry] = []
    report = await plan_source(settings, open_source(path), on_entry=entries.append)
    print_plan(console, report, source=path.name, live=False)
    for entry in entries:
        if entry.customer_id == "55260":
            print_plan_entry(console, entry)


async def _sync(console: Console, settings: Settings, path: Path, title: str) -> None:
    outcomes: list[Outcome] = []
    summary = await sync_source(settings, open_source(path), on_outcome=outcomes.append)
    print_outcomes(console, outcomes, title=title)
    print_summary(console, summary)


def _settings(base_url: str, tmp: Path) -> Settings:
    # model_copy, not the constructor: the environment must not redirect the demo to Klaviyo.
    return Settings().model_copy(
        update={
            "klaviyo_api_key": SecretStr(DEMO_KEY),
            "klaviyo_base_url": base_url,
            "store_url": f"sqlite:///{tmp / 'demo.db'}",
            "mapping_path": None,
            "phone_region": "US",
            "phone_strict": False,
            "subscribe_sms": False,
        }
    )


@contextmanager
def _sample(name: str) -> Iterator[Path]:
    with resources.as_file(resources.files("klaviyo_sync") / "demo_data" / name) as path:
        yield path
