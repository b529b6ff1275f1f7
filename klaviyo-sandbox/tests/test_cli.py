"""The `klaviyo-sandbox` command: its options reach the sandbox it serves, and it serves."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest

from klaviyo_sandbox import Behaviour, SandboxConfig, _serve
from klaviyo_sandbox.cli import main


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[SandboxConfig, dict[str, Any]]]:
    calls: list[tuple[SandboxConfig, dict[str, Any]]] = []

    def fake_serve(config: SandboxConfig, **where: Any) -> None:
        calls.append((config, where))

    monkeypatch.setattr(_serve, "serve", fake_serve)
    monkeypatch.delenv("KLAVIYO_API_KEY", raising=False)
    return calls


def test_the_defaults_are_klaviyo_today(served: list[tuple[SandboxConfig, dict[str, Any]]]) -> None:
    assert main([]) == 0
    [(config, where)] = served
    assert where == {"host": "127.0.0.1", "port": 8765}
    assert config.api_key is None
    assert config.rate_limits is True
    assert config.behaviour == Behaviour()


def test_every_option_reaches_the_sandbox(
    served: list[tuple[SandboxConfig, dict[str, Any]]],
) -> None:
    argv = [
        "--host", "0.0.0.0", "--port", "9001", "--no-rate-limits", "--api-key", "pk_only1",
        "--invalid-phone", "refuse", "--bulk-import-validation", "row",
        "--bulk-import-null", "clear", "--default-opt-in", "single_opt_in",
    ]  # fmt: skip
    assert main(argv) == 0
    [(config, where)] = served
    assert where == {"host": "0.0.0.0", "port": 9001}
    assert config.api_key == "pk_only1"
    assert config.rate_limits is False
    assert config.behaviour == Behaviour(
        invalid_phone="refuse",
        bulk_import_validation="row",
        bulk_import_null="clear",
        default_opt_in="single_opt_in",
    )


def test_the_key_defaults_to_the_environment(
    served: list[tuple[SandboxConfig, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KLAVIYO_API_KEY", "pk_fromenv1")
    assert main(["--invalid-phone", "refuse"]) == 0
    [(config, _)] = served
    assert config.api_key == "pk_fromenv1"
    # Options left out keep the sandbox's own defaults.
    assert config.behaviour.bulk_import_null == Behaviour().bulk_import_null


def test_a_value_outside_the_choices_is_a_usage_error(
    served: list[tuple[SandboxConfig, dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--invalid-phone", "sometimes"])
    assert exited.value.code == 2
    assert "invalid choice: 'sometimes'" in capsys.readouterr().err
    assert served == []


def test_help_names_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    for option in (
        "--host",
        "--port",
        "--no-rate-limits",
        "--api-key",
        "--invalid-phone",
        "--bulk-import-validation",
        "--bulk-import-null",
        "--default-opt-in",
    ):
        assert option in shown, option


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_module_serves_until_interrupted() -> None:
    """`python -m klaviyo_sandbox` (what the `klaviyo-sandbox` script runs) answers on its
    port, and stops on SIGINT."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "KLAVIYO_API_KEY"}
    process = subprocess.Popen(
        [sys.executable, "-m", "klaviyo_sandbox", "--port", str(port), "--no-rate-limits"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/__sandbox__", timeout=1):
                    break
            except OSError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert f"Klaviyo sandbox on http://127.0.0.1:{port}" in output
