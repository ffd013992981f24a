"""UCW's own end-to-end steps (its Cypress suite: ``searchByText``, ``makeAnMXConnection``,
Sophtron's MFA chain, ``refreshAConnection``, ``generateDataTests``, ``targetOrigin.cy.ts``) ported
to Playwright in Debian's Chromium and run against the UCW emulator. As UCW's tests do, the widget
URL is visited directly (the widget is the top page) with a spy on ``window.parent.postMessage``
(``visitWithPostMessageSpy``), and the data endpoints are called as ``generateDataTests`` calls them."""

from __future__ import annotations

import base64
import json
import re
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from flask_wink.providers.ucw.testing import run_ucw_sandbox

pytestmark = pytest.mark.browser

MEMBER_CONNECTED = "connect/memberConnected"
MEMBER_STATUS_UPDATE = "connect/memberStatusUpdate"

# The spy: every call of window.parent.postMessage, with its message and its targetOrigin.
SPY = """
window.__postMessageCalls = [];
const spied = window.parent.postMessage.bind(window.parent);
window.parent.postMessage = function (message, targetOrigin) {
  window.__postMessageCalls.push([message, targetOrigin]);
  return spied(message, targetOrigin);
};
"""


@pytest.fixture
def ucw():
    with run_ucw_sandbox() as served:
        yield served


def create_widget_url(ucw, **body) -> str:
    """``createWidgetUrl``: ``POST /widgetUrl`` (targetOrigin defaulting as UCW's helper does)."""
    body.setdefault("targetOrigin", "http://localhost:8080")
    answer = httpx.post(ucw.url + "/widgetUrl", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["widgetUrl"]


def visit_with_post_message_spy(page, url):
    page.add_init_script(SPY)
    page.goto(url)


def spied_calls(page) -> list[tuple[dict, str]]:
    return [(m, t) for m, t in page.evaluate("window.__postMessageCalls || []")]


def connected_call(page) -> tuple[dict, str]:
    """The spy's ``memberConnected`` call (waits for it, as ``cy.get('@postMessage')`` does)."""
    page.wait_for_function(
        "(window.__postMessageCalls || []).some(c => c[0].type === 'connect/memberConnected')")
    return next((m, t) for m, t in spied_calls(page) if m["type"] == MEMBER_CONNECTED)


# -- UCW's helpers (packages/utils-e2e/cypress/*) ---------------------------------------------

def click_continue(page):
    page.get_by_role("button", name="Continue").click()


def expect_connection_success(page):
    expect(page.get_by_text("Done", exact=True)).to_be_visible()


def search_by_text(page, text):
    page.get_by_placeholder("Search").fill(text)
    expect(page.get_by_text(re.compile("result")).first).to_be_visible()


def select_institution(page, name):
    page.get_by_label(f"Add account with {name}", exact=True).first.click()


def search_and_select_mx(page):
    search_by_text(page, "MX Bank")
    select_institution(page, "MX Bank")


def enter_mx_credentials(page):
    page.get_by_label(re.compile("Username")).fill("mxuser")
    page.get_by_label("Password", exact=True).fill("correct")


def make_an_mx_connection(page, job_types=()):
    search_and_select_mx(page)
    enter_mx_credentials(page)
    click_continue(page)
    expect_connection_success(page)


def search_and_select_sophtron(page):
    search_by_text(page, "Sophtron Bank NoMFA")
    select_institution(page, "Sophtron Bank NoMFA")


def enter_sophtron_credentials(page):
    page.get_by_label(re.compile("User ID")).fill("asdf")
    page.get_by_label("Password", exact=True).fill("asdf")


def select_sophtron_account(page):
    page.get_by_text("Primary Checking 1234").click()


def make_a_sophtron_connection(page, job_types=()):
    search_and_select_sophtron(page)
    enter_sophtron_credentials(page)
    click_continue(page)
    if "accountNumber" in job_types:
        select_sophtron_account(page)
        click_continue(page)
    expect_connection_success(page)


# -- search.cy.ts -------------------------------------------------------------------------------

def test_search_by_text_says_how_many_results(page, ucw):
    page.goto(create_widget_url(ucw, jobTypes=["transactions"], userId=str(uuid.uuid4())))
    search_by_text(page, "MX Bank")
    expect(page.get_by_text("2 search results")).to_be_visible()
    expect(page.get_by_label("Add account with MX Bank", exact=True)).to_be_visible()
    page.get_by_placeholder("Search").fill("Sophtron Bank NoMFA")
    expect(page.get_by_text("1 search result", exact=True)).to_be_visible()
    # By keyword (UCW's "Gringotts" for MX Bank) and by routing number, as UCW's search finds them.
    page.get_by_placeholder("Search").fill("gringotts")
    expect(page.get_by_label("Add account with MX Bank", exact=True)).to_be_visible()
    page.get_by_placeholder("Search").fill("111111111")
    expect(page.get_by_label("Add account with MX Bank", exact=True)).to_be_visible()
    page.get_by_placeholder("Search").fill("no such bank anywhere")
    expect(page.get_by_text("0 search results")).to_be_visible()


def test_the_test_banks_carry_ucws_institution_ids(page, ucw):
    visit_with_post_message_spy(page, create_widget_url(ucw, jobTypes=["transactions"], userId="u-ids"))
    search_by_text(page, "Sophtron Bank NoMFA")
    expect(page.get_by_test_id("sophtronBankNoMFA-row")).to_be_visible()
    make_an_mx_connection(page)
    message, _ = connected_call(page)
    assert message["metadata"]["ucpInstitutionId"] == "mxBank"


# -- targetOrigin.cy.ts -------------------------------------------------------------------------

def test_target_origin_is_used_when_the_widget_is_the_top_page(page, ucw):
    correct = ucw.url  # the widget's own origin, as UCW's test serves it
    visit_with_post_message_spy(page, create_widget_url(
        ucw, jobTypes=["accountOwner"], userId="u-origin", targetOrigin=correct))
    make_an_mx_connection(page)
    message, target = connected_call(page)
    assert {"connectionId", "aggregator"} <= set(message["metadata"])
    assert target == correct == page.evaluate("window.location.origin")


def test_post_message_is_called_with_the_given_target_origin_even_another(page, ucw):
    wrong = "https://wrong-origin.example.com"
    visit_with_post_message_spy(page, create_widget_url(
        ucw, jobTypes=["accountOwner"], userId="u-wrong", targetOrigin=wrong))
    make_an_mx_connection(page)
    _, target = connected_call(page)
    assert target == wrong != page.evaluate("window.location.origin")


def test_a_widget_url_without_target_origin_is_refused(ucw):
    answer = httpx.post(ucw.url + "/widgetUrl", json={"jobTypes": ["accountOwner"], "userId": "u"})
    assert answer.status_code == 400 and "&#x22;targetOrigin&#x22; is required" in answer.text


# -- sophtron.cy.ts -----------------------------------------------------------------------------

def test_sophtron_bank_with_all_mfa_options(page, ucw):
    page.goto(create_widget_url(ucw, jobTypes=["transactions"], userId=str(uuid.uuid4())))
    search_by_text(page, "Sophtron Bank")
    page.get_by_label("Add account with Sophtron Bank", exact=True).first.click()
    page.get_by_label(re.compile("User ID")).fill("asdfg12X")
    page.get_by_label("Password", exact=True).fill("asdfg12X")
    click_continue(page)
    page.get_by_role("textbox", name=re.compile("Please enter the Captcha code")).fill("asdf")
    click_continue(page)
    page.get_by_label(re.compile("What is your favorite color")).fill("asdf")
    click_continue(page)
    page.get_by_text("Text message 1 (•••) •••-0102").click()
    click_continue(page)
    page.get_by_role("textbox", name=re.compile("Please enter the Token")).fill("asdf")
    click_continue(page)
    expect_connection_success(page)


def test_single_account_select_is_shown_unless_turned_off(page, ucw):
    user = str(uuid.uuid4())
    page.goto(create_widget_url(ucw, jobTypes=["accountNumber"], userId=user))
    search_and_select_sophtron(page)
    enter_sophtron_credentials(page)
    click_continue(page)
    select_sophtron_account(page)
    click_continue(page)
    expect_connection_success(page)

    page.goto(create_widget_url(ucw, jobTypes=["accountNumber"], userId=user, singleAccountSelect=False))
    search_and_select_sophtron(page)
    enter_sophtron_credentials(page)
    click_continue(page)
    expect_connection_success(page)


def test_sophtron_member_status_update_carries_its_custom_properties(page, ucw):
    job_types = ["transactions", "accountNumber"]
    visit_with_post_message_spy(page, create_widget_url(ucw, jobTypes=job_types, userId=str(uuid.uuid4())))
    make_a_sophtron_connection(page, job_types)
    connected_call(page)
    updates = [m for m, _ in spied_calls(page) if m["type"] == MEMBER_STATUS_UPDATE]
    assert len(updates) > 1
    metadata = updates[-1]["metadata"]
    for prop in ("jobId", "jobLastStep", "rawStatus", "selectedAccountId", "aggregator", "connectionId",
                 "aggregatorUserId", "connectionStatus"):
        assert metadata[prop], prop


# -- refresh.ts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("select_institution_step, enter_credentials", [
    (search_and_select_mx, enter_mx_credentials),
    (search_and_select_sophtron, enter_sophtron_credentials),
], ids=["mx", "sophtron"])
def test_refresh_a_connection_hides_the_back_button(page, ucw, select_institution_step, enter_credentials):
    user = str(uuid.uuid4())
    visit_with_post_message_spy(page, create_widget_url(ucw, jobTypes=["transactions"], userId=user))
    select_institution_step(page)
    enter_credentials(page)
    click_continue(page)
    expect_connection_success(page)
    metadata = connected_call(page)[0]["metadata"]

    page.goto(create_widget_url(
        ucw, jobTypes=["transactions"], aggregator=metadata["aggregator"], userId=user,
        institutionId=metadata["ucpInstitutionId"], connectionId=metadata["connectionId"]))
    enter_credentials(page)
    expect(page.get_by_role("button", name="Back")).to_have_count(0)
    click_continue(page)
    expect_connection_success(page)


def test_refresh_says_update_credentials(page, ucw):
    user = str(uuid.uuid4())
    visit_with_post_message_spy(page, create_widget_url(ucw, jobTypes=["transactions"], userId=user))
    make_an_mx_connection(page)
    metadata = connected_call(page)[0]["metadata"]
    visit_with_post_message_spy(page, create_widget_url(
        ucw, jobTypes=["transactions"], aggregator="mx", userId=user, institutionId="mxBank",
        connectionId=metadata["connectionId"]))
    enter_mx_credentials(page)
    click_continue(page)
    expect_connection_success(page)
    update = next(m for m, _ in spied_calls(page) if m["type"] == "connect/updateCredentials")
    assert update["metadata"] == {"institution": {"guid": "mxBank", "code": "mxbank"},
                                  "member_guid": metadata["connectionId"]}
    assert "connect/enterCredentials" not in [m["type"] for m, _ in spied_calls(page)]


# -- generateDataTests.ts -----------------------------------------------------------------------

JOB_TYPE_CASES = [
    (["accountNumber"], False, False),
    (["accountOwner"], True, False),
    (["transactions"], False, True),
    (["transactionHistory"], False, True),
    (["accountNumber", "accountOwner", "transactions", "transactionHistory"], True, True),
]


def decode_vc(token: str) -> dict:
    """``decodeVcData``: the JWT's payload, unverified."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def verify_data(ucw, user, metadata, expect_owners, expect_transactions, query="", selector=None):
    aggregator, connection = metadata["aggregator"], metadata["connectionId"]
    header = {"UCW-Connection-Id": connection}
    url = f"/data/accounts?aggregator={aggregator}&userId={user}"
    accounts = httpx.get(ucw.url + "/api" + url, headers=header)
    assert accounts.status_code == 200 and len(accounts.json()["accounts"]) > 0
    chosen = (selector or (lambda found: next(a for a in found if next(iter(a)) == "depositAccount")))(
        accounts.json()["accounts"])
    account_id = chosen["depositAccount"]["accountId"]
    vc = httpx.get(ucw.url + "/api/vc" + url, headers=header)
    assert vc.status_code == 200 and "error" not in vc.json()
    decoded = decode_vc(vc.json()["jwt"])
    assert "FinancialAccountCredential" in decoded["vc"]["type"]
    assert len(decoded["vc"]["credentialSubject"]["accounts"]) > 0

    url = f"/data/identity?aggregator={aggregator}&userId={user}"
    identity = httpx.get(ucw.url + "/api" + url, headers=header)
    assert identity.status_code == 200
    assert len(identity.json()["customers"]) > 0 if expect_owners else len(identity.json()["customers"]) >= 0
    vc = httpx.get(ucw.url + "/api/vc" + url, headers=header)
    assert "FinancialIdentityCredential" in decode_vc(vc.json()["jwt"])["vc"]["type"]

    url = f"/data/transactions?aggregator={aggregator}&userId={user}&accountId={account_id}{query}"
    transactions = httpx.get(ucw.url + "/api" + url)
    assert transactions.status_code == 200
    found = transactions.json()["transactions"]
    assert len(found) > 0 if expect_transactions else len(found) >= 0
    vc = httpx.get(ucw.url + "/api/vc" + url)
    decoded = decode_vc(vc.json()["jwt"])
    assert "FinancialTransactionCredential" in decoded["vc"]["type"]
    assert decoded["vc"]["credentialSubject"]["transactions"] == found


@pytest.mark.parametrize("job_types, expect_owners, expect_transactions", JOB_TYPE_CASES,
                         ids=[",".join(c[0]) for c in JOB_TYPE_CASES])
def test_mx_data_tests_for_each_job_type(page, ucw, job_types, expect_owners, expect_transactions):
    user = str(uuid.uuid4())
    visit_with_post_message_spy(page, create_widget_url(ucw, jobTypes=job_types, userId=user))
    make_an_mx_connection(page, job_types)
    metadata = connected_call(page)[0]["metadata"]
    verify_data(ucw, user, metadata, expect_owners, expect_transactions)


@pytest.mark.parametrize("job_types, expect_owners, expect_transactions", JOB_TYPE_CASES,
                         ids=[",".join(c[0]) for c in JOB_TYPE_CASES])
def test_sophtron_data_tests_for_each_job_type(page, ucw, job_types, expect_owners, expect_transactions):
    user = str(uuid.uuid4())
    visit_with_post_message_spy(page, create_widget_url(ucw, jobTypes=job_types, userId=user))
    make_a_sophtron_connection(page, job_types)
    metadata = connected_call(page)[0]["metadata"]
    verify_data(ucw, user, metadata, expect_owners, expect_transactions,
                query="&startDate=2021-01-01&endDate=2099-12-31",
                selector=primary_checking)


def primary_checking(accounts: list[dict]) -> dict:
    """Sophtron's ``transactionsAccountSelector``: the account nicknamed Primary Checking."""
    return next(a for a in accounts if a["depositAccount"]["nickname"] == "Primary Checking")


# -- the Connect widget's own events ------------------------------------------------------------

def test_done_posts_primary_action_then_back_to_search(page, ucw):
    visit_with_post_message_spy(page, create_widget_url(ucw, jobTypes=["transactions"], userId="u-done"))
    make_an_mx_connection(page)
    page.get_by_role("button", name="Done").click()
    types = [m["type"] for m, _ in spied_calls(page)]
    assert types[-2:] == ["connect/connected/primaryAction", "connect/backToSearch"]


def test_enter_credentials_and_member_error_carry_the_connect_widgets_metadata(page, ucw):
    visit_with_post_message_spy(page, create_widget_url(ucw, jobTypes=["transactions"], userId="u-err"))
    search_and_select_mx(page)
    page.get_by_label(re.compile("Username")).fill("mxuser")
    page.get_by_label("Password", exact=True).fill("wrong")
    click_continue(page)
    expect(page.get_by_role("alert")).to_be_visible()
    calls = {m["type"]: m["metadata"] for m, _ in spied_calls(page)}
    assert calls["connect/enterCredentials"] == {"institution": {"guid": "mxBank", "code": "mxbank"}}
    error = calls["connect/memberError"]
    assert set(error) == {"member"} and error["member"]["connection_status"] == 2
    assert error["member"]["guid"]


def test_an_oauth_bank_logs_in_in_a_popup(page, ucw):
    visit_with_post_message_spy(page, create_widget_url(ucw, jobTypes=["transactions"], userId="u-oauth"))
    search_by_text(page, "MX Bank")
    select_institution(page, "MX Bank (Oauth)")
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Go to log in").click()
    popup = opened.value
    popup.get_by_role("button", name="Authorize").click()
    expect_connection_success(page)
    calls = {m["type"]: m["metadata"] for m, _ in spied_calls(page)}
    requested = calls["connect/oauthRequested"]
    assert requested["url"].startswith(ucw.url + "/oauth/") and requested["member_guid"]
    assert requested["member_guid"] not in requested["url"]  # the bank's page does not name the connection
    assert calls[MEMBER_CONNECTED]["ucpInstitutionId"] == "mxBankOauth"
