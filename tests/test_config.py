"""Settings come from the environment and never show the API key."""

from __future__ import annotations

import pytest

from klaviyo_sync.config import DEFAULT_BASE_URL, load_settings
from klaviyo_sync.exceptions import ConfigError

KEY = "pk_configsecret1234567890"


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KLAVIYO_API_KEY", raising=False)
    monkeypatch.delenv("KLAVIYO_BASE_URL", raising=False)
    settings = load_settings()
    assert settings.klaviyo_base_url == DEFAULT_BASE_URL
    with pytest.raises(ConfigError, match="KLAVIYO_API_KEY is not set"):
        settings.require_api_key()


def test_reads_key_and_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLAVIYO_API_KEY", KEY)
    monkeypatch.setenv("KLAVIYO_BASE_URL", "http://127.0.0.1:8765")
    settings = load_settings()
    assert settings.require_api_key().get_secret_value() == KEY
    assert settings.klaviyo_base_url == "http://127.0.0.1:8765"


def test_key_never_shows_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLAVIYO_API_KEY", KEY)
    settings = load_settings()
    assert KEY not in repr(settings)
    assert KEY not in str(settings)
    assert KEY not in settings.model_dump_json()
