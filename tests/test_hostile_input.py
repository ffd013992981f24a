"""Hostile or odd bodies at the door: one decision for browser events and inbound messages of
every provider (400 JSON, nothing stored), and readers that never fail on one stored row."""

from __future__ import annotations

import json

import pytest

from conftest import ADMIN, WEBHOOK_SECRET, make_host_app
from flask_wink import get_state
from flask_wink.providers.smile_wink.signature import SIGNATURE_HEADER, sign
from flask_wink.providers.smile_wink.testing import make_event
from flask_wink.store import events as events_table

GEORGE = {"X-User": "george-42"}
WEBHOOK_PATHS = ["/wink/webhooks", "/wink/smile-wink/webhooks"]
CALLBACK_PATHS = ["/wink/callbacks", "/wink/smile-wink/events"]


def signed(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, WEBHOOK_SECRET)}


def envelope_text(**data_fields: str) -> str:
    """A Smile envelope as text, with raw JSON text spliced in for some of data's fields."""
    event = make_event("ACCOUNT_CONNECTED", {"userId": "u-1", "accountId": "a-1"})
    text = json.dumps(event)
    for key, raw in data_fields.items():
        text = text.replace('"data": {', f'"data": {{"{key}": {raw}, ', 1)
    return text


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def count(host, **filters) -> int:
    with host.app_context():
        return get_state().store.count_events(**filters)


def readable(client) -> list[dict]:
    response = client.get("/wink/events?limit=500", headers=ADMIN)
    assert response.status_code == 200, response.data
    # The listing is strict JSON: no NaN or Infinity a browser's JSON.parse would refuse.
    return json.loads(response.data, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))


# -- webhooks: 400 JSON before anything is stored ----------------------------------------------

BAD_WEBHOOKS = {
    "bom": lambda: b"\xef\xbb\xbf" + envelope_text().encode(),
    "utf16": lambda: envelope_text().encode("utf-16"),
    "utf16le": lambda: envelope_text().encode("utf-16-le"),
    "utf32": lambda: envelope_text().encode("utf-32"),
    "infinity-literal": lambda: envelope_text(n="Infinity").encode(),
    "nan": lambda: envelope_text(n="NaN").encode(),
    "overflow": lambda: envelope_text(n="1e999").encode(),
    "long-integer": lambda: envelope_text(n="9" * 4301).encode(),
    "deep-975": lambda: envelope_text(d=nested(975)).encode(),
    "deep-3000": lambda: envelope_text(d=nested(3000)).encode(),
    "deep-33": lambda: envelope_text(d=nested(33)).encode(),
    "lone-surrogate-id": lambda: envelope_text().replace('"id": "', '"id": "\\ud800', 1).encode(),
    "lone-surrogate-user": lambda: envelope_text().replace('"u-1"', '"\\udc00"').encode(),
    "lone-surrogate-account": lambda: envelope_text().replace('"a-1"', '"a\\ud800"').encode(),
    "nul-account": lambda: envelope_text().replace('"a-1"', '"a\\u0000"').encode(),
    "nul-type": lambda: envelope_text().replace('"ACCOUNT_CONNECTED"', '"X\\u0000"').encode(),
    "invalid-utf8": lambda: envelope_text().replace("u-1", "u\udcff", 1).encode("utf-8", "surrogateescape"),
}


@pytest.mark.parametrize("path", WEBHOOK_PATHS)
@pytest.mark.parametrize("case", sorted(BAD_WEBHOOKS))
def test_signed_but_unacceptable_webhooks_are_400_json_and_not_stored(client, host, path, case):
    body = BAD_WEBHOOKS[case]()
    response = client.post(path, data=body, headers=signed(body))
    assert response.status_code == 400, response.data
    assert response.mimetype == "application/json"
    assert response.get_json()["message"]
    assert count(host) == 0
    readable(client)


def test_the_refusal_says_what_is_wrong(client):
    body = b"\xef\xbb\xbf" + envelope_text().encode()
    answer = client.post("/wink/webhooks", data=body, headers=signed(body)).get_json()
    assert "byte order mark" in answer["message"]
    body = envelope_text(d=nested(40)).encode()
    assert "32" in client.post("/wink/webhooks", data=body, headers=signed(body)).get_json()["message"]
    body = envelope_text(n="1e999").encode()
    assert "Infinity" in client.post("/wink/webhooks", data=body, headers=signed(body)).get_json()["message"]


def test_nesting_up_to_the_limit_is_accepted_and_readable(client, host):
    body = envelope_text(d=nested(31)).encode()  # 33 levels with the envelope and its data
    assert client.post("/wink/webhooks", data=body, headers=signed(body)).status_code == 400
    body = envelope_text(d=nested(30)).encode()  # 32 levels
    assert client.post("/wink/webhooks", data=body, headers=signed(body)).status_code == 200
    assert readable(client)["events"][0]["payload"]["data"]["d"] == json.loads(nested(30))


@pytest.mark.parametrize("providers", ['{"x": 1}', '"x"', "7", "[1]", "[]", "null", '[{"a": 1}]'])
@pytest.mark.parametrize("path", WEBHOOK_PATHS)
def test_odd_providers_field_is_stored_and_readable(client, host, providers, path):
    body = envelope_text(providers=providers).encode()
    response = client.post(path, data=body, headers=signed(body))
    assert response.status_code == 200, response.data
    assert readable(client)["events"][0]["payload"]["data"]["providers"] == json.loads(providers)


@pytest.mark.parametrize(
    "data",
    [
        {"userId": 7, "accountId": ["x"]},
        {"userId": {"a": 1}, "accountId": {"b": 2}, "errorCode": [1]},
        {"userId": "u" * 5000, "accountId": "a" * 5000, "providers": ["p" * 5000]},
    ],
)
def test_odd_field_types_in_a_webhook_are_stored_not_5xx(client, data):
    body = json.dumps(make_event("ACCOUNT_CONNECTED", data)).encode()
    response = client.post("/wink/webhooks", data=body, headers=signed(body))
    assert response.status_code == 200, response.data
    assert readable(client)["events"][0]["payload"]["data"] == data


def test_bad_webhook_on_postgresql_is_400_too(sandbox, tmp_path):
    from postgres import fresh_postgres_database

    with fresh_postgres_database() as url:
        app, _ = make_host_app(sandbox, tmp_path, WINK_DATABASE_URL=url)
        client = app.test_client()
        for case in ("nul-account", "nul-type", "lone-surrogate-user", "utf32", "deep-975"):
            body = BAD_WEBHOOKS[case]()
            assert client.post("/wink/webhooks", data=body, headers=signed(body)).status_code == 400, case
        body = envelope_text().encode()
        assert client.post("/wink/webhooks", data=body, headers=signed(body)).status_code == 200
        assert len(readable(client)["events"]) == 1
        with app.app_context():
            get_state().store.dispose()


# -- callbacks: 400 JSON, or stored and readable ------------------------------------------------

BAD_CALLBACKS = {
    "deep-975": '{"name":"onClose","args":{"d":' + nested(975) + "}}",
    "deep-3000": '{"name":"onClose","args":{"d":' + nested(3000) + "}}",
    "overflow": '{"name":"onClose","args":{"n":1e999}}',
    "infinity": '{"name":"onClose","args":{"n":-Infinity}}',
    "long-integer": '{"name":"onClose","args":{"n":' + "1" * 4301 + "}}",
    "lone-surrogate-account": '{"name":"onAccountCreated","args":{"accountId":"\\ud800"}}',
    "nul-account": '{"name":"onAccountCreated","args":{"accountId":"a\\u0000b"}}',
    "nul-key": '{"name":"onClose","args":{"a\\u0000":1}}',
    "name-is-a-list": '{"name":["onClose"],"args":{}}',
    "name-is-an-object": '{"name":{"a":1},"args":{}}',
}


@pytest.mark.parametrize("path", CALLBACK_PATHS)
@pytest.mark.parametrize("case", sorted(BAD_CALLBACKS))
def test_unacceptable_callbacks_are_400_json_and_not_stored(client, host, path, case):
    response = client.post(
        path, data=BAD_CALLBACKS[case], headers={**GEORGE, "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.data
    assert response.mimetype == "application/json"
    assert response.get_json()["message"]
    assert count(host) == 0


@pytest.mark.parametrize("path", CALLBACK_PATHS)
def test_callback_in_utf16_or_with_bom_is_400(client, host, path):
    text = '{"name":"onClose","args":{}}'
    for body in (text.encode("utf-16"), b"\xef\xbb\xbf" + text.encode(), text.encode("utf-32")):
        response = client.post(path, data=body, headers={**GEORGE, "Content-Type": "application/json"})
        assert response.status_code == 400
    assert count(host) == 0


@pytest.mark.parametrize(
    "args",
    [
        {"account": "x"},
        {"account": ["x"]},
        {"account": {"id": ["x"], "status": {"a": 1}, "providerId": 3}},
        {"account": {"id": "acc-1", "status": "NOT_A_STATUS"}},
        {"accountId": 5, "providerId": {"x": 1}},
    ],
)
def test_odd_ui_event_shapes_are_stored_and_readable(client, host, args):
    client.post("/wink/token", headers=GEORGE)
    for name in ("onUIEvent", "onAccountCreated", "onAccountConnected"):
        response = client.post("/wink/callbacks", json={"name": name, "args": args}, headers=GEORGE)
        assert response.status_code == 201, response.data
    assert [e["payload"] for e in readable(client)["events"]] == [args] * 3
    with host.app_context():
        assert get_state().store.count_events(state="failed") == 0


# -- defence in depth: one unreadable stored row never fails a reader ---------------------------

UNREADABLE = [
    nested(3000),  # RecursionError when decoded
    '{"n": Infinity}',  # not JSON for a browser
    '{"n": 1e999}',
    "\ufeff{}",  # a BOM kept in the text
    "{not json",
]


def insert_rows(host, payloads, *, state="pending", kind="webhook") -> None:
    from flask_wink.timeutil import utcnow

    with host.app_context():
        store = get_state().store
        store.init()
        with store.engine.begin() as conn:
            for number, payload in enumerate(payloads):
                conn.execute(
                    events_table.insert().values(
                        provider="smile_wink", kind=kind, name="ACCOUNT_CONNECTED",
                        event_id=f"bad-{number}", payload=payload, received_at=utcnow(),
                        state=state, attempts=0,
                    )
                )


def test_events_listing_serves_other_rows_and_a_placeholder_for_unreadable_ones(client, host, caplog):
    body = envelope_text().encode()
    assert client.post("/wink/webhooks", data=body, headers=signed(body)).status_code == 200
    insert_rows(host, UNREADABLE)
    listed = readable(client)["events"]
    assert len(listed) == 1 + len(UNREADABLE)
    good = [e for e in listed if e["eventId"] and not e["eventId"].startswith("bad-")]
    assert good[0]["payload"]["data"]["accountId"] == "a-1"
    placeholders = [e for e in listed if e["eventId"].startswith("bad-")]
    assert all(e["payload"] == {"unreadable": True} for e in placeholders)
    assert all("could not be read" in e["payloadError"] for e in placeholders)
    assert "could not be read" in caplog.text
    # A poller walking with ?after= gets past them.
    after = readable_after(client, 0)
    assert len(after) == len(listed)


def readable_after(client, after: int) -> list[dict]:
    seen: list[dict] = []
    while True:
        response = client.get(f"/wink/events?after={after}&limit=2", headers=ADMIN)
        assert response.status_code == 200
        page = response.get_json()["events"]
        if not page:
            return seen
        seen += page
        after = max(e["id"] for e in page)


def test_worker_and_cli_survive_unreadable_rows(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, WINK_HANDLE_EVENTS="worker")
    client = app.test_client()
    insert_rows(app, UNREADABLE)
    body = envelope_text().encode()
    assert client.post("/wink/webhooks", data=body, headers=signed(body)).status_code == 200
    runner = app.test_cli_runner()
    result = runner.invoke(args=["wink", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "Handled" in result.output
    with app.app_context():
        store = get_state().store
        assert store.count_events(state="handling") == 0
        assert store.count_events(state="handled") == 1
        assert store.count_events(state="failed") == len(UNREADABLE)
    result = runner.invoke(args=["wink", "events", "--limit", "50"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) == 1 + len(UNREADABLE)
    result = runner.invoke(args=["wink", "events", "retry"])
    assert result.exit_code == 0, result.output


# -- a real database failure is 503 with Retry-After; only that -----------------------------

def test_database_failure_is_503_with_retry_after(sandbox, tmp_path):
    from conftest import free_port_url

    port = free_port_url().rsplit(":", 1)[1]  # nothing listens there: the database is down
    url = f"postgresql+psycopg://wink@127.0.0.1:{port}/wink?connect_timeout=2"
    app, _ = make_host_app(sandbox, tmp_path, WINK_DATABASE_URL=url)
    client = app.test_client()
    body = envelope_text().encode()
    for path in WEBHOOK_PATHS:
        response = client.post(path, data=body, headers=signed(body))
        assert response.status_code == 503
        assert response.headers["Retry-After"].isdigit()
        assert "database" in response.get_json()["message"]
    response = client.post("/wink/callbacks", json={"name": "onClose", "args": {}}, headers=GEORGE)
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()


def test_the_fast_path_makes_the_same_decision(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, WINK_WEBHOOK_FAST_PATH=True)
    client = app.test_client()
    for case in ("bom", "utf16", "overflow", "deep-3000", "lone-surrogate-id", "nul-type"):
        body = BAD_WEBHOOKS[case]()
        response = client.post("/wink/webhooks", data=body, headers=signed(body))
        assert response.status_code == 400, case
        assert response.get_json()["error"] == "InvalidRequest"
    assert count(app) == 0
