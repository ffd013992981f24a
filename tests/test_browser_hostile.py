"""In Chromium: the CSP lets the widget work and blocks nothing of ours; an expired CSRF token is
refreshed and the callback sent again; a callback that still fails is reported in the console."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conftest import link_in_widget
from flask_wink import get_state

pytestmark = pytest.mark.browser


def callbacks(app, name):
    with app.app_context():
        found = get_state().store.list_events(kind="callback", limit=500)
    return [e.payload for e in found if e.name == name]


def test_the_widget_links_under_the_csp_without_violations(page, quickstart_server):
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(quickstart_server.url)
    page.get_by_role("button", name="Link an account").click()
    dialog = page.get_by_role("dialog", name="Smile Wink")
    link_in_widget(dialog, "SSS", code=None)
    expect(dialog.get_by_role("heading", name="Account connected")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(page.locator('#events tr[data-name="onClose"]')).to_have_count(1)
    assert not [m for m in messages if "Content Security Policy" in m], messages


def test_an_expired_csrf_token_is_refreshed_and_the_callback_resent(page, quickstart_server):
    page.goto(quickstart_server.url)
    page.evaluate("window.FlaskWink.config.csrfToken = 'expired-token'")
    page.evaluate("window.FlaskWink.record('onClose', {reason: 'resent'})")
    expect(page.locator('#events tr[data-name="onClose"]')).to_have_count(1)
    assert callbacks(quickstart_server.app, "onClose") == [{"reason": "resent"}]
    assert page.evaluate("window.FlaskWink.config.csrfToken") != "expired-token"


def test_a_callback_that_still_fails_is_reported_in_the_console(page, quickstart_server):
    page.goto(quickstart_server.url)
    page.route("**/wink/csrf", lambda route: route.fulfill(status=200, json={"csrfToken": "still-bad"}))
    page.evaluate("window.FlaskWink.config.csrfToken = 'expired-token'")
    with page.expect_console_message(lambda m: m.type == "error" and "onClose" in m.text) as reported:
        # record() returns the queue's promise: evaluate waits for the post and its resend.
        page.evaluate("window.FlaskWink.record('onClose', {reason: 'lost'})")
    assert "flask-wink: the callback onClose was not recorded" in reported.value.text
    assert "CSRF" in reported.value.text
    assert callbacks(quickstart_server.app, "onClose") == []
