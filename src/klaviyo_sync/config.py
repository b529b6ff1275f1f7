"""Settings: a TOML config file and the environment, validated with clear messages.

The environment wins over the file, the file over the defaults. The API key is read from the
environment only (``KLAVIYO_API_KEY``): a config file tends to end up in a repository, and a
secret must not. Config file keys (all optional)::

    base_url = "https://a.klaviyo.com"     # KLAVIYO_BASE_URL
    store = "sqlite:///klaviyo-sync.db"    # KLAVIYO_SYNC_STORE, any SQLAlchemy URL
    mapping = "mapping.toml"               # KLAVIYO_SYNC_MAPPING; relative to the config file
    phone_region = "US"                    # KLAVIYO_SYNC_PHONE_REGION
    phone_strict = false                   # KLAVIYO_SYNC_PHONE_STRICT
    subscribe_sms = false                  # KLAVIYO_SYNC_SUBSCRIBE_SMS
    account_opt_in = "double_opt_in"       # KLAVIYO_SYNC_ACCOUNT_OPT_IN: the Klaviyo account's
                                           # opt-in process for subscriptions without a list
                                           # (Klaviyo's default; its API does not show it)
    batch_size = 100                       # KLAVIYO_SYNC_BATCH_SIZE
    concurrency = 8                        # KLAVIYO_SYNC_CONCURRENCY
    triggers = ["created", "updated"]      # KLAVIYO_SYNC_TRIGGERS=created,updated (none by default)
    source = "customers.jsonl"             # KLAVIYO_SYNC_SOURCE: where manual syncs and retries
                                           # re-read a customer (a file or a database URL)
    source_query = "SELECT …"              # KLAVIYO_SYNC_SOURCE_QUERY, for a database source
    poll_seconds = 0.5                     # KLAVIYO_SYNC_POLL_SECONDS: an idle worker's poll
    lease_seconds = 60                     # KLAVIYO_SYNC_LEASE_SECONDS: a dead worker's claim
                                           # returns to the queue after this long
    max_attempts = 6                       # KLAVIYO_SYNC_MAX_ATTEMPTS: automatic tries of a
                                           # retryable failure before it is parked
    rate_limit_scale = 1.0                 # KLAVIYO_SYNC_RATE_LIMIT_SCALE: share of Klaviyo's
                                           # published rate limits this process may use
    strategy = "auto"                      # KLAVIYO_SYNC_STRATEGY: auto | bulk | per-record
    bulk_threshold = 500                   # KLAVIYO_SYNC_BULK_THRESHOLD: with auto, batches of
                                           # at least this many customers use bulk import jobs
    max_unsubscribe_share = 0.01           # KLAVIYO_SYNC_MAX_UNSUBSCRIBE_SHARE: guardrails: refuse
    max_list_removal_share = 0.01          # KLAVIYO_SYNC_MAX_LIST_REMOVAL_SHARE: a run past any
    max_cleared_fields = 100               # KLAVIYO_SYNC_MAX_CLEARED_FIELDS: of these (--force)

Secrets come from the environment only: ``KLAVIYO_API_KEY``, ``KLAVIYO_SYNC_WEBHOOK_SECRET`` and
``KLAVIYO_SYNC_DASHBOARD_TOKEN``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from .exceptions import ConfigError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_STORE",
    "TRIGGERS",
    "OptInProcess",
    "Settings",
    "Trigger",
    "load_settings",
]

Trigger = Literal["created", "updated"]
OptInProcess = Literal["double_opt_in", "single_opt_in"]
TRIGGERS: tuple[Trigger, ...] = ("created", "updated")

DEFAULT_BASE_URL = "https://a.klaviyo.com"
DEFAULT_STORE = "sqlite:///klaviyo-sync.db"
MIN_DASHBOARD_TOKEN_CHARS = 32
MAKE_DASHBOARD_TOKEN = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'

# config file key → field name
_FILE_KEYS = {
    "base_url": "klaviyo_base_url",
    "store": "store_url",
    "mapping": "mapping_path",
    "phone_region": "phone_region",
    "phone_strict": "phone_strict",
    "subscribe_sms": "subscribe_sms",
    "account_opt_in": "account_opt_in",
    "batch_size": "batch_size",
    "concurrency": "concurrency",
    "triggers": "triggers",
    "source": "source",
    "source_query": "source_query",
    "poll_seconds": "poll_seconds",
    "lease_seconds": "lease_seconds",
    "max_attempts": "max_attempts",
    "rate_limit_scale": "rate_limit_scale",
    "strategy": "strategy",
    "bulk_threshold": "bulk_threshold",
    "max_unsubscribe_share": "max_unsubscribe_share",
    "max_list_removal_share": "max_list_removal_share",
    "max_cleared_fields": "max_cleared_fields",
}
_SECRETS = ("api_key", "klaviyo_api_key", "webhook_secret", "dashboard_token")


class Settings(BaseSettings):
    """Everything klaviyo-sync reads from its environment and config file.

    The API key is a ``SecretStr`` so that printing the settings, or an error about them, shows
    ``**********`` instead of the key.
    """

    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", frozen=True, populate_by_name=True
    )

    klaviyo_api_key: SecretStr | None = Field(default=None, alias="KLAVIYO_API_KEY")
    klaviyo_base_url: str = Field(default=DEFAULT_BASE_URL, alias="KLAVIYO_BASE_URL")
    store_url: str = Field(default=DEFAULT_STORE, alias="KLAVIYO_SYNC_STORE")
    mapping_path: Path | None = Field(default=None, alias="KLAVIYO_SYNC_MAPPING")
    phone_region: str = Field(default="US", alias="KLAVIYO_SYNC_PHONE_REGION")
    phone_strict: bool = Field(default=False, alias="KLAVIYO_SYNC_PHONE_STRICT")
    subscribe_sms: bool = Field(default=False, alias="KLAVIYO_SYNC_SUBSCRIBE_SMS")
    account_opt_in: OptInProcess = Field(
        default="double_opt_in", alias="KLAVIYO_SYNC_ACCOUNT_OPT_IN"
    )
    """the account's opt-in process, which a subscription without a list follows: double opt-in
    in every Klaviyo account unless changed there; Klaviyo's API does not show it"""
    batch_size: int = Field(default=100, ge=1, le=10_000, alias="KLAVIYO_SYNC_BATCH_SIZE")
    concurrency: int = Field(default=8, ge=1, le=64, alias="KLAVIYO_SYNC_CONCURRENCY")
    triggers: Annotated[frozenset[Trigger], NoDecode] = Field(
        default=frozenset(), alias="KLAVIYO_SYNC_TRIGGERS"
    )
    """the seed's Outbound Data Flows: which customer events transfer; none until enabled"""
    source: str | None = Field(default=None, alias="KLAVIYO_SYNC_SOURCE")
    source_query: str | None = Field(default=None, alias="KLAVIYO_SYNC_SOURCE_QUERY")
    webhook_secret: SecretStr | None = Field(default=None, alias="KLAVIYO_SYNC_WEBHOOK_SECRET")
    poll_seconds: float = Field(default=0.5, gt=0, le=60, alias="KLAVIYO_SYNC_POLL_SECONDS")
    lease_seconds: float = Field(default=60.0, gt=0, alias="KLAVIYO_SYNC_LEASE_SECONDS")
    max_attempts: int = Field(default=6, ge=1, le=100, alias="KLAVIYO_SYNC_MAX_ATTEMPTS")
    rate_limit_scale: float = Field(
        default=1.0, gt=0, le=100, alias="KLAVIYO_SYNC_RATE_LIMIT_SCALE"
    )
    strategy: Literal["auto", "bulk", "per-record"] = Field(
        default="auto", alias="KLAVIYO_SYNC_STRATEGY"
    )
    bulk_threshold: int = Field(default=500, ge=1, alias="KLAVIYO_SYNC_BULK_THRESHOLD")
    max_unsubscribe_share: float = Field(
        default=0.01, ge=0, le=1, alias="KLAVIYO_SYNC_MAX_UNSUBSCRIBE_SHARE"
    )
    """guardrail: refuse a run that would unsubscribe more than this share of its customers"""
    max_list_removal_share: float = Field(
        default=0.01, ge=0, le=1, alias="KLAVIYO_SYNC_MAX_LIST_REMOVAL_SHARE"
    )
    """guardrail: refuse a run that would take more than this share of its customers off lists"""
    max_cleared_fields: int = Field(default=100, ge=0, alias="KLAVIYO_SYNC_MAX_CLEARED_FIELDS")
    """guardrail: refuse a run that would clear more than this many fields holding a value"""
    dashboard_token: SecretStr | None = Field(default=None, alias="KLAVIYO_SYNC_DASHBOARD_TOKEN")

    @field_validator("triggers", mode="before")
    @classmethod
    def _trigger_list(cls, value: Any) -> Any:
        # The environment gives "created,updated"; a config file gives a list.
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region code like US, GB or DE")
        return region

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The config file arrives as init kwargs; the environment must win over it.
        return (env_settings, init_settings)

    def require_api_key(self) -> SecretStr:
        """The API key, or a ConfigError that says how to provide one."""
        if self.klaviyo_api_key is None or not self.klaviyo_api_key.get_secret_value():
            raise ConfigError(
                "KLAVIYO_API_KEY is not set: export your Klaviyo private API key "
                "(it starts with pk_) before running a command that talks to Klaviyo"
            )
        return self.klaviyo_api_key

    def dashboard_token_problem(self) -> str | None:
        """Why the dashboard token may not be used, or None (see ``dashboard_token_problem``)."""
        return dashboard_token_problem(self.dashboard_token)


def dashboard_token_problem(token: SecretStr | None) -> str | None:
    """Why ``token`` may not open the dashboard (too short to resist guessing), or None.

    Unset or empty is no problem: the dashboard then stays closed. The message never shows the
    token, nor its length.
    """
    value = token.get_secret_value() if token is not None else ""
    if not value or len(value) >= MIN_DASHBOARD_TOKEN_CHARS:
        return None
    return (
        f"KLAVIYO_SYNC_DASHBOARD_TOKEN is shorter than {MIN_DASHBOARD_TOKEN_CHARS} characters, "
        "too easy to guess. Make a good one with\n"
        f"  {MAKE_DASHBOARD_TOKEN}\n"
        "and set KLAVIYO_SYNC_DASHBOARD_TOKEN to what it prints."
    )


def load_settings(config: Path | None = None) -> Settings:
    """Read the config file (if given) and the environment; problems become a ConfigError."""
    values = _read_config_file(config) if config is not None else {}
    try:
        return Settings(**values)
    except ValidationError as err:
        problems = "; ".join(_describe(e) for e in err.errors())
        where = f" in {config} or the environment" if config else ""
        raise ConfigError(f"invalid settings{where}: {problems}") from None


def _describe(error: Any) -> str:
    field = ".".join(str(p) for p in error["loc"])
    return f"{field}: {error['msg']}"


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
    secrets = sorted(set(data) & set(_SECRETS))
    if secrets:
        raise ConfigError(
            f"{path}: {', '.join(secrets)} does not belong in a config file; set it in the "
            "environment (KLAVIYO_API_KEY, KLAVIYO_SYNC_WEBHOOK_SECRET) instead"
        )
    unknown = sorted(set(data) - set(_FILE_KEYS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(_FILE_KEYS)}"
        )
    values = {_FILE_KEYS[key]: value for key, value in data.items()}
    if "mapping_path" in values:
        values["mapping_path"] = path.parent / str(values["mapping_path"])
    return values
