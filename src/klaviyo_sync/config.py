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
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types
import phonenumbers
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
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
# Settings whose value is not shown in a message: secrets, and URLs that may hold a password.
_NOT_SHOWN = frozenset({"klaviyo_api_key", "webhook_secret", "dashboard_token"})
_NOT_SHOWN |= {"store_url", "source", "source_query"}
# What one value of a setting with a fixed set of values is, in a message.
_NOUNS = {
    "triggers": "a trigger",
    "account_opt_in": "an opt-in process",
    "strategy": "a strategy",
}


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
    poll_seconds: float = Field(
        default=0.5, gt=0, le=60, allow_inf_nan=False, alias="KLAVIYO_SYNC_POLL_SECONDS"
    )
    lease_seconds: float = Field(
        default=60.0, gt=0, allow_inf_nan=False, alias="KLAVIYO_SYNC_LEASE_SECONDS"
    )
    max_attempts: int = Field(default=6, ge=1, le=100, alias="KLAVIYO_SYNC_MAX_ATTEMPTS")
    rate_limit_scale: float = Field(
        default=1.0, gt=0, le=100, allow_inf_nan=False, alias="KLAVIYO_SYNC_RATE_LIMIT_SCALE"
    )
    strategy: Literal["auto", "bulk", "per-record"] = Field(
        default="auto", alias="KLAVIYO_SYNC_STRATEGY"
    )
    bulk_threshold: int = Field(default=500, ge=1, alias="KLAVIYO_SYNC_BULK_THRESHOLD")
    max_unsubscribe_share: float = Field(
        default=0.01, ge=0, le=1, allow_inf_nan=False, alias="KLAVIYO_SYNC_MAX_UNSUBSCRIBE_SHARE"
    )
    """guardrail: refuse a run that would unsubscribe more than this share of its customers"""
    max_list_removal_share: float = Field(
        default=0.01, ge=0, le=1, allow_inf_nan=False, alias="KLAVIYO_SYNC_MAX_LIST_REMOVAL_SHARE"
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
    """Read the config file (if given) and the environment; problems become a ConfigError.

    Each problem names the variable (or the config file key, with the file, when the value came
    from there), the value given (never a secret's, nor a URL's), and what is allowed.
    """
    values = _read_config_file(config) if config is not None else {}
    try:
        return Settings(**values)
    except ValidationError as err:
        problems = "; ".join(_describe_problem(e, config) for e in err.errors())
        raise ConfigError(f"invalid settings: {problems}") from None


def _describe_problem(error: Mapping[str, Any], config: Path | None = None) -> str:
    """One of pydantic's validation errors of ``Settings`` in plain words: which variable or
    config key, the value given, and what to use instead."""
    loc = error.get("loc") or ("?",)
    fields = Settings.model_fields
    by_alias = {info.alias: name for name, info in fields.items() if info.alias}
    name = by_alias.get(str(loc[0]), str(loc[0]))
    info = fields.get(name)
    keys = {field: key for key, field in _FILE_KEYS.items()}
    env = info.alias if info is not None and info.alias else str(loc[0])
    from_file = str(loc[0]) == name and name in keys
    if from_file:
        where = f"{keys[name]} in {config}" if config else keys[name]
    else:
        where = f"{env} (config file key {keys[name]})" if name in keys else env
    value = error.get("input")
    shown = "the value given" if name in _NOT_SHOWN else _shown(value)
    return f"{where}: {_problem(str(error.get('type')), shown, name, info, error, from_file)}"


def _problem(
    kind: str,
    shown: str,
    name: str,
    info: FieldInfo | None,
    error: Mapping[str, Any],
    from_file: bool,
) -> str:
    allowed = _allowed(info)
    if kind == "literal_error":
        values = ", ".join(_choices(info)) or str((error.get("ctx") or {}).get("expected"))
        noun = _NOUNS.get(name, "allowed")
        how = _list_hint(from_file) if name == "triggers" else ""
        if noun == "allowed":
            return f"{shown} is not allowed; use one of {values}{how}"
        return f"{shown} is not {noun}; use {values}{how}"
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return f"{shown} is not a whole number; use {allowed or 'a whole number'}"
    if kind in ("float_parsing", "float_type"):
        return f"{shown} is not a number; use {allowed or 'a number'}"
    if kind == "finite_number":
        return f"{shown} is not a finite number; use {allowed or 'a number'}"
    if kind in ("bool_parsing", "bool_type"):
        return f"{shown} is not true or false; use true or false (1/0, yes/no, on/off work too)"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{shown} is out of range; use {allowed}"
    if kind == "value_error":
        ctx = error.get("ctx") or {}
        return str(ctx.get("error") or error.get("msg"))
    if kind in ("frozen_set_type", "set_type", "list_type", "tuple_type"):
        return f"{shown} is not a list; use {_list_hint(from_file).strip(' ()')}"
    if kind in ("string_type", "path_type"):
        what = "a file path" if kind == "path_type" else "text"
        return f"{shown} is not {what}; write it in quotes"
    return f"{shown}: {error.get('msg')}"


def _list_hint(from_file: bool) -> str:
    if from_file:
        return ' (a list, such as ["created", "updated"])'
    return " (several comma-separated: created,updated)"


def _choices(info: FieldInfo | None) -> list[str]:
    """The values of a setting that takes one of a few, or a set of them (``triggers``)."""
    if info is None:
        return []
    annotation = info.annotation
    if get_origin(annotation) in (frozenset, set, list):
        annotation = get_args(annotation)[0]
    if get_origin(annotation) is Literal:
        return [str(value) for value in get_args(annotation)]
    return []


def _allowed(info: FieldInfo | None) -> str:
    """``a whole number from 1 to 64``, ``a number above 0, up to 60``: a number's range."""
    if info is None or info.annotation not in (int, float):
        return ""
    low = high = None
    for bound in info.metadata:
        if isinstance(bound, annotated_types.Ge):
            low = f"from {_number(bound.ge)}"
        elif isinstance(bound, annotated_types.Gt):
            low = f"above {_number(bound.gt)}"
        elif isinstance(bound, annotated_types.Le):
            high = f"to {_number(bound.le)}"
        elif isinstance(bound, annotated_types.Lt):
            high = f"below {_number(bound.lt)}"
    what = "a whole number" if info.annotation is int else "a number"
    if low and high:
        joined = f"{low} {high}" if low.startswith("from") else f"{low}, up {high}"
        return f"{what} {joined}"
    if low and low.startswith("from"):
        return f"{what} of {low.removeprefix('from ')} or more"
    if low:
        return f"{what} {low}"
    if high:
        return f"{what} up {high}"
    return what


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


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
