"""The quickstart dashboard's "Send a test event" (sandbox mode only), in a real browser (Debian's
Chromium through Playwright): the event is sent by the code ``flask wink trigger`` runs, to the
quickstart's own URL, and the timeline shows it; in live mode the button is not there."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from flask_wink import get_state
from test_quickstart_modes import serve_live

pytestmark = pytest.mark.browser


def test_the_dashboard_button_sends_a_signed_event_that_the_timeline_shows(page, quickstart_server):
    page.goto(quickstart_server.url)
    user = page.locator("#app-user").get_attribute("data-user")
    panel = page.get_by_role("region", name="Send a test event")
    panel.get_by_label("Event").select_option("smile_wink:ACCOUNT_CONNECTED")
    panel.get_by_role("button", name="Send a test event").click()

    expect(panel.get_by_role("status")).to_have_text(
        "Sent ACCOUNT_CONNECTED (Smile Wink): the app answered HTTP 200.")
    expect(page.locator('#events tr[data-name="ACCOUNT_CONNECTED"]')).to_have_count(1)
    with quickstart_server.app.app_context():
        events = get_state().store.list_events(provider="smile_wink", kind="webhook", app_user_id=user)
    assert [e.name for e in events if e.name == "ACCOUNT_CONNECTED"] == ["ACCOUNT_CONNECTED"]


def test_the_dashboard_button_sends_a_smile_id_result_that_job_status_confirms(page, quickstart_server):
    page.goto(quickstart_server.url)
    panel = page.get_by_role("region", name="Send a test event")
    panel.get_by_label("Event").select_option("smile_id:result.approved")
    panel.get_by_role("button", name="Send a test event").click()

    expect(panel.get_by_role("status")).to_contain_text(
        "Sent result.approved (Smile ID): the app answered HTTP 200.")
    expect(panel.get_by_label("Event")).to_have_value("smile_id:result.approved")  # ready to send again
    expect(page.locator("#smile-id-status")).to_have_text("approved", timeout=15000)


def test_the_test_event_form_without_its_csrf_token_sends_nothing(quickstart_server):
    with httpx.Client(base_url=quickstart_server.url) as browser:
        refused = browser.post("/test-event", data={"event": "smile_wink:ACCOUNT_CONNECTED"})
    with quickstart_server.app.app_context():
        stored = get_state().store.list_events(kind="webhook")

    assert refused.status_code == 400
    assert "CSRF" in refused.json()["message"]
    assert stored == []


def test_live_mode_has_no_test_event_button_nor_route(sandbox, quickstart_app):
    with serve_live(quickstart_app, sandbox) as live, httpx.Client(base_url=live.url) as browser:
        dashboard = browser.get("/")
        posted = browser.post("/test-event", data={"event": "smile_wink:ACCOUNT_CONNECTED"})

    assert dashboard.status_code == 200
    assert "Send a test event" not in dashboard.text
    assert posted.status_code == 404


def test_an_event_that_names_no_user_is_sent_and_said_to_be_under_all_users(quickstart_server):
    with httpx.Client(base_url=quickstart_server.url) as browser:
        page = browser.get("/").text
        token = re.search(r'id="test-event".*?name="csrf_token" value="([^"]+)"', page, re.S).group(1)
        form = {"event": "smile_wink:USER_SESSION_RESET", "csrf_token": token}
        sent = browser.post("/test-event", data=form)
        shown = browser.get(sent.headers["Location"]).text

    assert sent.status_code == 303
    assert ("Sent USER_SESSION_RESET (Smile Wink): the app answered HTTP 200. It names no user of this "
            "app, so the timeline shows it under All users.") in shown
