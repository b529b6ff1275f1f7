"""``sync --strategy``: bulk import jobs or one request per profile, over real loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from klaviyo_sandbox import RunningSandbox, SandboxConfig, running_sandbox

from klaviyo_sync.cli import main

KEY = "pk_clistrategy0000000000"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    config = SandboxConfig(api_key=KEY, rate_limits=False, job_processing_seconds=0.05)
    with running_sandbox(config) as running:
        running.sandbox.create_list("Sms Subscribers", "double_opt_in")
        running.sandbox.create_list("Preview List", "single_opt_in")
        yield running


@pytest.mark.parametrize(("strategy", "jobs"), [("bulk", 1), ("per-record", 0), (None, 0)])
def test_sync_strategy_chooses_how_profiles_are_written(
    sandbox: RunningSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    strategy: str | None,
    jobs: int,
) -> None:
    for name in ("KLAVIYO_SYNC_MAPPING", "KLAVIYO_SYNC_STRATEGY", "KLAVIYO_SYNC_BULK_THRESHOLD"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "KLAVIYO_API_KEY": KEY,
        "KLAVIYO_BASE_URL": sandbox.base_url,
        "KLAVIYO_SYNC_STORE": f"sqlite:///{tmp_path / 'store.db'}",
    }
    path = tmp_path / "customers.jsonl"
    path.write_text(
        "".join(json.dumps({"Id": n, "EmailAddress": f"s{n}@example.com"}) + "\n" for n in range(3))
    )
    args = ["sync", str(path)] + ([] if strategy is None else ["--strategy", strategy])

    result = CliRunner().invoke(main, args, env=env)

    assert result.exit_code == 0, result.output
    assert len(sandbox.sandbox.jobs) == jobs
    assert len(sandbox.sandbox.profiles) == 3
