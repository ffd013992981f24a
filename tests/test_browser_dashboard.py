"""The quickstart dashboard in a real browser (Debian's Chromium through Playwright): the timeline's
summaries, a webhook appearing live without a reload, no page scrolling sideways on a 390 px phone,
and destructive buttons that ask before they act."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from conftest import QUICKSTART_WEBHOOK_SECRET, link_in_widget
from flask_wink import get_state
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def row(page, name):
    return page.locator(f'#events tr[data-name="{name}"]')


def link(page, provider="SSS", code=None):
    page.get_by_role("button", name="Link an account").click()
    dialog = page.get_by_role("dialog", name="Smile Wink")
    link_in_widget(dialog, provider, code=code)
    expect(dialog.get_by_role("heading", name="Account connected")).to_be_visible()
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_have_count(0)


def settled(quickstart):
    assert quickstart.sandbox.dispatcher.wait_idle(15)
    with quickstart.app.app_context():
        assert get_state().wait_for_handlers(15)


def smile_accounts(quickstart):
    with quickstart.app.app_context():
        return {a.account_id: a.status for a in get_state().store.list_accounts(provider="smile_wink")}


def test_the_timeline_tells_the_link_in_summaries_with_one_row_for_the_data(page, quickstart_server):
    page.goto(quickstart_server.url)
    page.get_by_role("button", name="Link an account").click()
    dialog = page.get_by_role("dialog", name="Smile Wink")
    link_in_widget(dialog, "Upwork")  # with the verification code
    dialog.get_by_role("button", name="Done").click()

    events = page.locator("#events")
    expect(events).to_contain_text("Logged in to Upwork — verification code requested")
    expect(row(page, "onUIEvent").filter(has_text="verification code requested")).to_have_attribute(
        "data-detail", "MFA_REQUIRED")
    expect(events).to_contain_text("Upwork account connected")
    expect(events).to_contain_text("Webhook ACCOUNT_CONNECTED verified — George's Upwork account connected")
    # The data webhooks of the link's task are one row, once the task has finished.
    folded = row(page, "data-fetch")
    expect(folded).to_have_count(1)
    expect(folded).to_contain_text("Data fetched from Upwork: 1 identity")
    for name in ("TASK_STARTED", "IDENTITY_ADDED", "EMPLOYMENTS_ADDED", "TASK_FINISHED"):
        expect(row(page, name)).to_have_count(0)
    # Each row has its time and its payload, pretty-printed behind a disclosure.
    connected = row(page, "ACCOUNT_CONNECTED")
    expect(connected.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    payload = connected.locator("details pre")
    expect(payload).to_be_hidden()
    connected.locator("details summary").click()
    expect(payload).to_contain_text('"loginName": "George"')
    # Where things stand, at the top.
    expect(page.locator('#accounts li[data-status="CONNECTED"]')).to_contain_text("Upwork")

    # The filters narrow the timeline.
    page.get_by_label("Kind").select_option("callback")
    expect(page).to_have_url(re.compile(r"kind=callback"))
    expect(row(page, "ACCOUNT_CONNECTED")).to_have_count(0)
    expect(row(page, "onAccountConnected")).to_have_count(1)
    page.get_by_label("Provider").select_option("ucw")
    expect(page.locator("#events tr.empty")).to_have_count(1)


def test_a_new_webhook_shows_up_live_without_a_reload(page, quickstart_server):
    page.goto(quickstart_server.url)
    user = page.locator("#app-user").get_attribute("data-user")
    with quickstart_server.app.app_context():
        get_state().store.link_user("smile_wink", user, "smile-live-1")
    page.evaluate("window.notReloaded = true")
    expect(row(page, "ACCOUNT_CONNECTED")).to_have_count(0)

    event = make_event("ACCOUNT_CONNECTED", {"userId": "smile-live-1", "accountId": "acc-live-1",
                                             "loginName": "Ann", "providers": ["grab"]})
    body, headers = signed_webhook(event, QUICKSTART_WEBHOOK_SECRET)
    sent = httpx.post(quickstart_server.url + "/wink/webhooks", content=body, headers=headers)
    assert sent.status_code == 200

    expect(row(page, "ACCOUNT_CONNECTED")).to_contain_text(
        "Webhook ACCOUNT_CONNECTED verified — Ann's Grab account connected")
    expect(page.locator('#accounts li[data-account="acc-live-1"]')).to_contain_text("connected")
    assert page.evaluate("window.notReloaded") is True


def test_revoke_asks_first_and_does_nothing_when_dismissed(page, quickstart_server):
    page.goto(quickstart_server.url)
    link(page)
    settled(quickstart_server)
    [account_id] = smile_accounts(quickstart_server)
    page.goto(quickstart_server.url + "/accounts")
    revoke = page.locator(f'tr[data-account="{account_id}"]').get_by_role("button", name="Revoke")

    revoke.click()
    confirm = page.get_by_role("dialog", name="Are you sure?")
    expect(confirm).to_contain_text("Revoke this SSS account?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(page).to_have_url(quickstart_server.url + "/accounts")
    settled(quickstart_server)
    assert smile_accounts(quickstart_server) == {account_id: "CONNECTED"}
    assert quickstart_server.sandbox.accounts[account_id]["connectionStatus"] == "CONNECTED"

    revoke.click()
    confirm.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_contain_text("Revoked account")
    assert smile_accounts(quickstart_server) == {account_id: "DISCONNECTED"}
    assert quickstart_server.sandbox.accounts[account_id]["connectionStatus"] == "DISCONNECTED"


def test_no_page_scrolls_sideways_on_a_phone(page, quickstart_server):
    page.set_viewport_size(PHONE)
    page.goto(quickstart_server.url)
    link(page, "Upwork", code="1234")
    settled(quickstart_server)
    # An invite template, so its edit page has something to show.
    page.goto(quickstart_server.url + "/invites")
    page.get_by_label("Template name", exact=True).fill("Welcome")
    page.get_by_label("Company name", exact=True).fill("XYZ Bank")
    page.get_by_label("Logo URL", exact=True).fill("https://xyz.example/logo.png")
    page.get_by_label("Sender name", exact=True).fill("XYZ Bank")
    page.get_by_label("Reply-to address", exact=True).fill("replies@xyz.example")
    page.get_by_role("button", name="Create template").click()
    expect(page.get_by_role("status")).to_contain_text("Created invite template Welcome")
    edit = page.get_by_role("link", name="Edit Welcome").get_attribute("href")

    pages = ["/", "/?user=*", "/accounts", "/data", "/archives", "/invites", edit, "/bank", "/smile-id/links",
             "/privacy", "/frontend/", "/wink/ucw/link", "/wink/smile_id/link",
             "/wink/smile_id/return?status=success"]
    for path in pages:
        page.goto(quickstart_server.url + path)
        page.wait_for_load_state("load")
        if path.startswith("/?") or path == "/":
            expect(page.locator("#events tr").first).to_be_visible()
            for details in page.locator("#events details").all()[:6]:
                details.locator("summary").click()  # open payloads must not widen the page either
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
