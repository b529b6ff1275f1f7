"""CSV files of flat customer rows; the columns are described in ``_flat``."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Generator, Iterator
from pathlib import Path

from ..exceptions import ConfigError, InvalidRecordError
from ._base import FileSource, Item, Opener
from ._flat import customer_from_flat, near_misses

__all__ = ["CSVSource"]

log = logging.getLogger("klaviyo_sync.sources")


class CSVSource(FileSource):
    """Customers from a ``.csv`` file with a header row; positions are ``path:line`` (1-based).

    UTF-8 with an optional BOM, comma-separated, double-quoted. Blank lines are skipped. A row
    with a different number of cells than the header, bad quoting, or bytes that are not UTF-8
    becomes an ``InvalidRecordError`` for the line it starts on, and reading goes on. A header
    without an ``Id`` column, or with a column named twice, raises ``ConfigError``.

    A column that is not a known one but looks like one (``email`` for ``EmailAddress``) is
    legal, and kept for formulas, but every customer then lacks that field without a word: the
    first read of the header says so, once, in ``notes`` and as a warning on the
    ``klaviyo_sync.sources`` logger (which a command line with no logging set up prints on
    stderr).
    """

    def __init__(self, path: str | Path, *, opener: Opener | None = None) -> None:
        super().__init__(path, opener=opener)
        self.notes: list[str] = []
        self._noted = False

    def _read(self) -> Generator[Item, None, None]:
        # surrogateescape keeps a bad byte to the row it is in instead of breaking the file.
        with io.TextIOWrapper(
            self._open(), encoding="utf-8-sig", errors="surrogateescape", newline=""
        ) as text:
            reader = csv.reader(text, strict=True)
            columns = self._header(reader)
            if columns is None:
                return
            line = reader.line_num + 1
            for row in _rows(reader):
                where = f"{self.name}:{line}"
                line = reader.line_num + 1
                if isinstance(row, csv.Error):
                    yield InvalidRecordError(f"malformed CSV: {row}", where=where)
                elif row:
                    yield _customer(columns, row, where)

    def _header(self, reader: Iterator[list[str]]) -> list[str] | None:
        header = next(reader, None)
        if header is None:
            return None
        columns = [name.strip() for name in header]
        if _undecodable(columns) is not None:
            raise ConfigError(f"{self.name}: the header row is not UTF-8 text")
        twice = sorted({name for name in columns if columns.count(name) > 1})
        if twice:
            raise ConfigError(f"{self.name}: column named more than once: {', '.join(twice)}")
        if "Id" not in columns:
            near = [c for c in columns if c.lower() == "id"]
            hint = f" (found {near[0]!r}: column names are case-sensitive)" if near else ""
            raise ConfigError(f"{self.name}: the header has no Id column{hint}")
        if not self._noted:
            self._noted = True
            for column, meant in near_misses(columns):
                note = (
                    f"{self.name}: column {column!r} is not a known column, so it is only kept "
                    f"for formulas; did you mean {meant!r}? Column names are case-sensitive"
                )
                self.notes.append(note)
                log.warning("warning: %s", note)
        return columns


def _rows(reader: Iterator[list[str]]) -> Iterator[list[str] | csv.Error]:
    """The reader's rows, with a malformed one given as its error so reading can go on."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield err


def _customer(columns: list[str], row: list[str], where: str) -> Item:
    if len(row) != len(columns):
        return InvalidRecordError(
            f"expected {len(columns)} cells as in the header, got {len(row)}", where=where
        )
    bad = _undecodable(row)
    if bad is not None:
        return InvalidRecordError(f"column {columns[bad]} is not UTF-8 text", where=where)
    try:
        return customer_from_flat(dict(zip(columns, row, strict=True)), where=where)
    except InvalidRecordError as err:
        return err


def _undecodable(cells: list[str]) -> int | None:
    """The index of the first cell holding bytes that were not UTF-8 (kept as surrogates)."""
    if "".join(cells).isascii():
        return None
    for index, cell in enumerate(cells):
        try:
            cell.encode("utf-8")
        except UnicodeEncodeError:
            return index
    return None
