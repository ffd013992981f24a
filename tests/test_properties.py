"""Property-based: any webhook envelope and any callback body answers 2xx or 4xx, never 5xx, and
an acknowledged event is readable afterwards, as strict JSON, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ADMIN, WEBHOOK_SECRET, make_host_app
from flask_wink import get_state
from flask_wink.providers.smile_wink.signature import SIGNATURE_HEADER, sign

# Any character, surrogates and NUL included.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
SCALARS = (
    st.none() | st.booleans() | TEXT
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=True, allow_infinity=True)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)
NESTING = st.integers(min_value=0, max_value=40)
# How the body is written out: as JSON would be, or in an encoding the door must refuse.
ENCODINGS = st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-32"])
ASCII_ONLY = st.booleans()

PROPERTY = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def encode(value, encoding: str, ascii_only: bool) -> bytes:
    text = json.dumps(value, ensure_ascii=ascii_only)
    return text.encode(encoding, "surrogatepass")


def nest(value, depth: int):
    for _ in range(depth):
        value = [value]
    return value


def strict(data: bytes):
    return json.loads(data, parse_constant=lambda name: (_ for _ in ()).throw(AssertionError(name)))


def readable(client, event_id: int) -> dict:
    listed = client.get(f"/wink/events?after={event_id - 1}&limit=1", headers=ADMIN)
    assert listed.status_code == 200
    (event,) = strict(listed.data)["events"]
    assert event["id"] == event_id
    return event


def host(sandbox, tmp_path, database_url):
    app, _ = make_host_app(sandbox, tmp_path, WINK_DATABASE_URL=database_url, WINK_RATE_LIMIT_ENABLED=False)
    return app


def test_any_webhook_envelope_is_2xx_or_4xx_and_readable_once_acknowledged(sandbox, tmp_path, database_url):
    app = host(sandbox, tmp_path, database_url)
    client = app.test_client()
    envelope = st.fixed_dictionaries({
        "id": TEXT | st.uuids().map(str) | VALUES,
        "version": VALUES,
        "type": st.sampled_from(["ACCOUNT_CONNECTED", "ACCOUNT_FAILED", "USER_CREATED", "X"]) | TEXT,
        "createdAt": st.sampled_from(["2026-11-29T00:00:00Z", "9999-12-31T00:00:00Z", "never"]) | VALUES,
        "data": st.dictionaries(TEXT, VALUES, max_size=4) | st.fixed_dictionaries({
            "userId": TEXT | VALUES, "accountId": TEXT | VALUES, "providers": VALUES, "archiveId": VALUES,
        }) | VALUES,
    })
    from flask_wink.timeutil import iso, utcnow

    @PROPERTY
    @given(event=envelope, fresh=st.booleans(), depth=NESTING, encoding=ENCODINGS, ascii_only=ASCII_ONLY)
    def deliver(event, fresh, depth, encoding, ascii_only):
        if fresh:
            event = {**event, "createdAt": iso(utcnow(), "seconds")}
        if isinstance(event.get("data"), dict):
            event["data"] = {**event["data"], "deep": nest(0, depth)}
        body = encode(event, encoding, ascii_only)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, WEBHOOK_SECRET)}
        answer = client.post("/wink/webhooks", data=body, headers=headers)
        assert 200 <= answer.status_code < 500, answer.data
        assert answer.mimetype == "application/json"
        if answer.status_code == 200 and answer.get_json()["status"] == "stored":
            stored = readable(client, answer.get_json()["id"])
            assert stored["payload"] == strict(body.decode("utf-8"))

    try:
        deliver()
    finally:
        with app.app_context():
            get_state().store.dispose()


def test_any_callback_body_is_2xx_or_4xx_and_readable_once_recorded(sandbox, tmp_path, database_url):
    app = host(sandbox, tmp_path, database_url)
    client = app.test_client()
    client.post("/wink/token", headers={"X-User": "prop"})
    names = st.sampled_from(["onAccountCreated", "onAccountConnected", "onUIEvent", "onUploadsCreated",
                             "onClose"]) | VALUES
    args = (
        st.dictionaries(TEXT, VALUES, max_size=4)
        | st.fixed_dictionaries({"accountId": VALUES, "providerId": VALUES, "account": VALUES,
                                 "uploads": st.lists(st.dictionaries(TEXT, VALUES, max_size=4), max_size=2)})
        | VALUES
    )

    @PROPERTY
    @given(name=names, args=args, depth=NESTING, encoding=ENCODINGS, ascii_only=ASCII_ONLY)
    def record(name, args, depth, encoding, ascii_only):
        if isinstance(args, dict):
            args = {**args, "deep": nest(0, depth)}
        body = encode({"name": name, "args": args}, encoding, ascii_only)
        answer = client.post("/wink/callbacks", data=body,
                             headers={"Content-Type": "application/json", "X-User": "prop"})
        assert 200 <= answer.status_code < 500, answer.data
        assert answer.mimetype == "application/json"
        if answer.status_code == 201:
            stored = readable(client, answer.get_json()["id"])
            assert stored["name"] == name
            assert stored["payload"] == (strict(body.decode("utf-8"))["args"] or {})

    try:
        record()
    finally:
        with app.app_context():
            get_state().store.dispose()
