"""`klaviyo-sync sandbox` passes its behaviour options to the sandbox it serves."""

from __future__ import annotations

from typing import Any

import klaviyo_sandbox as sandbox_package
import pytest
from click.testing import CliRunner
from klaviyo_sandbox import Behaviour, SandboxConfig

from klaviyo_sync.cli import main


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[SandboxConfig]:
    configs: list[SandboxConfig] = []

    def fake_serve(config: SandboxConfig, **_: Any) -> None:
        configs.append(config)

    monkeypatch.setattr(sandbox_package, "serve", fake_serve)
    monkeypatch.delenv("KLAVIYO_API_KEY", raising=False)
    return configs


def test_behaviour_options_reach_the_sandbox(served: list[SandboxConfig]) -> None:
    result = CliRunner().invoke(
        main,
        ["sandbox", "--invalid-phone", "refuse", "--bulk-import-null", "clear"],
    )
    assert result.exit_code == 0, result.output
    [config] = served
    assert config.behaviour.invalid_phone == "refuse"
    assert config.behaviour.bulk_import_null == "clear"
    # Options left out keep the sandbox's own defaults.
    defaults = Behaviour()
    assert config.behaviour.bulk_import_validation == defaults.bulk_import_validation
    assert config.behaviour.default_opt_in == defaults.default_opt_in


def test_a_value_outside_the_choices_is_a_usage_error(served: list[SandboxConfig]) -> None:
    result = CliRunner().invoke(main, ["sandbox", "--invalid-phone", "sometimes"])
    assert result.exit_code == 2
    assert served == []
