"""The dashboard in headless Chromium, against `klaviyo-sync serve` and a loopback sandbox: sign
in (and be refused with a wrong token), see a real failed transfer, fix its cause and retry it
in place, Manual Sync a new and a linked customer, search links; every page at desktop and
phone width, by keyboard, with a label on every control."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .conftest import PHONE, TOKEN, Served, playwright_api, wait_for

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = playwright_api().expect

Shoot = Callable[[Any, str], Path]

BAD_PHONE = "(555) 010-0199"  # possible, so it is sent; not valid, so Klaviyo refuses it
GOOD_PHONE = "(415) 555-2671"


def customer(customer_id: str, *, phone: str | None = None, first: str = "Ada") -> dict[str, Any]:
    return {
        "Id": customer_id,
        "EmailAddress": f"c{customer_id}@example.com",
        "FirstName": first,
        "LastName": "Lovelace",
        "Phone": phone,
        "Addresses": [
            {
                "Address1": "12 Babbage Row",
                "City": "San Francisco",
                "Region": "CA",
                "PostalCode": "94107",
                "Country": "US",
                "IsPrimaryBilling": True,
            }
        ],
        "CustomFields": {"SubscribeProfile": True},
    }


def sign_in(page: Page, served: Served, path: str = "/") -> None:
    page.goto(served.base_url + path)
    page.get_by_label("Dashboard token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def failed_transfer(served: Served, customer_id: str) -> int:
    """A customer whose phone Klaviyo rejects, sent through the webhook and the worker."""
    bad = customer(customer_id, phone=BAD_PHONE)
    served.set_customer(bad)
    assert served.post_event("customer/created", bad).json()["status"] == "queued"
    found: list[dict[str, Any]] = []

    def logged() -> bool:
        found[:] = served.api(f"/api/failures?customer_id={customer_id}")["items"]
        return bool(found)

    wait_for(logged, f"the worker to log customer {customer_id}'s failure")
    assert found[0]["kind"] == "phone_rejected"
    return int(found[0]["id"])


def unlabelled_controls(page: Page) -> list[str]:
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea, button')]
                .filter(el => el.type !== 'hidden' && !el.hidden)
                .filter(el => el.tagName === 'BUTTON'
                    ? !el.textContent.trim() && !el.getAttribute('aria-label')
                    : el.labels.length === 0 && !el.getAttribute('aria-label'))
                .map(el => el.outerHTML)"""
        )
    )


def page_overflows(page: Page) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1"))


def test_a_wrong_token_is_refused_and_the_right_one_signs_in(
    served: Served, browser: BrowserContext, shoot: Shoot
) -> None:
    page = browser.new_page()
    page.goto(served.base_url + "/failures")
    assert "/login" in page.url, "an anonymous visitor is sent to sign in"

    page.get_by_label("Dashboard token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("not the dashboard token")
    assert not browser.cookies(), "a refused sign-in gets no session"
    shoot(page, "login-refused-desktop")
    page.set_viewport_size(PHONE)
    shoot(page, "login-refused-phone")

    page.get_by_label("Dashboard token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Error Logs")
    [cookie] = browser.cookies()
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert TOKEN not in cookie["value"]
    assert TOKEN not in page.content()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Dashboard token")).to_be_visible()
    page.goto(served.base_url + "/")
    assert "/login" in page.url, "signed out means signed out"


def test_a_failed_transfer_is_retried_after_its_cause_is_fixed_and_resolves_in_place(
    served: Served, browser: BrowserContext, shoot: Shoot
) -> None:
    failure_id = failed_transfer(served, "70001")
    page = browser.new_page()
    sign_in(page, served)

    page.get_by_role("link", name="Error Logs").click()
    row = page.locator(f"tr[data-failure-id='{failure_id}']")
    expect(row).to_contain_text("70001")
    expect(row).to_contain_text("phone rejected")
    expect(row.locator("[data-state-of]")).to_have_text("open")
    shoot(page, "error-logs-desktop")

    row.get_by_role("link", name=f"#{failure_id}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Failure {failure_id}")
    expect(page.locator("section.json", has_text="Klaviyo's answer")).to_contain_text(
        "/data/attributes/phone_number"
    )
    expect(page.locator("section.json", has_text="Payload sent")).to_contain_text("+15550100199")
    shoot(page, "failure-desktop")

    # Fix the cause at the source, then retry from the page: no reload needed to see the result.
    served.set_customer(customer("70001", phone=GOOD_PHONE))
    page.evaluate("() => { window.stillTheSamePage = true; }")
    page.get_by_role("button", name="Retry now").click()

    expect(page.get_by_role("status")).to_contain_text("1 resolved")
    expect(page.locator(f"[data-state-of='{failure_id}']")).to_have_text("resolved")
    assert page.evaluate("() => window.stillTheSamePage === true"), "the page was not reloaded"
    shoot(page, "failure-retried-desktop")
    profile = served.sandbox.sandbox.find_profile(email="c70001@example.com")
    assert profile is not None
    assert profile.phone_number == "+14155552671"
    assert served.api(f"/api/failures/{failure_id}")["state"] == "resolved"

    page.reload()
    expect(page.locator(f"[data-state-of='{failure_id}']")).to_have_text("resolved")
    expect(page.get_by_role("button", name="Retry now")).to_have_count(0)


def test_manual_sync_creates_a_new_customer_then_updates_it_once_linked(
    served: Served, browser: BrowserContext, shoot: Shoot
) -> None:
    served.set_customer(customer("70002", first="Grace"))
    page = browser.new_page()
    sign_in(page, served)
    page.get_by_role("link", name="Manual Sync").click()

    page.get_by_label("iPaaS.com Customer ID").fill("70002")
    page.get_by_role("button", name="Sync now").click()

    result = page.locator("#result")
    expect(page.locator("#result-heading")).to_contain_text("created")
    expect(result).to_contain_text("create: created a new profile")
    profile = served.sandbox.sandbox.find_profile(email="c70002@example.com")
    assert profile is not None
    expect(result.locator("[data-profile-id]")).to_have_text(profile.id)
    expect(result.locator("section.json", has_text="Payload sent")).to_contain_text('"Grace"')
    shoot(page, "manual-sync-created-desktop")

    served.set_customer(customer("70002", first="Grace B."))
    page.get_by_label("iPaaS.com Customer ID").fill("70002")
    page.get_by_role("button", name="Sync now").click()

    expect(page.locator("#result-heading")).to_contain_text("updated")
    expect(result).to_contain_text("update: patched the linked profile")
    expect(result.locator("[data-profile-id]")).to_have_text(profile.id)
    expect(result.locator("section.json", has_text="Payload sent")).to_contain_text('"Grace B."')
    assert served.sandbox.sandbox.profiles[profile.id].first_name == "Grace B."
    shoot(page, "manual-sync-updated-desktop")
    page.set_viewport_size(PHONE)
    shoot(page, "manual-sync-updated-phone")
    assert not page_overflows(page)

    page.get_by_label("iPaaS.com Customer ID").fill("99999")
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_role("alert")).to_contain_text("99999")


def test_links_are_found_by_customer_id_email_and_profile_id(
    served: Served, browser: BrowserContext, shoot: Shoot
) -> None:
    served.set_customer(customer("70003"))
    page = browser.new_page()
    sign_in(page, served, "/sync")
    page.get_by_label("iPaaS.com Customer ID").fill("70003")
    page.get_by_role("button", name="Sync now").click()
    profile_id = page.locator("[data-profile-id]").inner_text()

    page.get_by_role("link", name="Links").click()
    for by, query in (
        ("Customer id", "70003"),
        ("Email", "c70003@example.com"),
        ("Klaviyo profile id", profile_id),
    ):
        page.get_by_label("Search by").select_option(label=by)
        page.get_by_label("Search for").fill(query)
        page.get_by_role("button", name="Search").click()
        row = page.locator("table.links tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("70003")
        expect(row).to_contain_text(profile_id)
        expect(row).to_contain_text("created by a sync")
        if by == "Email":
            expect(page.get_by_text("Klaviyo profiles with this email")).to_contain_text(profile_id)
            shoot(page, "links-by-email-desktop")


PAGES = {
    "overview": "/",
    "overview-14d": "/?range=14d",
    "error-logs": "/failures",
    "failure": "/failures/{failure}",
    "manual-sync": "/sync",
    "links": "/links",
    "runs": "/runs",
    "run": "/runs/{run}",
}


def test_every_page_works_at_phone_width_by_keyboard_with_labels(
    served: Served, browser: BrowserContext, shoot: Shoot
) -> None:
    failure_id = failed_transfer(served, "70009")
    run_id = served.api("/api/runs?limit=1")[0]["id"]
    page = browser.new_page()
    sign_in(page, served)

    for name, path in PAGES.items():
        url = served.base_url + path.format(failure=failure_id, run=run_id)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(url)
        assert page.title().endswith("klaviyo-sync"), name
        assert unlabelled_controls(page) == [], name
        shoot(page, f"{name}-desktop")
        page.set_viewport_size(PHONE)
        page.goto(url)
        assert not page_overflows(page), f"{name} scrolls sideways at phone width"
        shoot(page, f"{name}-phone")

    # The first Tab reaches the skip link, which is shown when focused and moves focus to main.
    page.goto(served.base_url + "/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None
    assert box["y"] >= 0, "shown on screen while focused"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused element shows where focus is"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    # Then on through the navigation, by keyboard alone, to the Error Logs.
    page.goto(served.base_url + "/")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.textContent.trim()") == "Error Logs":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Error Logs")
