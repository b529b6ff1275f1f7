"""The store: links, fingerprints and applied states, runs, outcomes, failures, the audit, the
queue, events and workers, in SQLite or PostgreSQL.

```python
with Store.open("sqlite:///klaviyo-sync.db") as store:
    run_id = store.start_run("sync", source="customers.jsonl")
    links = store.get_links(customer_ids)
    applied = store.get_applied(customer_ids)  # what was last applied to each profile
    store.commit_batch(run_id, outcomes=..., links=..., fingerprints=..., applied=..., audit=...)
    store.finish_run(run_id, {"created": 10, "failed": 1})
```

The error log is read through a ``FailureFilter``, the one description of which failures a
list or a count takes (the command line's ``errors list`` and the dashboard build it):

```python
page = store.list_failures(FailureFilter(kind="phone_rejected", text="+1555"), limit=50)
total = store.count_failures(FailureFilter(kind="phone_rejected", text="+1555"))
```

Every consent or list change a batch made is in the audit (``list_audit``). An identity
conflict is settled by a person with ``link_by_hand(failure_id, profile_id, note=...)``: the
customer is linked to the chosen profile and sent there in full by the next run.

Webhook events wait in a durable queue, one row per customer, until a worker claims them:

```python
store.enqueue([("c1", record, "customer/updated")])
items = store.claim("worker-1", limit=100, lease_seconds=300)
...  # run them through the engine
store.ack("worker-1", items)  # or store.release("worker-1", item, delay=retry_delay(n))
```

The schema is created and upgraded by the Alembic revisions in ``migrations/`` when a store is
opened. No API key is ever stored: details pass through :func:`redact` on the way in.
"""

from __future__ import annotations

from ._errors import NotFoundError, StoreError
from ._filter import FailureFilter
from ._records import (
    EVENT_STATUSES,
    AuditRecord,
    EventRecord,
    EventStatus,
    FailureRecord,
    QueueEntry,
    QueueItem,
    QueueStats,
    RunRecord,
    WorkerRecord,
)
from ._redact import redact
from ._retry import retry_delay
from ._store import Store

__all__ = [
    "EVENT_STATUSES",
    "AuditRecord",
    "EventRecord",
    "EventStatus",
    "FailureFilter",
    "FailureRecord",
    "NotFoundError",
    "QueueEntry",
    "QueueItem",
    "QueueStats",
    "RunRecord",
    "Store",
    "StoreError",
    "WorkerRecord",
    "redact",
    "retry_delay",
]
