"""`klaviyo-sync demo` tells the whole story against its own sandbox."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from klaviyo_sync.cli.demo import run_demo


@pytest.mark.slow  # the whole demo
def test_demo_runs_every_hard_case_and_keeps_the_phone(monkeypatch: pytest.MonkeyPatch) -> None:
    # A real Klaviyo configured in the environment must not be touched by the demo.
    monkeypatch.setenv("KLAVIYO_BASE_URL", "https://a.klaviyo.com")
    monkeypatch.setenv("KLAVIYO_API_KEY", "pk_realkeythatmustnotbeused")
    out = io.StringIO()
    run_demo(Console(file=out, width=200, color_system=None))
    text = out.getvalue()

    for expected in (
        "matched_email",
        "matched_phone",
        "no_identifier",
        "phone_rejected",
        "invalid_record",
        "phone omitted: '12345'",
        "unchanged",
        "Klaviyo still has +14155552671",
        "route      update",
        "Plan for customers-changed.jsonl",
        "phone_number │ +14155552671 │ (left as it is) │ kept",
        "Consent and list changes",
        # 7 for the double opt-in list, 7 for email marketing: the account is double opt-in.
        "Double opt-in confirmation emails sent: 14",
        "for email marketing",
    ):
        assert expected in text, expected
    assert "pk_realkeythatmustnotbeused" not in text
