"""The quickstart dashboard's summaries and timeline (quickstart/summaries.py, quickstart/timeline.py),
and its live endpoint ``/timeline.json`` (ETag, filters, who sees whom)."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from quickstart.summaries import (
    DATA_ADDED,
    ERROR,
    INFO,
    OK,
    PROGRESS,
    action_row,
    count_of,
    institution_name,
    summarize,
)
from quickstart.timeline import build_rows, status_groups

from example_provider import AcmeVerify
from flask_wink import get_state
from flask_wink.providers.smile_id.provider import SmileID
from flask_wink.providers.smile_id.results import describe
from flask_wink.providers.smile_wink.describe import UI_EVENTS
from flask_wink.providers.smile_wink.provider import SmileWink
from flask_wink.providers.smile_wink.statuses import CALLBACKS
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook
from flask_wink.providers.ucw import EVENT_TYPES, connection_key
from flask_wink.providers.ucw.provider import UniversalConnect
from flask_wink.store.values import StoredEvent
from spec_events import EVENT_DATA_REQUIRED

ROOT = Path(__file__).resolve().parents[1]
SMILE_JS = ROOT / "src/flask_wink/providers/smile_wink/sandbox/static/smile.js"
SECRET = "dashboard-test-secret"

#: The three providers, built without clients: what an event means is each one's own ``describe``,
#: which calls nobody.
PROVIDERS = {
    "smile_wink": SmileWink(None),
    "ucw": UniversalConnect(SimpleNamespace(base_url="https://ucw.example")),
    "smile_id": SmileID(SimpleNamespace(partner_id="085"), api_key="k", privacy_url="https://app.example/p"),
}


# -- one line per event -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "provider, kind, name, payload, status, text, tone",
    [
        (
            "smile_wink",
            "callback",
            "onUIEvent",
            {
                "eventName": "MFA_REQUIRED",
                "account": {"id": "a-1", "providerId": "upwork", "status": "AWAITING_MFA"},
            },
            None,
            "Logged in to Upwork — verification code requested",
            PROGRESS,
        ),
        (
            "smile_wink",
            "callback",
            "onUIEvent",
            {
                "eventName": "ACCOUNT_ERROR",
                "account": {"providerId": "grab", "errorCode": "INVALID_CREDENTIALS"},
            },
            None,
            "Grab login failed in the widget (INVALID_CREDENTIALS)",
            ERROR,
        ),
        (
            "smile_wink",
            "callback",
            "onAccountConnected",
            {"accountId": "a-1", "providerId": "sss"},
            "UNCONFIRMED",
            "The widget reports a SSS account connected — confirming with Smile…",
            PROGRESS,
        ),
        (
            "smile_wink",
            "callback",
            "onAccountConnected",
            {"accountId": "a-1", "providerId": "sss"},
            "CONNECTED",
            "SSS account connected, confirmed by Smile",
            OK,
        ),
        (
            "smile_wink",
            "callback",
            "onAccountConnected",
            {"accountId": "a-1", "providerId": "sss"},
            "NOT_CONFIRMED",
            "The widget reports a SSS account connected — not confirmed by Smile, not trusted",
            ERROR,
        ),
        (
            "smile_wink",
            "callback",
            "onAccountError",
            {"providerId": "upwork", "errorCode": "INVALID_CREDENTIALS"},
            None,
            "Could not link Upwork (INVALID_CREDENTIALS)",
            ERROR,
        ),
        (
            "smile_wink",
            "callback",
            "onClose",
            {"reason": "exit"},
            None,
            "Widget closed after finishing",
            INFO,
        ),
        (
            "smile_wink",
            "callback",
            "onUploadsCreated",
            {"uploads": [{"name": "payslip.pdf"}]},
            None,
            "Uploaded payslip.pdf",
            OK,
        ),
        (
            "smile_wink",
            "webhook",
            "ACCOUNT_CONNECTED",
            make_event(
                "ACCOUNT_CONNECTED", {"accountId": "a-1", "loginName": "George", "providers": ["upwork"]}
            ),
            None,
            "Webhook ACCOUNT_CONNECTED verified — George's Upwork account connected",
            OK,
        ),
        (
            "smile_wink",
            "webhook",
            "ACCOUNT_FAILED",
            make_event(
                "ACCOUNT_FAILED",
                {
                    "loginName": "George",
                    "providers": ["grab"],
                    "errorCode": "INVALID_CREDENTIALS",
                    "errorMessage": "Wrong password",
                },
            ),
            None,
            "Webhook ACCOUNT_FAILED verified — George's Grab login failed: Wrong password",
            ERROR,
        ),
        (
            "ucw",
            "callback",
            "connect/memberConnected",
            {"aggregator": "mx", "connectionId": "MBR-1"},
            "CONNECTED",
            "Bank connection confirmed by UCW",
            OK,
        ),
        (
            "ucw",
            "callback",
            "connect/memberConnected",
            {"aggregator": "mx", "connectionId": "MBR-1"},
            "NOT_CONFIRMED",
            "Bank connection not confirmed by UCW — not trusted, nothing fetched",
            ERROR,
        ),
        (
            "ucw",
            "callback",
            "connect/memberConnected",
            {"aggregator": "mx", "connectionId": "MBR-1"},
            None,
            "The widget reports a bank connection — confirming with UCW…",
            PROGRESS,
        ),
        ("ucw", "callback", "connect/selectedInstitution", {"name": "MX Bank"}, None, "Chose MX Bank", INFO),
        (
            "ucw",
            "callback",
            "connect/memberError",
            {"connectionStatus": 2},
            None,
            "The bank refused the login",
            ERROR,
        ),
        (
            "smile_id",
            "webhook",
            "final_result",
            {"ResultCode": "1012", "ResultText": "Valid ID"},
            None,
            "Identity approved (1012 Valid ID)",
            OK,
        ),
        (
            "smile_id",
            "webhook",
            "final_result",
            {"ResultCode": "1013"},
            None,
            "Identity rejected (1013 Unable to Validate ID)",
            ERROR,
        ),
        (
            "smile_id",
            "webhook",
            "interim_result",
            {"ResultCode": "0814", "ResultText": "Under Review"},
            None,
            "Interim result: 0814 Under Review",
            PROGRESS,
        ),
        (
            "smile_id",
            "callback",
            "redirected",
            {"status": "success"},
            None,
            "Back from Smile ID: reported success (the signed result decides)",
            INFO,
        ),
        (
            "smile_id",
            "callback",
            "linkStarted",
            {"jobId": "j-1"},
            None,
            "Identity verification started",
            PROGRESS,
        ),
    ],
)
def test_each_event_gets_its_own_line(provider, kind, name, payload, status, text, tone):
    summary = summarize(PROVIDERS[provider], kind, name, payload, status=status)
    assert (summary.text, summary.tone) == (text, tone)
    assert summary.badge


GENERIC = re.compile(
    r"^(Widget callback|Widget message|Widget UI event|Browser event|Callback) |^Webhook \S+ verified$"
)


@pytest.mark.parametrize(
    "provider, kind, names",
    [
        ("smile_wink", "callback", CALLBACKS),
        (
            "smile_wink",
            "webhook",
            [
                *EVENT_DATA_REQUIRED,
                "ARCHIVE_STARTED",
                "ARCHIVE_ANALYZED",
                "ARCHIVE_FAILED",
                "ARCHIVE_REVOKED",
                "INVITE_INVITED",
                "INVITE_LINKED",
            ],
        ),
        ("ucw", "callback", EVENT_TYPES),
        ("smile_id", "callback", ["linkStarted", "redirected"]),
        ("smile_id", "webhook", ["final_result", "interim_result"]),
    ],
)
def test_every_event_a_provider_sends_has_a_summary_of_its_own(provider, kind, names):
    for name in names:
        payload = {"eventName": "OPEN"} if name == "onUIEvent" else {}
        summary = summarize(PROVIDERS[provider], kind, name, payload)
        assert not GENERIC.search(summary.text), (name, summary.text)


def test_every_ui_event_the_widget_sends_is_named():
    sent = set(re.findall(r'_uiEvent\("([A-Z_]+)"', SMILE_JS.read_text()))
    assert sent and sent <= set(UI_EVENTS), sent - set(UI_EVENTS)


def test_counts_read_as_english():
    assert [
        count_of(1, "identities"),
        count_of(2, "identities"),
        count_of(1, "ratings"),
        count_of(0, "ratings"),
    ] == ["1 identity", "2 identities", "1 rating", "0 ratings"]


# -- the timeline -----------------------------------------------------------------------------------

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def event(id_, name, payload, *, provider="smile_wink", kind="webhook", user="smile-u1", state="handled"):
    return StoredEvent(
        id=id_,
        provider=provider,
        kind=kind,
        name=name,
        event_id=f"e{id_}",
        app_user_id="anon-1",
        upstream_user_id=user,
        payload=payload,
        received_at=T0 + timedelta(seconds=id_),
        state=state,
    )


def task_events(start: int, account: str, *, finish: bool = True) -> list[StoredEvent]:
    base = {"userId": "smile-u1", "providers": ["sss"]}
    found = [
        event(
            start,
            "TASK_STARTED",
            make_event("TASK_STARTED", {**base, "sourceId": account, "sourceType": "ACCOUNT"}),
        )
    ]
    for i, name in enumerate(["IDENTITY_ADDED", "EMPLOYMENTS_ADDED", "CONTRIBUTIONS_ADDED"], start=1):
        data = {**base, "accountId": account}
        data.update({"identityId": "i-1"} if name == "IDENTITY_ADDED" else {"count": 12 if i == 3 else 3})
        found.append(event(start + i, name, make_event(name, data)))
    if finish:
        found.append(
            event(
                start + 4,
                "TASK_FINISHED",
                make_event(
                    "TASK_FINISHED",
                    {
                        **base,
                        "sourceId": account,
                        "status": "SUCCEEDED",
                        "datapoints": ["IDENTITIES"],
                        "data": {"IDENTITIES": 1, "EMPLOYMENTS": 3, "CONTRIBUTIONS": 12},
                    },
                ),
            )
        )
    return found


def test_a_tasks_data_webhooks_fold_into_one_row_among_the_others():
    connected = event(
        1,
        "ACCOUNT_CONNECTED",
        make_event("ACCOUNT_CONNECTED", {"accountId": "a-1", "loginName": "George", "providers": ["sss"]}),
    )
    # The widget's onClose is recorded while the task's webhooks arrive.
    task = [replace(e, id=i) for e, i in zip(task_events(10, "a-1"), (10, 11, 13, 14, 15), strict=True)]
    events = [connected, *task, event(12, "onClose", {"reason": "exit"}, kind="callback")]
    rows = build_rows(reversed(events), {})
    assert [r.name for r in rows] == ["data-fetch", "onClose", "ACCOUNT_CONNECTED"]
    folded = rows[0]
    assert folded.summary.text == "Data fetched from SSS: 1 identity, 3 employments, 12 contributions"
    assert folded.summary.tone == OK
    assert folded.names == [
        "TASK_STARTED",
        "IDENTITY_ADDED",
        "EMPLOYMENTS_ADDED",
        "CONTRIBUTIONS_ADDED",
        "TASK_FINISHED",
    ]
    assert '"TASK_FINISHED"' in folded.pretty_payload and folded.received_at == T0 + timedelta(seconds=14)


def test_a_task_under_way_says_so_and_a_second_task_is_a_row_of_its_own():
    events = [*task_events(1, "a-1"), *task_events(10, "a-1", finish=False)]
    rows = build_rows(events, {})
    assert [r.summary.text for r in rows] == [
        "Fetching data from SSS… 1 identity, 3 employments, 12 contributions so far",
        "Data fetched from SSS: 1 identity, 3 employments, 12 contributions",
    ]
    assert rows[0].summary.tone == PROGRESS and set(DATA_ADDED) >= set(rows[0].names[1:])


def test_a_ucw_connection_row_says_what_ucw_answered_and_shows_no_connection_id():
    class Ucw:
        describe = staticmethod(UniversalConnect.describe)

        def shown_payload(self, kind, name, payload):
            return {**payload, "connectionId": "…" + payload["connectionId"][-4:]}

    connected = event(
        1,
        "connect/memberConnected",
        {"aggregator": "mx", "connectionId": "MBR-secret-1234"},
        provider="ucw",
        kind="callback",
    )
    accounts = [
        {"provider": "ucw", "accountId": connection_key("mx", "MBR-secret-1234"), "status": "CONNECTED"}
    ]
    row = build_rows([connected], {"ucw": Ucw()}, accounts)[0]
    assert row.summary.text == "Bank connection confirmed by UCW"
    assert "MBR-secret" not in row.pretty_payload and "1234" in row.pretty_payload


def test_a_fourth_providers_events_show_the_generic_line_and_its_own_where_it_describes_them():
    class Described(AcmeVerify):
        def describe(self, kind, name, payload, status=None):
            return f"Acme says the verification is {name}" if kind == "webhook" else None

    events = [
        event(1, "returned", {"status": "done"}, provider="acme_verify", kind="callback"),
        event(2, "approved", {"verification": "v1"}, provider="acme_verify"),
    ]
    plain = build_rows(events, {"acme_verify": AcmeVerify()})
    assert [(r.summary.text, r.summary.badge, r.summary.tone) for r in plain] == [
        ("Webhook approved", "received", INFO),
        ("Browser event returned", "received", INFO),
    ]
    own = build_rows(events, {"acme_verify": Described()})
    assert [r.summary.text for r in own] == [
        "Acme says the verification is approved",
        "Browser event returned",
    ]


def test_a_handler_failure_shows_on_its_row():
    failed = StoredEvent(
        id=1,
        provider="smile_wink",
        kind="webhook",
        name="USER_CREATED",
        event_id="e1",
        app_user_id="u",
        upstream_user_id="s",
        payload=make_event("USER_CREATED", {}),
        received_at=T0,
        state="failed",
        error="boom",
    )
    assert build_rows([failed], {})[0].handler_error == "boom"


def test_status_groups_list_each_enabled_provider_with_the_tone_of_each_status():
    accounts = [
        {"provider": "smile_wink", "accountId": "a-1", "institutionId": "upwork", "status": "CONNECTED"},
        {"provider": "ucw", "accountId": "ucw-1", "institutionId": "mx_bank", "status": "NOT_CONFIRMED"},
        {"provider": "smile_id", "accountId": "job-1", "institutionId": None, "status": "approved"},
    ]
    groups = status_groups(accounts, ["smile_wink", "ucw", "smile_id"])
    assert [g["heading"] for g in groups] == ["Accounts", "Bank connections", "Identity verifications"]
    assert [(a["label"], a["word"], a["tone"]) for g in groups for a in g["accounts"]] == [
        ("Upwork", "connected", OK),
        ("MX Bank", "not confirmed", ERROR),
        ("Verification", "approved", OK),
    ]
    assert [g["heading"] for g in status_groups(accounts, ["smile_wink"])] == ["Accounts"]


def test_the_dashboard_shows_a_forged_connection_as_not_confirmed_by_smile(quickstart_server):
    with httpx.Client(base_url=quickstart_server.url) as browser:
        browser.get("/")
        csrf = browser.get("/wink/csrf").json()
        headers = {csrf["csrfHeader"]: csrf["csrfToken"]}
        assert browser.post("/wink/token", headers=headers).status_code == 201  # a Smile user of their own
        claim = {"name": "onAccountConnected", "args": {"accountId": "forged-acct-1", "providerId": "upwork"}}
        answer = browser.post("/wink/callbacks", json=claim, headers=headers)
        assert answer.status_code == 201, answer.text
        with quickstart_server.app.app_context():
            assert get_state().wait_for_handlers(15)
        parts = browser.get("/timeline.json").json()["parts"]
    assert 'data-account="forged-acct-1" data-status="NOT_CONFIRMED"' in parts["accounts"]
    assert "Upwork account connected — not confirmed by Smile, not trusted" in parts["events"]


def test_a_bank_is_shown_by_the_name_ucw_gave_else_its_id_in_words():
    assert institution_name({"institutionName": "First Bank", "institutionId": "fb"}) == "First Bank"
    assert institution_name({"institutionId": "mxBank"}) == "MX Bank"  # the emulator's bank
    assert institution_name({"institutionId": "mx_bank"}) == "MX Bank"
    assert institution_name({"institutionId": "first_national_bank"}) == "First National Bank"
    assert institution_name({"institutionId": "cityBank"}) == "City Bank"
    assert institution_name({"institutionId": None}) == "Bank connection"
    accounts = [{"provider": "ucw", "accountId": "ucw-1", "institutionId": "x_1", "status": "CONNECTED"}]
    [group] = status_groups(accounts, ["ucw"], {"ucw-1": "Credit Union of Texas"})
    assert group["accounts"][0]["label"] == "Credit Union of Texas"


def test_a_verifications_result_is_said_in_words_not_its_code():
    accounts = [{"provider": "smile_id", "accountId": "job-1", "institutionId": None, "status": "approved",
                 "errorCode": "1012"}]
    [group] = status_groups(accounts, ["smile_id"])
    assert group["accounts"][0]["detail"] == describe("1012")[1]


#: Badge words that name the machinery rather than what happened.
JARGON = {"ui", "step", "webhook", "callback", "redirect", "message", "search", "login", "browser"}


@pytest.mark.parametrize(
    "provider, kind, names",
    [
        ("smile_wink", "callback", [*CALLBACKS, "onSomethingNew"]),
        ("smile_wink", "webhook", [*EVENT_DATA_REQUIRED, "SOMETHING_NEW"]),
        ("ucw", "callback", [*EVENT_TYPES, "connect/somethingNew"]),
        ("smile_id", "callback", ["linkStarted", "redirected", "somethingNew"]),
        ("smile_id", "webhook", ["final_result", "interim_result", "job_status", "somethingNew"]),
    ],
)
def test_every_badge_is_a_plain_word(provider, kind, names):
    for name in names:
        ui = name == "onUIEvent"
        for payload in ({"eventName": event} for event in [*UI_EVENTS, "NEW"]) if ui else [{}]:
            badge = summarize(PROVIDERS[provider], kind, name, payload).badge
            assert badge and badge not in JARGON, (name, payload, badge)


def test_a_smile_id_confirmation_says_whether_smile_id_confirmed_the_result():
    confirmed = summarize(PROVIDERS["smile_id"], "webhook", "job_status", {"matches": True})
    assert (confirmed.badge, confirmed.tone) == ("confirmed", OK)
    assert confirmed.text == "Smile ID confirmed the result"
    refused = summarize(
        PROVIDERS["smile_id"], "webhook", "job_status", {"matches": False, "reason": "another job"}
    )
    assert refused.tone == ERROR and "another job" in refused.text


def test_an_actions_word_gets_its_mark_in_the_checklist():
    assert action_row("Verify_ID_Number", "Verified") == {
        "name": "Verify ID Number", "said": "Verified", "tone": OK, "mark": "✓"}
    assert action_row("Verify_ID_Number", "Not Verified")["mark"] == "✕"
    assert action_row("Human_Review_Compare", "Pending")["mark"] == "…"
    assert action_row("Human_Review_Compare", "Not Applicable")["mark"] == "–"


# -- /timeline.json -------------------------------------------------------------------------------


def link_user(app, app_user: str, smile_user: str) -> None:
    with app.app_context():
        get_state(app).store.link_user("smile_wink", app_user, smile_user)


def post_webhook(client, name: str, data: dict) -> None:
    body, headers = signed_webhook(make_event(name, data), SECRET)
    assert client.post("/wink/webhooks", data=body, headers=headers).status_code == 200


def test_timeline_json_answers_304_until_something_changes(quickstart_app):
    app = quickstart_app(WEBHOOK_SECRET=SECRET)
    client = app.test_client()
    first = client.get("/timeline.json")
    assert first.status_code == 200 and first.headers["ETag"]
    again = client.get("/timeline.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""

    with client.session_transaction() as session:
        user = session["wink_user"]
    link_user(app, user, "smile-u1")
    post_webhook(
        client,
        "ACCOUNT_CONNECTED",
        {"userId": "smile-u1", "accountId": "a-1", "loginName": "George", "providers": ["upwork"]},
    )
    with app.app_context():
        assert get_state(app).wait_for_handlers(15)
    changed = client.get("/timeline.json", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    parts = changed.get_json()["parts"]
    assert "Webhook ACCOUNT_CONNECTED verified — George&#39;s Upwork account connected" in parts["events"]
    assert 'data-status="CONNECTED"' in parts["accounts"] and "Upwork" in parts["accounts"]
    # The dashboard itself shows the same rows, and the ETag its live updates start from.
    page = client.get("/").get_data(as_text=True)
    assert "George&#39;s Upwork account connected" in page
    assert (
        f'data-etag="&#34;{changed.headers["ETag"].strip(chr(34))}&#34;"' in page
        or f'data-etag="&quot;{changed.headers["ETag"].strip(chr(34))}&quot;"' in page
    )


def test_timeline_filters_and_refuses_unknown_ones(quickstart_app):
    app = quickstart_app(WEBHOOK_SECRET=SECRET)
    client = app.test_client()
    client.get("/")
    with client.session_transaction() as session:
        user = session["wink_user"]
    link_user(app, user, "smile-u1")
    post_webhook(client, "USER_CREATED", {"userId": "smile-u1"})
    with app.app_context():
        assert get_state(app).wait_for_handlers(15)
    assert "USER_CREATED" in client.get("/timeline.json?kind=webhook").get_json()["parts"]["events"]
    assert "USER_CREATED" not in client.get("/timeline.json?kind=callback").get_json()["parts"]["events"]
    assert "USER_CREATED" not in client.get("/timeline.json?provider=ucw").get_json()["parts"]["events"]
    assert "USER_CREATED" not in client.get("/timeline.json?user=someone-else").get_json()["parts"]["events"]
    assert "USER_CREATED" in client.get("/timeline.json?user=*").get_json()["parts"]["events"]
    for bad in ("kind=everything", "provider=nope"):
        refused = client.get(f"/timeline.json?{bad}")
        assert refused.status_code == 400 and refused.get_json()["message"]


def test_in_live_mode_a_user_sees_only_their_own_timeline_and_the_admin_anyones(quickstart_app):
    app = quickstart_app(WEBHOOK_SECRET=SECRET, API_KEY="k", API_SECRET="s", ADMIN_PASSWORD="pw")
    link_user(app, "anon-other", "smile-other")
    with app.test_client() as other:
        post_webhook(other, "USER_CREATED", {"userId": "smile-other"})
    with app.app_context():
        assert get_state(app).wait_for_handlers(15)
    client = app.test_client()
    for query in ("user=anon-other", "user=*"):
        assert "USER_CREATED" not in client.get(f"/timeline.json?{query}").get_json()["parts"]["events"]
    assert 'name="user"' not in client.get("/").get_data(as_text=True)  # no user filter to choose from
    admin = {"Authorization": "Basic " + base64.b64encode(b"admin:pw").decode()}
    assert (
        "USER_CREATED"
        in client.get("/timeline.json?user=anon-other", headers=admin).get_json()["parts"]["events"]
    )


def test_every_quickstart_page_has_the_shared_header_and_favicon(quickstart_app):
    client = quickstart_app(WEBHOOK_SECRET=SECRET).test_client()
    # (/smile-id/links asks the emulator, which is not served here: the browser tests open it.)
    for path in ("/", "/accounts", "/data", "/archives", "/invites", "/bank", "/privacy"):
        html = client.get(path).get_data(as_text=True)
        assert 'aria-label="Quickstart pages"' in html, path
        assert 'rel="icon" href="/favicon.svg"' in html, path
        assert "quickstart.js" in html, path
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert 'href="/">' in client.get("/frontend/").get_data(as_text=True)


def test_an_event_whose_retries_ran_out_shows_as_dead_on_the_dashboard(quickstart_app):
    from flask_wink import signals
    from flask_wink.state import RetryPolicy
    from flask_wink.testing import serve

    app = quickstart_app(WEBHOOK_SECRET=SECRET)
    get_state(app).retry = RetryPolicy(attempts=1)  # the first failure is the last attempt

    def down(sender, **kw):
        raise RuntimeError("the downstream is down")

    signals.account_connected.connect(down)
    try:
        with serve(app) as served, httpx.Client(base_url=served.url) as http:
            body, headers = signed_webhook(make_event("ACCOUNT_CONNECTED", {
                "userId": "smile-u1", "accountId": "a-1", "loginName": "George", "providers": ["upwork"]
            }), SECRET)
            assert http.post("/wink/webhooks", content=body, headers=headers).status_code == 200
            assert get_state(app).wait_for_handlers(15)
            rows = http.get("/timeline.json?user=*").json()["parts"]["events"]
    finally:
        signals.account_connected.disconnect(down)
    assert "handler failed, dead: retry by hand" in rows
    assert "the downstream is down" in rows
