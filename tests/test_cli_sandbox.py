"""`klaviyo-sync sandbox` passes its behaviour options to the sandbox it serves (klaviyo-sandbox),
and, like `klaviyo-sync demo`, says how to install klaviyo-sandbox when it is missing."""

from __future__ import annotations

import sys
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


def test_every_option_reaches_the_sandbox(served: list[SandboxConfig]) -> None:
    argv = [
        "sandbox", "--no-rate-limits", "--api-key", "pk_only1", "--bulk-import-validation",
        "row", "--default-opt-in", "single_opt_in",
    ]  # fmt: skip
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    [config] = served
    assert config.api_key == "pk_only1"
    assert config.rate_limits is False
    assert config.behaviour.bulk_import_validation == "row"
    assert config.behaviour.default_opt_in == "single_opt_in"


@pytest.fixture
def without_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment where klaviyo-sandbox is not installed: importing it fails."""
    monkeypatch.setitem(sys.modules, "klaviyo_sandbox", None)  # type: ignore[arg-type]
    monkeypatch.delitem(sys.modules, "klaviyo_sync.cli.demo", raising=False)


@pytest.mark.usefixtures("without_sandbox")
@pytest.mark.parametrize("command", ["sandbox", "demo"])
def test_without_klaviyo_sandbox_the_command_says_how_to_install_it(command: str) -> None:
    result = CliRunner().invoke(main, [command])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert message.startswith("error: the sandbox is not installed")
    assert "-m pip install ./klaviyo-sandbox" in message
    assert "pipx inject klaviyo-sync ./klaviyo-sandbox" in message
    assert "Traceback" not in result.output


@pytest.mark.usefixtures("without_sandbox")
def test_without_klaviyo_sandbox_help_still_works() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--help"])
    assert result.exit_code == 0
    assert "--invalid-phone" in result.output
