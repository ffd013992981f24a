"""User data over loopback HTTP: the sandbox's /v1/<kind> endpoints, their webhooks, fetching and keeping."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from conftest import WEBHOOK_SECRET, make_host_app
from flask_wink import get_state, signals
from flask_wink.providers.smile_wink import SmileNotFound
from flask_wink.providers.smile_wink import signals as smile_signals
from flask_wink.providers.smile_wink.client import SmileClient
from flask_wink.providers.smile_wink.userdata import (
    delete_source_data,
    fetch_user_data,
    revoke_account,
    store_user_data,
    stored_user_data,
)
from flask_wink.testing import serve
from spec_events import EVENT_DATA_REQUIRED

# -- what the spec says (smile-openapi-v1.yaml, components/schemas), copied so tests need no file ----

# ObjectReferenceMetadata (required) plus ObjectReferenceMetadata2's userId and providerId.
OBJECT_REFERENCE_METADATA = {"createdAt": str, "itemCreatedAt": str, "sourceId": str, "sourceType": str}
OBJECT_REFERENCE_METADATA_2 = {"sourceId": str, "sourceType": str, "userId": str, "providerId": str}
# Identity = IdentityPayload + metadata
IDENTITY_PAYLOAD = {
    "id": str, "fullName": str, "emails": list, "phones": list, "socialProfiles": list, "addresses": list
}
RATING_PAYLOAD = {"id": str}
DOCUMENT_PAYLOAD = {"id": str, "name": str}
EMPLOYMENT_PAYLOAD = {"id": str, "startDate": str}
INCOME_PAYLOAD = {"id": str, "startDate": str, "currency": str}
TRANSACTION_PAYLOAD = {"id": str, "date": str, "currency": str, "amount": (int, float)}
CONTRIBUTION_PAYLOAD = {"id": str, "date": str, "currency": str, "amount": (int, float)}
REQUIRED = {
    "identities": IDENTITY_PAYLOAD,
    "ratings": RATING_PAYLOAD,
    "documents": DOCUMENT_PAYLOAD,
    "employments": EMPLOYMENT_PAYLOAD,
    "incomes": INCOME_PAYLOAD,
    "transactions": TRANSACTION_PAYLOAD,
    "contributions": CONTRIBUTION_PAYLOAD,
}
# Nested required fields: IdentityPayload's emails/phones/socialProfiles items and RefAddress.
IDENTITY_NESTED = {"emails": {"address", "type"}, "phones": {"number", "type"},
                   "socialProfiles": {"socialUrl", "type"}, "addresses": {"type"}}
# Optional fields with a declared JSON type (number fields must be numbers, dates strings).
NUMBERS = {
    "incomes": ("baseAmount", "grossAmount", "netAmount"),
    "ratings": ("currentRating", "maxRating", "calculatedPercentage", "reviewsReceived", "likesReceived",
                "jobsCompleted"),
}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# The *_ADDED events' required data fields (IdentityAddedEvent, EmploymentsAddedEvent, ...).
ADDED_EVENTS = {name: fields for name, fields in EVENT_DATA_REQUIRED.items() if name.endswith("_ADDED")}
TASK_STARTED_EVENT_DATA = EVENT_DATA_REQUIRED["TASK_STARTED"]
TASK_FINISHED_EVENT_DATA = EVENT_DATA_REQUIRED["TASK_FINISHED"]

# What the sandbox makes for one connected account.
PER_ACCOUNT = {"identities": 1, "employments": 3, "incomes": 14, "transactions": 25, "documents": 2,
               "ratings": 1, "contributions": 12}
KINDS = tuple(PER_ACCOUNT)


# -- helpers ------------------------------------------------------------------------------


def api(sandbox) -> httpx.Client:
    return httpx.Client(base_url=sandbox.api_host, auth=(sandbox.api_key, sandbox.api_secret), verify=False)


def link_account(sandbox, host_url: str, user: str = "alice", *, login: str = "George",
                 password: str = "123456", provider: str = "upwork") -> tuple[str, str]:
    """Link an account the way the widget does, without a browser: (Smile user id, account id)."""
    with httpx.Client(verify=False) as http:  # one client: each new one loads the CA bundle again
        token = http.post(host_url + "/wink/token", headers={"X-User": user})
        assert token.status_code == 201, token.text
        body = token.json()
        session = http.post(sandbox.url + "/widget/session", json={"token": body["accessToken"]}).json()
        account = http.post(sandbox.url + "/widget/accounts", json={
            "sessionId": session["sessionId"], "providerId": provider,
            "username": login, "password": password,
        }).json()["account"]
        if account["status"] == "AWAITING_MFA":
            account = http.post(sandbox.url + f"/widget/accounts/{account['id']}/mfa",
                                json={"sessionId": session["sessionId"], "code": "1234"}).json()["account"]
    assert account["status"] == "CONNECTED", account
    return body["userId"], account["id"]


def settle(sandbox, app) -> None:
    """Wait until the sandbox delivered every webhook and the app committed what it stored."""
    assert sandbox.state.dispatcher.wait_idle(15)
    with app.app_context():
        get_state().store.flush()


def subscribe(sandbox, url: str) -> None:
    sandbox.state.create_webhook({"name": "test", "url": url + "/wink/webhooks", "eventTypes": ["ALL_EVENTS"],
                                  "active": True, "secret": WEBHOOK_SECRET})


@pytest.fixture
def served_host(sandbox, tmp_path):
    """A host app served over HTTP and subscribed to every sandbox webhook."""
    def build(**config):
        app, _ = make_host_app(sandbox, tmp_path, **config)
        return app

    def start(**config):
        app = build(**config)
        ctx = serve(app)
        served = ctx.__enter__()
        started.append(ctx)
        subscribe(sandbox, served.url)
        return app, served.url

    started: list = []
    yield start
    for ctx in started:
        ctx.__exit__(None, None, None)


def pages(client: httpx.Client, kind: str, **params) -> list[dict]:
    """Every page of one listing, as the list of its pages."""
    found, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        data = client.get(f"/{kind}", params=query).json()["data"]
        found.append(data)
        cursor = data["nextCursor"]
        if cursor is None:
            return found


# -- the sandbox's endpoints --------------------------------------------------------------


def test_every_kind_pages_across_pages_with_no_item_twice(sandbox, served_host):
    app, url = served_host()
    user_id, first = link_account(sandbox, url)
    _, second = link_account(sandbox, url, provider="sss")  # no MFA
    with api(sandbox) as client:
        for kind in KINDS:
            size = max(1, PER_ACCOUNT[kind] - 1)  # so two accounts' items never fit on one page
            listed = pages(client, kind, size=size, userId=user_id)
            assert len(listed) > 1, kind
            assert listed[-1]["nextCursor"] is None
            assert all(p["nextCursor"] is not None for p in listed[:-1])
            ids = [item["id"] for p in listed for item in p["items"]]
            assert len(ids) == len(set(ids)) == 2 * PER_ACCOUNT[kind], kind
            sources = {item["metadata"]["sourceId"] for p in listed for item in p["items"]}
            assert sources == {first, second}


def test_items_have_every_field_the_spec_requires_with_its_type(sandbox, served_host):
    app, url = served_host()
    user_id, account_id = link_account(sandbox, url)
    with api(sandbox) as client:
        for kind, required in REQUIRED.items():
            items = client.get(f"/{kind}", params={"size": 150}).json()["data"]["items"]
            assert len(items) == PER_ACCOUNT[kind]
            for item in items:
                for field, kind_type in required.items():
                    assert isinstance(item.get(field), kind_type), (kind, field, item.get(field))
                for field, kind_type in {**OBJECT_REFERENCE_METADATA, **OBJECT_REFERENCE_METADATA_2}.items():
                    assert isinstance(item["metadata"].get(field), kind_type), (kind, field)
                meta = item["metadata"]
                assert (meta["sourceId"], meta["sourceType"], meta["userId"], meta["providerId"]) == (
                    account_id, "ACCOUNT", user_id, "upwork")
                assert DATETIME.match(meta["createdAt"]) and DATETIME.match(meta["itemCreatedAt"])
                for field in ("startDate", "date", "dob", "issueDate"):
                    if item.get(field) is not None:
                        assert DATE.match(item[field]), (kind, field)
                for field in NUMBERS.get(kind, ()):
                    assert isinstance(item[field], (int, float)) and not isinstance(item[field], bool)
                if kind == "identities":
                    for field, keys in IDENTITY_NESTED.items():
                        for entry in item[field]:
                            assert keys <= set(entry), (field, entry)
                one = client.get(f"/{kind}/{item['id']}").json()
                assert one["code"] == "OK" and one["data"] == item


def test_unknown_item_is_404_missing_resource(sandbox):
    with api(sandbox) as client:
        for kind in KINDS:
            answer = client.get(f"/{kind}/nope")
            assert answer.status_code == 404
            assert answer.json()["code"] == "MISSING_RESOURCE"


def test_listing_filters_by_user_and_source(sandbox, served_host):
    app, url = served_host()
    alice, alices = link_account(sandbox, url, "alice")
    bob, bobs = link_account(sandbox, url, "bob", login="Ryan", password="654321")
    with api(sandbox) as client:
        by_user = client.get("/incomes", params={"userId": bob, "size": 150}).json()["data"]["items"]
        assert {i["metadata"]["userId"] for i in by_user} == {bob}
        assert by_user[0]["currency"] == "IDR"
        by_source = client.get("/transactions", params={"sourceId": alices, "size": 150}).json()["data"]
        assert {i["metadata"]["sourceId"] for i in by_source["items"]} == {alices}
        assert len(by_source["items"]) == 25 and by_source["nextCursor"] is None
        assert client.get("/incomes", params={"userId": "tenant-none"}).json()["data"]["items"] == []
        bad = client.get("/incomes", params={"size": "lots"})
        assert bad.status_code == 400 and bad.json()["code"] == "INVALID_PARAMETERS"


def test_data_is_the_same_each_time_for_the_same_account(sandbox, served_host):
    from flask_wink.providers.smile_wink.sandbox.userdata import make_user_data

    app, url = served_host()
    _, account_id = link_account(sandbox, url)
    account = sandbox.state.accounts[account_id]
    assert make_user_data(account) == make_user_data(dict(account))


# -- webhooks -----------------------------------------------------------------------------


def test_task_and_added_webhooks_arrive_in_order_and_are_stored(sandbox, served_host):
    app, url = served_host()
    user_id, account_id = link_account(sandbox, url)
    settle(sandbox, app)
    with app.app_context():
        events = get_state().store.list_events(kind="webhook", limit=1000)[::-1]
    names = [e.name for e in events]
    connected = names.index("ACCOUNT_CONNECTED")
    started, finished = names.index("TASK_STARTED"), names.index("TASK_FINISHED")
    added = [i for i, n in enumerate(names) if n in ADDED_EVENTS]
    assert connected < started < min(added) and max(added) < finished
    assert {names[i] for i in added} == set(ADDED_EVENTS)
    for event in events:
        data = event.payload["data"]
        if event.name in ADDED_EVENTS:
            assert ADDED_EVENTS[event.name] <= set(data), event.name
            assert (data["userId"], data["accountId"], data["providers"]) == (user_id, account_id, ["upwork"])
            if "count" in ADDED_EVENTS[event.name]:
                kind = {"EMPLOYMENTS_ADDED": "employments", "INCOMES_ADDED": "incomes",
                        "TRANSACTIONS_ADDED": "transactions", "DOCUMENTS_ADDED": "documents",
                        "CONTRIBUTIONS_ADDED": "contributions"}[event.name]
                assert data["count"] == PER_ACCOUNT[kind]
        assert event.state == "handled"
        assert event.upstream_user_id == user_id
    task_started = events[started].payload["data"]
    assert TASK_STARTED_EVENT_DATA <= set(task_started)
    assert (task_started["sourceId"], task_started["sourceType"]) == (account_id, "ACCOUNT")
    task_finished = events[finished].payload["data"]
    assert TASK_FINISHED_EVENT_DATA <= set(task_finished)
    assert task_finished["status"] == "SUCCEEDED"
    assert set(task_finished["datapoints"]) == {k.upper() for k in KINDS}
    identity = next(e for e in events if e.name == "IDENTITY_ADDED").payload["data"]["identityId"]
    with api(sandbox) as client:
        assert client.get(f"/identities/{identity}").json()["data"]["metadata"]["sourceId"] == account_id


def test_revoking_at_the_sandbox_deletes_the_accounts_data(sandbox, served_host):
    app, url = served_host()
    user_id, account_id = link_account(sandbox, url)
    with api(sandbox) as client:
        income = client.get("/incomes").json()["data"]["items"][0]["id"]
        assert client.delete(f"/accounts/{account_id}").json()["code"] == "OK"
        for kind in KINDS:
            assert client.get(f"/{kind}", params={"userId": user_id}).json()["data"]["items"] == []
        assert client.get(f"/incomes/{income}").status_code == 404


# -- the kit: fetching, keeping, WINK_FETCH_ON, revoking ----------------------------------


def test_fetch_user_data_follows_every_cursor(sandbox, served_host):
    app, url = served_host()
    user_id, _ = link_account(sandbox, url)
    link_account(sandbox, url, provider="grab")
    with app.app_context():
        document = fetch_user_data(app, user_id, page_size=4)
    assert document["userId"] == user_id and document["appUserId"] == "alice"
    assert DATETIME.match(document["fetchedAt"])
    for kind in KINDS:
        ids = [i["id"] for i in document[kind]]
        assert len(ids) == len(set(ids)) == 2 * PER_ACCOUNT[kind], kind


def test_stored_document_is_the_latest_per_user(sandbox, served_host, database_url):
    app, url = served_host(WINK_DATABASE_URL=database_url)
    user_id, _ = link_account(sandbox, url)
    with app.app_context():
        first = fetch_user_data(app, user_id)
        store_user_data(app, first)
        second = {**first, "fetchedAt": "2030-01-01T00:00:00Z", "incomes": first["incomes"][:1]}
        store_user_data(app, second)
        assert stored_user_data(app, user_id) == second
        assert stored_user_data(app, "tenant-unknown") is None


@pytest.mark.parametrize("fetch_on", ["ACCOUNT_CONNECTED", ["TASK_FINISHED"], "incomes_added, TASK_FINISHED"])
def test_wink_fetch_on_stores_data_when_the_webhook_arrives(sandbox, served_host, fetch_on):
    app, url = served_host(WINK_FETCH_ON=fetch_on)
    user_id, _ = link_account(sandbox, url)
    settle(sandbox, app)
    with app.app_context():
        stored = stored_user_data(app, user_id)
        assert get_state().store.count_events(state="failed") == 0
    assert stored is not None
    assert {k: len(stored[k]) for k in KINDS} == PER_ACCOUNT


def test_without_wink_fetch_on_nothing_is_fetched(sandbox, served_host):
    app, url = served_host()
    user_id, _ = link_account(sandbox, url)
    settle(sandbox, app)
    with app.app_context():
        assert stored_user_data(app, user_id) is None


def test_revoke_account_disconnects_everywhere_and_deletes_its_data(sandbox, served_host, database_url):
    app, url = served_host(WINK_FETCH_ON="TASK_FINISHED", WINK_DATABASE_URL=database_url)
    user_id, upwork = link_account(sandbox, url)
    _, grab = link_account(sandbox, url, provider="grab")
    settle(sandbox, app)
    seen = []

    def on_revoked(sender, **kw):
        seen.append(kw)

    smile_signals.account_revoked.connect(on_revoked)
    try:
        with app.app_context():
            outcome = revoke_account(upwork)
            store = get_state().store
            assert store.account("smile_wink", upwork).status == "DISCONNECTED"
            stored = stored_user_data(app, user_id)
    finally:
        smile_signals.account_revoked.disconnect(on_revoked)
    deleted = sum(PER_ACCOUNT.values())
    assert outcome == {
        "accountId": upwork, "status": "DISCONNECTED", "itemsDeleted": deleted, "keptData": False,
    }
    assert seen == [{"account_id": upwork, "smile_user_id": user_id, "kept_data": False}]
    for kind in KINDS:
        assert {i["metadata"]["sourceId"] for i in stored[kind]} == {grab}
    assert sandbox.state.accounts[upwork]["connectionStatus"] == "DISCONNECTED"


def test_revoke_account_keep_data_keeps_what_is_stored(sandbox, served_host):
    app, url = served_host(WINK_FETCH_ON="TASK_FINISHED")
    user_id, account_id = link_account(sandbox, url)
    settle(sandbox, app)
    with app.app_context():
        revoke_account(account_id, keep_data=True)
        stored = stored_user_data(app, user_id)
        assert get_state().store.account("smile_wink", account_id).status == "DISCONNECTED"
    assert len(stored["incomes"]) == 14


def test_client_refuses_an_unknown_kind(sandbox):
    with SmileClient(sandbox.api_host, sandbox.api_key, sandbox.api_secret) as client:
        with pytest.raises(ValueError, match="kind must be one of"):
            client.list_data("../users")
        with pytest.raises(SmileNotFound):
            client.get_data("incomes", "..")  # escaped: never /v1/ itself


# -- the quickstart's pages ---------------------------------------------------------------


@pytest.fixture
def quickstart(quickstart_app):
    with quickstart_app.served() as served:
        yield served.app, served.url


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_quickstart_accounts_and_data_pages_revoke_and_fetch(quickstart):
    app, url = quickstart
    sandbox = app.config["QUICKSTART_SANDBOX"].extensions["wink_sandbox"]
    with httpx.Client(base_url=url, verify=False) as browser:
        assert "Your accounts" in browser.get("/").text
        assert "No linked accounts yet" in browser.get("/accounts").text
        assert "No linked accounts yet" in browser.get("/data").text
        token = browser.get("/api/create_link_token").json()
        session = browser.post("/sandbox/widget/session", json={"token": token["accessToken"]}).json()
        account = browser.post("/sandbox/widget/accounts", json={
            "sessionId": session["sessionId"], "providerId": "sss",
            "username": "George", "password": "123456",
        }).json()["account"]
        assert sandbox.dispatcher.wait_idle(15)
        assert get_state(app).wait_for_handlers(15)

        page = browser.get("/accounts").text
        today = datetime.now(UTC)
        assert account["id"] in page and "CONNECTED" in page and "Revoke" in page
        assert today.strftime("%Y-%m-%d") in page
        assert (today + timedelta(days=60)).strftime("%Y-%m-%d") in page

        # The quickstart fetches once Smile says the link's data is in (TASK_FINISHED).
        data = browser.get("/data").text
        assert "Fetch now" in data and "14 incomes" in data and "George Cimafranca Palomero" in data
        # Counts read as English: "1 identity", never "1 identities".
        assert re.search(r"\b1 identity\b", data) and "1 identities" not in data
        refused = browser.post("/data/fetch", data={"csrf_token": "forged"})
        assert refused.status_code == 400 and "CSRF" in refused.json()["message"]
        fetched = browser.post("/data/fetch", data={"csrf_token": csrf_of(data)})
        assert fetched.status_code == 303 and fetched.headers["location"].endswith("/data")

        assert browser.post(f"/accounts/{account['id']}/revoke", data={}).status_code == 400
        other = browser.post("/accounts/a-someone-else/revoke", data={"csrf_token": csrf_of(page)})
        assert other.status_code == 404
        revoked = browser.post(f"/accounts/{account['id']}/revoke", data={"csrf_token": csrf_of(page)},
                               follow_redirects=True)
        assert revoked.status_code == 200
        assert "DISCONNECTED" in revoked.text and "Revoked account" in revoked.text
        assert sandbox.accounts[account["id"]]["connectionStatus"] == "DISCONNECTED"
        assert "0 incomes" in browser.get("/data").text


def test_revoke_account_sends_account_status_changed(sandbox, served_host):
    app, url = served_host()
    user_id, account_id = link_account(sandbox, url)
    settle(sandbox, app)
    seen = []

    def on_changed(sender, **kw):
        seen.append(kw)

    signals.account_status_changed.connect(on_changed)
    try:
        with app.app_context():
            revoke_account(account_id)
        settle(sandbox, app)  # the ACCOUNT_DISCONNECTED webhook may move it too; it names its event
    finally:
        signals.account_status_changed.disconnect(on_changed)
    # Whichever comes first, the kit's revoke (no event) or Smile's ACCOUNT_DISCONNECTED webhook,
    # moves the status, and the change is said exactly once.
    assert [(kw["provider"], kw["account_id"], kw["status"]) for kw in seen] == [
        ("smile_wink", account_id, "DISCONNECTED")
    ]
    assert seen[0]["upstream_user_id"] == user_id


def test_wink_fetch_on_is_read_without_writing_the_config(sandbox, served_host):
    app, url = served_host()
    link_account(sandbox, url)
    settle(sandbox, app)
    with app.app_context():
        assert get_state().store.count_events(state="handled") > 0
    assert "WINK_FETCH_ON" not in app.config


def test_delete_source_data_takes_one_transaction_per_users_document(sandbox, served_host, database_url):
    app, url = served_host(WINK_FETCH_ON="TASK_FINISHED", WINK_DATABASE_URL=database_url)
    alice, alices_account = link_account(sandbox, url, "alice")
    bob, _ = link_account(sandbox, url, "bob")
    settle(sandbox, app)
    users = {alice, bob}
    transactions: list[list[tuple[str, set]]] = [[]]

    def statement(conn, cursor, sql, parameters, context, executemany):
        if "wink_user_data" in sql:
            values = parameters.values() if isinstance(parameters, dict) else parameters or ()
            transactions[-1].append((sql, users.intersection(values)))

    def commit(conn):
        transactions.append([])

    with app.app_context():
        engine = get_state().store.engine
        sa.event.listen(engine, "before_cursor_execute", statement)
        sa.event.listen(engine, "commit", commit)
        try:
            dropped = delete_source_data(app, alices_account)
        finally:
            sa.event.remove(engine, "before_cursor_execute", statement)
            sa.event.remove(engine, "commit", commit)
        assert dropped == sum(PER_ACCOUNT.values())
        assert stored_user_data(app, alice)["incomes"] == []
        assert len(stored_user_data(app, bob)["incomes"]) == PER_ACCOUNT["incomes"]
    touched = [
        set().union(*(named for sql, named in statements if "document" in sql))
        for statements in transactions
        if any("document" in sql for sql, _ in statements)
    ]
    # Each transaction that reads or writes documents holds exactly one user's.
    assert sorted(map(sorted, touched)) == sorted([[alice], [bob]])
