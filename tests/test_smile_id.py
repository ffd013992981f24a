"""Smile ID's Smile Links: the signature, the client against the emulator over loopback, the
verification flow through a host app, callbacks verified and stored once, the CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import httpx
import pytest
from dotenv import dotenv_values
from flask import Flask, request

from conftest import ADMIN, free_port_url
from flask_wink import Wink, get_state, signals
from flask_wink.providers.smile_id import (
    EMULATOR_CODES,
    SmileID,
    SmileIDAPIError,
    SmileIDAuthError,
    SmileIDClient,
    SmileIDNotFound,
    confirm,
    sign,
)
from flask_wink.providers.smile_id import signals as smile_id_signals
from flask_wink.providers.smile_id.testing import run_sandbox, signed_result
from flask_wink.testing import LOOPBACK_HOSTS, serve

USER = {"X-User": "ada"}
ID_TYPES = [{"country": "NG", "id_type": "BVN", "verification_method": "enhanced_kyc"}]


def test_the_signature_matches_smile_ids_check_value():
    assert sign("2024-02-29T16:13:40.813Z", "085", "test-api-key") == (
        "+SjcpZrwvw8gClqyW8cHh7SGNLKTB44nAYV9znYsBZc="
    )
    assert confirm("2024-02-29T16:13:40.813Z", "+SjcpZrwvw8gClqyW8cHh7SGNLKTB44nAYV9znYsBZc=", "085",
                   "test-api-key")
    assert not confirm("2024-02-29T16:13:40.814Z", "+SjcpZrwvw8gClqyW8cHh7SGNLKTB44nAYV9znYsBZc=", "085",
                       "test-api-key")
    assert not confirm("2024-02-29T16:13:40.813Z", "+SjcpZrwvw8gClqyW8cHh7SGNLKTB44nAYV9znYsBZc=", "086",
                       "test-api-key")


# -- the client against the emulator -------------------------------------------------------


@pytest.fixture
def emulator():
    with run_sandbox(page_size=5) as sandbox:
        yield sandbox


def client_for(emulator, **kwargs) -> SmileIDClient:
    return SmileIDClient(emulator.host, kwargs.pop("partner_id", emulator.partner_id),
                         kwargs.pop("api_key", emulator.api_key), **kwargs)


def make_link(client, **fields):
    values = dict(name="KYC", company_name="Acme", id_types=ID_TYPES, callback_url="http://127.0.0.1:9/cb",
                  data_privacy_policy_url="https://acme.test/privacy")
    values.update(fields)
    return client.create_link(**values)


def test_a_link_is_created_and_read_back_with_its_fields_and_counters(emulator):
    client = client_for(emulator)
    created = make_link(client, is_single_use=True, user_id="u-1", partner_params={"job_id": "j-1"})
    assert created["link"].startswith(emulator.url + "/links/") and created["ref_id"]
    link = client.get_link(created["ref_id"])
    assert link["ref_id"] == created["ref_id"] and link["link_url"] == created["link"]
    assert link["is_single_use"] is True and link["user_id"] == "u-1"
    assert link["partner_params"] == {"job_id": "j-1"} and link["id_types"] == ID_TYPES
    assert (link["total_jobs"], link["successful_jobs"], link["failed_jobs"]) == (0, 0, 0)
    assert link["disabled_at"] is None and link["expires_at"] > link["created_at"]
    client.close()


def test_links_are_listed_page_by_page_and_every_page_is_read(emulator):
    client = client_for(emulator)
    made = [make_link(client, name=f"link {n}")["ref_id"] for n in range(12)]
    second = client.list_links(2)
    assert second["meta"] == {"currentPage": 2, "limit": 5, "totalCount": 12, "totalPages": 3}
    assert len(second["links"]) == 5
    every = [link["ref_id"] for link in client.iter_links()]
    assert sorted(every) == sorted(made) and len(every) == 12
    assert every[0] == made[-1]  # newest first
    client.close()


def test_a_disabled_link_is_refused_on_its_page(emulator):
    client = client_for(emulator)
    created = make_link(client)
    answer = client.disable_link(created["ref_id"])
    assert answer["ref_id"] == created["ref_id"] and answer["disabled_at"]
    assert set(answer) == {"disabled_at", "id_types", "link_url", "ref_id"}
    page = httpx.get(created["link"])
    assert page.status_code == 410 and "This link has been disabled." in page.text
    client.close()


def test_update_replaces_the_id_types(emulator):
    client = client_for(emulator)
    created = make_link(client)
    passport = [{"country": "NG", "id_type": "PASSPORT", "verification_method": "doc_verification"}]
    assert client.update_link(created["ref_id"], id_types=passport)["id_types"] == passport
    client.close()


def test_smile_ids_errors_map_onto_the_exception_tree_with_their_code(emulator):
    wrong_key = client_for(emulator, api_key="not-the-key")
    with pytest.raises(SmileIDAuthError) as refused:
        wrong_key.list_links()
    assert refused.value.code == "2205" and refused.value.status == 401
    wrong_partner = client_for(emulator, partner_id="999999")
    with pytest.raises(SmileIDAuthError) as other:
        wrong_partner.list_links()
    assert other.value.code == "2204"
    client = client_for(emulator)
    with pytest.raises(SmileIDAPIError) as missing:
        client.create_link(name="x", company_name="", id_types=ID_TYPES, callback_url="http://x/cb",
                           data_privacy_policy_url="http://x/p")
    assert missing.value.code == "2213" and "company_name" in missing.value.message
    with pytest.raises(SmileIDNotFound):
        client.get_link("sl_nope")
    for c in (wrong_key, wrong_partner, client):
        c.close()


def test_the_emulator_refuses_bad_json(emulator):
    json_type = {"Content-Type": "application/json"}
    bad = httpx.post(emulator.host + "/smile_links", content=b"{not json", headers=json_type)
    assert bad.status_code == 400 and bad.json() == {"code": "2203", "error": "Invalid JSON"}


def test_a_timestamp_window_is_enforced_only_when_the_emulator_is_given_one():
    # Smile ID documents no window: by default any signed timestamp passes; a test may set one.
    with run_sandbox() as open_sandbox:
        old = client_for(open_sandbox, clock=lambda: time.time() - 3 * 3600)
        assert old.list_links()["meta"]["totalCount"] == 0
        old.close()
    with run_sandbox(timestamp_tolerance=3600) as strict:
        stale = client_for(strict, clock=lambda: time.time() - 3 * 3600)
        with pytest.raises(SmileIDAuthError) as refused:
            stale.list_links()
        assert refused.value.status == 401 and refused.value.code == "2205"
        stale.close()


@pytest.mark.parametrize("field, value, code, message", [
    ("callback_url", 5, "2204", "callback_url must be a string"),
    ("callback_url", "javascript:alert(1)", "2213", "callback_url must be a valid http or https URL"),
    ("data_privacy_policy_url", "javascript:alert(1)", "2213", "data_privacy_policy_url must be a valid"),
    ("logo_url", "javascript:alert(1)", "2213", "logo_url must be a valid http"),
    ("redirect_url", "javascript:alert(1)", "2213", "redirect_url must be a valid http"),
    ("redirect_url", "ftp://files.test/x", "2213", "redirect_url must be a valid http"),
    ("name", ["KYC"], "2204", "name must be a string"),
    ("is_single_use", "no", "2204", "is_single_use must be true or false"),
    ("expires_at", 5, "2204", "expires_at must be an ISO 8601 date-time"),
])
def test_the_emulator_checks_field_types_like_smile_id(emulator, field, value, code, message):
    client = client_for(emulator)
    with pytest.raises(SmileIDAPIError) as refused:
        make_link(client, **{field: value})
    assert refused.value.status == 400 and refused.value.code == code
    assert message in refused.value.message
    assert client.list_links()["meta"]["totalCount"] == 0
    client.close()


def test_an_expired_link_shows_the_emulators_error_page():
    now = [time.time()]
    with run_sandbox(clock=lambda: now[0]) as sandbox:
        client = client_for(sandbox)
        in_an_hour = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now[0] + 3600))
        created = make_link(client, expires_at=in_an_hour)
        assert httpx.get(created["link"]).status_code == 200
        now[0] += 2 * 3600  # the emulator's clock passes the link's expiry
        page = httpx.get(created["link"])
        assert page.status_code == 410 and "This link has expired." in page.text
        submitted = httpx.post(created["link"], data={"id_type": "0", "id_number": "1234560", "capture": "1",
                                                      "action": "submit"})
        assert submitted.status_code == 410 and sandbox.state.deliveries == []
        client.close()


def test_a_used_single_use_link_is_refused(emulator):
    client = client_for(emulator)
    created = make_link(client, is_single_use=True, redirect_url="http://127.0.0.1:9/back")
    first = httpx.post(created["link"], data={"id_type": "0", "id_number": "1234560", "capture": "1",
                                              "action": "submit"})
    assert first.status_code == 302 and "status=success" in first.headers["location"]
    again = httpx.get(created["link"])
    assert again.status_code == 410 and "already been used" in again.text
    assert client.get_link(created["ref_id"])["total_jobs"] == 1
    client.close()


@contextmanager
def flaky_receiver(failures: int):
    """A callback receiver that answers 500 ``failures`` times, then 200."""
    app = Flask("receiver")
    seen = []

    @app.post("/cb")
    def cb():
        seen.append(request.get_json())
        return ("no", 500) if len(seen) <= failures else ("ok", 200)

    with serve(app) as served:
        yield served.url + "/cb", seen


def test_callbacks_are_retried_on_a_non_2xx_answer_and_counters_move(emulator):
    client = client_for(emulator)
    with flaky_receiver(failures=2) as (url, seen):
        created = make_link(client, callback_url=url, partner_params={"sandbox_result": "1"})
        httpx.post(created["link"], data={"id_type": "0", "id_number": "1234560", "capture": "1",
                                          "action": "submit"})
        assert emulator.state.wait_for_callbacks()
    assert len(seen) == 3 and all(body["ResultCode"] == "1013" for body in seen)
    attempts = [(d["attempt"], d["status"]) for d in emulator.state.deliveries]
    assert attempts == [(1, 500), (2, 500), (3, 200)]
    assert confirm(seen[-1]["timestamp"], seen[-1]["signature"], emulator.partner_id, emulator.api_key)
    link = client.get_link(created["ref_id"])
    assert (link["total_jobs"], link["successful_jobs"], link["failed_jobs"]) == (1, 0, 1)
    client.close()


def test_the_sandbox_command_prints_the_env_lines_and_serves(tmp_path):
    port = int(free_port_url().rsplit(":", 1)[1])
    process = subprocess.Popen(
        [sys.executable, "-m", "flask_wink.sandbox", "smile-id", "--port", str(port), "--partner-id", "085",
         "--api-key", "k-1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        from test_sandbox_command import first_lines

        lines = first_lines(process, 6)
        assert lines[1:5] == ["SMILE_ID_PARTNER_ID=085", "SMILE_ID_API_KEY=k-1",
                              f"SMILE_ID_HOST=http://127.0.0.1:{port}/v1",
                              f"SMILE_ID_PRIVACY_URL=http://127.0.0.1:{port}/privacy"]
        # The whole output is valid in a .env file: the first and last lines are comments.
        assert lines[0].startswith("# Smile ID sandbox running")
        assert lines[5] == ("# in a host app's config these are WINK_SMILE_ID_PARTNER_ID, "
                            "WINK_SMILE_ID_API_KEY, WINK_SMILE_ID_HOST and WINK_SMILE_ID_PRIVACY_URL")
        assert dotenv_values(stream=io.StringIO("\n".join(lines))) == {
            "SMILE_ID_PARTNER_ID": "085", "SMILE_ID_API_KEY": "k-1",
            "SMILE_ID_HOST": f"http://127.0.0.1:{port}/v1",
            "SMILE_ID_PRIVACY_URL": f"http://127.0.0.1:{port}/privacy"}
        assert httpx.get(f"http://127.0.0.1:{port}/privacy").status_code == 200
        client = SmileIDClient(f"http://127.0.0.1:{port}/v1", "085", "k-1")
        assert client.list_links()["meta"]["totalCount"] == 0
        client.close()
    finally:
        process.terminate()
        process.wait(10)


# -- the flow through a host app -----------------------------------------------------------


def host_app(emulator, tmp_path, **config) -> Flask:
    app = Flask("smile_id_host", instance_path=str(tmp_path / "instance"))
    app.config.update({
        "SECRET_KEY": "s",
        "WTF_CSRF_ENABLED": False,
        "WINK_HANDLE_EVENTS": "request",
        "WINK_PROVIDERS": "smile_id",
        "WINK_SMILE_ID_PARTNER_ID": emulator.partner_id,
        "WINK_SMILE_ID_API_KEY": emulator.api_key,
        "WINK_SMILE_ID_HOST": emulator.host,
        "WINK_SMILE_ID_PRIVACY_URL": "https://host.test/privacy",
        # Results and the browser come back to the test's own host.
        "TRUSTED_HOSTS": LOOPBACK_HOSTS,
        **config,
    })
    wink = Wink(app)

    @wink.user_id_loader
    def user():
        return request.headers.get("X-User")

    @wink.events_permission
    def admin():
        return request.headers.get("X-Admin") == "yes"

    return app


@pytest.fixture
def served_host(emulator, tmp_path):
    app = host_app(emulator, tmp_path)
    with serve(app) as served:
        yield served


def verify(served, id_number="1234560", action="submit"):
    """Start a verification as ada, complete the emulator's page, come back: the return page."""
    with httpx.Client(base_url=served.url, headers=USER) as browser:
        started = browser.post("/wink/smile-id/start")
        assert started.status_code == 303
        link = started.headers["location"]
        form = {"id_type": "0", "id_number": id_number, "capture": "1", "action": action}
        back = httpx.post(link, data=form)
        assert back.status_code == 302
        returned = browser.get(back.headers["location"])
        return link, returned


def results(app):
    """The stored callbacks, newest first (not the job_status records made for them)."""
    with app.app_context():
        stored = get_state().store.list_events(provider="smile_id", kind="webhook", limit=100)
    return [e for e in stored if e.name in ("final_result", "interim_result")]


def status_of(served):
    return httpx.get(served.url + "/wink/smile-id/status", headers=USER).json()


def wait_for(emulator):
    assert emulator.state.wait_for_callbacks()


@pytest.mark.parametrize("id_number, final_status, codes", [
    ("1234560", "approved", ["1012"]),
    ("1234561", "rejected", ["1013"]),
    ("1234562", "approved", ["0814", "1012"]),
    ("1234563", "rejected", ["0814", "1013"]),
])
def test_the_signed_callback_decides_the_status(emulator, served_host, id_number, final_status, codes):
    _, returned = verify(served_host, id_number)
    assert returned.status_code == 200 and "Received (success), awaiting the result" in returned.text
    wait_for(emulator)
    stored = results(served_host.app)
    assert [e.payload["ResultCode"] for e in reversed(stored)] == codes
    assert [e.name for e in reversed(stored)] == ["interim_result"] * (len(codes) - 1) + ["final_result"]
    body = status_of(served_host)
    assert body["status"] == final_status
    only = body["verifications"][0]
    assert only["redirect"] == "success" and [r["resultCode"] for r in only["results"]] == codes


def test_a_cancelled_verification_gets_no_callback_and_stays_pending(emulator, served_host):
    # Smile ID sends no result when the user cancels: the redirect's "cancelled" is all there is.
    _, returned = verify(served_host, action="cancel")
    assert "Received (cancelled)" in returned.text
    wait_for(emulator)
    assert results(served_host.app) == [] and emulator.state.deliveries == []
    verification = status_of(served_host)["verifications"][0]
    assert verification["status"] == "pending" and verification["redirect"] == "cancelled"
    assert EMULATOR_CODES == {}


def test_a_failed_submission_stays_pending_with_the_redirect_recorded(emulator, served_host):
    _, returned = verify(served_host, id_number="1234569")
    assert "Received (fail)" in returned.text
    wait_for(emulator)
    body = status_of(served_host)
    assert body["status"] == "pending" and body["verifications"][0]["redirect"] == "fail"
    assert results(served_host.app) == []


def started_job(app, served):
    httpx.post(served.url + "/wink/smile-id/start", headers=USER)
    with app.app_context():
        state = get_state()
        started = state.store.list_events(provider="smile_id", kind="callback", limit=1)[0]
        return started.payload["jobId"], state.store.upstream_user_id("smile_id", "ada")


def come_back(served, user_id, status="success", headers=USER):
    """The browser sent back from Smile ID's page (or from any page linking there)."""
    return httpx.get(served.url + "/wink/smile-id/return", params={"status": status, "user_id": user_id},
                     headers=headers)


def redirects(app):
    with app.app_context():
        events = get_state().store.list_events(provider="smile_id", kind="callback", limit=100)
    return [e for e in reversed(events) if e.name == "redirected"]


def test_the_redirect_never_decides_the_status(emulator, served_host):
    job_id, user_id = started_job(served_host.app, served_host)
    httpx.get(f"{served_host.url}/wink/smile-id/return?status=successful&user_id={user_id}", headers=USER)
    body = status_of(served_host)
    assert body["status"] == "pending" and body["verifications"][0]["redirect"] == "success"
    with served_host.app.app_context():
        redirected = get_state().store.list_events(provider="smile_id", kind="callback", limit=10)[0]
    assert redirected.name == "redirected"
    assert redirected.payload == {"status": "success", "reported": "successful", "userId": user_id,
                                  "jobId": job_id}


def test_a_return_naming_another_users_id_stores_nothing_and_changes_nothing_shown(emulator, served_host):
    started_job(served_host.app, served_host)
    before = status_of(served_host)
    # Another site's plain link to the return page, opened in ada's signed-in browser.
    page = come_back(served_host, "wink-someone-else", status="fail")
    assert page.status_code == 200 and "nothing was recorded" in page.text
    assert redirects(served_host.app) == []
    assert status_of(served_host) == before


def test_a_return_for_a_user_who_started_no_verification_stores_nothing(emulator, served_host):
    _, ada = started_job(served_host.app, served_host)
    page = come_back(served_host, ada, headers={"X-User": "bob"})
    assert page.status_code == 200 and "nothing was recorded" in page.text
    assert redirects(served_host.app) == []
    assert httpx.get(served_host.url + "/wink/smile-id/status", headers={"X-User": "bob"}).json() == {
        "status": None, "verifications": []}


def test_a_second_return_for_a_link_already_returned_from_stores_nothing(emulator, served_host):
    _, user_id = started_job(served_host.app, served_host)
    assert "Received (success)" in come_back(served_host, user_id).text
    shown = status_of(served_host)
    again = come_back(served_host, user_id, status="fail")
    assert again.status_code == 200 and "nothing was recorded" in again.text
    assert [e.payload["status"] for e in redirects(served_host.app)] == ["success"]
    assert status_of(served_host) == shown and shown["verifications"][0]["redirect"] == "success"


def test_each_return_is_recorded_for_an_open_link_of_the_user_latest_first(emulator, served_host):
    first_job, user_id = started_job(served_host.app, served_host)
    second_job, _ = started_job(served_host.app, served_host)
    come_back(served_host, user_id, status="success")
    come_back(served_host, user_id, status="cancelled")
    shown = {v["jobId"]: v["redirect"] for v in status_of(served_host)["verifications"]}
    assert shown == {second_job: "success", first_job: "cancelled"}
    assert [e.payload["jobId"] for e in redirects(served_host.app)] == [second_job, first_job]


def test_a_return_after_the_link_expired_stores_nothing(emulator, tmp_path):
    app = host_app(emulator, tmp_path, WINK_SMILE_ID_LINK_TTL=0.001)
    with serve(app) as served:
        _, user_id = started_job(app, served)
        time.sleep(0.01)  # the link lives one millisecond
        page = come_back(served, user_id)
    assert page.status_code == 200 and "nothing was recorded" in page.text
    assert redirects(app) == []


# -- limits: a start creates a link upstream, a return may store a row --------------------------


def test_starts_past_a_users_limit_are_refused_and_create_no_link(emulator, tmp_path):
    app = host_app(emulator, tmp_path, WINK_TOKEN_RATE_LIMIT="3 per day")
    with serve(app) as served:
        answers = [httpx.post(served.url + "/wink/smile-id/start", headers=USER) for _ in range(4)]
        other = httpx.post(served.url + "/wink/smile-id/start", headers={"X-User": "bob"})
    assert [a.status_code for a in answers] == [303, 303, 303, 429]
    refused = answers[-1]
    assert refused.json()["error"] == "RateLimited" and "WINK_TOKEN_RATE_LIMIT" in refused.json()["message"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert other.status_code == 303  # the limit is ada's, not everyone's
    client = client_for(emulator)
    assert client.list_links()["meta"]["totalCount"] == 4
    client.close()


def test_returns_past_a_users_limit_are_refused_with_a_page(emulator, tmp_path):
    app = host_app(emulator, tmp_path, WINK_CALLBACK_RATE_LIMIT="3 per day")
    with serve(app) as served:
        _, user_id = started_job(app, served)
        answers = [come_back(served, user_id) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.headers["Content-Type"].startswith("text/html") and "Try again in" in refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    assert len(redirects(app)) == 1


def post_result(served, raw, path="/wink/smile-id/webhooks"):
    return httpx.post(served.url + path, content=raw, headers={"Content-Type": "application/json"})


def test_a_redelivered_result_is_stored_once_and_signals_once(emulator, served_host):
    job_id, user_id = started_job(served_host.app, served_host)
    got, moved = [], []
    smile_id_signals.result_received.connect(lambda app, **kw: got.append(kw["result_code"]), weak=False)
    smile_id_signals.verification_status_changed.connect(lambda app, **kw: moved.append(kw["status"]),
                                                         weak=False)
    emulator.state.add_job(user_id, job_id, "1012", smile_job_id="0000000001")
    try:
        raw = signed_result(emulator.partner_id, emulator.api_key, job_id=job_id, user_id=user_id)
        first = post_result(served_host, raw)
        again = post_result(served_host, raw)
        # A second delivery is signed anew; the key (job, code, finality) is the same. It comes to
        # the address results had before .../webhooks (a link made then), which still receives them.
        later = post_result(served_host, signed_result(emulator.partner_id, emulator.api_key, job_id=job_id,
                                                       user_id=user_id), path="/wink/smile-id/callbacks")
    finally:
        smile_id_signals.result_received.receivers.clear()
        smile_id_signals.verification_status_changed.receivers.clear()
    assert first.json()["status"] == "stored"
    assert first.json()["eventId"] == f"0000000001:1012:final:{job_id}"
    assert again.json()["status"] == "duplicate" and later.json()["status"] == "duplicate"
    assert len(results(served_host.app)) == 1
    assert got == ["1012"] and moved == ["approved"]
    assert status_of(served_host)["status"] == "approved"


def test_the_stored_result_keeps_no_signature_and_no_page_shows_it(emulator, served_host):
    job_id, user_id = started_job(served_host.app, served_host)
    raw = signed_result(emulator.partner_id, emulator.api_key, job_id=job_id, user_id=user_id)
    signature = json.loads(raw)["signature"]
    assert post_result(served_host, raw).json()["status"] == "stored"
    stored = results(served_host.app)[0]
    assert "signature" not in stored.payload and stored.payload["timestamp"] == json.loads(raw)["timestamp"]
    with served_host.app.app_context():  # read back from the database, not the object just made
        again = get_state().store.get_event(stored.id)
    assert "signature" not in again.payload and again.payload["ResultCode"] == "1012"
    for url, headers in (("/wink/events?provider=smile-id", ADMIN), ("/wink/events", USER),
                         ("/wink/smile-id/status", USER)):
        assert signature not in httpx.get(served_host.url + url, headers=headers).text


def test_a_signature_accepted_once_is_refused_with_another_result(emulator, served_host):
    job_id, user_id = started_job(served_host.app, served_host)
    emulator.state.add_job(user_id, job_id, "1022", smile_job_id="0000000001")
    rejected = signed_result(emulator.partner_id, emulator.api_key, job_id=job_id, user_id=user_id,
                             result_code="1022")
    assert post_result(served_host, rejected).json()["status"] == "stored"
    # The same signature and timestamp, now claiming approval (for this job or another one).
    forged = json.loads(rejected)
    forged.update(ResultCode="1012", ResultText="Exact Match")
    other_job = {**forged, "SmileJobID": "0000000777"}
    for body in (forged, other_job):
        refused = post_result(served_host, json.dumps(body).encode())
        assert refused.status_code == 401 and "another result" in refused.json()["message"]
    # The very same delivery again is a redelivery, not a replay.
    assert post_result(served_host, rejected).json()["status"] == "duplicate"
    assert [e.payload["ResultCode"] for e in results(served_host.app)] == ["1022"]
    assert status_of(served_host)["status"] == "rejected"


def test_the_same_smile_job_id_for_another_verification_is_a_new_result(emulator, served_host):
    # An emulator (or environment) that numbers its jobs afresh reuses SmileJobIDs: the kit's own
    # job id in PartnerParams tells the results apart.
    first_job, user_id = started_job(served_host.app, served_host)
    emulator.state.add_job(user_id, first_job, "1022", smile_job_id="0000000001")
    now = time.time()
    first = signed_result(emulator.partner_id, emulator.api_key, job_id=first_job, user_id=user_id,
                          result_code="1022", now=now)
    assert post_result(served_host, first).json()["status"] == "stored"
    second_job, _ = started_job(served_host.app, served_host)
    emulator.state.add_job(user_id, second_job, "1012", smile_job_id="0000000001")
    second = signed_result(emulator.partner_id, emulator.api_key, job_id=second_job, user_id=user_id,
                           now=now + 0.01)
    answer = post_result(served_host, second).json()
    assert answer["status"] == "stored" and answer["eventId"] == f"0000000001:1012:final:{second_job}"
    statuses = {v["jobId"]: v["status"] for v in status_of(served_host)["verifications"]}
    assert statuses == {first_job: "rejected", second_job: "approved"}


def test_the_emulator_numbers_jobs_afresh_on_each_start_without_reusing_ids():
    from flask_wink.providers.smile_id.sandbox.state import SandboxState

    firsts = []
    for _ in range(2):  # two starts of the emulator
        state = SandboxState(partner_id="085", api_key="k", retry_delays=())
        link = state.create_link({"partner_params": {}, "id_types": ID_TYPES}, None)
        state.submit(link, ID_TYPES[0], "1234560")
        assert state.wait_for_callbacks()
        state.close()
        firsts.append(state.last_job_id)
    assert all(len(j) == 10 and j.isdigit() for j in firsts)
    assert firsts[0] != firsts[1]


def test_an_interim_result_after_the_final_one_does_not_move_the_status_back(emulator, served_host):
    job_id, user_id = started_job(served_host.app, served_host)
    emulator.state.add_job(user_id, job_id, "0814", final=False, smile_job_id="0000000001")
    emulator.state.add_job(user_id, job_id, "1022")
    now = time.time()  # two results, each with a timestamp (so a signature) of its own
    final = signed_result(emulator.partner_id, emulator.api_key, job_id=job_id, user_id=user_id,
                          result_code="1022", now=now)
    interim = signed_result(emulator.partner_id, emulator.api_key, job_id=job_id, user_id=user_id,
                            result_code="0814", final=False, now=now + 0.01)
    assert post_result(served_host, final).json()["status"] == "stored"
    assert post_result(served_host, interim).json()["status"] == "stored"
    assert status_of(served_host)["status"] == "rejected"
    listed = httpx.get(served_host.url + "/wink/accounts?provider=smile-id", headers=ADMIN)
    accounts = listed.json()["accounts"]
    assert [(a["accountId"], a["status"]) for a in accounts] == [(job_id, "rejected")]


def test_a_forged_callback_answers_401_and_is_not_stored(emulator, served_host):
    job_id, user_id = started_job(served_host.app, served_host)
    forged = signed_result(emulator.partner_id, "a-guessed-key", job_id=job_id, user_id=user_id)
    unsigned = json.dumps({"ResultCode": "1012", "SmileJobID": "1"}).encode()
    for raw in (forged, unsigned):
        refused = post_result(served_host, raw)
        assert refused.status_code == 401 and refused.json()["error"] == "InvalidSignature"
    # A body that is not JSON is refused at the door, before any signature is looked for.
    not_json = post_result(served_host, b"not json")
    assert not_json.status_code == 400 and "JSON" in not_json.json()["message"]
    assert results(served_host.app) == []
    assert status_of(served_host)["status"] == "pending"


def test_a_stale_callback_is_refused(emulator, served_host):
    job_id, user_id = started_job(served_host.app, served_host)
    stale = signed_result(emulator.partner_id, emulator.api_key, job_id=job_id, user_id=user_id,
                          now=time.time() - 2 * 3600)
    future = signed_result(emulator.partner_id, emulator.api_key, job_id=job_id, user_id=user_id,
                           now=time.time() + 3600)
    for raw in (stale, future):
        refused = post_result(served_host, raw)
        message = refused.json()["message"]
        assert refused.status_code == 400
        assert "WINK_SMILE_ID_CALLBACK_MAX_AGE" in message or "in the future" in message
    assert results(served_host.app) == []


def test_a_signed_body_that_is_not_a_result_is_a_400(emulator, served_host):
    body = json.loads(signed_result(emulator.partner_id, emulator.api_key, job_id="j", user_id="u"))
    del body["SmileJobID"]
    refused = post_result(served_host, json.dumps(body).encode())
    assert refused.status_code == 400 and "Not a Smile ID result" in refused.json()["message"]


def test_start_needs_a_signed_in_user_and_a_csrf_token(emulator, tmp_path):
    guarded = host_app(emulator, tmp_path / "guarded", WTF_CSRF_ENABLED=True).test_client()
    refused = guarded.post("/wink/smile-id/start", headers=USER)
    assert refused.status_code == 400
    assert refused.get_json()["message"] == (
        "CSRF check failed: The CSRF token is missing. Send the page's csrf_token.")
    anonymous = host_app(emulator, tmp_path / "open").test_client().post("/wink/smile-id/start")
    assert anonymous.status_code == 401 and anonymous.get_json()["error"] == "NotSignedIn"


def test_an_expired_pending_verification_reads_as_expired(emulator, tmp_path):
    app = host_app(emulator, tmp_path, WINK_SMILE_ID_LINK_TTL=0.001, WINK_SMILE_ID_CALLBACK_URL="http://x/cb",
                   WINK_SMILE_ID_REDIRECT_URL="http://x/back")
    client = app.test_client()
    assert client.post("/wink/smile-id/start", headers=USER).status_code == 303
    time.sleep(0.01)  # the link lives one millisecond
    assert client.get("/wink/smile-id/status", headers=USER).get_json()["status"] == "expired"


def test_misconfiguration_says_the_fix_in_one_line(tmp_path):
    app = Flask("bare", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="s", WINK_PROVIDERS="smile_id", WINK_SMILE_ID_PARTNER_ID="085",
                      WINK_SMILE_ID_API_KEY="k")
    with pytest.raises(RuntimeError, match="WINK_SMILE_ID_PRIVACY_URL is not set"):
        Wink(app)
    app.config.update(WINK_SMILE_ID_PRIVACY_URL="https://x/p", WINK_SMILE_ID_ID_TYPES="NG:BVN:selfie")
    with pytest.raises(RuntimeError, match="COUNTRY:ID_TYPE:method"):
        Wink(app)


def test_smile_id_is_enabled_only_when_partner_id_and_key_are_set():
    assert SmileID.configured({"WINK_SMILE_ID_PARTNER_ID": "085", "WINK_SMILE_ID_API_KEY": "k"})
    assert not SmileID.configured({"WINK_SMILE_ID_PARTNER_ID": "085"})


# -- the CLI -------------------------------------------------------------------------------


def test_the_cli_creates_lists_shows_and_disables_links(emulator, tmp_path):
    app = host_app(emulator, tmp_path, WINK_SMILE_ID_CALLBACK_URL="http://127.0.0.1:9/cb")
    runner = app.test_cli_runner()
    created = runner.invoke(args=["wink", "smile-id", "links", "create", "--name", "Shop KYC", "--multi-use",
                                  "--param", "branch=north"])
    assert created.exit_code == 0, created.output
    ref_id, url = created.output.split()
    assert url.startswith(emulator.url + "/links/")
    listed = runner.invoke(args=["wink", "smile-id", "links", "list"])
    assert ref_id in listed.output and "multi" in listed.output and "jobs=0" in listed.output
    shown = runner.invoke(args=["wink", "smile-id", "links", "show", ref_id])
    assert json.loads(shown.output)["partner_params"] == {"branch": "north"}
    disabled = runner.invoke(args=["wink", "smile-id", "links", "disable", ref_id])
    assert disabled.exit_code == 0 and f"Disabled {ref_id}" in disabled.output
    paged = runner.invoke(args=["wink", "smile-id", "links", "list", "--page", "1"])
    assert "disabled" in paged.output and "page 1 of 1 (1 links)" in paged.output
    missing = runner.invoke(args=["wink", "smile-id", "links", "show", "sl_nope"])
    assert missing.exit_code != 0 and "Smile ID refused" in missing.output


def test_handling_in_the_background_stores_before_answering(emulator, tmp_path):
    app = host_app(emulator, tmp_path, WINK_HANDLE_EVENTS="background")
    seen = threading.Event()
    signals.account_status_changed.connect(lambda app, **kw: seen.set(), weak=False)
    try:
        with serve(app) as served:
            verify(served)
            wait_for(emulator)
            assert get_state(app).wait_for_handlers()
            assert status_of(served)["status"] == "approved"
    finally:
        signals.account_status_changed.receivers.clear()
    assert seen.is_set()


@pytest.mark.parametrize("order", ["CSRFProtect before the kit", "CSRFProtect after the kit"])
def test_results_pass_a_hosts_csrf_protect_set_up_before_or_after_the_kit(emulator, tmp_path, order):
    from flask_wtf.csrf import CSRFProtect

    app = Flask("smile_id_csrf_host", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="s", WINK_HANDLE_EVENTS="request",
                      WINK_SMILE_ID_PARTNER_ID=emulator.partner_id, WINK_SMILE_ID_API_KEY=emulator.api_key,
                      WINK_SMILE_ID_HOST=emulator.host,
                      WINK_SMILE_ID_PRIVACY_URL="https://host.test/privacy", TRUSTED_HOSTS=LOOPBACK_HOSTS)
    if order == "CSRFProtect before the kit":
        CSRFProtect(app)
    Wink(app).user_id_loader(lambda: None)
    if order == "CSRFProtect after the kit":
        CSRFProtect(app)
    emulator.state.add_job("wink-ada", "job-1", "1012", smile_job_id="0000000007")
    raw = signed_result(emulator.partner_id, emulator.api_key, job_id="job-1", user_id="wink-ada",
                        smile_job_id="0000000007")
    with serve(app) as served:
        response = post_result(served, raw)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "stored"
