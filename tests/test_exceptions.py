"""The exception tree says what the caller should do with each error, and the drawing of it in
``exceptions.py`` is the tree the classes make."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from types import ModuleType

import httpx
import pytest

import klaviyo_sync
from klaviyo_sync import exceptions as exc
from klaviyo_sync.klaviyo._errors import error_from_response, error_from_transport

# Not klaviyo-sync's own errors: the sandbox (Klaviyo's side, becoming its own package), and the
# Alembic scripts, which run inside Alembic only.
_NOT_OURS = ("klaviyo_sync.store.migrations", "klaviyo_sync.__main__")
_HOME = "klaviyo_sync.exceptions"
_LINE = re.compile(
    r"^(?P<indent>(?:│   |    )*)(?P<branch>[├└]── )?(?P<name>\w+)"
    r"(?: \(\+ (?P<also>[\w, ]+)\))?(?: \[(?P<home>[\w.]+)\])?(?:  +\S.*)?$"
)
# name: (first base, the other bases, the module it is imported from)
Tree = dict[str, tuple[str | None, tuple[str, ...], str]]


def _modules(package: str = "klaviyo_sync") -> Iterator[ModuleType]:
    """Every module of ``package``, imported, but those that are not ours."""
    module = importlib.import_module(package)
    yield module
    for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
        name = f"{package}.{info.name}"
        if name.startswith(_NOT_OURS):
            continue
        if info.ispkg:
            yield from _modules(name)
        else:
            yield importlib.import_module(name)


def _real_tree() -> Tree:
    """The classes under KlaviyoSyncError, once every module of the package is imported."""
    for _ in _modules():
        pass
    tree: Tree = {"KlaviyoSyncError": (None, (), _HOME)}
    pending = [exc.KlaviyoSyncError]
    while pending:
        for cls in pending.pop().__subclasses__():
            if not cls.__module__.startswith("klaviyo_sync.") or cls.__module__.startswith(
                _NOT_OURS
            ):
                continue  # a test's own subclass, or the sandbox's
            first, *others = cls.__bases__
            home = _HOME if cls.__module__ == _HOME else _public_home(cls)
            tree[cls.__name__] = (first.__name__, tuple(b.__name__ for b in others), home)
            pending.append(cls)
    return tree


def _public_home(cls: type) -> str:
    """The package ``cls`` is imported from: the nearest one above its module that has it."""
    parts = cls.__module__.split(".")
    for end in range(2, len(parts) + 1):
        where = ".".join(parts[:end])
        if getattr(importlib.import_module(where), cls.__name__, None) is cls:
            return where
    raise AssertionError(f"{cls.__name__} is not importable from any package")  # pragma: no cover


def _drawn_tree() -> Tree:
    doc = exc.__doc__ or ""
    drawing = doc.split("```\n", 2)[1]
    tree: Tree = {}
    parents: list[str] = []
    for line in drawing.splitlines():
        match = _LINE.match(line)
        assert match, f"not a line of the tree: {line!r}"
        depth = len(match["indent"]) // 4 + (1 if match["branch"] else 0)
        parents[depth:] = [match["name"]]
        also = tuple(a.strip() for a in match["also"].split(",")) if match["also"] else ()
        parent = parents[depth - 1] if depth else None
        tree[match["name"]] = (parent, also, match["home"] or _HOME)
    return tree


def test_the_drawn_tree_is_the_real_one() -> None:
    assert _drawn_tree() == _real_tree()


def test_the_store_and_client_errors_are_in_the_tree() -> None:
    real = _real_tree()
    for name in ("StoreError", "NotFoundError"):
        assert real[name][2] == "klaviyo_sync.store"
    assert issubclass(klaviyo_sync.store.NotFoundError, LookupError), "kept for callers"


@pytest.mark.parametrize("package", ["klaviyo_sync.store", "klaviyo_sync.klaviyo"])
def test_every_error_class_of_the_store_and_the_client_is_a_klaviyo_sync_error(
    package: str,
) -> None:
    for module in _modules(package):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                assert issubclass(value, exc.KlaviyoSyncError), value


@pytest.mark.parametrize("status", [*range(400, 430), 500, 502, 503, 504, 599])
def test_every_answer_of_klaviyo_becomes_an_error_of_the_tree(status: int) -> None:
    request = httpx.Request("GET", "https://a.klaviyo.com/api/profiles")
    error = error_from_response(httpx.Response(status, json={"errors": []}, request=request))
    assert isinstance(error, exc.KlaviyoAPIError)
    assert type(error).__name__ in _real_tree()
    dropped = error_from_transport(httpx.ConnectError("refused", request=request), "GET", "/")
    assert isinstance(dropped, exc.KlaviyoUnavailableError)


@pytest.mark.parametrize(
    ("cls", "kind"),
    [
        (exc.ConfigError, exc.FatalError),
        (exc.KlaviyoAuthError, exc.FatalError),
        (exc.KlaviyoValidationError, exc.RecordError),
        (exc.KlaviyoNotFoundError, exc.RecordError),
        (exc.KlaviyoConflictError, exc.RecordError),
        (exc.KlaviyoUnexpectedError, exc.RecordError),
        (exc.KlaviyoUnavailableError, exc.RetryableError),
        (exc.KlaviyoTimeoutError, exc.RetryableError),
    ],
)
def test_each_error_has_one_disposition(cls: type[Exception], kind: type[Exception]) -> None:
    dispositions = {exc.FatalError, exc.RecordError, exc.RetryableError}
    assert issubclass(cls, kind)
    assert issubclass(cls, exc.KlaviyoSyncError)
    assert [d for d in dispositions if issubclass(cls, d)] == [kind]


def test_duplicate_carries_the_existing_profile() -> None:
    err = exc.KlaviyoDuplicateProfileError(
        "duplicate", duplicate_profile_id="01ABC", status=409, code="duplicate_profile"
    )
    assert isinstance(err, exc.KlaviyoConflictError)
    assert err.duplicate_profile_id == "01ABC"
    assert err.status == 409


def test_rate_limited_is_retryable_with_its_wait() -> None:
    err = exc.KlaviyoRateLimitedError("throttled", retry_after=3, status=429)
    assert isinstance(err, exc.RetryableError)
    assert err.retry_after == 3


def test_repr_shows_what_klaviyo_said() -> None:
    err = exc.KlaviyoValidationError(
        "bad phone",
        status=400,
        code="invalid",
        detail="Invalid phone number format",
        pointer="/data/attributes/phone_number",
        request_id="r-1",
    )
    text = repr(err)
    for part in ("400", "invalid", "phone_number", "r-1"):
        assert part in text
