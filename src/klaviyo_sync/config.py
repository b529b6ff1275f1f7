"""Settings from the environment (and later a config file), validated with clear messages."""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .exceptions import ConfigError

__all__ = ["DEFAULT_BASE_URL", "Settings", "load_settings"]

DEFAULT_BASE_URL = "https://a.klaviyo.com"


class Settings(BaseSettings):
    """Everything klaviyo-sync reads from its environment.

    The API key is a ``SecretStr`` so that printing the settings, or an error about them, shows
    ``**********`` instead of the key.
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    klaviyo_api_key: SecretStr | None = Field(default=None, alias="KLAVIYO_API_KEY")
    klaviyo_base_url: str = Field(default=DEFAULT_BASE_URL, alias="KLAVIYO_BASE_URL")

    def require_api_key(self) -> SecretStr:
        """The API key, or a ConfigError that says how to provide one."""
        if self.klaviyo_api_key is None or not self.klaviyo_api_key.get_secret_value():
            raise ConfigError(
                "KLAVIYO_API_KEY is not set: export your Klaviyo private API key "
                "(it starts with pk_) before running a command that talks to Klaviyo"
            )
        return self.klaviyo_api_key


def load_settings() -> Settings:
    """Read settings from the environment; a bad value becomes a ConfigError naming it."""
    try:
        return Settings()
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
