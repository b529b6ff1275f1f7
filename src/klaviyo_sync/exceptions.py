"""The one exception tree of klaviyo-sync.

Every error the library raises on purpose is a ``KlaviyoSyncError``. Three marker classes say
what the caller should do with it, whatever its concrete type: ``FatalError`` (stop the run:
nothing later will go better), ``RetryableError`` (the same request may succeed later) and
``RecordError`` (this record failed: log it and go on with the others).

This is the whole tree, each class under its first base; ``(+ X)`` names its other bases and
``[module]`` where a class defined outside this module is imported from. A test
(``test_exceptions.py``) compares the drawing with the classes themselves: it cannot drift.

```
KlaviyoSyncError
├── FatalError
│   ├── ConfigError                       settings or configuration missing or invalid
│   │   ├── MappingError                  a collection or row is invalid (names both)
│   │   │   └── RowError [klaviyo_sync.mapping]  a row that does not compile, with its reason
│   │   └── WebhookSecretError [klaviyo_sync.web]  the webhook secret is not usable
│   ├── GuardrailError                    a run would go past a guardrail (unsubscribes, ...)
│   └── StoreError [klaviyo_sync.store]   the store cannot be opened, read or written
│       └── NotFoundError (+ LookupError) [klaviyo_sync.store]  no failure or run with that id
├── RetryableError
├── RecordError
│   ├── InvalidRecordError                a source record is malformed (names where)
│   ├── CustomerNotFoundError             a manual sync asked for an id the source lacks
│   └── FormulaError                      a formula failed on one customer
└── KlaviyoAPIError                       (status, code, title, detail, pointer, request_id, ...)
    ├── KlaviyoAuthError (+ FatalError)                401, 403
    ├── KlaviyoValidationError (+ RecordError)         400, 422
    ├── KlaviyoNotFoundError (+ RecordError)           404
    ├── KlaviyoConflictError (+ RecordError)           409 other than a duplicate profile
    │   └── KlaviyoDuplicateProfileError               409 duplicate_profile, with the profile's id
    ├── KlaviyoRateLimitedError (+ RetryableError)     429, with Klaviyo's retry_after
    ├── KlaviyoUnavailableError (+ RetryableError)     5xx, a refused or dropped connection
    │   └── KlaviyoTimeoutError                        timed out
    └── KlaviyoUnexpectedError (+ RecordError)         any other status
```

The client's answers become these classes in ``klaviyo/_errors.py`` (``error_from_response``,
``error_from_transport``); the store raises ``StoreError`` and ``NotFoundError``. Outside the
tree on purpose: a ``ValueError`` or ``TypeError`` for a call made wrongly (a negative limit, a
bulk job of no profiles), as Python's own functions raise; and the web app's ``WebError``, an
HTTP refusal that the app answers with, never raised to a caller of the library.

No message built here ever contains the API key: errors are built from Klaviyo's response and the
request's method and path, never from its headers.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "CustomerNotFoundError",
    "FatalError",
    "FormulaError",
    "GuardrailError",
    "InvalidRecordError",
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
    "MappingError",
    "RecordError",
    "RetryableError",
]


class KlaviyoSyncError(Exception):
    """Base of every error klaviyo-sync raises on purpose."""


class FatalError(KlaviyoSyncError):
    """Stop the run: retrying or moving to the next record will not help."""


class RetryableError(KlaviyoSyncError):
    """The same operation may succeed if tried again later."""


class RecordError(KlaviyoSyncError):
    """Only this record failed; record the failure and carry on with the rest."""


class ConfigError(FatalError):
    """Settings or configuration are missing or invalid; the message says what and where."""


class GuardrailError(FatalError):
    """A run was refused before writing a batch that would take it past a guardrail (too many
    unsubscribes, list removals or cleared fields); nothing of that batch was written.
    ``problems`` says what in sentences, ``counts`` is what the run would have done."""

    def __init__(self, problems: list[str], counts: dict[str, int], advice: str) -> None:
        self.problems = problems
        self.counts = counts
        super().__init__(
            "refused: this run would "
            + "; and ".join(problems)
            + f". Nothing more was written. {advice}"
        )


class MappingError(ConfigError):
    """A collection, mapping row or formula is invalid; the message names the collection and row."""

    def __init__(self, message: str, *, collection: str | None = None, row: str | None = None):
        where = " ".join(
            p for p in (collection and f"collection {collection!r}", row and f"row {row!r}") if p
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.collection = collection
        self.row = row


class InvalidRecordError(RecordError):
    """A source record cannot be read as a customer; ``where`` is e.g. ``customers.jsonl:12``."""

    def __init__(self, reason: str, *, where: str | None = None, customer_id: str | None = None):
        super().__init__(f"{where}: {reason}" if where else reason)
        self.reason = reason
        self.where = where
        self.customer_id = customer_id


class CustomerNotFoundError(RecordError):
    """A manual sync asked for a customer id that the source does not hold."""

    def __init__(self, customer_id: str, source: str) -> None:
        super().__init__(f"customer {customer_id!r} is not in {source}")
        self.customer_id = customer_id
        self.source = source


class FormulaError(RecordError):
    """A formula raised while evaluating one customer."""

    def __init__(self, message: str, *, collection: str, row: str, customer_id: str) -> None:
        super().__init__(
            f"collection {collection!r} row {row!r} customer {customer_id!r}: {message}"
        )
        self.collection = collection
        self.row = row
        self.customer_id = customer_id


class KlaviyoAPIError(KlaviyoSyncError):
    """Klaviyo answered with an error, or could not be reached.

    ``status`` is the HTTP status (0 when no response arrived); ``code``, ``title``, ``detail``
    and ``pointer``/``parameter`` come from the first item of Klaviyo's ``errors`` envelope.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        pointer: str | None = None,
        parameter: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.pointer = pointer
        self.parameter = parameter
        self.request_id = request_id
        self.method = method
        self.path = path
        self.body = body

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"detail={self.detail!r}, pointer={self.pointer!r}, request_id={self.request_id!r})"
        )


class KlaviyoAuthError(KlaviyoAPIError, FatalError):
    """401 or 403: the API key is missing, wrong, or lacks a scope."""


class KlaviyoValidationError(KlaviyoAPIError, RecordError):
    """400: Klaviyo rejected the request's content (see ``pointer`` for the field)."""


class KlaviyoNotFoundError(KlaviyoAPIError, RecordError):
    """404: the resource (a profile, list or job) does not exist."""


class KlaviyoConflictError(KlaviyoAPIError, RecordError):
    """409 for a reason other than a duplicate profile."""


class KlaviyoDuplicateProfileError(KlaviyoConflictError):
    """409 ``duplicate_profile``: an identifier already belongs to ``duplicate_profile_id``."""

    def __init__(self, message: str, *, duplicate_profile_id: str | None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.duplicate_profile_id = duplicate_profile_id


class KlaviyoRateLimitedError(KlaviyoAPIError, RetryableError):
    """429: throttled; ``retry_after`` is Klaviyo's ``Retry-After`` in seconds, when given."""

    def __init__(self, message: str, *, retry_after: float | None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class KlaviyoUnavailableError(KlaviyoAPIError, RetryableError):
    """5xx, a refused or dropped connection: Klaviyo could not serve the request now."""


class KlaviyoTimeoutError(KlaviyoUnavailableError):
    """The request timed out before Klaviyo answered."""


class KlaviyoUnexpectedError(KlaviyoAPIError, RecordError):
    """A status this client does not expect from the endpoint (for example 405 or 415)."""
