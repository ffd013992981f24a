"""SmileClient against the served sandbox, and against throwaway servers that misbehave."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from flask import Flask, Response

from conftest import free_port_url
from flask_wink.providers.smile_wink import (
    SmileAPIError,
    SmileAuthError,
    SmileClient,
    SmileConnectionError,
    SmileNotFound,
    SmileServerError,
    SmileTimeout,
)
from flask_wink.providers.smile_wink.testing import run_sandbox
from flask_wink.testing import serve

SECRET = "sbx-secret-that-must-never-leak"
HOOK_SECRET = "a little secret"

# All traffic is plain loopback HTTP; one CA bundle for the raw clients saves ~60 ms apiece.
CA = ssl.create_default_context()


@pytest.fixture
def client(sandbox) -> Iterator[SmileClient]:
    """A client for a fresh sandbox."""
    with SmileClient(sandbox.api_host, sandbox.api_key, sandbox.api_secret) as smile:
        yield smile


@pytest.fixture(scope="module")
def shared() -> Iterator:
    """One sandbox for the tests that change nothing in it (a fresh one per test costs ~0.1 s)."""
    with run_sandbox() as served:
        yield served


@pytest.fixture(scope="module")
def readonly(shared) -> Iterator[SmileClient]:
    """A client for the shared sandbox: only for calls that create nothing."""
    with SmileClient(shared.api_host, shared.api_key, shared.api_secret) as smile:
        yield smile


def link_account(sandbox, smile: SmileClient, provider: str = "sss", user_id: str | None = None) -> dict:
    """George links ``provider`` through the widget endpoints; the widget's account view."""
    if user_id is None:
        token = smile.create_user()["token"]["accessToken"]
    else:
        token = smile.refresh_token(user_id)["accessToken"]
    with httpx.Client(base_url=sandbox.url + "/widget", verify=CA) as widget:
        session_id = widget.post("/session", json={"token": token}).json()["sessionId"]
        login = {"sessionId": session_id, "providerId": provider, "username": "George", "password": "123456"}
        account = widget.post("/accounts", json=login).json()["account"]
        if account["status"] == "AWAITING_MFA":
            code = {"sessionId": session_id, "code": "1234"}
            account = widget.post(f"/accounts/{account['id']}/mfa", json=code).json()["account"]
    assert account["status"] == "CONNECTED"
    return account


@contextmanager
def upstream(
    status: int, body: str, content_type: str = "application/json", **headers: str
) -> Iterator[SmileClient]:
    """A client for a throwaway server that answers every request with the same response."""
    app = Flask("upstream")

    @app.route("/v1/<path:_rest>", methods=["GET", "POST", "DELETE"])
    def anything(_rest):
        return Response(body, status=status, content_type=content_type, headers=headers)

    with serve(app) as served, SmileClient(served.url + "/v1", "key", SECRET) as smile:
        yield smile


@contextmanager
def silent_server() -> Iterator[str]:
    """A loopback port whose kernel completes the TCP handshake, but nobody ever answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


# -- users and tokens ----------------------------------------------------------------------


def test_create_user_returns_the_user_and_its_first_token(client, sandbox):
    data = client.create_user({"appUserId": "george-42"})
    assert data["user"]["externalMetadata"] == {"appUserId": "george-42"}
    assert data["user"]["id"] in sandbox.state.users
    assert data["token"]["accessToken"] and data["token"]["mode"] == "SANDBOX"


def test_refresh_token_returns_a_fresh_token(client):
    first = client.create_user()
    token = client.refresh_token(first["user"]["id"])
    assert set(token) >= {"accessToken", "expiresAt", "mode"}
    assert token["accessToken"] != first["token"]["accessToken"]


def test_get_user_returns_the_user(client):
    user = client.create_user({"k": "v"})["user"]
    assert client.get_user(user["id"]) == user


def test_list_users_returns_a_page_of_users(client):
    ids = {client.create_user()["user"]["id"] for _ in range(2)}
    page = client.list_users()
    assert {u["id"] for u in page["items"]} == ids
    assert page["nextCursor"] is None


# -- accounts and archives -------------------------------------------------------------------


def test_list_accounts_filters_by_user(client, sandbox):
    mine = link_account(sandbox, client)
    link_account(sandbox, client)
    page = client.list_accounts(user_id=mine["userId"])
    assert [a["id"] for a in page["items"]] == [mine["id"]]


def test_get_account_returns_the_connected_account(client, sandbox):
    linked = link_account(sandbox, client)
    account = client.get_account(linked["id"])
    assert (account["id"], account["providerId"], account["connectionStatus"]) == (
        linked["id"],
        "sss",
        "CONNECTED",
    )


def test_revoke_account_disconnects_it(client, sandbox):
    linked = link_account(sandbox, client)
    assert client.revoke_account(linked["id"]) is None
    assert client.get_account(linked["id"])["connectionStatus"] == "DISCONNECTED"


def test_list_archives_returns_an_empty_page(readonly):
    assert readonly.list_archives() == {"items": [], "nextCursor": None}


def test_get_archive_that_does_not_exist_raises_not_found(readonly):
    with pytest.raises(SmileNotFound):
        readonly.get_archive("x")


# -- providers and pagination ----------------------------------------------------------------


def test_list_providers_returns_a_page_of_providers(readonly):
    page = readonly.list_providers(size=2)
    assert len(page["items"]) == 2 and page["nextCursor"]


def test_get_provider_returns_the_provider(readonly):
    provider = readonly.get_provider("grab")
    assert (provider["id"], provider["name"]) == ("grab", "Grab")


def test_iterate_yields_every_provider_once(readonly):
    everything = [p["id"] for p in readonly.list_providers(size=150)["items"]]
    assert len(everything) > 1
    assert [p["id"] for p in readonly.iterate("list_providers", size=1)] == everything


def test_iterate_passes_its_filters_on_every_page(client, sandbox):
    user_id = link_account(sandbox, client, "sss")["userId"]
    link_account(sandbox, client, "upwork", user_id=user_id)
    link_account(sandbox, client)
    accounts = list(client.iterate("list_accounts", user_id=user_id, size=1))
    assert sorted(a["providerId"] for a in accounts) == ["sss", "upwork"]


# -- webhooks --------------------------------------------------------------------------------


def test_create_webhook_registers_it(client, sandbox):
    hook = client.create_webhook("https://hooks.example.com/smile", HOOK_SECRET, ["ACCOUNT_CONNECTED"])
    assert (hook["url"], hook["eventTypes"], hook["active"]) == (
        "https://hooks.example.com/smile",
        ["ACCOUNT_CONNECTED"],
        True,
    )
    assert sandbox.state.webhooks[hook["id"]]["secret"] == HOOK_SECRET


def test_list_and_get_webhooks_return_the_registered_one(client):
    hook = client.create_webhook("https://hooks.example.com/smile", HOOK_SECRET, ["ALL_EVENTS"])
    assert [h["id"] for h in client.list_webhooks()["items"]] == [hook["id"]]
    assert client.get_webhook(hook["id"]) == hook


def test_delete_webhook_removes_it(client):
    hook = client.create_webhook("https://hooks.example.com/smile", HOOK_SECRET, ["ALL_EVENTS"])
    assert client.delete_webhook(hook["id"]) is None
    with pytest.raises(SmileNotFound):
        client.get_webhook(hook["id"])


def test_invalid_webhook_raises_api_error_with_smiles_message(readonly):
    with pytest.raises(SmileAPIError) as caught:
        readonly.create_webhook("https://hooks.example.com/smile", HOOK_SECRET, ["NOT_AN_EVENT"])
    assert (caught.value.status, caught.value.code) == (400, "INVALID_PARAMETERS")
    assert "eventTypes" in caught.value.message


# -- errors ----------------------------------------------------------------------------------


def test_wrong_secret_raises_auth_error_with_status_code_and_request_id(shared):
    with SmileClient(shared.api_host, shared.api_key, "wrong") as smile:
        with pytest.raises(SmileAuthError) as caught:
            smile.list_providers()
    assert (caught.value.status, caught.value.code) == (401, "INVALID_CREDENTIALS")
    assert caught.value.request_id
    assert caught.value.message


def test_unknown_user_raises_not_found(readonly):
    with pytest.raises(SmileNotFound) as caught:
        readonly.get_user("tenant-nobody")
    assert (caught.value.status, caught.value.code) == (404, "MISSING_RESOURCE")
    assert caught.value.request_id


def test_invalid_parameters_raise_plain_api_error(readonly):
    with pytest.raises(SmileAPIError) as caught:
        readonly.list_providers(size=0)
    assert type(caught.value) is SmileAPIError
    assert (caught.value.status, caught.value.code) == (400, "INVALID_PARAMETERS")


@pytest.mark.parametrize("provider_id", ["../users", "../providers/upwork", "upwork?size=1", "upwork#x"])
def test_ids_cannot_reach_another_resource(readonly, provider_id):
    with pytest.raises(SmileNotFound):
        readonly.get_provider(provider_id)


@pytest.mark.parametrize("provider_id", ["..", ".", "x?y=1", "x#y", "caf\u00e9"])
def test_ids_reach_the_server_as_one_path_segment(provider_id):
    app = Flask("echo")

    @app.route("/v1/<path:rest>")
    def echo(rest):
        return {"code": "OK", "message": "Success", "requestId": "r", "data": {"path": rest}}

    with serve(app) as served, SmileClient(served.url + "/v1", "key", SECRET) as smile:
        assert smile.get_provider(provider_id) == {"path": f"providers/{provider_id}"}


def test_server_error_envelope_raises_server_error_with_its_fields():
    envelope = '{"code": "SERVER_ERROR", "message": "Smile broke.", "requestId": "req-500", "data": {}}'
    with upstream(500, envelope) as smile, pytest.raises(SmileServerError) as caught:
        smile.list_providers()
    error = caught.value
    assert (error.status, error.code, error.message, error.request_id) == (
        500,
        "SERVER_ERROR",
        "Smile broke.",
        "req-500",
    )


def test_non_json_502_raises_api_error_with_status_502():
    with upstream(502, "<html>Bad Gateway</html>", "text/html") as smile:
        with pytest.raises(SmileAPIError) as caught:
            smile.get_user("tenant-1")
    assert caught.value.status == 502
    assert caught.value.code is None


def test_redirect_raises_api_error_instead_of_returning_nothing():
    with upstream(301, "", "text/plain", Location="https://example.com/v1/providers") as smile:
        with pytest.raises(SmileAPIError) as caught:
            smile.list_providers()
    assert caught.value.status == 301


def test_success_that_is_not_an_envelope_raises_api_error():
    with upstream(200, "<html>a captive portal</html>", "text/html") as smile:
        with pytest.raises(SmileAPIError) as caught:
            smile.list_providers()
    assert caught.value.status == 200


def test_refused_connection_raises_connection_error():
    with SmileClient(free_port_url() + "/v1", "key", SECRET) as smile:
        with pytest.raises(SmileConnectionError) as caught:
            smile.list_providers()
    assert not isinstance(caught.value, SmileTimeout | SmileAPIError)


def test_server_that_never_answers_raises_timeout():
    with silent_server() as url, SmileClient(url, "key", SECRET, timeout=0.5) as smile:
        with pytest.raises(SmileTimeout):
            smile.list_providers()


@contextmanager
def _failing_client(kind: str, sandbox) -> Iterator[SmileClient]:
    if kind == "401":
        with SmileClient(sandbox.api_host, sandbox.api_key, SECRET) as smile:
            yield smile
    elif kind == "500":
        with upstream(500, '{"code": "SERVER_ERROR", "message": "no", "requestId": "r"}') as smile:
            yield smile
    elif kind == "refused":
        with SmileClient(free_port_url() + "/v1", "key", SECRET) as smile:
            yield smile
    else:
        with silent_server() as url, SmileClient(url, "key", SECRET, timeout=0.5) as smile:
            yield smile


@pytest.mark.parametrize("kind", ["401", "500", "refused", "timeout"])
def test_api_secret_never_appears_in_an_error(shared, kind):
    with _failing_client(kind, shared) as smile:
        with pytest.raises((SmileConnectionError, SmileAPIError)) as caught:
            smile.get_user("tenant-1")
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)


@pytest.mark.parametrize("missing", ["api_key", "api_secret"])
def test_missing_credentials_raise_runtime_error(missing):
    credentials = {"api_key": "key", "api_secret": "secret", missing: ""}
    # A host app has no .env: the message names the arguments and the app's settings.
    expected = r"api_key=\.\.\. and api_secret=\.\.\..*WINK_API_KEY and WINK_API_SECRET"
    with pytest.raises(RuntimeError, match=expected):
        SmileClient("http://127.0.0.1:9/v1", **credentials)
