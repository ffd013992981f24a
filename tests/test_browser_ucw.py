"""UCW in a real browser (Debian's Chromium through Playwright): the quickstart's "Link a bank
account" against the emulator (v2 and v1), a wrong password, the second-factor bank, refresh, and
the link page ignoring messages from other origins or other frames."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from conftest import free_port_url
from flask_wink import get_state
from flask_wink.providers.ucw import CONNECTED, connection_key, connections
from flask_wink.providers.ucw.errors import UcwNotFound
from flask_wink.providers.ucw.testing import run_ucw_sandbox
from flask_wink.testing import serve
from ucw_host import DataApiDown, make_ucw_app

pytestmark = pytest.mark.browser


@pytest.fixture(params=["v2", "v1"])
def quickstart(request, quickstart_app):
    with quickstart_app.served(WEBHOOK_SECRET="s", UCW_API_VERSION=request.param) as served:
        served.version = request.param
        yield served


def pick_bank(widget, search, bank):
    widget.get_by_placeholder("Search").fill(search)
    widget.get_by_role("button", name=f"Add account with {bank}", exact=True).click()


def log_in(widget, username, password, label="Username"):
    widget.get_by_label(label).fill(username)
    widget.get_by_label("Password").fill(password)
    widget.get_by_role("button", name="Continue").click()


def raw_connection_id(app, key):
    """The connection id UCW made for a confirmed connection, from the one place it is kept."""
    with app.app_context():
        with get_state().store.begin() as conn:
            return conn.scalar(sa.select(connections.c.connection_id).where(connections.c.account_id == key))


def browser_events(app):
    with app.app_context():
        state = get_state()
        state.wait_for_handlers(30)
        return state.store.list_events(provider="ucw", limit=500)


def relayed_events(app, *names, timeout=15.0):
    """The stored events once each of ``names`` is among them: the page relays each message with
    a fetch of its own, which may land after what the widget shows."""
    deadline = time.monotonic() + timeout
    while True:
        events = browser_events(app)
        if set(names) <= {e.name for e in events} or time.monotonic() > deadline:
            return events
        time.sleep(0.05)


def test_link_mx_bank_and_see_its_accounts(page, quickstart):
    page.goto(quickstart.url)
    page.get_by_role("button", name="Link a bank account").click()
    widget = page.frame_locator("#ucw-frame")
    pick_bank(widget, "MX", "MX Bank")
    log_in(widget, "mxuser", "correct")
    expect(page.get_by_role("status")).to_contain_text("connected and confirmed")
    # The widget stays to its own end: its "Done" leads back to the dashboard (next=/).
    widget.get_by_role("button", name="Done").click()
    expect(page).to_have_url(quickstart.url + "/")

    events = browser_events(quickstart.app)
    names = [e.name for e in reversed(events)]
    for name in ("connect/loaded", "connect/institutionSearch", "connect/selectedInstitution",
                 "connect/enterCredentials", "connect/stepChange", "connect/memberStatusUpdate",
                 "connect/memberConnected"):
        assert name in names
    connected = next(e for e in events if e.name == "connect/memberConnected").payload
    # Stored with the connection's key in place of its id (kept only with the connection).
    if quickstart.version == "v2":
        assert set(connected) == {"ucpInstitutionId", "aggregator", "connectionId", "aggregatorUserId",
                                  "connection"}
    else:
        assert set(connected) == {"ucpInstitutionId", "aggregator", "member_guid", "user_guid", "connection"}
    connection_id = raw_connection_id(quickstart.app, connected["connection"])
    assert connected["connection"] == connection_key("mx", connection_id)
    assert connection_id not in str(connected)
    with quickstart.app.app_context():
        account = get_state().store.account("ucw", connected["connection"])
    assert account.status == CONNECTED and account.institution_id == "mxBank"

    expect(page.locator('#accounts [data-provider="ucw"]')).to_contain_text("MX Bank connected")
    page.get_by_role("link", name="Your bank").click()
    section = page.get_by_role("region", name="MX Bank")
    expect(section.locator(f'[data-status="{CONNECTED}"]')).to_have_text("Status: connected")
    expect(section.locator("tr[data-account]")).to_have_count(2)
    expect(section).to_contain_text("1,000.23")
    expect(section.locator("tr[data-transaction]").first).to_be_visible()
    assert connection_id not in page.content()


def test_wrong_password_ends_in_error_events_and_no_connection(page, quickstart_server):
    page.goto(quickstart_server.url + "/wink/ucw/link")
    widget = page.frame_locator("#ucw-frame")
    pick_bank(widget, "Sophtron", "Sophtron Bank NoMFA")
    log_in(widget, "asdf", "wrong", label="User ID")
    expect(page.get_by_role("status")).to_contain_text("The connection failed")
    events = relayed_events(quickstart_server.app, "connect/memberError")
    error = next(e for e in events if e.name == "connect/memberError")
    assert error.payload["member"]["connection_status"] == 2
    assert not any(e.name == "connect/memberConnected" for e in events)
    with quickstart_server.app.app_context():
        assert get_state().store.list_accounts(provider="ucw") == []
    # The widget's own "Try again" is still there, and a right password then connects.
    widget.get_by_role("button", name="Try again").click()
    log_in(widget, "asdf", "asdf", label="User ID")
    select_account(widget, "Primary Checking 1234")
    expect(page.get_by_role("status")).to_contain_text("connected and confirmed")
    with quickstart_server.app.app_context():
        assert [a.status for a in get_state().store.list_accounts(provider="ucw")] == [CONNECTED]


def test_back_to_search_and_removing_the_connection_in_the_widget_are_relayed(page, quickstart_server):
    page.goto(quickstart_server.url + "/wink/ucw/link")
    widget = page.frame_locator("#ucw-frame")
    pick_bank(widget, "Sophtron", "Sophtron Bank NoMFA")
    widget.get_by_role("button", name="Back").click()
    expect(widget.get_by_placeholder("Search")).to_be_visible()
    pick_bank(widget, "MX", "MX Bank")
    log_in(widget, "mxuser", "correct")
    expect(page.get_by_role("status")).to_contain_text("connected and confirmed")
    widget.get_by_role("button", name="Remove this connection").click()
    expect(widget.get_by_text("Connection removed")).to_be_visible()
    events = relayed_events(quickstart_server.app, "connect/backToSearch", "connect/memberDeleted")
    names = [e.name for e in events]
    back = next(e for e in events if e.name == "connect/backToSearch")
    assert back.payload == {}
    assert names.index("connect/backToSearch") > names.index("connect/memberConnected")  # newest first
    deleted = next(e for e in events if e.name == "connect/memberDeleted")
    connected = next(e for e in events if e.name == "connect/memberConnected")
    connection_id = raw_connection_id(quickstart_server.app, connected.payload["connection"])
    assert deleted.payload == {"member_guid": "…" + connection_id[-4:]}
    assert names.index("connect/memberDeleted") < names.index("connect/memberConnected")
    with quickstart_server.app.app_context():  # UCW no longer has the connection
        client = get_state().providers["ucw"].client
        with pytest.raises(UcwNotFound):
            client.accounts("mx", connected.upstream_user_id, connection_id)


def answer_sophtrons_questions(widget):
    """Sophtron Bank's second factor, as UCW's own test answers it: a captcha, a security
    question, where to send the token, the token."""
    widget.get_by_role("textbox", name="Please enter the Captcha code").fill("asdf")
    widget.get_by_role("button", name="Continue").click()
    widget.get_by_label("What is your favorite color?").fill("asdf")
    widget.get_by_role("button", name="Continue").click()
    widget.get_by_text("Text message 1 (•••) •••-0102").click()
    widget.get_by_role("button", name="Continue").click()
    widget.get_by_role("textbox", name="Please enter the Token").fill("asdf")
    widget.get_by_role("button", name="Continue").click()


def select_account(widget, account):
    """The account-select step Sophtron shows for account numbers (the quickstart asks for them)."""
    widget.get_by_text(account).click()
    widget.get_by_role("button", name="Continue").click()


def test_the_second_factor_bank_then_refresh_skips_search(page, quickstart_server):
    page.goto(quickstart_server.url + "/bank")
    expect(page.get_by_text("token asdf")).to_be_visible()
    page.get_by_role("link", name="Link a bank account").click()
    widget = page.frame_locator("#ucw-frame")
    pick_bank(widget, "Sophtron Bank", "Sophtron Bank")
    widget.get_by_label("User ID").fill("asdfg12X")
    widget.get_by_label("Password").fill("asdfg12X")
    widget.get_by_role("button", name="Continue").click()
    answer_sophtrons_questions(widget)
    select_account(widget, "Primary Checking 8765")
    expect(page.get_by_role("status")).to_contain_text("connected and confirmed")
    events = browser_events(quickstart_server.app)
    submitted = [e.payload for e in events if e.name == "connect/submitMFA"]
    assert len(submitted) == 5 and all(set(p) == {"member_guid"} for p in submitted)

    page.get_by_role("link", name="Continue").click()
    section = page.get_by_role("region", name="Sophtron Bank", exact=True)
    expect(section.locator(f'[data-status="{CONNECTED}"]')).to_have_text("Status: connected")
    section.get_by_role("link", name="Refresh").click()
    widget = page.frame_locator("#ucw-frame")
    expect(widget.get_by_label("User ID")).to_be_visible()
    expect(widget.get_by_placeholder("Search")).to_have_count(0)
    expect(widget.get_by_role("button", name="Back")).to_have_count(0)
    widget.get_by_label("User ID").fill("asdfg12X")
    widget.get_by_label("Password").fill("asdfg12X")
    widget.get_by_role("button", name="Continue").click()
    answer_sophtrons_questions(widget)
    select_account(widget, "Primary Checking 8765")
    expect(page.get_by_role("status")).to_contain_text("connected and confirmed")
    events = relayed_events(quickstart_server.app, "connect/updateCredentials")
    loaded = [e for e in events if e.name == "connect/loaded"]
    assert loaded[0].payload == {"initial_step": "enterCreds"}  # the newest: the refresh
    connected = [e for e in events if e.name == "connect/memberConnected"]
    assert len({e.payload["connection"] for e in connected}) == 1 and len(connected) == 2


def test_the_clis_refresh_url_refreshes_the_connection_for_its_signed_in_owner_only(page, tmp_path):
    with run_ucw_sandbox() as ucw:
        url = free_port_url()
        app = make_ucw_app(ucw.url, tmp_path, WINK_PUBLIC_URL=url)
        with serve(app, port=int(url.rsplit(":", 1)[1])) as host:
            page.context.add_cookies([{"name": "user", "value": "ada", "url": host.url}])
            page.goto(host.url + "/wink/ucw/link")
            widget = page.frame_locator("#ucw-frame")
            pick_bank(widget, "MX", "MX Bank")
            log_in(widget, "mxuser", "correct")
            expect(page.get_by_role("status")).to_contain_text("connected and confirmed")
            with app.app_context():
                [account] = get_state().store.list_accounts(provider="ucw")
            key = account.account_id

            printed = app.test_cli_runner().invoke(args=["wink", "ucw", "refresh", "ada", key])
            assert printed.exit_code == 0, printed.output
            refresh_url = printed.output.strip()
            assert refresh_url == f"{host.url}/wink/ucw/link?connection={key}"

            page.goto(refresh_url)  # as the user would, signed in
            expect(page.get_by_role("heading", name="Refresh a bank connection")).to_be_visible()
            expect(widget.get_by_label("Username")).to_be_visible()
            expect(widget.get_by_placeholder("Search")).to_have_count(0)
            log_in(widget, "mxuser", "correct")
            expect(page.get_by_role("status")).to_contain_text("connected and confirmed")
            events = browser_events(app)
            loaded = [e for e in events if e.name == "connect/loaded"]
            assert loaded[0].payload == {"initial_step": "enterCreds"}  # the newest: the refresh
            connected = [e for e in events if e.name == "connect/memberConnected"]
            assert len(connected) == 2 and len({e.payload["connectionId"] for e in connected}) == 1
            # Another user (or nobody) opening the same URL gets no page.
            for cookies in ({"user": "eve"}, {}):
                assert httpx.get(refresh_url, cookies=cookies).status_code == 404


def test_the_emulators_done_and_remove_buttons_are_44_px_touch_targets_apart(page, quickstart_server):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(quickstart_server.url + "/wink/ucw/link")
    widget = page.frame_locator("#ucw-frame")
    pick_bank(widget, "MX", "MX Bank")
    log_in(widget, "mxuser", "correct")
    done = widget.get_by_role("button", name="Done").bounding_box()
    remove = widget.get_by_role("button", name="Remove this connection").bounding_box()
    for box in (done, remove):
        assert box["height"] >= 44 and box["width"] >= 44, box
    apart_sideways = remove["x"] >= done["x"] + done["width"] + 4
    apart_down = remove["y"] >= done["y"] + done["height"] + 4
    assert apart_sideways or apart_down, (done, remove)


def way_on(page):
    """The page's way on once the outcome is known: shown at the top, under what the page says."""
    link = page.locator("#ucw-next a")
    expect(link).to_be_visible()
    box, said = link.bounding_box(), page.get_by_role("status").bounding_box()
    assert box["y"] < said["y"] + said["height"] + 40 and box["height"] >= 44
    return link


def test_after_done_the_page_lands_on_next(page, quickstart_server):
    page.goto(quickstart_server.url + "/bank")
    page.get_by_role("link", name="Link a bank account").click()
    widget = page.frame_locator("#ucw-frame")
    pick_bank(widget, "MX", "MX Bank")
    log_in(widget, "mxuser", "correct")
    expect(page.get_by_role("status")).to_contain_text("connected and confirmed")
    # The widget posts connect/connected/primaryAction on its "Done", as UCW's does.
    widget.get_by_role("button", name="Done").click()
    expect(page).to_have_url(quickstart_server.url + "/bank")
    expect(page.get_by_role("region", name="MX Bank")).to_be_visible()
    events = relayed_events(quickstart_server.app, "connect/connected/primaryAction")
    assert "connect/connected/primaryAction" in {e.name for e in events}


def test_once_confirmed_the_page_offers_continue_to_next(page, quickstart_server):
    page.goto(quickstart_server.url + "/wink/ucw/link?next=/bank")
    widget = page.frame_locator("#ucw-frame")
    pick_bank(widget, "MX", "MX Bank")
    log_in(widget, "mxuser", "correct")
    expect(page.get_by_role("status")).to_contain_text("connected and confirmed")
    link = way_on(page)
    expect(link).to_have_text("Continue")
    expect(link).to_have_attribute("href", "/bank")
    link.click()
    expect(page).to_have_url(quickstart_server.url + "/bank")


def test_a_refused_login_offers_the_way_back_under_the_message(page, quickstart_server):
    page.goto(quickstart_server.url + "/wink/ucw/link?next=/bank")
    widget = page.frame_locator("#ucw-frame")
    pick_bank(widget, "Sophtron", "Sophtron Bank NoMFA")
    log_in(widget, "asdf", "wrong", label="User ID")
    expect(page.get_by_role("status")).to_contain_text("The connection failed")
    link = way_on(page)
    expect(link).to_have_text("Back")
    expect(link).to_have_attribute("href", "/bank")


@pytest.mark.parametrize("given", ["//evil.example/", "/\\evil.example/", "/\t/evil.example/",
                                   "https://evil.example/", "javascript:alert(1)"])
def test_a_next_that_leaves_the_site_is_replaced_by_the_sites_root(quickstart_server, given):
    page = httpx.get(quickstart_server.url + "/wink/ucw/link", params={"next": given})
    assert page.status_code == 200
    assert '<p id="ucw-next" hidden><a href="/">' in page.text and "evil.example" not in page.text


FORGED = {"type": "connect/memberConnected", "metadata": {"aggregator": "mx", "connectionId": "MBR-forged"}}


def relayed(app, name, marker):
    """Wait until the page has relayed the event ``name`` carrying ``marker``; every event."""
    with app.app_context():
        state = get_state()
        for _ in range(300):
            state.wait_for_handlers(30)
            events = state.store.list_events(provider="ucw", limit=100)
            if any(e.name == name and e.payload.get("marker") == marker for e in events):
                return events
            state.store.flush()
            threading.Event().wait(0.1)
    raise AssertionError(f"the page never relayed {name} with {marker!r}")


def post_from(frame, message):
    frame.evaluate("m => window.parent.postMessage(m, '*')", message)


def widget_frame(page):
    return page.locator("#ucw-frame").element_handle().content_frame()


@pytest.fixture
def link_page(page, tmp_path):
    """The link page of a UCW host app with the widget loaded, beside two emulators: ``ucw`` (the
    configured one) and ``stranger`` (another origin)."""
    with run_ucw_sandbox() as ucw, run_ucw_sandbox() as stranger:
        # The page's Content-Security-Policy would keep a frame at another origin from loading at
        # all; allow the stranger's origin, so these tests reach the page's own message checks.
        app = make_ucw_app(ucw.url, tmp_path, WINK_CSP_SOURCES=stranger.url)
        with serve(app) as host:
            page.context.add_cookies([{"name": "user", "value": "ada", "url": host.url}])
            page.goto(host.url + "/wink/ucw/link")
            expect(page.frame_locator("#ucw-frame").get_by_placeholder("Search")).to_be_visible()
            yield SimpleNamespace(page=page, app=app, ucw=ucw, stranger=stranger)


def assert_not_relayed(linked, events):
    assert "connect/memberConnected" not in [e.name for e in events]
    with linked.app.app_context():
        assert get_state().store.list_accounts(provider="ucw") == []
    expect(linked.page.get_by_role("status")).not_to_contain_text("Confirming")


def navigate(page, frame, url):
    """Send the widget's iframe (the same window) to ``url``."""
    page.evaluate("url => { document.getElementById('ucw-frame').src = url; }", url)
    frame.wait_for_url(url)
    frame.wait_for_load_state()


def test_a_message_from_the_widgets_origin_but_another_frame_is_ignored(link_page):
    page = link_page.page
    # Another frame of UCW's own origin (so only the check of event.source stops it).
    page.evaluate("""url => new Promise(done => {
        const f = document.createElement('iframe');
        f.src = url; f.id = 'sibling'; f.onload = () => done();
        document.body.appendChild(f);
    })""", link_page.ucw.url + "/widget/static/widget.js")
    sibling = page.locator("#sibling").element_handle().content_frame()
    assert sibling.url.startswith(link_page.ucw.url)
    post_from(sibling, FORGED)
    page.evaluate("m => window.postMessage(m, '*')", FORGED)  # and from the page itself
    # Then a message from the widget's own frame, which is relayed: the forged ones came first.
    post_from(widget_frame(page), {"type": "connect/loaded", "metadata": {"marker": "after-sibling"}})
    assert_not_relayed(link_page, relayed(link_page.app, "connect/loaded", "after-sibling"))


def test_a_message_from_the_widgets_frame_at_another_origin_is_ignored(link_page):
    page = link_page.page
    frame = widget_frame(page)
    # The widget's own frame at another origin (so only the check of event.origin stops it).
    navigate(page, frame, link_page.stranger.url + "/widget/static/widget.js")
    post_from(frame, FORGED)
    # Back at UCW's origin, the same frame's message is relayed: the forged one came first.
    navigate(page, frame, link_page.ucw.url + "/widget/static/widget.js?again")
    post_from(frame, {"type": "connect/loaded", "metadata": {"marker": "after-stranger"}})
    assert_not_relayed(link_page, relayed(link_page.app, "connect/loaded", "after-stranger"))


def test_the_page_follows_the_connection_it_relayed_not_one_confirmed_before(page, tmp_path):
    with run_ucw_sandbox() as ucw:
        outage = ucw.app.wsgi_app = DataApiDown(ucw.app.wsgi_app)
        app = make_ucw_app(ucw.url, tmp_path)
        with serve(app) as host:
            page.context.add_cookies([{"name": "user", "value": "ada", "url": host.url}])
            page.goto(host.url + "/wink/ucw/link")
            widget = page.frame_locator("#ucw-frame")
            pick_bank(widget, "MX", "MX Bank")
            log_in(widget, "mxuser", "correct")
            expect(page.get_by_role("status")).to_contain_text("connected and confirmed")

            outage.down = True  # UCW cannot answer for the next connection
            page.goto(host.url + "/wink/ucw/link")
            widget = page.frame_locator("#ucw-frame")
            pick_bank(widget, "Sophtron", "Sophtron Bank NoMFA")
            log_in(widget, "asdf", "asdf", label="User ID")
            select_account(widget, "Primary Checking 1234")
            status = page.get_by_role("status")
            expect(status).to_contain_text("not confirmed yet", timeout=60000)
            expect(status).not_to_contain_text("connected and confirmed")
            # Waiting here shows nothing more: the page offers the way on to the connections.
            expect(page.locator("#ucw-next a")).to_have_text("Continue")
            with app.app_context():
                statuses = sorted(a.status for a in get_state().store.list_accounts(provider="ucw"))
            assert statuses == [CONNECTED, "UNCONFIRMED"]


def test_the_back_link_of_a_hostile_next_keeps_the_browser_on_the_app(page, quickstart_server):
    # Were the browser sent away, it would land here rather than on the network.
    page.route("**://evil.example/**",
               lambda route: route.fulfill(body="<p>evil</p>", content_type="text/html"))
    page.goto(quickstart_server.url + "/wink/ucw/link?next=/%09/evil.example")
    widget = page.frame_locator("#ucw-frame")
    pick_bank(widget, "Sophtron", "Sophtron Bank NoMFA")
    log_in(widget, "asdf", "wrong", label="User ID")
    expect(page.get_by_role("status")).to_contain_text("The connection failed")
    page.get_by_role("link", name="Back").click()
    page.wait_for_load_state()
    assert page.url.startswith(quickstart_server.url + "/")
    assert "evil" not in page.content()
