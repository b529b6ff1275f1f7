"""Workers as real processes over real loopback HTTP: killed mid-batch, and two sharing a queue.

The sandbox runs in this process; workers are ``python -m klaviyo_sync worker`` subprocesses
pointed at it and at a shared store. Waits are bounded polls of the store and the sandbox.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from klaviyo_sandbox import FaultRule, RunningSandbox, SandboxConfig, running_sandbox

from klaviyo_sync.store import Store
from tests.postgres import fresh_postgres
from tests.serving import wait_for

# Real worker processes over thousands of customers.
pytestmark = pytest.mark.slow

KEY = "pk_workers000000000000"
# Only what identifies and links a profile: every customer costs a lookup share and a create.
MAPPING = """template = "none"
[[rows]]
destination = "Type"
kind = "static"
source = "profile"
[[rows]]
destination = "Id"
kind = "formula"
source = "link()"
[[rows]]
destination = "Email"
kind = "field"
source = "EmailAddress"
[[rows]]
destination = "ExternalId"
kind = "field"
source = "Id"
[[rows]]
destination = "SubscribeProfile"
kind = "static"
source = ""
"""


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox(SandboxConfig(api_key=KEY, rate_limits=False)) as running:
        yield running


def _env(base_url: str, store_url: str, tmp: Path, **extra: str) -> dict[str, str]:
    mapping = tmp / "mapping.toml"
    mapping.write_text(MAPPING)
    return {
        **os.environ,
        "KLAVIYO_API_KEY": KEY,
        "KLAVIYO_BASE_URL": base_url,
        "KLAVIYO_SYNC_STORE": store_url,
        "KLAVIYO_SYNC_MAPPING": str(mapping),
        "KLAVIYO_SYNC_POLL_SECONDS": "0.1",
        **extra,
    }


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "klaviyo_sync", "worker"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _customers(n: int) -> list[tuple[str, dict[str, object], str]]:
    return [
        (str(i), {"Id": i, "EmailAddress": f"w{i}@example.com"}, "customer/created")
        for i in range(n)
    ]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _one_profile_each(sandbox: RunningSandbox, n: int) -> None:
    by_customer = Counter(p.external_id for p in list(sandbox.sandbox.profiles.values()))
    assert len(by_customer) == n, "every customer has a profile"
    assert max(by_customer.values()) == 1, "no customer has two"


def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    n = 120
    with Store.open(store_url) as store:
        store.enqueue(_customers(n))
    # Slow creates down so the kill lands in the middle of a batch.
    sandbox.sandbox.set_faults([FaultRule(operation="create_profile", status=None, latency=0.02)])
    env = _env(sandbox.base_url, store_url, tmp_path, KLAVIYO_SYNC_LEASE_SECONDS="2")
    log = tmp_path / "workers.log"
    doomed = _start_worker(env, log)
    try:
        wait_for(lambda: len(sandbox.sandbox.profiles) >= 15, "the first worker to start", 60)
        doomed.kill()  # SIGKILL: no clean-up, its claimed batch is still leased
        doomed.wait()
        created_before = len(sandbox.sandbox.profiles)
        assert created_before < n, "killed mid-run"
        sandbox.sandbox.set_faults([])
        with Store.open(store_url) as store:
            assert store.queue_depth() > 0
        survivor = _start_worker(env, log)
        try:
            with Store.open(store_url) as store:
                wait_for(lambda: store.queue_depth() == 0, "the queue to drain", 90)
        finally:
            _stop(survivor)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    _one_profile_each(sandbox, n)
    with Store.open(store_url) as store:
        links = store.get_links([str(i) for i in range(n)])
        assert len(links) == n
        assert store.count_failures() == 0, log.read_text()[-2000:]


@pytest.mark.postgres
def test_two_workers_on_postgresql_share_5000_customers_each_transferred_once(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    store_url = fresh_postgres()
    n = 5000
    with Store.open(store_url) as store:
        store.enqueue(_customers(n))
    # The sandbox enforces no limits here; let each client go ten times Klaviyo's pace.
    env = _env(
        sandbox.base_url,
        store_url,
        tmp_path,
        KLAVIYO_SYNC_BATCH_SIZE="100",
        KLAVIYO_SYNC_RATE_LIMIT_SCALE="10",
    )
    log = tmp_path / "workers.log"
    workers = [_start_worker(env, log), _start_worker(env, log)]
    try:
        with Store.open(store_url) as store:
            wait_for(lambda: store.queue_depth() == 0, "the queue to drain", 240)
            processed = {w.worker_id: w.processed for w in store.list_workers()}
    finally:
        for worker in workers:
            _stop(worker)
    creates = [r for r in list(sandbox.sandbox.requests) if r.operation_id == "create_profile"]
    assert len(creates) == n, "each customer was created exactly once"
    _one_profile_each(sandbox, n)
    assert len([count for count in processed.values() if count > 0]) == 2, processed
    with Store.open(store_url) as store:
        outcomes = [o for run in store.list_runs(limit=1000) for o in store.run_outcomes(run.id)]
        assert Counter(o.kind for o in outcomes) == {"created": n}
        assert len({o.customer_id for o in outcomes}) == n
    fresh_postgres()


def test_worker_processes_option_runs_several_and_stops_them_on_sigterm(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    n = 300
    with Store.open(store_url) as store:
        store.enqueue(_customers(n))
    env = _env(sandbox.base_url, store_url, tmp_path, KLAVIYO_SYNC_BATCH_SIZE="20")
    log = tmp_path / "workers.log"
    parent = subprocess.Popen(
        [sys.executable, "-m", "klaviyo_sync", "worker", "--processes", "2"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        with Store.open(store_url) as store:
            wait_for(lambda: store.queue_depth() == 0, "the queue to drain", 120)
            wait_for(lambda: len(store.list_workers()) == 2, "both children to report", 30)
    finally:
        _stop(parent)
    assert parent.returncode == 0, log.read_text()[-2000:]
    _one_profile_each(sandbox, n)
    with Store.open(store_url) as store:
        workers = store.list_workers()
    assert [w.state for w in workers] == ["stopped", "stopped"]
    assert len({w.pid for w in workers}) == 2
