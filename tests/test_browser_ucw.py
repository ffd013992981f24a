"""UCW in a real browser (Debian's Chromium through Playwright): the quickstart's "Link a bank
account" against the emulator (v2 and v1), a wrong password, the second-factor bank, refresh, and
the link page ignoring messages from other origins or other frames."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conftest import free_port_url
from flask_wink import get_state
from flask_wink.providers.ucw import CONNECTED, connection_key
from flask_wink.providers.ucw.testing import run_ucw_sandbox
from flask_wink.testing import serve
from ucw_host import make_ucw_app

pytestmark = pytest.mark.browser


def quickstart_with(tmp_path, **env):
    from quickstart.app import create_app
    from quickstart.settings import load_settings

    port = int(free_port_url().rsplit(":", 1)[1])
    settings = load_settings({"APP_PORT": str(port), "WEBHOOK_SECRET": "s",
                              "DATABASE_URL": f"sqlite:///{tmp_path / 'wink.sqlite3'}", **env},
                             env_file=tmp_path / "none.env")
    app = create_app(settings, instance_path=tmp_path / "instance")
    return app, port


@pytest.fixture(params=["v2", "v1"])
def quickstart(request, tmp_path):
    app, port = quickstart_with(tmp_path, UCW_API_VERSION=request.param)
    with serve(app, port=port) as served:
        served.version = request.param
        yield served
        app.config["QUICKSTART_SANDBOX"].extensions["wink_sandbox"].dispatcher.close()


def pick_bank(widget, search, bank):
    widget.get_by_placeholder("Search").fill(search)
    widget.get_by_role("button", name=f"Add account with {bank}").click()


def log_in(widget, username, password):
    widget.get_by_label("Username").fill(username)
    widget.get_by_label("Password").fill(password)
    widget.get_by_role("button", name="Continue").click()


def browser_events(app):
    with app.app_context():
        state = get_state()
        state.wait_for_handlers(30)
        return state.store.list_events(provider="ucw", limit=500)


def test_link_mx_bank_and_see_its_accounts(page, quickstart):
    page.goto(quickstart.url)
    page.get_by_role("button", name="Link a bank account").click()
    widget = page.frame_locator("#ucw-frame")
    pick_bank(widget, "MX", "MX Bank")
    log_in(widget, "mxuser", "correct")
    expect(page.get_by_role("status")).to_contain_text("connected and confirmed")
    expect(page.locator("#ucw-frame")).to_have_count(0)

    events = browser_events(quickstart.app)
    names = [e.name for e in reversed(events)]
    for name in ("connect/loaded", "connect/institutionSearch", "connect/selectedInstitution",
                 "connect/enterCredentials", "connect/stepChange", "connect/memberStatusUpdate",
                 "connect/memberConnected"):
        assert name in names
    connected = next(e for e in events if e.name == "connect/memberConnected").payload
    if quickstart.version == "v2":
        assert set(connected) == {"ucpInstitutionId", "aggregator", "connectionId", "aggregatorUserId"}
        connection_id = connected["connectionId"]
    else:
        assert set(connected) == {"aggregator", "member_guid"}
        connection_id = connected["member_guid"]
    with quickstart.app.app_context():
        account = get_state().store.account("ucw", connection_key("mx", connection_id))
    assert account["status"] == CONNECTED and account["institutionId"] == "mx_bank"

    page.get_by_role("link", name="Back").click()
    expect(page.locator("#accounts")).to_contain_text(CONNECTED)
    page.get_by_role("link", name="Your bank").click()
    section = page.get_by_role("region", name="MX Bank")
    expect(section.get_by_text("Status: CONNECTED")).to_be_visible()
    expect(section.locator("tr[data-account]")).to_have_count(2)
    expect(section).to_contain_text("1000.23")
    expect(section.locator("tr[data-transaction]").first).to_be_visible()
    assert connection_id not in page.content()


def test_wrong_password_ends_in_error_events_and_no_connection(page, quickstart_server):
    page.goto(quickstart_server.url + "/wink/ucw/link")
    widget = page.frame_locator("#ucw-frame")
    pick_bank(widget, "Sophtron", "Sophtron Bank NoMFA")
    log_in(widget, "asdf", "wrong")
    expect(page.get_by_role("status")).to_contain_text("The connection failed")
    events = browser_events(quickstart_server.app)
    error = next(e for e in events if e.name == "connect/memberError")
    assert error.payload["connectionStatus"] == 2
    assert not any(e.name == "connect/memberConnected" for e in events)
    with quickstart_server.app.app_context():
        assert get_state().store.list_accounts(provider="ucw") == []


def test_the_second_factor_bank_then_refresh_skips_search(page, quickstart_server):
    page.goto(quickstart_server.url + "/bank")
    expect(page.get_by_text("verification code 654321")).to_be_visible()
    page.get_by_role("link", name="Link a bank account").click()
    widget = page.frame_locator("#ucw-frame")
    pick_bank(widget, "Sophtron", "Sophtron Bank MFA")
    log_in(widget, "asdf", "asdf")
    widget.get_by_label("Verification code").fill("654321")
    widget.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("status")).to_contain_text("connected and confirmed")
    events = browser_events(quickstart_server.app)
    submitted = next(e for e in events if e.name == "connect/submitMFA").payload
    assert set(submitted) == {"member_guid"}

    page.get_by_role("link", name="Back").click()
    section = page.get_by_role("region", name="Sophtron Bank MFA")
    expect(section.get_by_text("Status: CONNECTED")).to_be_visible()
    section.get_by_role("link", name="Refresh").click()
    widget = page.frame_locator("#ucw-frame")
    expect(widget.get_by_label("Username")).to_be_visible()
    expect(widget.get_by_placeholder("Search")).to_have_count(0)
    expect(widget.get_by_role("button", name="Back")).to_have_count(0)
    log_in(widget, "asdf", "asdf")
    widget.get_by_label("Verification code").fill("654321")
    widget.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("status")).to_contain_text("connected and confirmed")
    loaded = [e for e in browser_events(quickstart_server.app) if e.name == "connect/loaded"]
    assert loaded[0].payload == {"initial_step": "enterCreds"}  # the newest: the refresh
    connected = [e for e in browser_events(quickstart_server.app) if e.name == "connect/memberConnected"]
    assert len({e.payload["connectionId"] for e in connected}) == 1 and len(connected) == 2


def test_messages_from_another_origin_or_frame_are_ignored(page, tmp_path):
    with run_ucw_sandbox() as ucw, run_ucw_sandbox() as stranger:
        app = make_ucw_app(ucw.url, tmp_path)
        with serve(app) as host:
            page.context.add_cookies([{"name": "user", "value": "ada", "url": host.url}])
            page.goto(host.url + "/wink/ucw/link")
            widget = page.frame_locator("#ucw-frame")
            expect(widget.get_by_placeholder("Search")).to_be_visible()
            forged = {"type": "connect/memberConnected",
                      "metadata": {"aggregator": "mx", "connectionId": "MBR-forged"}}
            # From the page itself (not the widget's frame), and from a frame of another origin.
            page.evaluate("m => window.postMessage(m, '*')", forged)
            page.evaluate("""([url, m]) => new Promise(done => {
                const f = document.createElement('iframe');
                f.src = url; f.id = 'stranger';
                f.onload = () => { done(); };
                document.body.appendChild(f);
            })""", [stranger.url + "/widget/static/widget.js", forged])
            stranger_frame = next(f for f in page.frames if f.url.startswith(stranger.url))
            stranger_frame.evaluate("m => window.parent.postMessage(m, '*')", forged)
            # The real widget's events still arrive: search is relayed.
            widget.get_by_placeholder("Search").fill("MX")
            expect(widget.get_by_role("button", name="Add account with MX Bank")).to_be_visible()
            with app.app_context():
                state = get_state()
                state.wait_for_handlers(30)
                names = [e.name for e in state.store.list_events(provider="ucw")]
                assert "connect/institutionSearch" in names or "connect/loaded" in names
                assert "connect/memberConnected" not in names
                assert state.store.list_accounts(provider="ucw") == []
            expect(page.locator("#ucw-frame")).to_have_count(1)
