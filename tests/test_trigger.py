"""``flask wink trigger``: a correctly signed upstream message, made up on demand, sent to an app
served over loopback; the app's answer printed, and a refusal exits non-zero. Smile's webhooks of
every type, and Smile ID's results confirmed through the emulator's job_status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from flask import Flask, request

from flask_wink import Wink, get_state
from flask_wink.providers.smile_id import verifications
from flask_wink.providers.smile_wink.sandbox.events import EVENT_TYPES
from flask_wink.testing import serve

SECRET = "whsec-trigger-0123456789"
USER = {"X-User": "ada"}

# The required ``data`` fields of each of Smile's webhook types, copied from the spec's *Event
# schemas (copied, so the tests run wherever the repository does).
_ON_ACCOUNT = {"accountId", "providers", "userId"}
_RANGED = _ON_ACCOUNT | {"count", "updatedAt", "updatedFrom", "updatedTo"}
_LISTED = _ON_ACCOUNT | {"count", "updatedAt", "updatedIds"}
SPEC_DATA_REQUIRED = {
    "USER_CREATED": {"userId"},
    "ACCOUNT_CREATED": {"accountId", "providers", "userId"},
    "CONTRIBUTIONS_UPDATED": _RANGED,
    "EINCOMES_UPDATED": _RANGED,
    "INCOMES_UPDATED": _RANGED,
    "DOCUMENTS_UPDATED": _LISTED,
    "EMPLOYMENTS_UPDATED": _LISTED,
    "LIABILITIES_UPDATED": _LISTED,
    "ACCOUNT_CONNECTED": {"accountId", "loginName", "providers", "userId"},
    "ACCOUNT_DISCONNECTED": {"accountId", "providers", "userId"},
    "TASK_STARTED": {"providers", "sourceId", "sourceType", "taskType", "userId"},
    "TASK_FINISHED": {"data", "datapoints", "providers", "sourceId", "sourceType", "userId"},
    "ACCOUNT_SYNC_TASK_FINISHED": {"datapoints", "monitorStatus", "providers", "sourceId", "sourceType",
                                   "status", "userId"},
    "ACCOUNT_FAILED": {"accountId", "errorCode", "errorMessage", "loginName", "providers", "userId"},
    "ARCHIVE_STARTED": {"archiveId", "userId"},
    "ARCHIVE_ANALYZED": {"archiveId", "userId"},
    "ARCHIVE_REVOKED": {"archiveId", "userId"},
    "ARCHIVE_FAILED": {"archiveId", "errorCode", "errorMessage", "userId"},
    "INVITE_INVITED": {"inviteId", "userId"},
    "INVITE_LINKED": {"inviteId", "userId"},
    "IDENTITY_ADDED": {"accountId", "identityId", "providers", "userId"},
    "RATING_ADDED": {"accountId", "providers", "ratingId", "userId"},
    "LINK_ADDED": {"accountId", "id", "providers", "userId"},
    "TRANSACTIONS_ADDED": {"accountId", "count", "providers", "userId"},
    "DOCUMENTS_ADDED": {"accountId", "count", "providers", "userId"},
    "EMPLOYMENTS_ADDED": {"accountId", "count", "providers", "userId"},
    "INCOMES_ADDED": {"accountId", "count", "providers", "userId"},
    "EINCOMES_ADDED": {"accountId", "count", "providers", "userId"},
    "INSIGHT_ADDED": {"accountId", "id", "providers", "userId"},
    "LIABILITIES_ADDED": {"accountId", "count", "providers", "userId"},
    "CONTRIBUTIONS_ADDED": {"accountId", "count", "providers", "userId"},
    "VERIFICATION_STARTED": {"verificationId"},
    "VERIFICATION_COMPLETED": {"result", "resultCode", "verificationId"},
    "RECORD_CREATED": {"recordId", "recordType"},
    "RECORD_COMPLETED": {"recordId", "recordType", "status"},
    "USER_SESSION_COMPLETED": {"payload", "session"},
    "USER_SESSION_RESET": {"session"},
}


def make_app(tmp_path, wink_sandbox, smile_id_sandbox=None, ucw_sandbox=None, name="trigger_host",
             **config) -> Flask:
    """A host app with Smile Wink (and Smile ID, UCW when given) against the emulators."""
    app = Flask(name, instance_path=str(tmp_path / name))
    providers = ["smile_wink"]
    app.config.update(
        SECRET_KEY="s",
        WTF_CSRF_ENABLED=False,
        WINK_HANDLE_EVENTS="request",
        WINK_DATABASE_URL=f"sqlite:///{tmp_path / name}.sqlite3",
        WINK_API_KEY=wink_sandbox.api_key,
        WINK_API_SECRET=wink_sandbox.api_secret,
        WINK_API_HOST=wink_sandbox.api_host,
        WINK_WEBHOOK_SECRETS=[SECRET],
    )
    if smile_id_sandbox is not None:
        providers.append("smile_id")
        app.config.update(
            WINK_SMILE_ID_PARTNER_ID=smile_id_sandbox.partner_id,
            WINK_SMILE_ID_API_KEY=smile_id_sandbox.api_key,
            WINK_SMILE_ID_HOST=smile_id_sandbox.host,
            WINK_SMILE_ID_PRIVACY_URL="https://host.test/privacy",
        )
    if ucw_sandbox is not None:
        providers.append("ucw")
        app.config["WINK_UCW_URL"] = ucw_sandbox.url
    app.config["WINK_PROVIDERS"] = ",".join(providers)
    app.config.update(config)
    wink = Wink(app)
    wink.user_id_loader(lambda: request.headers.get("X-User"))
    return app


@contextmanager
def served_app(tmp_path, wink_sandbox, smile_id_sandbox=None, **config) -> Iterator[tuple[Flask, str]]:
    """The host app served over loopback, its public address set to where it is served."""
    from conftest import free_port_url

    url = free_port_url()
    app = make_app(tmp_path, wink_sandbox, smile_id_sandbox, WINK_PUBLIC_URL=url, **config)
    with serve(app, port=int(url.rsplit(":", 1)[1])):
        yield app, url


def trigger(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=["wink", "trigger", *args])


def stored(app: Flask, provider: str, name: str | None = None) -> list:
    with app.app_context():
        events = get_state().store.list_events(provider=provider, kind="webhook", limit=500)
    return [e for e in events if name is None or e.name == name]


@pytest.fixture(scope="module")
def smile_host(tmp_path_factory):
    """One served host app for the Smile webhook types (each type is a new event)."""
    from flask_wink.providers.smile_wink.testing import run_sandbox

    with run_sandbox() as wink_sandbox:
        with served_app(tmp_path_factory.mktemp("smile"), wink_sandbox) as (app, _url):
            yield app


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_smile_webhook_type_reaches_the_app_verified_and_stored_once(smile_host, event_type):
    assert set(SPEC_DATA_REQUIRED) == set(EVENT_TYPES)  # every type of the spec, and no other
    result = trigger(smile_host, event_type)

    assert result.exit_code == 0, result.output
    assert "The app answered HTTP 200" in result.output
    found = stored(smile_host, "smile_wink", event_type)
    assert len(found) == 1
    event = found[0]
    assert event.payload["type"] == event_type
    assert SPEC_DATA_REQUIRED[event_type] <= set(event.payload["data"])
    assert f'"id":"{event.event_id}"' in result.output  # what was sent is printed


def test_the_same_event_sent_again_by_hand_is_acknowledged_not_stored_twice(tmp_path, wink_sandbox):
    with served_app(tmp_path, wink_sandbox) as (app, url):
        result = trigger(app, "ACCOUNT_CONNECTED")
        assert result.exit_code == 0, result.output
        sent = result.output.splitlines()
        body = next(line.strip() for line in sent if line.strip().startswith("{"))
        signature = next(line.split(": ", 1)[1] for line in sent if "Smile-Signature" in line)
        assert signature.endswith("…")  # the signature is shown shortened, never whole
        event = stored(app, "smile_wink", "ACCOUNT_CONNECTED")[0]
        with app.app_context():
            provider = get_state().providers["smile_wink"]
        from flask_wink.providers.smile_wink.signature import sign

        again = httpx.post(f"{url}/wink/smile-wink/webhooks", content=body.encode(), headers={
            "Content-Type": "application/json", "Smile-Signature": sign(body.encode(), SECRET)})

    assert again.json() == {"status": "duplicate", "eventId": event.event_id}
    assert len(stored(app, "smile_wink", "ACCOUNT_CONNECTED")) == 1
    assert provider.webhook_secrets == (SECRET,)


def test_a_message_signed_with_a_wrong_secret_is_refused_and_the_command_exits_non_zero(
        tmp_path, wink_sandbox):
    with served_app(tmp_path, wink_sandbox) as (app, url):
        sender = make_app(tmp_path, wink_sandbox, name="sender", WINK_WEBHOOK_SECRETS=["not-the-apps-secret"])
        result = trigger(sender, "ACCOUNT_CONNECTED", "--to", f"{url}/wink/webhooks")

    assert result.exit_code == 1
    assert "The app answered HTTP 401" in result.output
    assert "The app refused the event." in result.output
    assert stored(app, "smile_wink") == []


def test_the_account_status_moves_as_the_triggered_webhook_says(tmp_path, wink_sandbox, database_url):
    with served_app(tmp_path, wink_sandbox, WINK_DATABASE_URL=database_url) as (app, url):
        assert httpx.post(f"{url}/wink/smile-wink/token", headers=USER).status_code == 201
        result = trigger(app, "ACCOUNT_CONNECTED", "--user", "ada")
        assert result.exit_code == 0, result.output
        with app.app_context():
            smile_user = get_state().store.upstream_user_id("smile_wink", "ada")
            accounts = get_state().store.list_accounts(app_user_id="ada")

    event = stored(app, "smile_wink", "ACCOUNT_CONNECTED")[0]
    assert event.payload["data"]["userId"] == smile_user
    assert [(a.account_id, a.status) for a in accounts] == [
        (event.payload["data"]["accountId"], "CONNECTED")]


def test_an_upstream_user_id_not_known_here_is_named_as_given(tmp_path, wink_sandbox):
    with served_app(tmp_path, wink_sandbox) as (app, _url):
        result = trigger(app, "USER_CREATED", "--user", "tenant-elsewhere")

    assert result.exit_code == 0, result.output
    assert stored(app, "smile_wink", "USER_CREATED")[0].payload["data"]["userId"] == "tenant-elsewhere"


def test_without_a_webhook_secret_the_command_says_which_setting_in_one_line(tmp_path, wink_sandbox):
    app = make_app(tmp_path, wink_sandbox, WINK_WEBHOOK_SECRETS=None, TRUSTED_HOSTS=["127.0.0.1"])
    result = trigger(app, "ACCOUNT_CONNECTED", "--to", "http://127.0.0.1:9/wink/webhooks")

    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: WINK_WEBHOOK_SECRETS is not set: set it to the secret of your Smile webhook."]


def test_without_the_apps_address_the_command_asks_for_to_in_one_line(tmp_path, wink_sandbox):
    app = make_app(tmp_path, wink_sandbox)
    result = trigger(app, "ACCOUNT_CONNECTED")

    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: This app's address is not known: set WINK_PUBLIC_URL (or SERVER_NAME), or pass --to URL."]


def test_an_unknown_event_is_refused_with_the_closest_name(tmp_path, wink_sandbox):
    result = trigger(make_app(tmp_path, wink_sandbox), "ACOUNT_CONNECTED")

    assert result.exit_code == 1
    assert "No test event 'ACOUNT_CONNECTED'. Did you mean ACCOUNT_CONNECTED?" in result.output


def test_list_names_every_event_and_says_why_ucw_has_none(tmp_path, wink_sandbox, smile_id_sandbox,
                                                        ucw_sandbox):
    app = make_app(tmp_path, wink_sandbox, smile_id_sandbox, ucw_sandbox, TRUSTED_HOSTS=["127.0.0.1"])
    result = trigger(app, "--list")

    assert result.exit_code == 0, result.output
    listed = result.output
    assert all(f"  {name} " in listed for name in EVENT_TYPES)
    assert "  result.provisional " in listed
    assert "ucw: none. Universal Connect Widget sends no server-to-server messages; its events reach " \
           "the app through the user's browser" in listed


# -- Smile ID ------------------------------------------------------------------------------------

EXPECTED = {
    "result.approved": ("approved", [("1012", True)]),
    "result.rejected": ("rejected", [("1013", True)]),
    "result.provisional": ("approved", [("0814", False), ("1012", True)]),
    "result.provisional-rejected": ("rejected", [("0814", False), ("1013", True)]),
}


@pytest.mark.parametrize("event", list(EXPECTED))
def test_a_smile_id_result_is_confirmed_by_job_status_and_moves_the_verification(
        tmp_path, wink_sandbox, smile_id_sandbox, event):
    with served_app(tmp_path, wink_sandbox, smile_id_sandbox) as (app, url):
        confirm_and_check(app, url, event)


def test_a_provisional_then_final_smile_id_result_moves_the_verification_on_postgresql(
        tmp_path, wink_sandbox, smile_id_sandbox, database_url):
    with served_app(tmp_path, wink_sandbox, smile_id_sandbox, WINK_DATABASE_URL=database_url) as (app, url):
        confirm_and_check(app, url, "result.provisional")


def confirm_and_check(app: Flask, url: str, event: str) -> None:
    """Trigger ``event`` for ada against the served app; her verification ends as EXPECTED says,
    each result confirmed by job_status."""
    # The user's Smile ID user id is the one the kit made when they started a verification.
    assert httpx.post(f"{url}/wink/smile-id/token", headers=USER).status_code == 201
    result = trigger(app, event, "--user", "ada")
    assert result.exit_code == 0, result.output
    with app.app_context():
        found = verifications(get_state(), "ada")
    status, results = EXPECTED[event]
    triggered = found[0]
    assert triggered["status"] == status
    assert [(r["resultCode"], r["final"]) for r in triggered["results"]] == results
    assert all(r["confirmed"] is True for r in triggered["results"])
    assert result.output.count("The result was recorded in the emulator") == len(results)


def test_a_smile_id_result_the_host_does_not_know_is_stored_and_marked_not_confirmed(
        tmp_path, wink_sandbox, smile_id_sandbox):
    # Smile ID's own API in front of the emulator: it has no endpoint to record a job.
    gate = Flask("gate")

    @gate.post("/v1/<path:path>")
    def forward(path: str):
        if path == "sandbox/jobs":
            return {"code": "2202", "error": "Not found"}, 404
        answer = httpx.post(f"{smile_id_sandbox.host}/{path}", content=request.get_data(),
                            headers={"Content-Type": "application/json"})
        return answer.json(), answer.status_code

    with serve(gate) as gate_served, served_app(tmp_path, wink_sandbox, smile_id_sandbox,
                                                WINK_SMILE_ID_HOST=gate_served.url + "/v1") as (app, url):
        assert httpx.post(f"{url}/wink/smile-id/token", headers=USER).status_code == 201
        result = trigger(app, "result.approved", "--user", "ada")
        with app.app_context():
            found = verifications(get_state(), "ada")

    assert result.exit_code == 0, result.output
    assert "was not told of this result: the app stores it and marks it not confirmed" in result.output
    assert found[0]["status"] == "pending"
    assert [r["confirmed"] for r in found[0]["results"]] == [False]


def test_a_smile_id_result_signed_with_another_key_is_refused(tmp_path, wink_sandbox, smile_id_sandbox):
    with served_app(tmp_path, wink_sandbox, smile_id_sandbox) as (app, url):
        sender = make_app(tmp_path, wink_sandbox, smile_id_sandbox, name="sender",
                          TRUSTED_HOSTS=["127.0.0.1"], WINK_SMILE_ID_API_KEY="another-key")
        result = trigger(sender, "result.approved", "--to", f"{url}/wink/smile-id/webhooks")

    assert result.exit_code == 1
    assert "The app answered HTTP 401" in result.output
    assert stored(app, "smile_id") == []
    assert json.loads(result.output.split("HTTP 401: ", 1)[1].splitlines()[0])["error"]


def test_the_help_says_what_each_provider_can_send_and_that_ucw_sends_nothing_server_to_server(
        tmp_path, wink_sandbox, smile_id_sandbox, ucw_sandbox):
    app = make_app(tmp_path, wink_sandbox, smile_id_sandbox, ucw_sandbox, TRUSTED_HOSTS=["127.0.0.1"])
    result = app.test_cli_runner().invoke(args=["wink", "trigger", "--help"])

    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "smile-wink: 37 events (--list names them)." in said
    assert "smile-id: 4 events (--list names them)." in said
    assert "ucw: Universal Connect Widget sends no server-to-server messages; its events reach the app " \
           "through the user's browser (connect/backToSearch," in said


def test_an_app_that_cannot_be_reached_exits_non_zero_saying_so(tmp_path, wink_sandbox):
    from conftest import free_port_url

    result = trigger(make_app(tmp_path, wink_sandbox), "ACCOUNT_CONNECTED", "--to", free_port_url() + "/x")

    assert result.exit_code == 1
    assert "No answer: " in result.output and "could not be reached (ConnectError)." in result.output
    assert result.output.rstrip().endswith("Error: The app could not be reached.")


def test_a_smile_id_result_is_printed_without_its_signature(tmp_path, wink_sandbox, smile_id_sandbox):
    with served_app(tmp_path, wink_sandbox, smile_id_sandbox) as (app, _url):
        result = trigger(app, "result.approved")

    assert result.exit_code == 0, result.output
    printed = json.loads(next(line for line in result.output.splitlines() if line.strip().startswith("{")))
    assert printed["signature"].endswith("…") and len(printed["signature"]) == 9


def test_the_emulators_job_call_refuses_another_key_and_an_unknown_code(smile_id_sandbox):
    from flask_wink.providers.smile_id.signature import signed_fields

    job = {"user_id": "u-1", "job_id": "j-1", "result_code": "1012", "final": True}
    forged = signed_fields(smile_id_sandbox.partner_id, "another-key")
    unsigned = httpx.post(f"{smile_id_sandbox.host}/sandbox/jobs", json={**job, **forged})
    signed = signed_fields(smile_id_sandbox.partner_id, smile_id_sandbox.api_key)
    unknown = httpx.post(f"{smile_id_sandbox.host}/sandbox/jobs",
                         json={**job, "result_code": "9999", **signed})

    assert unsigned.status_code == 401
    assert unknown.status_code == 400 and unknown.json()["code"] == "2204"
    assert smile_id_sandbox.state.job("u-1", "j-1") is None
