"""The UCW provider on the core, against the emulator over loopback: starting a link (v2, v1),
relayed events, server-side confirmation, data, refresh, deletes, the CLI."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from flask_wink import get_state
from flask_wink.providers.ucw import (
    CONNECTED,
    NOT_CONFIRMED,
    connection_key,
    institution_names,
    stored_data,
    user_connections,
)
from flask_wink.providers.ucw.client import UcwClient
from flask_wink.providers.ucw.errors import UcwRefused, UcwServerError
from flask_wink.providers.ucw.sandbox import create_sandbox_app
from flask_wink.providers.ucw.testing import run_ucw_sandbox
from flask_wink.testing import serve
from postgres import fresh_postgres_database
from ucw_host import make_ucw_app

ADA = {"X-User": "ada"}


@pytest.fixture
def ucw():
    with run_ucw_sandbox() as served:
        yield served


def new_app(ucw, tmp_path, **config):
    config.setdefault("WINK_HANDLE_EVENTS", "request")
    config.setdefault("WTF_CSRF_ENABLED", False)
    return make_ucw_app(ucw.url, tmp_path, **config)


def log_in(widget_url, guid="mxBank", username="mxuser", password="correct"):
    """Load the widget once and log in as its script would; the member UCW answers with."""
    page = httpx.get(widget_url)
    assert page.status_code == 200, page.text
    base = widget_url.split("/widget")[0]
    # The widget's first call uses the token up and opens its session.
    config = httpx.post(base + "/widget/api/instrumentation",
                        json={"query": urlsplit(widget_url).query}).json()
    return config, httpx.post(base + "/widget/api/members", headers={"X-UCW-Session": config["session"]},
                              json={"institutionId": guid, "username": username, "password": password}).json()


def relay(client, name, args, headers=ADA):
    return client.post("/wink/ucw/callbacks", json={"name": name, "args": args}, headers=headers)


def test_a_link_starts_with_a_one_use_widget_url_for_a_stable_ucw_user(ucw, tmp_path):
    app = new_app(ucw, tmp_path)
    client = app.test_client()
    first = client.post("/wink/ucw/token", headers=ADA)
    again = client.post("/wink/ucw/token", headers=ADA)
    assert first.status_code == 201
    body = first.get_json()
    assert body["widgetUrl"].startswith(ucw.url + "/widget?token=")
    assert body["userId"] == again.get_json()["userId"] != "ada"
    assert body["widgetUrl"] != again.get_json()["widgetUrl"]
    config, _ = log_in(body["widgetUrl"])
    # The target origin is the app's own (the test client's http://localhost).
    assert config["targetOrigin"] == "http://localhost" and config["version"] == "v2"


def test_use_app_user_id_sends_the_apps_id(ucw, tmp_path):
    app = new_app(ucw, tmp_path, WINK_UCW_USE_APP_USER_ID="true")
    assert app.test_client().post("/wink/ucw/token", headers=ADA).get_json()["userId"] == "ada"


def test_a_confirmed_connection_is_stored_connected_with_its_data(ucw, tmp_path):
    app = new_app(ucw, tmp_path)
    client = app.test_client()
    widget = client.post("/wink/ucw/token", headers=ADA).get_json()
    _, member = log_in(widget["widgetUrl"])
    relay(client, "connect/selectedInstitution",
          {"name": "MX Bank", "guid": "mxBank", "url": "https://mx.com", "code": "mxbank"})
    metadata = {k: member[k] for k in ("ucpInstitutionId", "aggregator", "connectionId", "aggregatorUserId")}
    assert relay(client, "connect/memberConnected", metadata).status_code == 201
    key = connection_key("mx", member["connectionId"])
    with app.app_context():
        state = get_state()
        account = state.store.account("ucw", key)
        assert account.status == CONNECTED and account.upstream_user_id == widget["userId"]
        assert account.institution_id == "mxBank"
        document = stored_data(state, key)
        assert [a["depositAccount"]["accountType"] for a in document["accounts"]] == ["CHECKING", "SAVINGS"]
        assert document["customers"][0]["name"]["last"] == "Doe"
        assert document["transactions"] and document["institutionName"] == "MX Bank"
        listed = user_connections(state, widget["userId"])
        names = institution_names(state, [widget["userId"], "nobody"])
    assert [c["status"] for c in listed] == [CONNECTED]
    assert names == {key: listed[0]["institutionName"]} and names[key]
    # The user's own list never carries the connection id.
    mine = client.get("/wink/ucw/connections", headers=ADA).get_json()["connections"]
    assert mine[0]["key"] == key and member["connectionId"] not in json.dumps(mine)
    assert client.get("/wink/ucw/connections", headers={"X-User": "bob"}).get_json() == {"connections": []}


def link_over_loopback(served, user="ada"):
    """Link MX Bank as the link page does, over loopback: a widget URL, the widget's login, and
    the widget's events relayed to the app; the member UCW made."""
    headers = {"X-User": user}
    widget = httpx.post(served.url + "/wink/ucw/token", headers=headers).json()
    _, member = log_in(widget["widgetUrl"])
    metadata = {k: member[k] for k in ("ucpInstitutionId", "aggregator", "connectionId", "aggregatorUserId")}
    # Every shape the widget sends a connection id in: top level (v2, v1) and a memberError's member.
    raw = member["connectionId"]
    for name, args in (("connect/memberError", {"member": {"guid": raw, "connection_status": 2}}),
                       ("connect/submitMFA", {"member_guid": raw}),
                       ("connect/memberStatusUpdate", {**metadata, "connectionStatus": 6}),
                       ("connect/memberConnected", metadata)):
        answer = httpx.post(served.url + "/wink/ucw/callbacks", headers=headers,
                            json={"name": name, "args": args})
        assert answer.status_code == 201, answer.text
    return widget, member


def stored_events_text(tmp_path) -> str:
    """Every column of every row of wink_events, read from the SQLite file itself."""
    with contextlib.closing(sqlite3.connect(tmp_path / "wink.sqlite3")) as db:
        return json.dumps(db.execute("SELECT * FROM wink_events").fetchall(), default=str)


def test_no_connection_id_reaches_the_events_table_or_the_cli_yet_the_connection_is_confirmed(ucw, tmp_path):
    app = new_app(ucw, tmp_path)
    with serve(app) as served:
        _, member = link_over_loopback(served)
        listed = httpx.get(served.url + "/wink/events?provider=ucw",
                           headers={"X-Admin": "yes"}).json()["events"]
    raw, key = member["connectionId"], connection_key("mx", member["connectionId"])
    with app.app_context():
        assert get_state().store.account("ucw", key).status == CONNECTED
    stored = stored_events_text(tmp_path)
    printed = app.test_cli_runner().invoke(args=["wink", "events", "--provider", "ucw"])
    assert printed.exit_code == 0 and "connect/memberConnected" in printed.output
    assert raw not in stored and raw not in printed.output and raw not in json.dumps(listed)
    # Stored with the connection's key and the id's last four characters instead.
    shown = next(e for e in listed if e["name"] == "connect/memberConnected")["payload"]
    assert shown["connection"] == key and shown["connectionId"] == "…" + raw[-4:]
    assert shown["aggregator"] == "mx"
    # The id is kept in one place: the confirmed connection's row.
    with contextlib.closing(sqlite3.connect(tmp_path / "wink.sqlite3")) as db:
        assert db.execute("SELECT account_id FROM wink_ucw_connections WHERE connection_id = ?",
                          (raw,)).fetchall() == [(key,)]


class Outage:
    """UCW with its data API answering 503 while ``down`` is set."""

    def __init__(self, app):
        self.app, self.down = app, False

    def __call__(self, environ, start_response):
        if self.down and environ["PATH_INFO"].startswith("/api/data/"):
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"message": "Service Unavailable"}']
        return self.app(environ, start_response)


def test_a_confirmation_that_failed_is_confirmed_by_a_retry_though_the_event_holds_no_connection_id(tmp_path):
    outage = Outage(create_sandbox_app())
    with serve(outage) as ucw_served:
        app = new_app(SimpleNamespace(url=ucw_served.url), tmp_path)
        with serve(app) as served:
            headers = {"X-User": "ada"}
            widget = httpx.post(served.url + "/wink/ucw/token", headers=headers).json()
            _, member = log_in(widget["widgetUrl"])
            outage.down = True
            ids = {"aggregator": "mx", "connectionId": member["connectionId"], "ucpInstitutionId": "mx_bank"}
            relayed = httpx.post(served.url + "/wink/ucw/callbacks", headers=headers,
                                 json={"name": "connect/memberConnected", "args": ids})
            assert relayed.status_code == 201
        key = connection_key("mx", member["connectionId"])
        with app.app_context():
            store = get_state().store
            store.flush()  # the "failed" mark rides with the next group of writes
            assert store.account("ucw", key).status == "UNCONFIRMED"
            assert [e.state for e in store.list_events(provider="ucw")] == ["failed"]
        assert member["connectionId"] not in stored_events_text(tmp_path)
        outage.down = False
        retried = app.test_cli_runner().invoke(args=["wink", "events", "retry"])
        assert retried.exit_code == 0 and "0 still failed" in retried.output, retried.output
    with app.app_context():
        assert get_state().store.account("ucw", key).status == CONNECTED
    with contextlib.closing(sqlite3.connect(tmp_path / "wink.sqlite3")) as db:
        # Confirmed: the claim that waited for UCW is gone; the connection's row keeps the id.
        assert db.execute("SELECT account_id FROM wink_ucw_connections").fetchall() == [(key,)]


def test_a_forged_member_connected_is_not_stored_connected(ucw, tmp_path):
    app = new_app(ucw, tmp_path)
    client = app.test_client()
    client.post("/wink/ucw/token", headers=ADA)
    forged = {"aggregator": "mx", "connectionId": "MBR-forged", "ucpInstitutionId": "mxBank"}
    assert relay(client, "connect/memberConnected", forged).status_code == 201
    with app.app_context():
        state = get_state()
        account = state.store.account("ucw", connection_key("mx", "MBR-forged"))
        assert account.status == NOT_CONFIRMED and account.connected_at is None
        assert stored_data(state, connection_key("mx", "MBR-forged")) is None


FORGED_IDS = [
    {"aggregator": "mx", "connectionId": "MBR-caf\u00e9"},
    {"aggregator": "mx", "connectionId": "MBR-1\r\nX-Injected: yes"},
    {"aggregator": "mx", "member_guid": "MBR 1"},
    {"aggregator": "mx", "connectionId": "M" * 201},
    {"aggregator": "mx\n", "connectionId": "MBR-1"},
    {"aggregator": "m" * 101, "connectionId": "MBR-1"},
    {"aggregator": "mx", "connectionId": "MBR-1", "ucpInstitutionId": "i" * 5000},
    {"aggregator": "mx", "connectionId": "MBR-1", "ucpInstitutionId": "bank\u00e9"},
    {"aggregator": "mx", "connectionId": ["MBR-1"]},
]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_relayed_member_connected_with_ids_ucw_never_makes_is_ignored(ucw, tmp_path, database):
    config = {}
    with contextlib.ExitStack() as stack:
        if database == "postgresql":
            config["WINK_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        app = new_app(ucw, tmp_path, **config)
        client = app.test_client()
        client.post("/wink/ucw/token", headers=ADA)
        for forged in FORGED_IDS:
            assert relay(client, "connect/memberConnected", forged).status_code == 201
        with app.app_context():
            state = get_state()
            assert state.wait_for_handlers(30)
            events = state.store.list_events(provider="ucw", limit=50)
            assert len(events) == len(FORGED_IDS) and {e.state for e in events} == {"handled"}
            # No connection is left "being confirmed": nothing was recorded for these claims.
            assert state.store.list_accounts(provider="ucw") == []
            state.store.dispose()


def test_a_connection_id_no_request_can_carry_is_a_refusal_not_a_failure(ucw):
    client = UcwClient(ucw.url)
    for bad in ("MBR-caf\u00e9", "MBR-1\r\nX-Injected: yes"):
        with pytest.raises(UcwRefused) as refused:
            client.accounts("mx", "u-1", bad)
        assert not isinstance(refused.value, UcwServerError)
        assert "not valid in a request" in str(refused.value)
    client.close()


def test_a_well_formed_connection_id_ucw_refuses_ends_not_confirmed(ucw, tmp_path):
    app = new_app(ucw, tmp_path)
    client = app.test_client()
    client.post("/wink/ucw/token", headers=ADA)
    odd = {"aggregator": "mx", "connectionId": "MBR-{odd}~!", "ucpInstitutionId": "mxBank"}
    relay(client, "connect/memberConnected", odd)
    with app.app_context():
        state = get_state()
        assert state.wait_for_handlers(30)
        assert state.store.account("ucw", connection_key("mx", "MBR-{odd}~!")).status == NOT_CONFIRMED


def test_another_users_connection_is_not_confirmed_for_the_caller(ucw, tmp_path):
    app = new_app(ucw, tmp_path)
    client = app.test_client()
    widget = client.post("/wink/ucw/token", headers=ADA).get_json()
    _, member = log_in(widget["widgetUrl"])
    client.post("/wink/ucw/token", headers={"X-User": "eve"})
    stolen = {"aggregator": "mx", "connectionId": member["connectionId"]}
    relay(client, "connect/memberConnected", stolen, headers={"X-User": "eve"})
    with app.app_context():
        account = get_state().store.account("ucw", connection_key("mx", member["connectionId"]))
    assert account.status == NOT_CONFIRMED


def test_a_connection_named_first_by_another_user_becomes_its_owners_once_confirmed(ucw, tmp_path):
    app = new_app(ucw, tmp_path)
    client = app.test_client()
    widget = client.post("/wink/ucw/token", headers=ADA).get_json()
    _, member = log_in(widget["widgetUrl"])
    eve = {"X-User": "eve"}
    client.post("/wink/ucw/token", headers=eve)
    metadata = {k: member[k] for k in ("ucpInstitutionId", "aggregator", "connectionId", "aggregatorUserId")}
    relay(client, "connect/memberConnected", metadata, headers=eve)  # Eve names it first
    relay(client, "connect/memberConnected", metadata)  # then its owner
    key = connection_key("mx", member["connectionId"])
    with app.app_context():
        account = get_state().store.account("ucw", key)
    assert account.status == CONNECTED and account.upstream_user_id == widget["userId"]
    admin = {"X-Admin": "yes"}
    assert client.get("/wink/accounts?provider=ucw&user=eve", headers=admin).get_json() == {"accounts": []}
    mine = client.get("/wink/accounts?provider=ucw&user=ada", headers=admin).get_json()["accounts"]
    assert [a["accountId"] for a in mine] == [key]


def test_in_the_background_confirmation_runs_after_the_answer(ucw, tmp_path):
    app = new_app(ucw, tmp_path, WINK_HANDLE_EVENTS="background")
    client = app.test_client()
    widget = client.post("/wink/ucw/token", headers=ADA).get_json()
    _, member = log_in(widget["widgetUrl"])
    relay(client, "connect/memberConnected", {"aggregator": "mx", "connectionId": member["connectionId"]})
    with app.app_context():
        state = get_state()
        assert state.wait_for_handlers(30)
        assert state.store.account("ucw", connection_key("mx", member["connectionId"])).status == CONNECTED


def test_v1_builds_the_widget_url_with_a_token_when_a_bearer_is_set(tmp_path):
    with run_ucw_sandbox(bearer_token="secret-bearer") as ucw:
        app = new_app(ucw, tmp_path, WINK_UCW_API_VERSION="v1", WINK_UCW_TOKEN="secret-bearer")
        client = app.test_client()
        body = client.post("/wink/ucw/token", headers=ADA).get_json()
        query = parse_qs(urlsplit(body["widgetUrl"]).query)
        assert query["jobTypes"] == ["accountNumber,accountOwner,transactions"]
        assert query["userId"] == [body["userId"]] and query["token"]
        config, member = log_in(body["widgetUrl"])
        assert config["version"] == "v1" and member["status"] == "CONNECTED"
        relay(client, "connect/selectedInstitution", {"name": "MX Bank", "guid": "mxBank"})
        relay(client, "connect/memberConnected", {"aggregator": "mx", "member_guid": member["connectionId"]})
        with app.app_context():
            account = get_state().store.account("ucw", connection_key("mx", member["connectionId"]))
        assert account.status == CONNECTED and account.institution_id == "mxBank"


def test_refresh_sends_the_connection_in_the_body_and_only_for_its_owner(ucw, tmp_path):
    app = new_app(ucw, tmp_path)
    client = app.test_client()
    widget = client.post("/wink/ucw/token", headers=ADA).get_json()
    _, member = log_in(widget["widgetUrl"])
    relay(client, "connect/memberConnected", {"aggregator": "mx", "connectionId": member["connectionId"],
                                              "ucpInstitutionId": "mxBank"})
    key = connection_key("mx", member["connectionId"])
    refresh = client.post(f"/wink/ucw/token?connection={key}", headers=ADA).get_json()
    assert refresh["refresh"] is True and member["connectionId"] not in refresh["widgetUrl"]
    config, again = log_in(refresh["widgetUrl"])
    assert config["refresh"] is True and config["institution"]["guid"] == "mxBank"
    assert again["connectionId"] == member["connectionId"]
    client.post("/wink/ucw/token", headers={"X-User": "eve"})
    theirs = client.post(f"/wink/ucw/token?connection={key}", headers={"X-User": "eve"})
    assert theirs.status_code == 404 and theirs.get_json()["message"]
    assert client.get("/wink/ucw/link?connection=nonsense", headers=ADA).status_code == 400
    # The refresh page too: only the owner sees it; another user (or nobody) gets the same 404.
    mine = client.get(f"/wink/ucw/link?connection={key}", headers=ADA)
    assert mine.status_code == 200 and "Refresh a bank connection" in mine.get_data(as_text=True)
    for headers in ({"X-User": "eve"}, {"X-User": "mallory"}, {}):
        page = client.get(f"/wink/ucw/link?connection={key}", headers=headers)
        assert page.status_code == 404
        assert page.get_json()["message"] == "You have no such connection to refresh."
    missing = client.get("/wink/ucw/link?connection=ucw-" + "0" * 32, headers=ADA)
    assert missing.status_code == 404


def test_cli_refresh_without_the_apps_address_says_which_setting_to_set(ucw, tmp_path):
    app = new_app(ucw, tmp_path)  # TRUSTED_HOSTS only: no address outside a request
    client = app.test_client()
    widget = client.post("/wink/ucw/token", headers=ADA).get_json()
    _, member = log_in(widget["widgetUrl"])
    relay(client, "connect/memberConnected", {"aggregator": "mx", "connectionId": member["connectionId"],
                                              "ucpInstitutionId": "mx_bank"})
    key = connection_key("mx", member["connectionId"])
    refused = app.test_cli_runner().invoke(args=["wink", "ucw", "refresh", "ada", key])
    assert refused.exit_code == 1
    assert refused.output.startswith("Error: WINK_PUBLIC_URL is not set")
    assert len(refused.output.splitlines()) == 1


def test_cli_lists_refreshes_fetches_exports_and_deletes(ucw, tmp_path):
    app = new_app(ucw, tmp_path, WINK_PUBLIC_URL="https://app.example")
    client = app.test_client()
    widget = client.post("/wink/ucw/token", headers=ADA).get_json()
    _, member = log_in(widget["widgetUrl"])
    relay(client, "connect/memberConnected", {"aggregator": "mx", "connectionId": member["connectionId"],
                                              "ucpInstitutionId": "mxBank"})
    key = connection_key("mx", member["connectionId"])
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["wink", "ucw", "connections", "ada"])
    assert json.loads(listed.output)["key"] == key
    url = runner.invoke(args=["wink", "ucw", "refresh", "ada", key]).output.strip()
    assert url == f"https://app.example/wink/ucw/link?connection={key}"
    fetched = runner.invoke(args=["wink", "ucw", "fetch", "ada", key])
    assert fetched.exit_code == 0 and "2 account(s)" in fetched.output
    exported = json.loads(runner.invoke(args=["wink", "ucw", "export", "ada"]).output)
    assert exported["appUserId"] == "ada" and len(exported["connections"][0]["accounts"]) == 2
    assert runner.invoke(args=["wink", "ucw", "delete-connection", "bob", key]).exit_code != 0
    deleted = runner.invoke(args=["wink", "ucw", "delete-connection", "ada", key])
    assert deleted.exit_code == 0, deleted.output
    with app.app_context():
        assert get_state().store.account("ucw", key).status == "DELETED"
        assert stored_data(get_state(), key) is None
    gone = httpx.get(ucw.url + "/api/data/accounts", params={"aggregator": "mx", "userId": widget["userId"]},
                     headers={"UCW-Connection-Id": member["connectionId"]})
    assert gone.status_code == 404


def test_delete_user_removes_the_user_at_ucw(ucw, tmp_path):
    app = new_app(ucw, tmp_path)
    client = app.test_client()
    widget = client.post("/wink/ucw/token", headers=ADA).get_json()
    _, member = log_in(widget["widgetUrl"])
    relay(client, "connect/memberConnected", {"aggregator": "mx", "connectionId": member["connectionId"]})
    result = app.test_cli_runner().invoke(args=["wink", "ucw", "delete-user", "ada"])
    assert result.exit_code == 0 and "1 connection(s)" in result.output
    gone = httpx.get(ucw.url + "/api/data/accounts", params={"aggregator": "mx", "userId": widget["userId"]},
                     headers={"UCW-Connection-Id": member["connectionId"]})
    assert gone.json() == {"message": "Can't resolve userId"}


@pytest.mark.parametrize("config, fix", [
    ({"WINK_UCW_API_VERSION": "v3"}, "WINK_UCW_API_VERSION"),
    ({"WINK_UCW_JOB_TYPES": "transactions,bogus"}, "WINK_UCW_JOB_TYPES"),
    ({"WINK_UCW_TARGET_ORIGIN": "app.example"}, "WINK_UCW_TARGET_ORIGIN"),
    ({"WINK_UCW_URL": "not a url"}, "WINK_UCW_URL"),
])
def test_misconfiguration_is_one_line_saying_the_fix(tmp_path, config, fix):
    with pytest.raises(RuntimeError, match=fix) as raised:
        make_ucw_app("http://127.0.0.1:9", tmp_path, **config)
    assert "\n" not in str(raised.value)


def test_ucw_is_enabled_only_when_its_url_is_set(tmp_path):
    from flask_wink.providers.ucw import UniversalConnect

    assert not UniversalConnect.configured({})
    assert UniversalConnect.configured({"WINK_UCW_URL": "https://ucw.example"})


def test_the_link_pages_calls_need_the_csrf_token_and_say_so_in_one_sentence(ucw, tmp_path):
    client = new_app(ucw, tmp_path, WTF_CSRF_ENABLED=True).test_client()
    refused = client.post("/wink/ucw/token", headers=ADA)
    assert refused.status_code == 400
    assert refused.get_json()["message"] == (
        "CSRF check failed: The CSRF token is missing. Send the page's token in X-CSRFToken.")
