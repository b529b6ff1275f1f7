"""The store: links, fingerprints, runs, outcomes and failures, in SQLite or PostgreSQL.

```python
with Store.open("sqlite:///klaviyo-sync.db") as store:
    run_id = store.start_run("sync", source="customers.jsonl")
    links = store.get_links(customer_ids)
    store.commit_batch(run_id, outcomes=..., links=..., fingerprints=...)
    store.finish_run(run_id, {"created": 10, "failed": 1})
```

The schema is created and upgraded by the Alembic revisions in ``migrations/`` when a store is
opened. No API key is ever stored: details pass through :func:`redact` on the way in.
"""

from __future__ import annotations

from ._errors import NotFoundError, StoreError
from ._records import FailureRecord, RunRecord
from ._redact import redact
from ._store import Store

__all__ = ["FailureRecord", "NotFoundError", "RunRecord", "Store", "StoreError", "redact"]
