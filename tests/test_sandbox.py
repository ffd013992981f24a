"""The sandbox against Smile's Open API spec (smile-openapi-v1.yaml), over real loopback HTTP."""

from __future__ import annotations

import json
import queue
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from flask import Flask, request

from flask_wink.errors import WebhookVerificationError
from flask_wink.providers.smile_wink.signature import SIGNATURE_HEADER, verify_signature
from flask_wink.providers.smile_wink.testing import run_sandbox
from flask_wink.testing import serve
from spec_events import EVENT_DATA_REQUIRED

# -- what the spec says ------------------------------------------------------------------

# components/schemas/ObjectMetadataRefCode
RESPONSE_CODES = {
    "OK",
    "CREATED",
    "INVALID_CREDENTIALS",
    "INVALID_PARAMETERS",
    "INVALID_TOKEN",
    "UNAUTHORIZED_ACCESS",
    "MISSING_RESOURCE",
    "REQUEST_LIMIT_EXCEEDED",
    "SERVER_ERROR",
    "UNSUPPORTED_METHOD",
    "SERVER_UNAVAILABLE",
    "TIME_LIMIT_EXCEEDED",
}
ENVELOPE = {"code", "message", "requestId", "data"}
USER_REQUIRED = {"id", "externalMetadata", "createdAt", "providers"}
TOKEN_REQUIRED = {"expiresAt", "mode", "accessToken"}
# components/schemas/Provider: every required field, with its JSON type
PROVIDER_REQUIRED = {
    "id": str,
    "name": str,
    "longName": str,
    "logoUrl": str,
    "type": str,
    "typeLabel": str,
    "subType": str,
    "subTypeLabel": str,
    "active": bool,
    "enabled": bool,
    "mfa": bool,
    "accountConnection": bool,
    "supported": list,
    "monitorSupported": bool,
}
ACCOUNT_REQUIRED = {
    "id",
    "createdAt",
    "providerId",
    "userId",
    "connectionStatus",
    "connection",
    "monitorStatus",
    "monitor",
}
CONNECTION_STATUSES = {"PENDING", "AWAITING_MFA", "ERROR", "CONNECTED", "DISCONNECTED"}
MONITOR_STATUSES = {"ACTIVE", "USER_ACTION_REQUIRED", "UNSUPPORTED", "CUSTOMER_DISABLED"}
WEBHOOK_REQUIRED = {"id", "createdAt", "name", "url", "eventTypes", "active", "updatedAt"}
EVENT_FIELDS = {"id", "version", "type", "createdAt", "data"}
DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

HOOK_SECRET = "a little secret"


# -- helpers -----------------------------------------------------------------------------

# One CA bundle for every client (all traffic is plain loopback HTTP): httpx loads it afresh for
# each client otherwise, which costs ~60 ms a time.
CA = ssl.create_default_context()


def fetch(method: str, url: str, **options) -> httpx.Response:
    return httpx.request(method, url, verify=CA, **options)


def api_client(sandbox) -> httpx.Client:
    auth = (sandbox.api_key, sandbox.api_secret)
    return httpx.Client(base_url=sandbox.api_host, auth=auth, verify=CA)


@pytest.fixture
def api(sandbox) -> Iterator[httpx.Client]:
    """Raw HTTP to a fresh sandbox's /v1 with its key and secret."""
    with api_client(sandbox) as client:
        yield client


@pytest.fixture(scope="module")
def shared() -> Iterator:
    """One sandbox for the tests that change nothing in it (a fresh one per test costs ~0.1 s)."""
    with run_sandbox() as served:
        yield served


@pytest.fixture(scope="module")
def readonly(shared) -> Iterator[httpx.Client]:
    """Raw HTTP to the shared sandbox: only for requests that create nothing."""
    with api_client(shared) as client:
        yield client


def data_of(response: httpx.Response, status: int = 200):
    """The envelope's ``data`` after checking the status and the envelope's metadata."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] in RESPONSE_CODES
    assert isinstance(body["message"], str)
    assert isinstance(body["requestId"], str) and body["requestId"]
    return body.get("data")


def error_of(response: httpx.Response, status: int) -> dict:
    """An error answer: the status, and Smile's full envelope {code, message, requestId, data}."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ENVELOPE
    assert body["code"] in RESPONSE_CODES
    assert isinstance(body["requestId"], str) and body["requestId"]
    return body


def create_user(api: httpx.Client, metadata: dict | None = None) -> dict:
    return data_of(api.post("/users", json={"externalMetadata": metadata or {}}), 201)


def widget(sandbox, path: str, body: dict) -> httpx.Response:
    return fetch("POST", f"{sandbox.url}/widget/{path}", json=body)


def open_session(sandbox, api: httpx.Client) -> str:
    """A widget session for a new user."""
    token = create_user(api)["token"]
    answer = widget(sandbox, "session", {"token": token["accessToken"]})
    assert answer.status_code == 200, answer.text
    return answer.json()["sessionId"]


def log_in(sandbox, session_id: str, provider: str = "upwork", password: str = "123456") -> dict:
    answer = widget(
        sandbox,
        "accounts",
        {"sessionId": session_id, "providerId": provider, "username": "George", "password": password},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["account"]


def send_code(sandbox, session_id: str, account_id: str, code: str = "1234") -> dict:
    answer = widget(sandbox, f"accounts/{account_id}/mfa", {"sessionId": session_id, "code": code})
    assert answer.status_code == 200, answer.text
    return answer.json()["account"]


def link(sandbox, api: httpx.Client, session_id: str | None = None, provider: str = "upwork") -> dict:
    """George links ``provider`` (password, then the code if it asks for one); the widget's view."""
    session_id = session_id or open_session(sandbox, api)
    account = log_in(sandbox, session_id, provider)
    if account["status"] == "AWAITING_MFA":
        account = send_code(sandbox, session_id, account["id"])
    assert account["status"] == "CONNECTED"
    return account


class Receiver:
    """A webhook endpoint that answers 500 to the first ``fail_first`` deliveries, then 200."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.hits: list[tuple[bytes, str | None]] = []
        self._lock = threading.Lock()
        self.app = Flask("receiver")
        self.app.add_url_rule("/hook", view_func=self._hook, methods=["POST"])
        self.url = ""

    def _hook(self):
        with self._lock:
            self.hits.append((request.get_data(), request.headers.get(SIGNATURE_HEADER)))
            count = len(self.hits)
        return ("failing on purpose", 500) if count <= self.fail_first else ("", 200)

    @property
    def events(self) -> list[dict]:
        return [json.loads(body) for body, _ in self.hits]

    @property
    def types(self) -> list[str]:
        return [event["type"] for event in self.events]


@contextmanager
def receiving(fail_first: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(fail_first)
    with serve(receiver.app) as served:
        receiver.url = served.url + "/hook"
        yield receiver


def webhook_body(url: str, event_types: list[str], **overrides) -> dict:
    body = {"name": "tests", "url": url, "eventTypes": event_types, "active": True, "secret": HOOK_SECRET}
    body.update(overrides)
    return body


def subscribe(api: httpx.Client, receiver: Receiver, event_types: list[str], **overrides) -> dict:
    return data_of(api.post("/webhooks", json=webhook_body(receiver.url, event_types, **overrides)))


def settle(sandbox) -> None:
    assert sandbox.state.dispatcher.wait_idle(5), "webhook deliveries did not finish"


# -- Basic auth --------------------------------------------------------------------------


@pytest.mark.parametrize("credentials", ["missing", "wrong key", "wrong secret", "bearer"])
def test_api_without_the_right_key_and_secret_is_401_with_smiles_envelope(shared, credentials):
    auth = {
        "missing": None,
        "wrong key": ("nope", shared.api_secret),
        "wrong secret": (shared.api_key, "nope"),
    }.get(credentials)
    headers = {"Authorization": f"Bearer {shared.api_secret}"} if credentials == "bearer" else {}
    response = fetch("GET", shared.api_host + "/providers", auth=auth, headers=headers)
    assert error_of(response, 401)["code"] == "INVALID_CREDENTIALS"


def test_unknown_api_path_is_404_missing_resource(readonly):
    assert error_of(readonly.get("/no-such-thing"), 404)["code"] == "MISSING_RESOURCE"


def test_wrong_method_is_405_unsupported_method(readonly):
    assert error_of(readonly.put("/users"), 405)["code"] == "UNSUPPORTED_METHOD"


# -- users and tokens ----------------------------------------------------------------------


def test_create_user_is_201_with_user_and_token_carrying_every_required_field(api):
    data = create_user(api)
    assert USER_REQUIRED <= set(data["user"])
    assert TOKEN_REQUIRED <= set(data["token"])
    assert DATE_TIME.match(data["user"]["createdAt"])
    assert DATE_TIME.match(data["token"]["expiresAt"])
    assert data["user"]["providers"] == []
    assert data["token"]["mode"] in ("SANDBOX", "PRODUCTION")
    assert isinstance(data["token"]["accessToken"], str) and data["token"]["accessToken"]


def test_create_user_round_trips_external_metadata(api):
    metadata = {"appUserId": "george-42", "plan": "gold"}
    user = create_user(api, metadata)["user"]
    assert user["externalMetadata"] == metadata
    assert data_of(api.get(f"/users/{user['id']}"))["externalMetadata"] == metadata


def test_create_user_without_a_body_has_empty_metadata(api):
    assert data_of(api.post("/users"), 201)["user"]["externalMetadata"] == {}


@pytest.mark.parametrize(
    "metadata",
    [
        {"count": 1},
        {"nested": {"a": "b"}},
        {f"k{i}": "v" for i in range(6)},
        {"k" * 51: "v"},
        {"k": "v" * 501},
        {"name": "Jos\u00e9"},
        ["not", "an", "object"],
        "not an object",
    ],
    ids=["number", "nested", "six-keys", "long-key", "long-value", "non-ascii", "list", "string"],
)
def test_create_user_with_invalid_external_metadata_is_400(readonly, metadata):
    response = readonly.post("/users", json={"externalMetadata": metadata})
    assert error_of(response, 400)["code"] == "INVALID_PARAMETERS"


def test_create_user_with_a_body_that_is_not_json_is_400(readonly):
    response = readonly.post("/users", content=b"{nope", headers={"Content-Type": "application/json"})
    assert error_of(response, 400)["code"] == "INVALID_PARAMETERS"


def test_refresh_token_is_201_with_a_new_token(api):
    first = create_user(api)
    token = data_of(api.post("/tokens", params={"userId": first["user"]["id"]}), 201)
    assert TOKEN_REQUIRED <= set(token)
    assert token["accessToken"] != first["token"]["accessToken"]


def test_refresh_token_without_user_id_is_400(readonly):
    assert error_of(readonly.post("/tokens"), 400)["code"] == "INVALID_PARAMETERS"


def test_refresh_token_for_unknown_user_is_404(readonly):
    response = readonly.post("/tokens", params={"userId": "tenant-nobody"})
    assert error_of(response, 404)["code"] == "MISSING_RESOURCE"


def test_get_user_returns_the_created_user(api):
    user = create_user(api, {"k": "v"})["user"]
    assert data_of(api.get(f"/users/{user['id']}")) == user


def test_get_unknown_user_is_404(readonly):
    assert error_of(readonly.get("/users/tenant-nobody"), 404)["code"] == "MISSING_RESOURCE"


def test_list_users_holds_every_user_with_the_required_fields(api):
    ids = {create_user(api)["user"]["id"] for _ in range(3)}
    page = data_of(api.get("/users"))
    assert {u["id"] for u in page["items"]} == ids
    assert all(USER_REQUIRED <= set(u) for u in page["items"])
    assert page["nextCursor"] is None


def test_user_lists_the_providers_of_its_connected_accounts(sandbox, api):
    account = link(sandbox, api)
    assert data_of(api.get(f"/users/{account['userId']}"))["providers"] == ["upwork"]


# -- providers -----------------------------------------------------------------------------


def all_providers(api: httpx.Client) -> list[dict]:
    page = data_of(api.get("/providers", params={"size": 150}))
    assert page["nextCursor"] is None
    return page["items"]


def test_provider_list_has_upwork_grab_and_sss(readonly):
    names = {p["name"] for p in all_providers(readonly)}
    assert {"Upwork", "Grab", "SSS"} <= names


def test_every_provider_has_the_spec_required_fields_with_their_json_types(readonly):
    for provider in all_providers(readonly):
        for name, kind in PROVIDER_REQUIRED.items():
            assert isinstance(provider.get(name), kind), (provider["id"], name)
        assert all(isinstance(point, str) for point in provider["supported"])


def test_provider_pages_of_two_chain_by_cursor_and_end_with_null(readonly):
    seen, cursors, cursor = [], [], None
    while True:
        page = data_of(readonly.get("/providers", params={"size": 2, "cursor": cursor}))
        assert len(page["items"]) <= 2
        seen += [p["id"] for p in page["items"]]
        cursor = page["nextCursor"]
        cursors.append(cursor)
        if cursor is None:
            break
        assert isinstance(cursor, str)
        assert len(cursors) < 10, "pagination never ended"
    assert len(cursors) >= 2
    assert len(seen) == len(set(seen))
    assert sorted(seen) == sorted(p["id"] for p in all_providers(readonly))


@pytest.mark.parametrize("size", ["0", "151", "many"])
def test_provider_list_with_a_size_outside_1_to_150_is_400(readonly, size):
    response = readonly.get("/providers", params={"size": size})
    assert error_of(response, 400)["code"] == "INVALID_PARAMETERS"


def test_get_provider_returns_the_listed_provider(readonly):
    listed = {p["id"]: p for p in all_providers(readonly)}
    assert data_of(readonly.get("/providers/upwork")) == listed["upwork"]


def test_get_unknown_provider_is_404(readonly):
    assert error_of(readonly.get("/providers/myspace"), 404)["code"] == "MISSING_RESOURCE"


# -- accounts through the widget -----------------------------------------------------------


def test_george_waits_for_the_code_then_connects(sandbox, api):
    session_id = open_session(sandbox, api)
    account = log_in(sandbox, session_id, "upwork")
    assert account["status"] == "AWAITING_MFA"
    assert send_code(sandbox, session_id, account["id"])["status"] == "CONNECTED"


def test_provider_without_mfa_connects_at_login(sandbox, api):
    assert log_in(sandbox, open_session(sandbox, api), "sss")["status"] == "CONNECTED"


def test_wrong_password_is_error_invalid_credentials(sandbox, api):
    account = log_in(sandbox, open_session(sandbox, api), password="wrong")
    assert (account["status"], account["errorCode"]) == ("ERROR", "INVALID_CREDENTIALS")
    assert account["errorMessage"]


def test_wrong_code_is_error_invalid_mfa(sandbox, api):
    session_id = open_session(sandbox, api)
    account = send_code(sandbox, session_id, log_in(sandbox, session_id)["id"], code="9999")
    assert (account["status"], account["errorCode"]) == ("ERROR", "INVALID_MFA")


def assert_spec_account(account: dict) -> None:
    assert ACCOUNT_REQUIRED <= set(account)
    assert set(account) <= ACCOUNT_REQUIRED, "fields the spec's Account does not define"
    assert account["connectionStatus"] in CONNECTION_STATUSES
    assert account["connection"]["status"] == account["connectionStatus"]
    assert DATE_TIME.match(account["connection"]["updatedAt"])
    assert DATE_TIME.match(account["createdAt"])
    assert account["monitorStatus"] in MONITOR_STATUSES
    assert account["monitor"]["status"] in MONITOR_STATUSES


def test_get_account_matches_the_spec_account_schema(sandbox, api):
    linked = link(sandbox, api)
    account = data_of(api.get(f"/accounts/{linked['id']}"))
    assert_spec_account(account)
    assert (account["providerId"], account["userId"]) == ("upwork", linked["userId"])
    assert account["connectionStatus"] == "CONNECTED"


def test_failed_account_carries_its_error_in_connection(sandbox, api):
    failed = log_in(sandbox, open_session(sandbox, api), password="wrong")
    account = data_of(api.get(f"/accounts/{failed['id']}"))
    assert_spec_account(account)
    assert account["connection"]["errorCode"] == "INVALID_CREDENTIALS"


def test_list_accounts_filters_by_user_id(sandbox, api):
    mine = link(sandbox, api)
    link(sandbox, api)
    page = data_of(api.get("/accounts", params={"userId": mine["userId"]}))
    assert [a["id"] for a in page["items"]] == [mine["id"]]
    assert_spec_account(page["items"][0])


def test_list_accounts_pages_with_cursor_and_size(sandbox, api):
    session_id = open_session(sandbox, api)
    ids = {link(sandbox, api, session_id, provider)["id"] for provider in ("upwork", "grab", "sss")}
    first = data_of(api.get("/accounts", params={"size": 2}))
    assert len(first["items"]) == 2 and isinstance(first["nextCursor"], str)
    second = data_of(api.get("/accounts", params={"size": 2, "cursor": first["nextCursor"]}))
    assert second["nextCursor"] is None
    assert sorted(a["id"] for a in first["items"] + second["items"]) == sorted(ids)


def test_revoke_account_is_200_and_leaves_it_disconnected(sandbox, api):
    account = link(sandbox, api)
    assert data_of(api.delete(f"/accounts/{account['id']}")) is None
    revoked = data_of(api.get(f"/accounts/{account['id']}"))
    assert revoked["connectionStatus"] == revoked["connection"]["status"] == "DISCONNECTED"


def test_get_or_revoke_unknown_account_is_404(readonly):
    assert error_of(readonly.get("/accounts/a-nothing"), 404)["code"] == "MISSING_RESOURCE"
    assert error_of(readonly.delete("/accounts/a-nothing"), 404)["code"] == "MISSING_RESOURCE"


# -- link tokens ---------------------------------------------------------------------------


def test_link_token_opens_one_session_only(sandbox, api):
    token = create_user(api)["token"]["accessToken"]
    assert widget(sandbox, "session", {"token": token}).status_code == 200
    assert error_of(widget(sandbox, "session", {"token": token}), 401)["code"] == "INVALID_TOKEN"


def test_refreshed_token_opens_a_session_for_the_same_user(sandbox, api):
    user_id = create_user(api)["user"]["id"]
    token = data_of(api.post("/tokens", params={"userId": user_id}), 201)["accessToken"]
    assert widget(sandbox, "session", {"token": token}).json()["userId"] == user_id


def test_link_token_expires_after_its_ttl():
    with run_sandbox(token_ttl=0.2) as short:
        auth = (short.api_key, short.api_secret)
        token = fetch("POST", short.api_host + "/users", auth=auth).json()["data"]["token"]["accessToken"]
        time.sleep(0.25)
        assert error_of(widget(short, "session", {"token": token}), 401)["code"] == "INVALID_TOKEN"


# -- webhooks API --------------------------------------------------------------------------


def test_create_webhook_is_200_with_the_webhook_schema_required_fields(api):
    body = webhook_body("https://hooks.example.com/smile", ["ACCOUNT_CONNECTED", "USER_CREATED"])
    hook = data_of(api.post("/webhooks", json=body), 200)
    assert WEBHOOK_REQUIRED <= set(hook)
    assert {k: hook[k] for k in ("name", "url", "eventTypes", "active")} == {
        k: body[k] for k in ("name", "url", "eventTypes", "active")
    }
    assert DATE_TIME.match(hook["createdAt"]) and DATE_TIME.match(hook["updatedAt"])


@pytest.mark.parametrize("field", ["name", "url", "eventTypes", "active", "secret"])
def test_create_webhook_without_a_required_field_is_400_naming_it(readonly, field):
    body = webhook_body("https://hooks.example.com/smile", ["ACCOUNT_CONNECTED"])
    del body[field]
    problem = error_of(readonly.post("/webhooks", json=body), 400)
    assert problem["code"] == "INVALID_PARAMETERS"
    assert field in problem["message"]


def test_create_webhook_with_an_unknown_event_type_is_400_naming_event_types(readonly):
    body = webhook_body("https://hooks.example.com/smile", ["ACCOUNT_CONNECTED", "ACCOUNT_EXPLODED"])
    problem = error_of(readonly.post("/webhooks", json=body), 400)
    assert problem["code"] == "INVALID_PARAMETERS"
    assert "eventTypes" in problem["message"]
    assert "name" not in problem["message"]


def test_webhook_list_and_get_return_the_created_webhook(api):
    hook = data_of(api.post("/webhooks", json=webhook_body("https://h.example.com/", ["ALL_EVENTS"])))
    page = data_of(api.get("/webhooks"))
    assert [h["id"] for h in page["items"]] == [hook["id"]]
    assert all(WEBHOOK_REQUIRED <= set(h) for h in page["items"])
    assert data_of(api.get(f"/webhooks/{hook['id']}")) == hook


def test_deleted_webhook_is_200_then_404(api):
    hook = data_of(api.post("/webhooks", json=webhook_body("https://h.example.com/", ["ALL_EVENTS"])))
    assert data_of(api.delete(f"/webhooks/{hook['id']}")) is None
    assert error_of(api.get(f"/webhooks/{hook['id']}"), 404)["code"] == "MISSING_RESOURCE"


def test_delete_unknown_webhook_is_404(readonly):
    assert error_of(readonly.delete("/webhooks/nothing"), 404)["code"] == "MISSING_RESOURCE"


# -- webhook deliveries --------------------------------------------------------------------


def test_linking_an_account_delivers_user_created_account_created_and_connected(sandbox, api):
    with receiving() as receiver:
        subscribe(api, receiver, ["ALL_EVENTS"])
        link(sandbox, api)
        settle(sandbox)
    # The link's data-sync events (TASK_STARTED, ..._ADDED, TASK_FINISHED) follow.
    assert receiver.types[:3] == ["USER_CREATED", "ACCOUNT_CREATED", "ACCOUNT_CONNECTED"]


def test_wrong_password_delivers_account_failed(sandbox, api):
    with receiving() as receiver:
        subscribe(api, receiver, ["ACCOUNT_FAILED"])
        failed = log_in(sandbox, open_session(sandbox, api), password="wrong")
        settle(sandbox)
    assert [(e["type"], e["data"]["accountId"]) for e in receiver.events] == [
        ("ACCOUNT_FAILED", failed["id"])
    ]
    assert receiver.events[0]["data"]["errorCode"] == "INVALID_CREDENTIALS"


def test_revoking_an_account_delivers_account_disconnected(sandbox, api):
    account = link(sandbox, api)
    with receiving() as receiver:
        subscribe(api, receiver, ["ACCOUNT_DISCONNECTED"])
        api.delete(f"/accounts/{account['id']}")
        settle(sandbox)
    assert [(e["type"], e["data"]["accountId"]) for e in receiver.events] == [
        ("ACCOUNT_DISCONNECTED", account["id"])
    ]


def test_delivered_events_carry_the_fields_their_spec_schemas_require(sandbox, api):
    with receiving() as receiver:
        subscribe(api, receiver, ["ALL_EVENTS"])
        account = link(sandbox, api)
        log_in(sandbox, open_session(sandbox, api), password="wrong")
        api.delete(f"/accounts/{account['id']}")
        settle(sandbox)
    assert set(receiver.types) == set(EVENT_DATA_REQUIRED)
    for event in receiver.events:
        assert set(event) == EVENT_FIELDS, event
        assert isinstance(event["id"], str) and event["id"]
        assert isinstance(event["version"], int | float)
        assert DATE_TIME.match(event["createdAt"])
        assert EVENT_DATA_REQUIRED[event["type"]] <= set(event["data"]), event
        if "providers" in EVENT_DATA_REQUIRED[event["type"]]:
            assert event["data"]["providers"] == ["upwork"]


def test_every_delivery_is_signed_with_the_webhooks_secret(sandbox, api):
    with receiving() as receiver:
        subscribe(api, receiver, ["ALL_EVENTS"])
        link(sandbox, api)
        settle(sandbox)
    assert len(receiver.hits) == len(receiver.types) >= 3
    for body, signature in receiver.hits:
        verify_signature(body, signature, [HOOK_SECRET])
        with pytest.raises(WebhookVerificationError):
            verify_signature(body, signature, ["another secret"])


def test_only_subscribed_event_types_are_delivered(sandbox, api):
    with receiving() as receiver:
        subscribe(api, receiver, ["ACCOUNT_CONNECTED"])
        link(sandbox, api)
        settle(sandbox)
    assert receiver.types == ["ACCOUNT_CONNECTED"]


def test_inactive_webhook_gets_no_deliveries(sandbox, api):
    with receiving() as receiver:
        subscribe(api, receiver, ["ALL_EVENTS"], active=False)
        link(sandbox, api)
        settle(sandbox)
    assert receiver.hits == []
    assert sandbox.state.dispatcher.deliveries == []


def test_deleted_webhook_gets_no_more_deliveries(sandbox, api):
    with receiving() as receiver:
        hook = subscribe(api, receiver, ["USER_CREATED"])
        create_user(api)
        api.delete(f"/webhooks/{hook['id']}")
        create_user(api)
        settle(sandbox)
    assert receiver.types == ["USER_CREATED"]


def test_receiver_failing_twice_gets_the_event_on_the_third_attempt(sandbox, api):
    with receiving(fail_first=2) as receiver:
        subscribe(api, receiver, ["USER_CREATED"])
        create_user(api)
        settle(sandbox)
    assert len(receiver.hits) == 3
    assert len({body for body, _ in receiver.hits}) == 1, "every attempt sends the same event"
    [delivery] = sandbox.state.dispatcher.deliveries
    assert (delivery.attempts, delivery.status, delivery.delivered) == (3, 200, True)


def test_receiver_always_failing_gets_exactly_three_attempts(sandbox, api):
    with receiving(fail_first=10**6) as receiver:
        subscribe(api, receiver, ["USER_CREATED"])
        create_user(api)
        settle(sandbox)
    assert len(receiver.hits) == 3
    [delivery] = sandbox.state.dispatcher.deliveries
    assert (delivery.attempts, delivery.status, delivery.delivered) == (3, 500, False)


# -- archives --------------------------------------------------------------------------------


def test_archive_list_is_an_empty_page(readonly):
    assert data_of(readonly.get("/archives")) == {"items": [], "nextCursor": None}


def test_get_unknown_archive_is_404(readonly):
    assert error_of(readonly.get("/archives/x"), 404)["code"] == "MISSING_RESOURCE"


# -- the widget SDK scripts ------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
def test_sdk_script_is_public_javascript_defining_smile_link_modal_at_its_version(shared, version):
    response = fetch("GET", f"{shared.url}/v{version}/smile.v{version}.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert "SmileLinkModal" in response.text
    assert f'SDK_VERSION = "{version}"' in response.text
    assert "__SDK_VERSION__" not in response.text


def test_unknown_sdk_version_is_404(shared):
    assert fetch("GET", f"{shared.url}/v3/smile.v3.js").status_code == 404


# -- python -m flask_wink.sandbox --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_module(port: int) -> tuple[subprocess.Popen, queue.Queue]:
    """Run the sandbox module; its output (stdout and stderr) arrives line by line on the queue."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask_wink.sandbox", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def env_lines(lines: queue.Queue, timeout: float = 15) -> dict[str, str]:
    found: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(found) < 3:
        line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        assert line is not None, f"the sandbox exited after printing {found}"
        name, sep, value = line.partition("=")
        if sep and name in ("OPEN_API_HOST", "API_KEY", "API_SECRET"):
            found[name] = value
    return found


def test_module_prints_env_lines_that_work_at_once():
    port = free_port()
    proc, lines = start_module(port)
    try:
        env = env_lines(lines)
        assert env["OPEN_API_HOST"] == f"http://127.0.0.1:{port}/v1"
        response = fetch("GET", env["OPEN_API_HOST"] + "/providers", auth=(env["API_KEY"], env["API_SECRET"]))
        assert data_of(response)["items"]
    finally:
        stop(proc)


def test_module_on_a_busy_port_exits_without_printing_credentials():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        proc, lines = start_module(busy.getsockname()[1])
        try:
            assert proc.wait(timeout=15) != 0
        finally:
            stop(proc)
    output = []
    while (line := lines.get(timeout=5)) is not None:
        output.append(line)
    assert not any(line.startswith(("API_KEY=", "API_SECRET=")) for line in output), output


@pytest.mark.parametrize("url", ["http://localhost.evil.example/hook", "http://127.0.0.1.example/hook",
                                 "ftp://127.0.0.1/hook", "http:///hook"])
def test_webhook_urls_that_only_look_local_are_refused(url, sandbox):
    body = {"name": "x", "url": url, "eventTypes": ["ALL_EVENTS"], "active": True, "secret": "s"}
    auth = (sandbox.api_key, sandbox.api_secret)
    response = httpx.post(sandbox.api_host + "/webhooks", json=body, auth=auth)
    assert response.status_code == 400
    assert "url" in response.json()["message"]
