"""Token minting and browser events are rate limited per app user and per client address
(the limits library; memory by default, Redis shared between processes), answering 429 JSON with
Retry-After; the quickstart refuses foreign origins before minting."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest

from conftest import ADMIN, free_port_url, make_host_app
from flask_wink import get_state
from flask_wink.providers.smile_id import SmileIDClient
from flask_wink.testing import serve

REDIS_URL = os.environ.get("WINK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def user(name: str) -> dict[str, str]:
    return {"X-User": name}


def assert_429(answer) -> None:
    assert answer.status_code == 429, answer.data
    assert answer.mimetype == "application/json"
    body = answer.get_json()
    assert body["error"] == "RateLimited" and "Try again" in body["message"]
    assert int(answer.headers["Retry-After"]) >= 1


def test_tokens_per_app_user_on_both_routes(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, WINK_TOKEN_RATE_LIMIT="3 per day")
    client = app.test_client()
    for path in ("/wink/token", "/wink/smile-wink/token", "/wink/token"):
        assert client.post(path, headers=user("alice")).status_code == 201
    assert_429(client.post("/wink/token", headers=user("alice")))
    assert_429(client.post("/wink/smile-wink/token", headers=user("alice")))
    assert client.post("/wink/token", headers=user("bob")).status_code == 201
    assert len(sandbox.state.users) == 2


def test_tokens_per_client_address(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, WINK_TOKEN_ADDRESS_RATE_LIMIT="4 per day")
    client = app.test_client()
    for number in range(4):
        assert client.post("/wink/token", headers=user(f"u{number}")).status_code == 201
    assert_429(client.post("/wink/token", headers=user("u-late")))
    other = client.post("/wink/token", headers=user("u-far"), environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 201
    assert len(sandbox.state.users) == 5


def test_callbacks_have_a_per_user_count_and_size_budget(sandbox, tmp_path):
    app, _ = make_host_app(
        sandbox, tmp_path,
        WINK_CALLBACK_RATE_LIMIT="5 per day", WINK_CALLBACK_KB_RATE_LIMIT="200 per day",
    )
    client = app.test_client()
    close = {"name": "onClose"}
    for _ in range(5):
        assert client.post("/wink/callbacks", json=close, headers=user("alice")).status_code == 201
    assert_429(client.post("/wink/smile-wink/callbacks", json={"name": "onClose"}, headers=user("alice")))
    big = {"name": "onClose", "args": {"pad": "x" * 63_000}}
    assert client.post("/wink/callbacks", json=big, headers=user("bob")).status_code == 201
    assert client.post("/wink/callbacks", json=big, headers=user("bob")).status_code == 201
    assert client.post("/wink/callbacks", json=big, headers=user("bob")).status_code == 201
    assert_429(client.post("/wink/callbacks", json=big, headers=user("bob")))
    with app.app_context():
        assert get_state().store.count_events(app_user_id="alice") == 5
        assert get_state().store.count_events(app_user_id="bob") == 3


def test_the_default_budget_stops_a_flood_of_large_callbacks(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path)
    client = app.test_client()
    big = {"name": "onClose", "args": {"pad": "x" * 64_000}}
    answers = [
        client.post("/wink/callbacks", json=big, headers=user("mallory")).status_code for _ in range(40)
    ]
    assert 429 in answers
    assert answers.count(201) <= 16  # 1 MiB a minute


def test_limits_can_be_switched_off(sandbox, tmp_path):
    app, _ = make_host_app(
        sandbox, tmp_path, WINK_RATE_LIMIT_ENABLED="false", WINK_TOKEN_RATE_LIMIT="1 per day",
        WINK_CALLBACK_RATE_LIMIT="1 per day",
    )
    client = app.test_client()
    assert {client.post("/wink/token", headers=user("alice")).status_code for _ in range(3)} == {201}
    assert {client.post("/wink/callbacks", json={"name": "onClose"}, headers=user("alice")).status_code
            for _ in range(3)} == {201}


def test_a_bad_limit_setting_is_one_line(sandbox, tmp_path):
    with pytest.raises(RuntimeError, match="WINK_TOKEN_RATE_LIMIT"):
        make_host_app(sandbox, tmp_path, WINK_TOKEN_RATE_LIMIT="lots")


def test_the_limits_add_no_hooks_to_the_host_apps_routes(sandbox, tmp_path):
    """Counting happens in the kit's own token and callback views only: with the limits on, the
    app has the same request hooks as with them off, and no Flask-Limiter extension, so the host's
    pages and the webhooks pay nothing for them."""
    on, _ = make_host_app(sandbox, tmp_path / "on")
    off, _ = make_host_app(sandbox, tmp_path / "off", WINK_RATE_LIMIT_ENABLED=False)

    def hooks(app):
        return {name: sum(len(funcs) for funcs in getattr(app, name).values())
                for name in ("before_request_funcs", "after_request_funcs", "teardown_request_funcs")}

    assert hooks(on) == hooks(off)
    assert "limiter" not in on.extensions
    assert on.test_client().post("/wink/token", headers=user("alice")).status_code == 201


def test_memory_counts_start_no_thread_and_drop_what_expired(sandbox, tmp_path, monkeypatch):
    """memory:// counts in the kit's own counters: minting starts no thread (the limits library's
    memory storage starts a timer thread after a hit that finds none), the window slides as the
    library's does, and a counter is dropped once its time is up and a later hit passes it."""
    import threading

    from flask_wink import ratelimits

    app, _ = make_host_app(sandbox, tmp_path, WINK_TOKEN_RATE_LIMIT="2 per minute",
                           WINK_TOKEN_ADDRESS_RATE_LIMIT="")
    counters = get_state(app).rate_limits.strategy.storage
    assert isinstance(counters, ratelimits.WindowCounters)
    client = app.test_client()
    client.post("/wink/token", headers=user("warm"))
    started = []
    start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread) or start(thread))
    for name in ("alice", "alice", "bob"):
        assert client.post("/wink/token", headers=user(name)).status_code == 201
    assert started == []
    assert_429(client.post("/wink/token", headers=user("alice")))

    now = ratelimits.time.time()
    monkeypatch.setattr(ratelimits.time, "time", lambda: now + 60)
    # One window on: the previous one still weighs in, so alice is not given two at once.
    assert client.post("/wink/token", headers=user("alice")).status_code in (201, 429)
    monkeypatch.setattr(ratelimits.time, "time", lambda: now + 121)
    assert client.post("/wink/token", headers=user("alice")).status_code == 201
    assert client.post("/wink/token", headers=user("alice")).status_code == 201
    assert_429(client.post("/wink/token", headers=user("alice")))
    # Every counter but those of the current window (alice's) is gone.
    assert [key for key in counters._counts if "/bob/" in key] == []


def test_a_storage_url_the_limits_cannot_use_is_one_line(sandbox, tmp_path):
    with pytest.raises(RuntimeError, match="WINK_RATE_LIMIT_STORAGE_URL cannot be used.*memory://"):
        make_host_app(sandbox, tmp_path, WINK_RATE_LIMIT_STORAGE_URL="carrier-pigeon://coop")


def test_redis_shares_the_counts_between_processes(sandbox, tmp_path):
    """Two apps (as two processes would be) on one Redis count together."""
    name = f"shared-{uuid.uuid4().hex}"
    config = {"WINK_RATE_LIMIT_STORAGE_URL": REDIS_URL, "WINK_TOKEN_RATE_LIMIT": "3 per day",
              "WINK_TOKEN_ADDRESS_RATE_LIMIT": ""}
    first, _ = make_host_app(sandbox, tmp_path / "a", **config)
    second, _ = make_host_app(sandbox, tmp_path / "b", **config)
    with serve(first) as one, serve(second) as two:
        assert httpx.post(one.url + "/wink/token", headers=user(name)).status_code == 201
        assert httpx.post(two.url + "/wink/token", headers=user(name)).status_code == 201
        assert httpx.post(one.url + "/wink/token", headers=user(name)).status_code == 201
        refused = httpx.post(two.url + "/wink/token", headers=user(name))
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert httpx.post(one.url + "/wink/token", headers=user(name + "-other")).status_code == 201


def test_a_redis_that_is_down_does_not_refuse_everyone(sandbox, tmp_path):
    down = free_port_url().replace("http://", "redis://") + "/0"
    app, _ = make_host_app(sandbox, tmp_path, WINK_RATE_LIMIT_STORAGE_URL=down)
    assert app.test_client().post("/wink/token", headers=user("alice")).status_code == 201


# -- the quickstart ----------------------------------------------------------------------------


@pytest.fixture
def limited_quickstart(quickstart_app):
    with quickstart_app.served(
        ALLOWED_ORIGINS="http://app.example",
        WINK_TOKEN_RATE_LIMIT="3 per day",
        WINK_TOKEN_ADDRESS_RATE_LIMIT="6 per day",
    ) as served:
        served.sandbox = served.app.config["QUICKSTART_SANDBOX"].extensions["wink_sandbox"]
        yield served


def test_quickstart_one_session_is_one_user_and_is_limited(limited_quickstart):
    with httpx.Client(base_url=limited_quickstart.url) as browser:
        ids = {browser.get("/api/create_link_token").json()["userId"] for _ in range(3)}
        refused = browser.post("/api/create_link_token")
    assert len(ids) == 1
    assert refused.status_code == 429 and refused.json()["error"] == "RateLimited"
    assert int(refused.headers["Retry-After"]) >= 1


def test_quickstart_cookieless_clients_are_limited_per_address(limited_quickstart):
    answers = [httpx.get(limited_quickstart.url + "/api/create_link_token").status_code for _ in range(8)]
    assert answers == [200] * 6 + [429] * 2
    assert len(limited_quickstart.sandbox.users) == 6


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example", "Content-Type": "text/plain"},
        {"Origin": "null", "Content-Type": "text/plain"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_quickstart_refuses_foreign_origins_before_minting(limited_quickstart, headers):
    url = limited_quickstart.url + "/api/create_link_token"
    refused = httpx.post(url, headers=headers, content=b"x=1")
    assert refused.status_code == 403
    assert refused.json()["error"] == "NotAllowed"
    assert "access-control-allow-origin" not in refused.headers
    assert limited_quickstart.sandbox.users == {}
    allowed = httpx.post(url, headers={"Origin": "http://app.example"})
    assert allowed.status_code == 200
    same = httpx.post(url, headers={"Origin": limited_quickstart.url, "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200


def smile_id_links(quickstart) -> int:
    """How many Smile Links the quickstart's Smile ID emulator holds, asked over its API."""
    emulator = quickstart.app.config["QUICKSTART_SMILE_ID_SANDBOX"].extensions["smile_id_sandbox"]
    client = SmileIDClient(quickstart.url + "/sandbox/smile-id/v1", emulator.partner_id, emulator.api_key)
    try:
        return client.list_links()["meta"]["totalCount"]
    finally:
        client.close()


def test_quickstart_smile_id_starts_from_fresh_sessions_are_limited_per_address(limited_quickstart):
    answers = []
    for _ in range(7):
        with httpx.Client(base_url=limited_quickstart.url) as browser:  # a new browser session each time
            token = browser.get("/wink/csrf").json()["csrfToken"]
            answers.append(browser.post("/wink/smile-id/start", headers={"X-CSRFToken": token}))
    assert [a.status_code for a in answers] == [303] * 6 + [429]
    refused = answers[-1].json()
    assert refused["error"] == "RateLimited" and "WINK_TOKEN_ADDRESS_RATE_LIMIT" in refused["message"]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert smile_id_links(limited_quickstart) == 6


def test_quickstart_a_cookieless_smile_id_return_makes_no_user_and_no_event(limited_quickstart):
    url = limited_quickstart.url + "/wink/smile-id/return?status=success&user_id=wink-0123"
    answers = [httpx.get(url) for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 3
    # No session cookie: the quickstart keeps its anonymous user in one, so none was made.
    assert [a.headers.get("Set-Cookie") for a in answers] == [None] * 3
    assert "Nobody is signed in" in answers[0].text
    # Nor does the page ask for a status, which would make one in a browser.
    assert "/wink/smile-id/status" not in answers[0].text
    with limited_quickstart.app.app_context():
        assert get_state().store.count_events(provider="smile_id") == 0


def test_quickstart_events_listing_unaffected(limited_quickstart):
    assert httpx.get(limited_quickstart.url + "/wink/events", headers=ADMIN).status_code == 200
