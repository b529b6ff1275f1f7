"""``open_source``: the right source for a path or URL."""

from __future__ import annotations

import re
from pathlib import Path

from ..exceptions import ConfigError
from ._base import FileSource, Source
from ._csv import CSVSource
from ._jsonarray import JSONArraySource
from ._jsonlines import JSONLinesSource
from ._sql import SQLSource, redact_url

__all__ = ["open_source"]

_FILE_FORMATS: dict[str, type[FileSource]] = {
    "jsonl": JSONLinesSource,
    "ndjson": JSONLinesSource,
    "json": JSONArraySource,
    "csv": CSVSource,
}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_KNOWN_SUFFIXES = (
    ".jsonl and .ndjson (JSON Lines), .json (a JSON array) and .csv, each also gzipped (.gz), "
    "and a database by its SQLAlchemy URL, such as sqlite:///customers.db, with --query"
)


def open_source(spec: str | Path, *, query: str | None = None, format: str | None = None) -> Source:
    """The source for a file path (by its suffix) or a SQLAlchemy URL (with ``query``).

    ``format`` (``jsonl``, ``ndjson``, ``json``, ``csv`` or ``sql``) overrides the suffix.
    Raises ConfigError for anything it cannot read, saying what is supported.
    """
    kind = format.strip().lower().lstrip(".") if format is not None else None
    is_url = isinstance(spec, str) and _URL.match(spec) is not None
    if kind == "sql" or (kind is None and is_url):
        if not query or not query.strip():
            raise ConfigError(f"{redact_url(str(spec))}: a SQL source needs a query")
        return SQLSource(str(spec), query)
    shown = redact_url(str(spec)) if is_url else str(spec)
    if query is not None:
        raise ConfigError(f"{shown}: a query applies only to a SQL source, not to a file")
    path = Path(spec)
    kind = kind or _suffix(path)
    source = _FILE_FORMATS.get(kind)
    if source is None:
        known = ", ".join([*_FILE_FORMATS, "sql"])
        if format:
            detail = f"format {format!r} is not one of {known}"
            raise ConfigError(f"cannot read customers from {shown}: {detail}")
        raise ConfigError(f"cannot read customers from {shown}: {_unknown_type(path)}")
    if not path.is_file():
        raise ConfigError(f"customer file {shown} does not exist or is not a file")
    return source(path)


def _unknown_type(path: Path) -> str:
    """Why the file's name says nothing readable, what names work, and how to say the format."""
    if not path.suffixes:
        what = "its name has no suffix to tell the file type by"
    elif path.suffix.lower() == ".gz" and len(path.suffixes) == 1:
        what = "'.gz' says it is compressed, but not what is inside"
    else:
        what = f"{path.suffix!r} is not a file type klaviyo-sync reads"
    return (
        f"{what}. It reads {_KNOWN_SUFFIXES}. If the file is one of those under another name, "
        "add --format jsonl|json|csv"
    )


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1].lstrip(".") if suffixes else ""
