"""The whole flow in a real browser: Debian's Chromium driven by Playwright, against the quickstart."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from conftest import QUICKSTART_WEBHOOK_SECRET, link_in_widget  # noqa: E402
from flask_wink import get_state, signals
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook

pytestmark = pytest.mark.browser



@pytest.fixture
def quickstart(quickstart_server):
    return quickstart_server



def event_row(page, name):
    return page.locator(f'#events tr[data-name="{name}"]')


def stored(app, **filters):
    with app.app_context():
        return get_state().store.list_events(limit=500, **filters)


def link_george(page, provider="Upwork", password="123456"):
    page.get_by_role("button", name="Link an account").click()
    dialog = page.get_by_role("dialog", name="Smile Wink")
    link_in_widget(dialog, provider, password=password, code=None)
    return dialog


@pytest.mark.parametrize("sdk, query", [(2, ""), (1, "?sdk=1")])
def test_link_george_with_verification_code(page, quickstart, sdk, query):
    page.goto(quickstart.url + "/" + query)
    expect(page.get_by_text(f"Widget SDK v{sdk}")).to_be_visible()
    dialog = link_george(page)
    dialog.get_by_label("Verification code").fill("1234")
    dialog.get_by_role("button", name="Continue").click()
    expect(dialog.get_by_role("heading", name="Account connected")).to_be_visible()
    expect(dialog.get_by_text(f"SDK v{sdk}")).to_be_visible()
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_have_count(0)

    # The page shows the callbacks and the verified webhook as they arrive.
    for name in ("onAccountCreated", "onAccountConnected", "onClose", "ACCOUNT_CONNECTED"):
        expect(event_row(page, name)).to_have_count(1)
    expect(page.locator("#accounts")).to_contain_text("connected")

    callbacks = {e.name: e for e in stored(quickstart.app, kind="callback")}
    connected = callbacks["onAccountConnected"].payload
    assert connected["providerId"] == "upwork"
    assert connected["userId"] == callbacks["onAccountCreated"].payload["userId"]
    assert callbacks["onClose"].payload == {"reason": "exit"}
    webhooks = [e for e in stored(quickstart.app, kind="webhook") if e.name == "ACCOUNT_CONNECTED"]
    assert len(webhooks) == 1
    assert webhooks[0].payload["data"]["accountId"] == connected["accountId"]
    assert webhooks[0].payload["data"]["loginName"] == "George"
    with quickstart.app.app_context():
        assert get_state().store.account("smile_wink", connected["accountId"]).status == "CONNECTED"


def test_wrong_password_fires_on_account_error(page, quickstart):
    page.goto(quickstart.url)
    dialog = link_george(page, password="wrong")
    expect(dialog.get_by_role("alert")).to_contain_text("INVALID_CREDENTIALS")
    expect(event_row(page, "onAccountError")).to_have_count(1)
    expect(event_row(page, "ACCOUNT_FAILED")).to_have_count(1)
    dialog.get_by_role("button", name="Close").click()
    expect(event_row(page, "onClose")).to_have_count(1)
    callbacks = {e.name: e.payload for e in stored(quickstart.app, kind="callback")}
    assert callbacks["onAccountError"]["errorCode"] == "INVALID_CREDENTIALS"
    assert callbacks["onClose"] == {"reason": "error"}


def test_provider_without_mfa_connects_straight_away(page, quickstart):
    page.goto(quickstart.url)
    dialog = link_george(page, provider="SSS")
    expect(dialog.get_by_role("heading", name="Account connected")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(event_row(page, "ACCOUNT_CONNECTED")).to_have_count(1)
    expect(event_row(page, "onClose")).to_have_count(1)  # the webhook may be shown before onClose is stored
    callbacks = {e.name: e.payload for e in stored(quickstart.app, kind="callback")}
    assert callbacks["onClose"] == {"reason": "close"}


def test_expired_token_is_replaced_and_the_widget_reopens(page, quickstart):
    sandbox = quickstart.sandbox
    real_ttl = sandbox.token_ttl
    sandbox.token_ttl = type(real_ttl)(seconds=-1)  # the next token is born expired

    def restore(app, **kw):
        sandbox.token_ttl = real_ttl

    signals.token_minted.connect(restore)
    try:
        page.goto(quickstart.url)
        page.get_by_role("button", name="Link an account").click()
        dialog = page.get_by_role("dialog", name="Smile Wink")
        expect(dialog.get_by_role("button", name="Agree")).to_be_visible()
    finally:
        signals.token_minted.disconnect(restore)
    expect(event_row(page, "onTokenExpired")).to_have_count(1)


def test_forged_and_replayed_webhooks(page, quickstart):
    event = make_event("ACCOUNT_CONNECTED", {"userId": "tenant-x", "accountId": "a-x",
                                             "loginName": "George", "providers": ["grab"]})
    body, headers = signed_webhook(event, QUICKSTART_WEBHOOK_SECRET)
    forged_body, forged_headers = signed_webhook(event, "guessed-secret")
    url = quickstart.url + "/wink/webhooks"
    assert httpx.post(url, content=forged_body, headers=forged_headers).status_code == 401
    assert httpx.post(url, content=body, headers=headers).json()["status"] == "stored"
    replay = httpx.post(url, content=body, headers=headers)
    assert (replay.status_code, replay.json()["status"]) == (200, "duplicate")
    assert [e.event_id for e in stored(quickstart.app, kind="webhook", upstream_user_id="tenant-x")] \
        == [event["id"]]


def test_plain_html_frontend_links_through_create_link_token(page, quickstart):
    page.goto(quickstart.url + "/frontend/")
    page.get_by_role("button", name="Link an account").click()
    dialog = page.get_by_role("dialog", name="Smile Wink")
    link_in_widget(dialog, "Grab")
    expect(dialog.get_by_role("heading", name="Account connected")).to_be_visible()
    expect(page.get_by_role("log")).to_contain_text(re.compile(r"onAccountConnected .*grab"))


def test_disconnecting_in_the_widget_fires_on_account_removed(page, quickstart):
    page.goto(quickstart.url)
    dialog = link_george(page, provider="SSS")
    dialog.get_by_role("button", name="Done").click()
    page.get_by_role("button", name="Link an account").click()
    dialog.get_by_role("button", name="Agree").click()
    dialog.get_by_role("button", name="Disconnect SSS").click()
    expect(event_row(page, "onAccountRemoved")).to_have_count(1)
    expect(event_row(page, "ACCOUNT_DISCONNECTED")).to_have_count(1)
    expect(page.locator("#accounts")).to_contain_text("disconnected")
