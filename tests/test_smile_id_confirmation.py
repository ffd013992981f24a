"""A Smile ID callback decides nothing until Smile ID's job_status confirms it: the attack of a
body of one's own under a genuine signature, the genuine path, retries when Smile ID cannot be
asked, and the checks at the door (constant-time signature, the partner id)."""

from __future__ import annotations

import hmac
import json
import threading
from contextlib import contextmanager

import httpx
import pytest
from flask import Flask, request

from flask_wink import get_state
from flask_wink.providers.smile_id import SmileIDClient
from flask_wink.providers.smile_id import signals as smile_id_signals
from flask_wink.providers.smile_id.signature import confirm, sign, signed_fields
from flask_wink.providers.smile_id.testing import run_sandbox, signed_result
from flask_wink.testing import serve
from test_smile_id import host_app as smile_id_host_app

USER = {"X-User": "ada"}
#: Where the kit's own links send their callbacks in the attack tests: nowhere (a lost callback),
#: so only the attacker's body reaches the app.
LOST = "http://127.0.0.1:9/lost"


def host_app(host: str, sandbox, tmp_path, **config) -> Flask:
    """The Smile ID tests' host app, asking Smile ID at ``host`` (the emulator, or a gate before it)."""
    return smile_id_host_app(sandbox, tmp_path, WINK_SMILE_ID_HOST=host, **config)


@contextmanager
def gate(upstream: str):
    """A stand-in for Smile ID's API in front of the emulator: forwards every call, records the
    bodies of job_status requests, and answers job_status as told (``mode``: "pass", "down" for
    503, "unsigned" for an answer whose signature is not the partner's)."""
    app = Flask("gate")
    seen: list[dict] = []
    control = {"mode": "pass"}

    @app.post("/v1/<path:path>")
    @app.put("/v1/<path:path>")
    def forward(path: str):
        if path == "job_status":
            seen.append(request.get_json())
            if control["mode"] == "down":
                return {"code": "2299", "error": "Service unavailable"}, 503
        answer = httpx.request(request.method, f"{upstream}/{path}", content=request.get_data(),
                               headers={"Content-Type": "application/json"})
        body = answer.json()
        if path == "job_status" and control["mode"] == "unsigned":
            body["signature"] = sign(body["timestamp"], "someone-else", "another-key")
        return body, answer.status_code

    with serve(app) as served:
        yield served.url + "/v1", control, seen


def start(served) -> tuple[str, str, str]:
    """Start a verification as ada: (the link, the kit's job id, ada's Smile ID user id)."""
    started = httpx.post(served.url + "/wink/smile-id/start", headers={**USER, "Accept": "application/json"})
    assert started.status_code == 201, started.text
    with served.app.app_context():
        user_id = get_state().store.upstream_user_id("smile_id", "ada")
    return started.json()["url"], started.json()["jobId"], user_id


def submit(link: str, id_number: str) -> None:
    form = {"id_type": "0", "id_number": id_number, "capture": "1", "action": "submit"}
    assert httpx.post(link, data=form).status_code in (200, 302)


def status_of(served) -> dict:
    return httpx.get(served.url + "/wink/smile-id/status", headers=USER).json()


def attackers_signed_callback(sandbox) -> dict:
    """What the attacker holds: the signed callback of a failed job whose callback URL they chose."""
    attacker = Flask("attacker")
    received: list[dict] = []
    arrived = threading.Event()

    @attacker.post("/cb")
    def cb():
        received.append(request.get_json())
        arrived.set()
        return "", 200

    client = SmileIDClient(sandbox.host, sandbox.partner_id, sandbox.api_key)
    try:
        with serve(attacker) as served:
            created = client.create_link(
                name="J2", company_name="Shop", id_types=[
                    {"country": "NG", "id_type": "BVN", "verification_method": "enhanced_kyc"}],
                callback_url=served.url + "/cb", data_privacy_policy_url="https://host.test/privacy",
                partner_params={"user_id": "wink-attacker", "job_id": "job-attacker"})
            submit(created["link"], "1234561")  # fails on purpose: 1013
            assert arrived.wait(10)
    finally:
        client.close()
    assert received and received[-1]["ResultCode"] == "1013"
    return received[-1]


def forged_approval(genuine: dict, job_id: str, user_id: str) -> bytes:
    """The attacker's own body under the genuine callback's timestamp, signature and partner id."""
    return json.dumps({
        "timestamp": genuine["timestamp"], "signature": genuine["signature"],
        "partner_id": genuine["partner_id"], "ResultCode": "1012", "ResultText": "ID Number Validated",
        "SmileJobID": genuine["SmileJobID"], "IsFinalResult": "true",
        "PartnerParams": {"job_id": job_id, "user_id": user_id, "job_type": "5"},
    }).encode()


def post_callback(served, raw: bytes) -> httpx.Response:
    return httpx.post(served.url + "/wink/smile-id/webhooks", content=raw,
                      headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("id_number, expected", [
    (None, "pending"),  # J1 never submitted: Smile ID has no such job
    ("1234561", "pending"),  # J1 failed at Smile ID (1013), its callback not arrived yet
    ("1234563", "provisional"),  # J1 under review: its interim result arrived and was confirmed
], ids=["never-submitted", "failed", "under-review"])
def test_an_approval_of_ones_own_under_a_genuine_signature_approves_nothing(tmp_path, database_url, id_number,
                                                                           expected):
    with run_sandbox(review_delay=60) as sandbox:
        app = host_app(sandbox.host, sandbox, tmp_path, WINK_SMILE_ID_CALLBACK_URL=LOST,
                       WINK_DATABASE_URL=database_url)
        with serve(app) as served:
            link, job_id, user_id = start(served)
            if id_number:
                submit(link, id_number)
                job = sandbox.state.job(user_id, job_id)
                assert job is not None and job.results
            if expected == "provisional":  # the interim result reaches the app as Smile ID sends it
                genuine = dict(job.results[-1], **signed_fields(sandbox.partner_id, sandbox.api_key))
                assert post_callback(served, json.dumps(genuine).encode()).json()["status"] == "stored"
            raw = forged_approval(attackers_signed_callback(sandbox), job_id, user_id)
            answer = post_callback(served, raw)
            assert answer.status_code == 200 and answer.json()["status"] == "stored"
            body = status_of(served)
    verification = body["verifications"][0]
    assert verification["jobId"] == job_id and verification["status"] == expected
    forged = [r for r in verification["results"] if r["resultCode"] == "1012"]
    assert len(forged) == 1 and forged[0]["confirmed"] is False and forged[0]["mismatch"]


def test_a_callback_that_does_not_match_job_status_is_signalled_and_kept(tmp_path):
    said = []
    with run_sandbox() as sandbox:
        app = host_app(sandbox.host, sandbox, tmp_path, WINK_SMILE_ID_CALLBACK_URL=LOST)
        smile_id_signals.result_not_confirmed.connect(lambda app, **kw: said.append(kw), weak=False)
        try:
            with serve(app) as served:
                _, job_id, user_id = start(served)
                sandbox.state.add_job(user_id, job_id, "1013", smile_job_id="0000000001")
                raw = signed_result(sandbox.partner_id, sandbox.api_key, job_id=job_id, user_id=user_id,
                                    result_code="1012")
                assert post_callback(served, raw).json()["status"] == "stored"
                with app.app_context():
                    records = get_state().store.list_events(provider="smile_id", kind="webhook", limit=10)
        finally:
            smile_id_signals.result_not_confirmed.receivers.clear()
    assert [kw["job_id"] for kw in said] == [job_id]
    assert said[0]["reason"] == "Smile ID's result is 1013, the callback says 1012"
    record, callback = records  # newest first
    assert record.name == "job_status" and record.payload["callbackEventId"] == callback.id
    assert record.payload["matches"] is False and record.payload["ResultCode"] == "1013"


def test_a_genuine_emulator_callback_is_confirmed_then_approved(tmp_path, database_url):
    confirmed = []
    with run_sandbox() as sandbox:
        app = host_app(sandbox.host, sandbox, tmp_path, WINK_DATABASE_URL=database_url)
        smile_id_signals.result_confirmed.connect(lambda app, **kw: confirmed.append(kw), weak=False)
        try:
            with serve(app) as served:
                link, job_id, _ = start(served)
                submit(link, "1234560")
                assert sandbox.state.wait_for_callbacks()
                body = status_of(served)
        finally:
            smile_id_signals.result_confirmed.receivers.clear()
    verification = body["verifications"][0]
    assert verification["status"] == "approved"
    assert [(r["resultCode"], r["confirmed"]) for r in verification["results"]] == [("1012", True)]
    assert [(kw["job_id"], kw["status"], kw["final"]) for kw in confirmed] == [(job_id, "approved", True)]


def test_the_kit_asks_job_status_with_the_body_smile_ids_library_sends(tmp_path):
    from smile_id_core import Utilities

    with run_sandbox() as sandbox, gate(sandbox.host) as (host, _, seen):
        app = host_app(host, sandbox, tmp_path)
        with serve(app) as served:
            link, job_id, user_id = start(served)
            submit(link, "1234560")
            assert sandbox.state.wait_for_callbacks()
        Utilities(sandbox.partner_id, sandbox.api_key, host).get_job_status(
            {"user_id": user_id, "job_id": job_id, "job_type": 5},
            {"return_job_status": True, "return_history": False, "return_images": False,
             "use_enrolled_image": False})
    kit, library = seen
    assert set(kit) == set(library) == {"partner_id", "timestamp", "signature", "user_id", "job_id",
                                        "image_links", "history"}
    for body in (kit, library):
        assert (body["user_id"], body["job_id"], body["image_links"], body["history"]) == (
            user_id, job_id, False, False)
        assert confirm(body["timestamp"], body["signature"], sandbox.partner_id, sandbox.api_key)


@pytest.mark.parametrize("mode, error", [
    ("down", "Smile ID could not confirm the result"),
    ("unsigned", "not signed with this partner's key"),
])
def test_a_result_smile_id_cannot_confirm_is_failed_then_retried(tmp_path, mode, error):
    with run_sandbox() as sandbox, gate(sandbox.host) as (host, control, _):
        app = host_app(host, sandbox, tmp_path)
        control["mode"] = mode
        with serve(app) as served:
            link, job_id, _ = start(served)
            submit(link, "1234560")
            assert sandbox.state.wait_for_callbacks()
            with app.app_context():
                get_state().store.flush()  # the "failed" mark rides with the next group commit
                callback = get_state().store.list_events(provider="smile_id", kind="webhook", limit=1)[0]
            assert callback.name == "final_result" and callback.state == "failed"
            assert error in callback.error
            waiting = status_of(served)["verifications"][0]
            assert waiting["status"] == "pending" and waiting["results"][0]["confirmed"] is None
            control["mode"] = "pass"
            retried = app.test_cli_runner().invoke(args=["wink", "events", "retry"])
            assert retried.exit_code == 0, retried.output
            assert status_of(served)["status"] == "approved"


def test_compare_digest_is_what_decides_whether_a_callback_signature_matches(tmp_path, monkeypatch):
    # A genuine callback is refused when compare_digest says no: the signature check is the
    # constant-time comparison, never ==.
    calls = []

    def spy(a, b):
        calls.append((a, b))
        return False

    with run_sandbox() as sandbox:
        app = host_app(sandbox.host, sandbox, tmp_path)
        with serve(app) as served:
            _, job_id, user_id = start(served)
            raw = signed_result(sandbox.partner_id, sandbox.api_key, job_id=job_id, user_id=user_id)
            monkeypatch.setattr(hmac, "compare_digest", spy)
            refused = post_callback(served, raw)
            monkeypatch.undo()
            with app.app_context():
                stored = get_state().store.list_events(provider="smile_id", kind="webhook", limit=10)
    assert refused.status_code == 401 and refused.json()["error"] == "InvalidSignature"
    signature = json.loads(raw)["signature"].encode()
    assert (signature, signature) in calls and stored == []


def test_a_callback_naming_another_partner_is_refused_and_not_stored(tmp_path):
    with run_sandbox() as sandbox:
        app = host_app(sandbox.host, sandbox, tmp_path)
        with serve(app) as served:
            _, job_id, user_id = start(served)
            body = json.loads(signed_result(sandbox.partner_id, sandbox.api_key, job_id=job_id,
                                            user_id=user_id))
            body["partner_id"] = "999"  # signed for this partner, but naming another one
            refused = post_callback(served, json.dumps(body).encode())
            with app.app_context():
                stored = get_state().store.list_events(provider="smile_id", kind="webhook", limit=10)
    assert refused.status_code == 401 and refused.json()["error"] == "InvalidSignature"
    assert stored == []
