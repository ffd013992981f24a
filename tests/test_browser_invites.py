"""An invitation end to end in a browser: quickstart /invites -> sandbox outbox -> landing page -> widget."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import expect

from conftest import link_in_widget

pytestmark = pytest.mark.browser





@pytest.fixture
def quickstart(quickstart_server):
    return quickstart_server



def webhooks_named(url: str, name: str) -> list[dict]:
    events = httpx.get(url + "/wink/events", params={"kind": "webhook", "limit": 500}).json()["events"]
    return [e for e in events if e["name"] == name]


def wait_for_webhook(url: str, name: str, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = webhooks_named(url, name)
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {name} webhook was recorded within {timeout} s")


def test_invite_from_the_quickstart_to_a_linked_account(page, quickstart):
    page.goto(quickstart.url + "/")
    page.get_by_role("link", name="Invitations").click()
    expect(page.get_by_role("heading", name="Invitations")).to_be_visible()

    # A template, made with the page's form (the texts keep their defaults).
    page.get_by_label("Template name", exact=True).fill("Welcome")
    page.get_by_label("Company name", exact=True).fill("XYZ Bank")
    page.get_by_label("Logo URL", exact=True).fill("https://xyzbank.example/logo.png")
    page.get_by_label("Sender name", exact=True).fill("XYZ Bank")
    page.get_by_label("Reply-to address", exact=True).fill("replies@xyzbank.example")
    page.get_by_role("button", name="Create template").click()
    expect(page.get_by_role("status")).to_contain_text("Created invite template Welcome")

    page.get_by_label("Email", exact=True).fill("ann@example.com")
    page.get_by_label("Full name", exact=True).fill("Ann Lee")
    page.get_by_label("Invite template", exact=True).select_option(label="Welcome (XYZ Bank)")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text("Invited ann@example.com")
    row = page.locator("#invites tr", has_text="ann@example.com")
    expect(row.locator(".status")).to_have_text("INVITED")

    # What Ann receives, with ${fullName} and ${companyName} filled in.
    page.get_by_role("link", name="Sandbox outbox").click()
    message = page.get_by_role("article", name="Message to ann@example.com")
    expect(message).to_contain_text("Hello Ann Lee, XYZ Bank works with Smile API")
    expect(message.get_by_role("heading")).to_have_text("XYZ Bank invites you to share your work data")
    message.get_by_role("link", name="Open invitation").click()

    # The landing page opens the widget for Ann's Smile user.
    expect(page.get_by_role("heading", name="Share your employment and income data with XYZ Bank")) \
        .to_be_attached()
    dialog = page.get_by_role("dialog", name="Smile Wink")
    link_in_widget(dialog)
    expect(dialog.get_by_role("heading", name="Account connected")).to_be_visible()
    dialog.get_by_role("button", name="Done").click()
    expect(page.get_by_role("heading", name="Thank you for sharing your data with XYZ Bank")).to_be_visible()

    # The quickstart received and recorded INVITE_LINKED, signed by the sandbox.
    linked = wait_for_webhook(quickstart.url, "INVITE_LINKED")
    invited = webhooks_named(quickstart.url, "INVITE_INVITED")
    assert len(linked) == 1 and len(invited) == 1
    assert linked[0]["payload"]["data"] == invited[0]["payload"]["data"]
    invite_id = linked[0]["payload"]["data"]["inviteId"]

    page.goto(quickstart.url + "/invites")
    row = page.locator(f'#invites tr[data-invite-id="{invite_id}"]')
    expect(row.locator(".status")).to_have_text("LINKED")
