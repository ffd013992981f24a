"""The quickstart's "Your data" page and dashboard in a real browser (Debian's Chromium through
Playwright), after one user has linked all three upstreams against the emulators: Smile's data as
tables, the bank's accounts and transactions, the identity result's checks as a checklist, each with
its JSON behind a disclosure; a page that stays short on a phone; plain words on the dashboard."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from conftest import QUICKSTART_WEBHOOK_SECRET, QuickstartApps, link_in_widget
from flask_wink import get_state
from test_browser_uploads import SAMPLES, open_upload_screen

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def linked(browser, tmp_path_factory):
    """The quickstart in sandbox mode where one browser's user has linked Upwork (Smile Wink),
    uploaded the sample payslip, linked MX Bank (UCW) and verified an identity (Smile ID)."""
    with QuickstartApps(tmp_path_factory.mktemp("data")) as quickstart_app, quickstart_app.served(
        WEBHOOK_SECRET=QUICKSTART_WEBHOOK_SECRET
    ) as served:
        app = served.app
        smile_id = app.config["QUICKSTART_SMILE_ID_SANDBOX"].extensions["smile_id_sandbox"]
        smile_id.review_delay = 0.5
        sandbox = app.config["QUICKSTART_SANDBOX"].extensions["wink_sandbox"]
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(20000)
        page.goto(served.url)
        page.get_by_role("button", name="Link an account").click()
        dialog = page.get_by_role("dialog", name="Smile Wink")
        link_in_widget(dialog, "Upwork")
        dialog.get_by_role("button", name="Done").click()
        expect(page.locator("#events")).to_contain_text("Data fetched from Upwork")

        page.goto(served.url + "/archives")
        dialog = open_upload_screen(page)
        dialog.get_by_label("Document").set_input_files(str(SAMPLES.joinpath("payslip.pdf")))
        dialog.get_by_role("button", name="Submit").click()
        expect(dialog.get_by_role("list", name="Uploads")).to_contain_text("ANALYZED")
        dialog.get_by_role("button", name="Done").click()

        page.goto(served.url + "/wink/ucw/link?next=/data")
        widget = page.frame_locator("#ucw-frame")
        widget.get_by_placeholder("Search").fill("MX")
        widget.get_by_role("button", name="Add account with MX Bank", exact=True).click()
        widget.get_by_label("Username").fill("mxuser")
        widget.get_by_label("Password").fill("correct")
        widget.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("status")).to_contain_text("connected and confirmed")

        page.goto(served.url)
        page.get_by_role("button", name="Verify your identity").click()
        page.get_by_label("NG BVN (enhanced kyc)").check()
        page.get_by_label("ID number").fill("A1234560")
        page.get_by_label("Take the selfie or document photo (simulated)").check()
        page.get_by_role("button", name="Submit").click()
        expect(page.get_by_role("status")).to_have_text("approved")
        assert sandbox.dispatcher.wait_idle(15)
        with app.app_context():
            assert get_state().wait_for_handlers(15)
        yield SimpleNamespace(url=served.url, page=page, app=app)
        context.close()


@pytest.fixture
def data_page(linked):
    page = linked.page
    page.set_viewport_size(DESKTOP)
    page.goto(linked.url + "/data")
    return page


def rows(page, kind):
    return page.locator(f'table[data-kind="{kind}"] tbody tr')


def json_behind(page, table):
    """The JSON disclosure after a table: closed, and holding JSON once opened."""
    details = table.locator("xpath=ancestor::div[contains(@class,'table-wrap')]").locator(
        "xpath=following-sibling::details[1]")
    expect(details).to_have_count(1)
    pre = details.locator("pre")
    expect(pre).to_be_hidden()
    details.locator("summary").click()
    expect(pre).to_be_visible()
    return pre.inner_text()


def test_the_data_page_shows_each_smile_kind_as_a_table_with_its_json_behind_a_disclosure(data_page):
    section = data_page.locator("#smile-data")
    expect(rows(data_page, "identities")).to_have_count(1)
    expect(rows(data_page, "identities")).to_contain_text("George Cimafranca Palomero")
    expect(rows(data_page, "employments")).to_have_count(3)
    expect(rows(data_page, "employments").last).to_contain_text("Palomero Digital Services")
    expect(rows(data_page, "incomes")).to_have_count(14)
    expect(rows(data_page, "incomes").first).to_contain_text("PHP")
    expect(rows(data_page, "payslips")).to_have_count(1)
    for text in ("payslip.pdf", "Upwork Global Inc.", "45,000.00", "38,250.00"):
        expect(rows(data_page, "payslips")).to_contain_text(text)
    for kind in ("identities", "employments", "incomes"):
        assert '"metadata"' in json_behind(data_page, data_page.locator(f'table[data-kind="{kind}"]'))
    # No raw dump any more: the kinds without a table are counted, their JSON behind a disclosure.
    expect(section.locator("pre:visible")).to_have_count(len(("identities", "employments", "incomes")))
    expect(section.locator("details summary", has_text="25 transactions")).to_have_count(1)


def test_the_data_page_shows_the_banks_accounts_with_balances_and_currency_and_its_transactions(data_page):
    bank = data_page.locator("#bank-data")
    expect(bank.get_by_role("heading", name=re.compile("^MX Bank"))).to_be_visible()
    accounts = rows(data_page, "accounts")
    expect(accounts).to_have_count(2)
    expect(accounts.first).to_contain_text("1,000.23")
    expect(accounts.first).to_contain_text("USD")
    expect(rows(data_page, "transactions")).to_have_count(10)
    text = json_behind(data_page, data_page.locator('table[data-kind="transactions"]'))
    assert '"depositAccount"' in text and '"institutionName": "MX Bank"' in text


def test_the_data_page_shows_the_identity_results_actions_as_a_checklist(data_page):
    section = data_page.locator("#identity-data")
    expect(section.locator("h3")).to_contain_text("approved")
    checks = section.get_by_role("list").locator("li")
    expect(checks).to_have_count(2)
    expect(checks.nth(0)).to_contain_text("Verify ID Number")
    expect(checks.nth(0)).to_contain_text("Verified")
    expect(checks.nth(0).locator(".mark")).to_have_text("✓")
    expect(checks.nth(1)).to_contain_text("Return Personal Info")
    details = section.locator("details.json")
    expect(details.locator("pre")).to_be_hidden()
    details.locator("summary").click()
    expect(details.locator("pre")).to_contain_text('"Verify_ID_Number": "Verified"')


def test_the_data_page_stays_short_on_a_phone(linked):
    page = linked.page
    page.set_viewport_size(PHONE)
    page.goto(linked.url + "/data")
    expect(rows(page, "identities")).to_have_count(1)
    # It was 26,658 px tall with the one JSON dump.
    assert page.evaluate("document.documentElement.scrollHeight") < 6000
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_wide_tables_show_that_they_scroll_on_a_phone(linked):
    page = linked.page
    page.set_viewport_size(PHONE)
    for path in ("/data", "/bank", "/"):
        page.goto(linked.url + path)
        page.wait_for_load_state("load")
        wraps = page.locator(".table-wrap")
        scrolling = 0
        for i in range(wraps.count()):
            wrap = wraps.nth(i)
            if not wrap.evaluate("w => w.scrollWidth > w.clientWidth + 1"):
                continue
            scrolling += 1
            expect(wrap).to_have_attribute("data-scrolls", "")
            hint = wrap.locator("xpath=preceding-sibling::*[1]")
            expect(hint).to_have_class("scroll-hint")
            expect(hint).to_be_visible()
        assert scrolling or path != "/data", path  # the data page's tables are wider than a phone
    page.set_viewport_size(DESKTOP)
    page.goto(linked.url + "/data")
    expect(page.locator("#bank-data .scroll-hint")).to_have_count(0)  # wide enough: no hint


def test_the_dashboard_names_banks_and_says_statuses_in_plain_words(linked):
    page = linked.page
    page.set_viewport_size(DESKTOP)
    page.goto(linked.url)
    status = page.locator("#accounts")
    expect(status.locator('[data-provider="ucw"] .label')).to_have_text("MX Bank")
    expect(status).not_to_contain_text("mx_bank")
    expect(status.locator('[data-provider="ucw"] .badge')).to_have_text("connected")
    verification = status.locator('[data-provider="smile_id"] li')
    expect(verification.locator(".badge")).to_have_text("approved")
    expect(verification).not_to_contain_text("1012")
    badges = page.locator("#events .state .badge")
    expect(badges.first).to_be_visible()
    words = set(badges.all_inner_texts())
    assert not words & {"ui", "step", "webhook", "callback", "redirect", "search", "login"}, words
    assert {"moved on", "code asked", "confirmed"} <= words


def test_every_page_writes_dates_one_way(linked):
    page = linked.page
    page.set_viewport_size(DESKTOP)
    for path in ("/", "/data", "/bank", "/accounts", "/archives"):
        page.goto(linked.url + path)
        page.wait_for_load_state("load")
        shown = page.evaluate("""() => {
            const main = document.querySelector('main').cloneNode(true);
            main.querySelectorAll('details').forEach(d => d.remove());  // raw JSON keeps its own
            return main.innerText;
        }""")
        assert not re.search(r"\d{4}-\d\d-\d\dT\d\d", shown), path
        assert not re.search(r"\d\d:\d\d:\d\dZ", shown), path


def test_the_bank_and_accounts_pages_say_statuses_in_words_and_amounts_one_way(linked):
    page = linked.page
    page.set_viewport_size(DESKTOP)
    page.goto(linked.url + "/bank")
    bank = page.get_by_role("region", name="MX Bank")
    expect(bank.locator("[data-status] .badge")).to_have_text("connected")
    expect(bank.locator("tr[data-account]").first).to_contain_text("1,000.23")
    expect(bank.locator("tr[data-account]").first).to_contain_text("USD")
    page.goto(linked.url + "/accounts")
    expect(page.locator("td[data-status=CONNECTED] .badge")).to_have_text("connected")
