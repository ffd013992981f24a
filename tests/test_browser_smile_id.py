"""Smile ID in a real browser: Debian's Chromium driven by Playwright, against the quickstart and its
Smile ID emulator over loopback. A person clicks "Verify your identity", fills the hosted page and
comes back; the status is what Smile ID's job_status confirms after its signed callback."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from flask_wink import get_state

pytestmark = pytest.mark.browser


@pytest.fixture
def quickstart(quickstart_server):
    emulator = quickstart_server.app.config["QUICKSTART_SMILE_ID_SANDBOX"].extensions["smile_id_sandbox"]
    emulator.review_delay = 1.0
    quickstart_server.emulator = emulator
    yield quickstart_server
    emulator.close()


def stored(app, **filters):
    """The stored events, newest first (without the job_status records made for callbacks)."""
    with app.app_context():
        found = get_state().store.list_events(provider="smile_id", limit=100, **filters)
    return [e for e in found if e.name != "job_status"]


def open_hosted_page(page, quickstart):
    page.goto(quickstart.url)
    page.get_by_role("button", name="Verify your identity").click()
    heading = page.get_by_role("heading", name="Verify your identity with flask-wink quickstart")
    expect(heading).to_be_visible()
    privacy = page.get_by_role("link", name="privacy policy")
    expect(privacy).to_have_attribute("href", quickstart.url + "/privacy")
    return page.url


def submit(page, id_number, id_type="NG BVN (enhanced kyc)"):
    page.get_by_label(id_type).check()
    page.get_by_label("ID number").fill(id_number)
    page.get_by_label("Take the selfie or document photo (simulated)").check()
    page.get_by_role("button", name="Submit").click()


def back_on_the_dashboard(page, quickstart, status):
    expect(page.get_by_role("status")).to_have_text(status)
    # Once the signed result is in, the page no longer says it is waiting for it.
    expect(page.locator("#received")).to_have_text(re.compile(r"signed result has arrived"))
    page.get_by_role("link", name="Back to the app").click()
    expect(page.locator("#smile-id-status")).to_have_text(status)


@pytest.mark.parametrize("id_number, status, codes", [
    ("A1234560", "approved", ["1012"]),
    ("A1234561", "rejected", ["1013"]),
    ("A1234562", "approved", ["0814", "1012"]),
])
def test_a_verification_ends_with_its_signed_callbacks_status(page, quickstart, id_number, status, codes):
    open_hosted_page(page, quickstart)
    submit(page, id_number)
    expect(page).to_have_url(re.compile(r"/wink/smile-id/return\?status=success&user_id=wink-"))
    expect(page.get_by_text("Received (success)")).to_be_visible()
    back_on_the_dashboard(page, quickstart, status)
    row = page.locator("#smile-id-history tr").first
    expect(row).to_have_attribute("data-status", status)
    expect(row).to_contain_text("success")
    for code in codes:
        expect(row).to_contain_text(code)
    assert quickstart.emulator.wait_for_callbacks()
    redirects = [e for e in stored(quickstart.app, kind="callback") if e.name == "redirected"]
    assert [e.payload["status"] for e in redirects] == ["success"]
    results = stored(quickstart.app, kind="webhook")
    assert sorted(e.payload["ResultCode"] for e in results) == sorted(codes)  # each stored once
    assert len({e.event_id for e in results}) == len(codes)
    with quickstart.app.app_context():
        job_id = results[0].payload["PartnerParams"]["job_id"]
        assert get_state().store.account("smile_id", job_id).status == status


def test_provisional_then_final_shows_both_results(page, quickstart):
    open_hosted_page(page, quickstart)
    submit(page, "B7654323", id_type="KE NATIONAL_ID (biometric kyc)")
    back_on_the_dashboard(page, quickstart, "rejected")
    row = page.locator("#smile-id-history tr").first
    expect(row).to_contain_text("0814 Under Review (interim)")
    expect(row).to_contain_text("1022 No Match (final)")
    names = sorted(e.name for e in stored(quickstart.app, kind="webhook"))
    assert names == ["final_result", "interim_result"]


def test_a_cancelled_verification(page, quickstart):
    open_hosted_page(page, quickstart)
    page.get_by_role("button", name="Cancel").click()
    expect(page).to_have_url(re.compile(r"status=cancelled"))
    # Smile ID sends no result for a cancel: the page says so instead of waiting for one.
    said = re.compile(r"Received \(cancelled\): Smile ID sends no result")
    expect(page.locator("#received")).to_have_text(said)
    expect(page.get_by_role("status")).to_have_text("pending")
    page.get_by_role("link", name="Back to the app").click()
    expect(page.locator("#smile-id-status")).to_have_text("pending")
    assert quickstart.emulator.wait_for_callbacks()
    assert stored(quickstart.app, kind="webhook") == [] and quickstart.emulator.deliveries == []
    redirects = [e for e in stored(quickstart.app, kind="callback") if e.name == "redirected"]
    assert [e.payload["status"] for e in redirects] == ["cancelled"]


def test_a_used_link_and_a_disabled_link_are_refused(page, quickstart):
    used = open_hosted_page(page, quickstart)
    submit(page, "C1234560")
    expect(page.get_by_role("status")).to_have_text("approved")
    page.goto(used)
    expect(page.get_by_role("alert")).to_have_text("This link has already been used.")

    second = open_hosted_page(page, quickstart)
    page.goto(quickstart.url + "/smile-id/links")
    ref_id = second.rsplit("/", 1)[1]
    row = page.locator(f'tr[data-ref="{ref_id}"]')
    expect(row).to_contain_text("active")
    row.get_by_role("button", name=re.compile("^Disable")).click()
    # Disabling asks first, in a dialog naming the link.
    confirm = page.get_by_role("dialog", name="Are you sure?")
    expect(confirm).to_contain_text("Disable the link")
    confirm.get_by_role("button", name="Disable").click()
    expect(page.get_by_text(f"Disabled {ref_id}.")).to_be_visible()
    expect(page.locator(f'tr[data-ref="{ref_id}"]')).to_contain_text("disabled")
    # The first link's counters: one job, one successful.
    counts = page.locator(f'tr[data-ref="{used.rsplit("/", 1)[1]}"] td.count')
    expect(counts).to_have_text(["1", "1", "0"])
    page.goto(second)
    expect(page.get_by_role("alert")).to_have_text("This link has been disabled.")
