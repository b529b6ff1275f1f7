"""What every source is, and the scanning that files and in-memory records share."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, cast, runtime_checkable

from ..customer import Customer
from ..exceptions import ConfigError, InvalidRecordError

__all__ = ["Opener", "Source", "default_opener"]

#: Opens a source file for reading bytes; ``gzip.open`` works as well as ``open``.
Opener = Callable[[Path], IO[bytes]]


@runtime_checkable
class Source(Protocol):
    """Where customers come from: a stream in source order, and one customer by id.

    A malformed record is yielded as an ``InvalidRecordError`` (with ``where`` and ``reason``)
    in its place, and the stream goes on.
    """

    name: str

    def __iter__(self) -> Iterator[Customer | InvalidRecordError]: ...

    def get(self, customer_id: str | int) -> Customer | None: ...


@dataclass(slots=True, frozen=True)
class Cut:
    """The stream stopped early at ``error``: nothing after it can be read."""

    error: InvalidRecordError


Item = Customer | InvalidRecordError | Cut


class StreamSource:
    """A source defined by ``_read``; ``__iter__`` and ``get`` follow from it."""

    name: str

    def __iter__(self) -> Iterator[Customer | InvalidRecordError]:
        for item in self._read():
            yield item.error if isinstance(item, Cut) else item

    def get(self, customer_id: str | int) -> Customer | None:
        """The first customer whose ``Id`` reads as ``customer_id``, scanning the stream.

        Ids compare as text, so ``"55260"`` finds ``55260``. A malformed record with that id
        raises its ``InvalidRecordError``; so does a break that leaves the rest unreadable,
        since the customer may be beyond it.
        """
        wanted = str(customer_id).strip()
        stream = self._read()
        try:
            for item in stream:
                if isinstance(item, Cut):
                    raise item.error
                if isinstance(item, InvalidRecordError):
                    if item.customer_id == wanted:
                        raise item
                elif item.id == wanted:
                    return item
            return None
        finally:
            stream.close()

    def _read(self) -> Generator[Item, None, None]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class FileSource(StreamSource):
    """A source read from one file, opened afresh for each pass."""

    def __init__(self, path: str | Path, *, opener: Opener | None = None) -> None:
        self.path = Path(path)
        self.name = str(path)
        self._opener = opener or default_opener(self.path)

    def _open(self) -> IO[bytes]:
        try:
            return self._opener(self.path)
        except OSError as err:
            raise ConfigError(
                f"cannot read customer file {self.name}: {err.strerror or err}"
            ) from None


def default_opener(path: Path) -> Opener:
    """``gzip.open`` for a ``.gz`` file, plain ``open`` otherwise."""
    return _open_gzip if path.suffix.lower() == ".gz" else _open_plain


def _open_plain(path: Path) -> IO[bytes]:
    return open(path, "rb")


def _open_gzip(path: Path) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "rb"))


def to_customer(value: Any, where: str, *, screened: bool = False) -> Customer | InvalidRecordError:
    """A decoded record as a customer, or the error saying why it is not one; ``screened`` as
    in ``Customer.from_record``."""
    try:
        return Customer.from_record(value, where=where, screened=screened)
    except InvalidRecordError as err:
        return err
