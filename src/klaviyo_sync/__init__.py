"""klaviyo-sync: keep Klaviyo profiles in step with customer records, never wiping good data."""

from __future__ import annotations

from .config import Settings, load_settings
from .exceptions import (
    ConfigError,
    FatalError,
    GuardrailError,
    KlaviyoAPIError,
    KlaviyoAuthError,
    KlaviyoConflictError,
    KlaviyoDuplicateProfileError,
    KlaviyoNotFoundError,
    KlaviyoRateLimitedError,
    KlaviyoSyncError,
    KlaviyoTimeoutError,
    KlaviyoUnavailableError,
    KlaviyoUnexpectedError,
    KlaviyoValidationError,
    RecordError,
    RetryableError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "FatalError",
    "GuardrailError",
    "KlaviyoAPIError",
    "KlaviyoAuthError",
    "KlaviyoConflictError",
    "KlaviyoDuplicateProfileError",
    "KlaviyoNotFoundError",
    "KlaviyoRateLimitedError",
    "KlaviyoSyncError",
    "KlaviyoTimeoutError",
    "KlaviyoUnavailableError",
    "KlaviyoUnexpectedError",
    "KlaviyoValidationError",
    "RecordError",
    "RetryableError",
    "Settings",
    "__version__",
    "load_settings",
]
