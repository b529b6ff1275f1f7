"""Where customers come from: files, a SQL query, records in memory.

Every source is a stream of customers in source order; a malformed record arrives in its place
as an ``InvalidRecordError`` (``where`` like ``customers.jsonl:12``, ``reason``, and
``customer_id`` when the Id was readable) and the stream goes on. ``get(id)`` fetches one
customer for a manual sync: file sources scan the file for it (the first record with that Id),
the SQL source asks the database.

================  ==========================  ==========================
source            made by open_source from    ``where`` of a record
================  ==========================  ==========================
JSONLinesSource   ``*.jsonl``, ``*.ndjson``   ``path:LINE``
JSONArraySource   ``*.json``                  ``path:item N``
CSVSource         ``*.csv``                   ``path:LINE``
SQLSource         a SQLAlchemy URL + query    ``url:row N``
RecordsSource     (in memory)                 ``name:record N``
================  ==========================  ==========================

Files may be gzip-compressed (``customers.jsonl.gz``). CSV rows and SQL rows are flat records,
turned into customers by ``customer_from_flat``; its columns:

- ``Id``, ``EmailAddress``, ``FirstName``, ``LastName``, ``Company``, ``Phone``
- ``BillingAddress1``, ``BillingAddress2``, ``BillingCity``, ``BillingRegion``,
  ``BillingPostalCode``, ``BillingCountry``, ``BillingPhoneNumber``: the primary billing address
  (one ``Addresses`` entry with ``IsPrimaryBilling`` true, only if one of them has a value)
- ``ShippingAddress1`` … ``ShippingPhoneNumber``: likewise, with ``IsPrimaryShipping`` true
- ``CustomFields.<Name>``: one custom field; a ``CustomFields`` column of JSON text (or a dict
  from a JSON column) gives several, and ``CustomFields.<Name>`` columns win over its keys
- ``Addresses``: a list of addresses as JSON text (or a list); Billing/Shipping entries follow it
- any other column: kept as an unknown key (``Customer.raw``), reachable from formulas

An empty cell or SQL ``NULL`` is a missing value (``None``), never an empty string.
"""

from __future__ import annotations

from ._base import Opener, Source
from ._csv import CSVSource
from ._flat import customer_from_flat, record_from_flat
from ._jsonarray import JSONArraySource
from ._jsonlines import JSONLinesSource
from ._open import open_source
from ._records import RecordsSource
from ._sql import SQLSource, redact_url

__all__ = [
    "CSVSource",
    "JSONArraySource",
    "JSONLinesSource",
    "Opener",
    "RecordsSource",
    "SQLSource",
    "Source",
    "customer_from_flat",
    "open_source",
    "record_from_flat",
    "redact_url",
]
