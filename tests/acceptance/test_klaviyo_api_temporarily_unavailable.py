"""Seed error "Klaviyo API temporarily unavailable": the transfer fails and is logged; once
Klaviyo is reachable again a retry succeeds, with nothing lost and nothing duplicated."""

from __future__ import annotations

from pathlib import Path

from klaviyo_sandbox import SandboxConfig, running_sandbox

from klaviyo_sync.config import Settings
from klaviyo_sync.operations import Connections, retry_failures, sync_source
from klaviyo_sync.outcome import Outcome
from klaviyo_sync.sources import RecordsSource
from klaviyo_sync.store import Store
from tests.acceptance.customers import ada
from tests.klaviyo.fakes import FakeClock

KEY = "pk_outage0000000000"


async def test_klaviyo_api_temporarily_unavailable(tmp_path: Path) -> None:
    customers = [
        ada(),
        ada(Id="2", EmailAddress="b@example.com", Phone=None),
        ada(Id="3", EmailAddress="c@example.com", Phone=None),
    ]
    # Find a free port and an app to bring back later; then nothing listens: connections refused.
    with running_sandbox(SandboxConfig(api_key=KEY)) as first:
        app, base_url = first.app, first.base_url
        first.sandbox.create_list("Sms Subscribers", "double_opt_in")
        first.sandbox.create_list("Preview List", "single_opt_in")
    settings = Settings(
        KLAVIYO_API_KEY=KEY,
        KLAVIYO_BASE_URL=base_url,
        KLAVIYO_SYNC_STORE=f"sqlite:///{tmp_path / 'store.db'}",
    )
    clock = FakeClock()  # the client's backoff waits on it: no real sleeping
    connections = Connections(clock=clock)

    outcomes: list[Outcome] = []
    await sync_source(
        settings, RecordsSource(customers), on_outcome=outcomes.append, connections=connections
    )

    assert [o.kind for o in outcomes] == ["failed"] * 3
    for outcome in outcomes:
        assert outcome.failure is not None
        assert (outcome.failure.kind, outcome.failure.retryable) == ("klaviyo_unavailable", True)
    assert len(clock.sleeps) >= 3, "each lookup was retried with backoff before failing"
    with Store.open(settings.store_url) as store:
        logged = store.list_failures()
    assert sorted(f.customer_id or "" for f in logged) == ["2", "3", "55260"]
    assert all(f.retryable for f in logged)

    port = int(base_url.rsplit(":", 1)[1])
    with running_sandbox(port=port, app=app) as back:
        results = await retry_failures(settings, every=True, connections=connections)
        assert sorted(r.outcome.kind for r in results if r.outcome) == ["created"] * 3
        assert len(back.sandbox.profiles) == 3
        # Nothing duplicated: a second retry finds nothing open, a sync finds nothing changed.
        assert await retry_failures(settings, every=True, connections=connections) == []
        again: list[Outcome] = []
        await sync_source(
            settings, RecordsSource(customers), on_outcome=again.append, connections=connections
        )
        assert [o.kind for o in again] == ["unchanged"] * 3
        assert len(back.sandbox.profiles) == 3
    with Store.open(settings.store_url) as store:
        assert store.count_failures() == 0
        assert store.count_failures(include_resolved=True) == 3
