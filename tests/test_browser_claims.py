"""A browser's word never reads as a confirmed status: Smile's widget reporting an account
connected is a claim (UNCONFIRMED) until Smile itself says so, by its signed webhook or when the
kit asks it (GET /accounts/{id}) for that user. The host app is served over loopback, Smile's
emulator too; handlers run in the request, so each answer shows what they did."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from conftest import ADMIN, WEBHOOK_SECRET, link_in_emulator, make_host_app
from flask_wink import signals
from flask_wink.providers.smile_wink import signals as smile_signals
from flask_wink.providers.smile_wink.sandbox import create_sandbox_app
from flask_wink.providers.smile_wink.testing import SandboxServer, make_event, signed_webhook
from flask_wink.testing import serve

FORGED = {"name": "onAccountConnected", "args": {"accountId": "forged-acct-1", "providerId": "upwork"}}


class Switchable:
    """Smile's emulator, with a switch that makes its ``GET /v1/accounts/{id}`` answer 503."""

    def __init__(self, app) -> None:
        self.app, self.down = app, False

    def __call__(self, environ, start_response):
        reading = environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"].startswith("/v1/accounts/")
        if self.down and reading:
            body = json.dumps({"code": "SERVICE_UNAVAILABLE", "message": "Try again later."}).encode()
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [body]
        return self.app(environ, start_response)


@pytest.fixture
def smile() -> Iterator[tuple[SandboxServer, Switchable]]:
    app = create_sandbox_app(webhook_retry_delays=(0.05, 0.1))
    state = app.extensions["wink_sandbox"]
    switch = Switchable(app)
    try:
        with serve(switch) as served:
            server = SandboxServer(served.url, served.url + "/v1", state.api_key, state.api_secret, state)
            yield server, switch
    finally:
        state.dispatcher.close()


@contextmanager
def served_host(sandbox, tmp_path, **config) -> Iterator[tuple[str, object]]:
    app, _ = make_host_app(sandbox, tmp_path, **config)
    with serve(app) as served:
        yield served.url, app


def token(url: str, user: str) -> dict:
    answer = httpx.post(url + "/wink/token", headers={"X-User": user})
    assert answer.status_code == 201, answer.text
    return answer.json()


def callback(url: str, user: str, body: dict) -> None:
    answer = httpx.post(url + "/wink/callbacks", headers={"X-User": user}, json=body)
    assert answer.status_code == 201, answer.text


def webhook(url: str, event_type: str, data: dict) -> None:
    body, headers = signed_webhook(make_event(event_type, data), WEBHOOK_SECRET)
    answer = httpx.post(url + "/wink/webhooks", content=body, headers=headers)
    assert answer.status_code == 200, answer.text


def accounts_of(url: str, user: str) -> dict[str, dict]:
    listed = httpx.get(url + f"/wink/accounts?user={user}", headers=ADMIN).json()["accounts"]
    return {a["accountId"]: a for a in listed}


@contextmanager
def received(*watched) -> Iterator[list]:
    """What the signals sent while the block ran: (signal name, kwargs)."""
    got: list = []
    receivers = [(s, lambda app, _s=s, **kw: got.append((_s.name, kw))) for s in watched]
    for signal, fn in receivers:
        signal.connect(fn)
    try:
        yield got
    finally:
        for signal, fn in receivers:
            signal.disconnect(fn)


def test_a_forged_connection_is_listed_not_confirmed_once_smile_does_not_know_it(smile, tmp_path):
    sandbox, _ = smile
    with served_host(sandbox, tmp_path) as (url, _):
        token(url, "mallory")
        callback(url, "mallory", FORGED)
        forged = accounts_of(url, "mallory")["forged-acct-1"]
    assert (forged["status"], forged["connectedAt"], forged["errorCode"]) == (
        "NOT_CONFIRMED", None, "MISSING_RESOURCE")


def test_a_forged_connection_sends_no_account_connected_and_changes_say_it_is_a_claim(smile, tmp_path):
    sandbox, _ = smile
    with served_host(sandbox, tmp_path) as (url, _):
        smile_user = token(url, "mallory")["userId"]
        with received(signals.account_connected, signals.account_status_changed) as got:
            callback(url, "mallory", FORGED)
    assert [(name, kw.get("status"), kw.get("upstream_user_id")) for name, kw in got] == [
        ("account-status-changed", "UNCONFIRMED", smile_user),
        ("account-status-changed", "NOT_CONFIRMED", smile_user),
    ]


def test_a_claim_is_unconfirmed_while_smile_cannot_be_read_and_connected_once_it_answers(smile, tmp_path):
    sandbox, switch = smile
    with served_host(sandbox, tmp_path) as (url, app):
        account_id = link_in_emulator(sandbox, token(url, "george")["accessToken"])
        switch.down = True
        callback(url, "george", {"name": "onAccountConnected",
                                 "args": {"accountId": account_id, "providerId": "upwork"}})
        claimed = accounts_of(url, "george")[account_id]
        event = httpx.get(url + "/wink/events?kind=callback", headers=ADMIN).json()["events"][0]
        switch.down = False
        retried = app.test_cli_runner().invoke(args=["wink", "events", "retry"])
        confirmed = accounts_of(url, "george")[account_id]
    assert (claimed["status"], claimed["connectedAt"]) == ("UNCONFIRMED", None)
    assert event["state"] == "failed" and "Smile could not confirm" in event["error"]
    assert "handled 1" in retried.output
    assert confirmed["status"] == "CONNECTED" and confirmed["connectedAt"]


def test_a_genuine_connection_is_connected_once_smile_confirms_it_for_that_user(smile, tmp_path):
    sandbox, _ = smile
    with served_host(sandbox, tmp_path) as (url, _):
        account_id = link_in_emulator(sandbox, token(url, "george")["accessToken"])
        with received(signals.account_connected) as got:
            callback(url, "george", {"name": "onAccountConnected",
                                     "args": {"accountId": account_id, "providerId": "upwork"}})
        account = accounts_of(url, "george")[account_id]
    assert (account["status"], account["institutionId"]) == ("CONNECTED", "upwork")
    assert [(kw["account_id"], kw["source"]) for _, kw in got] == [(account_id, "upstream")]


def test_another_users_account_claimed_by_a_browser_is_not_confirmed(smile, tmp_path):
    sandbox, _ = smile
    with served_host(sandbox, tmp_path) as (url, _):
        alices = link_in_emulator(sandbox, token(url, "alice")["accessToken"])
        token(url, "mallory")
        with received(smile_signals.account_not_confirmed) as got:
            callback(url, "mallory", {"name": "onAccountConnected",
                                      "args": {"accountId": alices, "providerId": "upwork"}})
        claimed = accounts_of(url, "mallory")[alices]
    assert (claimed["status"], claimed["errorCode"]) == ("NOT_CONFIRMED", "OTHER_USER")
    assert [kw["account_id"] for _, kw in got] == [alices]


def test_smiles_signed_webhook_confirms_a_claim(smile, tmp_path):
    sandbox, switch = smile
    with served_host(sandbox, tmp_path) as (url, _):
        smile_user = token(url, "george")["userId"]
        switch.down = True  # the kit's own read fails: only the webhook can confirm the claim
        callback(url, "george", {"name": "onAccountConnected",
                                 "args": {"accountId": "a-77", "providerId": "grab"}})
        before = accounts_of(url, "george")["a-77"]["status"]
        webhook(url, "ACCOUNT_CONNECTED", {"userId": smile_user, "accountId": "a-77", "providers": ["grab"]})
        after = accounts_of(url, "george")["a-77"]
    assert before == "UNCONFIRMED"
    assert after["status"] == "CONNECTED" and after["connectedAt"]


@pytest.mark.parametrize(
    "claim",
    [
        {"name": "onAccountError", "args": {"accountId": "a-5", "errorCode": "INVALID_CREDENTIALS"}},
        {"name": "onAccountRemoved", "args": {"accountId": "a-5"}},
        {"name": "onUIEvent", "args": {"eventName": "ACCOUNT_ERROR",
                                       "account": {"id": "a-5", "status": "ERROR"}}},
    ],
    ids=lambda claim: f"{claim['name']}-{claim['args'].get('eventName', '')}",
)
def test_a_claim_never_moves_an_account_smile_confirmed(smile, tmp_path, claim):
    sandbox, _ = smile
    with served_host(sandbox, tmp_path) as (url, _):
        smile_user = token(url, "george")["userId"]
        webhook(url, "ACCOUNT_CONNECTED", {"userId": smile_user, "accountId": "a-5", "providers": ["grab"]})
        callback(url, "george", claim)
        account = accounts_of(url, "george")["a-5"]
    assert account["status"] == "CONNECTED"


def test_a_removal_the_widget_reports_leaves_the_account_to_smiles_word(smile, tmp_path):
    # DISCONNECTED is final: taken from a browser, it would stop Smile's later ACCOUNT_CONNECTED.
    sandbox, _ = smile
    with served_host(sandbox, tmp_path) as (url, _):
        smile_user = token(url, "george")["userId"]
        webhook(url, "ACCOUNT_CREATED", {"userId": smile_user, "accountId": "a-6", "providers": ["grab"]})
        callback(url, "george", {"name": "onAccountRemoved", "args": {"accountId": "a-6"}})
        webhook(url, "ACCOUNT_CONNECTED", {"userId": smile_user, "accountId": "a-6", "providers": ["grab"]})
        account = accounts_of(url, "george")["a-6"]
    assert account["status"] == "CONNECTED"
