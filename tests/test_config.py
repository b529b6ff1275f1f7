"""Settings come from the environment and never show the API key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from klaviyo_sync.config import DEFAULT_BASE_URL, DEFAULT_STORE, load_settings
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


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "KLAVIYO_API_KEY",
        "KLAVIYO_BASE_URL",
        "KLAVIYO_SYNC_STORE",
        "KLAVIYO_SYNC_MAPPING",
        "KLAVIYO_SYNC_PHONE_REGION",
        "KLAVIYO_SYNC_BATCH_SIZE",
    ):
        monkeypatch.delenv(name, raising=False)


def test_config_file_with_environment_winning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch)
    config = tmp_path / "klaviyo-sync.toml"
    config.write_text(
        'store = "sqlite:///other.db"\nphone_region = "gb"\nmapping = "map.toml"\nbatch_size = 50\n'
    )
    monkeypatch.setenv("KLAVIYO_SYNC_BATCH_SIZE", "25")
    settings = load_settings(config)
    assert settings.store_url == "sqlite:///other.db"
    assert settings.phone_region == "GB"
    assert settings.mapping_path == tmp_path / "map.toml"
    assert settings.batch_size == 25


def test_defaults_cover_the_shipped_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean_env(monkeypatch)
    settings = load_settings()
    assert settings.store_url == DEFAULT_STORE
    assert settings.phone_region == "US"
    assert settings.mapping_path is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('api_key = "pk_x"', "does not belong in a config file"),
        ('colour = "blue"', "unknown setting(s) colour"),
        ("store = ", "not valid TOML"),
        ('phone_region = "Narnia"', "phone_region"),
        ("batch_size = 0", "batch_size"),
    ],
)
def test_bad_config_says_what_and_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    _clean_env(monkeypatch)
    config = tmp_path / "bad.toml"
    config.write_text(text + "\n")
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_settings(config)
    assert "bad.toml" in str(caught.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_triggers_from_environment_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch)
    monkeypatch.delenv("KLAVIYO_SYNC_TRIGGERS", raising=False)
    assert load_settings().triggers == frozenset()
    config = tmp_path / "c.toml"
    config.write_text('triggers = ["updated"]\n')
    assert load_settings(config).triggers == {"updated"}
    monkeypatch.setenv("KLAVIYO_SYNC_TRIGGERS", "created, updated")
    assert load_settings(config).triggers == {"created", "updated"}
    monkeypatch.setenv("KLAVIYO_SYNC_TRIGGERS", "created,deleted")
    with pytest.raises(ConfigError, match="KLAVIYO_SYNC_TRIGGERS"):
        load_settings()


def test_webhook_secret_only_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch)
    config = tmp_path / "c.toml"
    config.write_text('webhook_secret = "s3cret"\n')
    with pytest.raises(ConfigError, match="does not belong in a config file"):
        load_settings(config)
    monkeypatch.setenv("KLAVIYO_SYNC_WEBHOOK_SECRET", "s3cret-value")
    settings = load_settings()
    assert settings.webhook_secret is not None
    assert "s3cret-value" not in repr(settings)
