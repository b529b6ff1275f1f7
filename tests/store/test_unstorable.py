"""The error log's last guard: a failure whose message quotes a NUL or an unpaired surrogate
(a file name, Klaviyo's answer) or whose detail holds NaN is still written, on every backend.
Customers holding one never get this far (``Customer.from_record`` refuses them); this keeps
anything else that does from failing a whole batch."""

from __future__ import annotations

from klaviyo_sync.outcome import Failure, Outcome
from klaviyo_sync.store import Store
from klaviyo_sync.store._redact import redact, storable_text


def test_storable_text_escapes_and_still_scrubs_the_key() -> None:
    assert storable_text("a\x00b \ud800 Klaviyo-API-Key pk_x") == (
        "a\\u0000b \\ud800 Klaviyo-API-Key [redacted]"
    )


def test_redact_writes_non_finite_numbers_as_their_names() -> None:
    detail = {"n": float("nan"), "deep": [{"x": float("-inf")}], "ok": 1.5}
    assert redact(detail) == {"n": "nan", "deep": [{"x": "-inf"}], "ok": 1.5}


def test_a_failure_quoting_unstorable_text_is_logged_and_its_batch_kept(store: Store) -> None:
    run_id = store.start_run("sync")
    failure = Failure(
        None,
        "read",
        "invalid_record",
        "bad\udcff.jsonl:3: invalid JSON at \x00",
        detail={"where": "bad\udcff.jsonl:3", "score": float("nan")},
    )
    store.commit_batch(
        run_id,
        outcomes=[Outcome("c1", "created", "P1"), Outcome("bad:3", "failed", failure=failure)],
    )

    [logged] = store.list_failures()
    assert logged.message == "bad\\udcff.jsonl:3: invalid JSON at \\u0000"
    assert logged.detail["score"] == "nan"
    assert [o.kind for o in store.run_outcomes(run_id)] == ["created", "failed"]

    # Seen again in a later batch, it is the same open failure, not a second one.
    store.commit_batch(run_id, outcomes=[Outcome("bad:3", "failed", failure=failure)])
    [again] = store.list_failures()
    assert (again.id, again.attempts) == (logged.id, 2)
