"""Erasing an app user across every provider (``flask wink users erase``, ``erase_user``): a user
linked at Smile (Wink), UCW and Smile ID over loopback against the emulators, then erased; the
database itself (the SQLite file's bytes, PostgreSQL's rows) is read for what is left."""

from __future__ import annotations

import getpass
import json
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from flask import Flask, request

import acme_ledger
from acme_ledger import AcmeLedger
from conftest import WEBHOOK_SECRET
from example_provider import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from flask_wink import PersonalData, Wink, erase_user, get_state
from flask_wink.erasure import dropped_webhooks, list_erasures
from flask_wink.providers.smile_id.testing import run_sandbox as run_smile_id
from flask_wink.providers.smile_id.testing import signed_result
from flask_wink.providers.smile_wink.client import SmileClient
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook
from flask_wink.providers.smile_wink.testing import run_sandbox as run_smile
from flask_wink.providers.smile_wink.userdata import fetch_user_data, store_user_data
from flask_wink.providers.ucw.testing import run_ucw_sandbox
from flask_wink.testing import LOOPBACK_HOSTS, serve
from test_ucw import log_in

ADA, BOB = "ada-4711", "bob-0815"
#: The id number Ada has Smile ID check.
ID_NUMBER = "1234560"
#: Seconds an HTTP call of these tests may take: the emulators answer slowly on a busy machine.
TIMEOUT = 30.0


def sample(name: str) -> bytes:
    samples = resources.files("flask_wink.providers.smile_wink.sandbox").joinpath("static/samples")
    return samples.joinpath(name).read_bytes()


@dataclass
class World:
    """Three emulators and a host app with all three providers, served over loopback."""

    app: Flask
    url: str
    smile: Any
    ucw: Any
    smile_id: Any
    database_url: str

    def settle(self) -> None:
        """Every webhook and callback sent so far delivered, and their handlers done."""
        assert self.smile.state.dispatcher.wait_idle(15)
        assert self.smile_id.state.wait_for_callbacks()
        with self.app.app_context():
            assert get_state().wait_for_handlers()

    def unsubscribe(self) -> None:
        """No more webhooks from Smile's emulator: what the database holds stays as it is now."""
        for hook in list(self.smile.state.webhooks):
            self.smile.state.delete_webhook(hook)


def host_app(smile: Any, ucw: Any, smile_id: Any, database_url: str, folder: Path) -> Flask:
    """A host app with the three providers, each on its emulator; the user comes from X-User."""
    app = Flask("erase_host", instance_path=str(folder / "instance"))
    app.config.update(
        SECRET_KEY="test-secret",
        WTF_CSRF_ENABLED=False,
        WINK_HANDLE_EVENTS="request",
        WINK_DATABASE_URL=database_url,
        WINK_PROVIDERS="smile_wink,ucw,smile_id",
        WINK_API_KEY=smile.api_key,
        WINK_API_SECRET=smile.api_secret,
        WINK_API_HOST=smile.api_host,
        WINK_WEBHOOK_SECRETS=[WEBHOOK_SECRET],
        WINK_UCW_URL=ucw.url,
        WINK_SMILE_ID_PARTNER_ID=smile_id.partner_id,
        WINK_SMILE_ID_API_KEY=smile_id.api_key,
        WINK_SMILE_ID_HOST=smile_id.host,
        WINK_SMILE_ID_PRIVACY_URL="https://host.test/privacy",
        TRUSTED_HOSTS=LOOPBACK_HOSTS,
    )
    wink = Wink(app)

    @wink.user_id_loader
    def user():
        return request.headers.get("X-User")

    return app


@pytest.fixture
def world(tmp_path, database_url) -> Iterator[World]:
    config = {"WINK_SANDBOX_ANALYSIS_DELAY": 0.05}
    with run_smile(config=config) as smile, run_ucw_sandbox() as ucw, run_smile_id() as smile_id:
        app = host_app(smile, ucw, smile_id, database_url, tmp_path)
        try:
            with serve(app) as served:
                smile.state.create_webhook({"name": "host", "url": served.url + "/wink/webhooks",
                                            "eventTypes": ["ALL_EVENTS"], "active": True,
                                            "secret": WEBHOOK_SECRET})
                yield World(app, served.url, smile, ucw, smile_id, database_url)
        finally:
            get_state(app).close()


# -- linking, over loopback --------------------------------------------------------------------


@dataclass
class Linked:
    """What one app user linked, as the upstreams named it."""

    smile_user_id: str
    smile_account_id: str
    archive_id: str
    ucw_user_id: str
    ucw_connection_id: str
    smile_id_user_id: str
    smile_id_job_id: str


def link_smile(world: World, user: str, provider: str = "upwork") -> tuple[str, str]:
    with httpx.Client(timeout=TIMEOUT) as http:
        token = http.post(world.url + "/wink/token", headers={"X-User": user})
        assert token.status_code == 201, token.text
        body = token.json()
        widget = world.smile.url + "/widget"
        session = http.post(widget + "/session", json={"token": body["accessToken"]}).json()["sessionId"]
        login = {"sessionId": session, "providerId": provider, "username": "George", "password": "123456"}
        account = http.post(widget + "/accounts", json=login).json()["account"]
        if account["status"] == "AWAITING_MFA":
            account = http.post(widget + f"/accounts/{account['id']}/mfa",
                                json={"sessionId": session, "code": "1234"}).json()["account"]
    assert account["status"] == "CONNECTED", account
    return body["userId"], account["id"]


def link_everywhere(world: World, user: str) -> Linked:
    smile_user_id, account_id = link_smile(world, user)
    # Smile's user data, fetched and kept; an archive uploaded, then analysed (its webhooks).
    with world.app.app_context():
        store_user_data(world.app, fetch_user_data(world.app, smile_user_id))
    client = SmileClient(world.smile.api_host, world.smile.api_key, world.smile.api_secret)
    archive = client.upload_archive(smile_user_id, [(f"payslip-{user}.pdf", sample("payslip.pdf"))])
    client.close()
    # UCW: a widget URL, the widget's login, the connection relayed and confirmed (its FDX data).
    headers = {"X-User": user}
    widget = httpx.post(world.url + "/wink/ucw/token", headers=headers, timeout=TIMEOUT).json()
    _, member = log_in(widget["widgetUrl"])
    metadata = {k: member[k] for k in ("ucpInstitutionId", "aggregator", "connectionId", "aggregatorUserId")}
    relayed = httpx.post(world.url + "/wink/ucw/callbacks", headers=headers, timeout=TIMEOUT,
                         json={"name": "connect/memberConnected", "args": metadata})
    assert relayed.status_code == 201, relayed.text
    # Smile ID: a verification through the emulator's page, its signed result posted back.
    with httpx.Client(base_url=world.url, headers=headers, timeout=TIMEOUT) as browser:
        started = browser.post("/wink/smile-id/start")
        assert started.status_code == 303, started.text
        form = {"id_type": "0", "id_number": ID_NUMBER, "capture": "1", "action": "submit"}
        back = httpx.post(started.headers["location"], data=form, timeout=TIMEOUT)
        assert back.status_code == 302
        browser.get(back.headers["location"])
    world.settle()
    wait_until(lambda: archive_status(world, archive["id"]) == "ANALYZED")
    with world.app.app_context():
        store = get_state().store
        job = store.list_events(provider="smile_id", kind="callback", app_user_id=user, limit=100)[-1]
        linked = Linked(smile_user_id, account_id, archive["id"], widget["userId"], member["connectionId"],
                        store.upstream_user_id("smile_id", user), job.payload["jobId"])
    assert [e.name for e in results_of(world, linked.smile_id_user_id)] == ["final_result"]
    return linked


def wait_until(check, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def archive_status(world: World, archive_id: str) -> str | None:
    with world.app.app_context():
        with get_state().store.begin() as conn:
            return conn.scalar(sa.text("SELECT status FROM wink_archives WHERE archive_id = :a"),
                               {"a": archive_id})


def results_of(world: World, smile_id_user_id: str) -> list[Any]:
    with world.app.app_context():
        events = get_state().store.list_events(provider="smile_id", kind="webhook",
                                               upstream_user_id=smile_id_user_id, limit=100)
    return [e for e in events if e.name in ("final_result", "interim_result")]


# -- reading the database itself ----------------------------------------------------------------

USER_TABLES = ("wink_events", "wink_accounts", "wink_users", "wink_user_data", "wink_archives",
               "wink_ucw_connections", "wink_smile_id_signatures")


def rows_text(world: World, table: str, where: str = "", **params: Any) -> str:
    """Every column of the rows of ``table`` (optionally narrowed) as one text, read directly."""
    engine = sa.create_engine(world.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT * FROM {table} {where}"), params).all()
    finally:
        engine.dispose()
    return json.dumps([list(row) for row in rows], default=str)


def database_text(world: World) -> str:
    """What the database holds: the SQLite file's bytes (and its WAL's), or every PostgreSQL row."""
    if world.database_url.startswith("sqlite"):
        path = Path(world.database_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
        return raw.decode("latin-1")
    engine = sa.create_engine(world.database_url)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            return "\n".join(rows_text(world, table) for table in tables)
    finally:
        engine.dispose()


def counts(world: World) -> dict[str, int]:
    engine = sa.create_engine(world.database_url)
    try:
        with engine.connect() as conn:
            return {t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in USER_TABLES}
    finally:
        engine.dispose()


#: Values that say nothing of anyone: statuses, names of things, dates, short numbers, amounts,
#: URLs (the values of a user are every other string in their rows).
NOT_PERSONAL = re.compile(
    r"^(\d{4}-\d{2}-\d{2}([T ][\d:.]+)?(Z|[+-]\d{2}:?\d{2})?|[A-Z_]+|[a-z_/]+|-?\d{1,6}|-?\d+\.\d+"
    r"|https?://.*)$"
)
TIME_COLUMNS = {"received_at", "updated_at", "created_at", "fetched_at", "confirmed_at", "connected_at",
                "handled_at", "claimed_at", "claimed_by", "seen_at", "next_attempt_at"}


def leaves(value: Any) -> Iterator[str]:
    """Every string and number inside a value (JSON text included)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    elif isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = None
        if isinstance(decoded, (dict, list)):
            yield from leaves(decoded)
        else:
            yield value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield str(value)


def values_of(world: World, user: str, upstream_ids: dict[str, str]) -> set[str]:
    """The values the database holds of ``user`` (``upstream_ids``: their id at each provider):
    every string in their rows of every table, but those that say nothing of anyone."""
    found: set[str] = set()
    ids = {"user": user, "smile": upstream_ids.get("smile_wink", "-"), "ucw": upstream_ids.get("ucw", "-"),
           "sid": upstream_ids.get("smile_id", "-")}
    theirs = {
        "wink_events": "app_user_id = :user OR upstream_user_id IN (:smile, :ucw, :sid)",
        "wink_accounts": "upstream_user_id IN (:smile, :ucw, :sid)",
        "wink_users": "app_user_id = :user",
        "wink_user_data": "upstream_user_id = :smile",
        "wink_archives": "upstream_user_id = :smile",
        "wink_ucw_connections": "upstream_user_id = :ucw",
    }
    engine = sa.create_engine(world.database_url)
    try:
        with engine.connect() as conn:
            for table, where in theirs.items():
                for row in conn.execute(sa.text(f"SELECT * FROM {table} WHERE {where}"), ids).mappings():
                    for name, value in row.items():
                        if name not in TIME_COLUMNS:
                            found.update(leaves(value))
            # Smile ID's signature digests, tied to the user by their result's event id.
            found.update(conn.scalars(sa.text(
                "SELECT digest FROM wink_smile_id_signatures WHERE result_key IN "
                "(SELECT event_id FROM wink_events WHERE upstream_user_id = :sid)"), ids))
    finally:
        engine.dispose()
    return {v for v in found if len(v) >= 6 and not NOT_PERSONAL.match(v)}


def upstream_ids(world: World, user: str) -> dict[str, str]:
    with world.app.app_context():
        store = get_state().store
        return {name: store.upstream_user_id(name, user) for name in ("smile_wink", "ucw", "smile_id")
                if store.upstream_user_id(name, user)}


def appears(text: str, value: str) -> bool:
    """Whether ``value`` is in ``text`` as stored: as it is, or JSON-escaped."""
    return value in text or json.dumps(value)[1:-1] in text


def ucw_document(world: World, linked: Linked) -> dict[str, Any]:
    engine = sa.create_engine(world.database_url)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT document FROM wink_ucw_connections WHERE upstream_user_id = :u")
            raw = conn.scalar(query, {"u": linked.ucw_user_id})
    finally:
        engine.dispose()
    return json.loads(raw)


# -- the tests ----------------------------------------------------------------------------------


def test_erase_through_the_cli_leaves_none_of_the_users_values_and_every_other_users_rows(world):
    ada = link_everywhere(world, ADA)
    bob_smile_user, bob_account = link_smile(world, BOB, provider="sss")
    world.settle()
    with world.app.app_context():
        store_user_data(world.app, fetch_user_data(world.app, bob_smile_user))
    world.unsubscribe()
    ada_ids, bob_ids = upstream_ids(world, ADA), upstream_ids(world, BOB)
    bob_rows = {table: rows_text(world, table, "WHERE upstream_user_id = :u", u=bob_smile_user)
                for table in ("wink_events", "wink_accounts", "wink_user_data")}
    before = counts(world)
    # Ada's values: every string of hers that Bob does not share (the sandboxes' logins are the
    # same person), but her ids at the upstreams, kept in the tombstones, and her app id, in the audit.
    values = values_of(world, ADA, ada_ids) - values_of(world, BOB, bob_ids) - set(ada_ids.values()) - {ADA}
    document = ucw_document(world, ada)
    account = document["accounts"][0]["depositAccount"]
    holder = document["customers"][0]
    named = {
        ada.smile_account_id, ada.archive_id, ada.ucw_connection_id, ada.smile_id_job_id,  # ids
        f"payslip-{ADA}.pdf", account["accountNumber"], account["nickname"],  # a file name, an account
        holder["email"][0], holder["addresses"][0]["line1"],  # the bank's holder
    }
    assert named <= values and len(values) > 200
    text = database_text(world)
    # (A SQLite value that straddles two overflow pages is cut by the next page's number: all but
    # a few are found whole.)
    found = {v for v in values if appears(text, v)}
    assert named <= found and len(found) > 0.98 * len(values), sorted(values - found)

    result = world.app.test_cli_runner().invoke(args=["wink", "users", "erase", ADA, "--by", "dpo@example"])
    assert result.exit_code == 0, result.output
    assert f"Erased app user {ADA}:" in result.output and "(audit line 1)" in result.output

    after = counts(world)
    for table in USER_TABLES:
        assert re.search(rf"^\s+{table}\s+{before[table] - after[table]}$", result.output, re.M), (
            table, result.output)
    deleted = {table: before[table] - after[table] for table in USER_TABLES}
    assert deleted["wink_users"] == 3 and deleted["wink_ucw_connections"] == 1
    assert deleted["wink_user_data"] == deleted["wink_archives"] == deleted["wink_smile_id_signatures"] == 1
    assert deleted["wink_accounts"] == 3 and deleted["wink_events"] >= 10
    assert "Tombstones: 3 upstream user(s)" in result.output

    text = database_text(world)
    left = sorted(v for v in values if appears(text, v))
    assert not left, f"still in the database: {left[:10]}"
    # Her upstream ids are in the tombstones, and nowhere else.
    for table in USER_TABLES:
        shown = rows_text(world, table)
        assert not [i for i in ada_ids.values() if appears(shown, i)], table
    assert sorted(json.loads(rows_text(world, "wink_erased_users", "ORDER BY provider"))[i][:2]
                  for i in range(3)) == sorted([name, uid] for name, uid in ada_ids.items())
    # Bob's rows are as they were.
    for table, rows in bob_rows.items():
        assert rows_text(world, table, "WHERE upstream_user_id = :u", u=bob_smile_user) == rows
    assert bob_account in rows_text(world, "wink_accounts")
    assert counts(world)["wink_users"] == 1


def test_erase_with_upstream_asks_each_upstream_and_records_what_it_answered(world):
    ada = link_everywhere(world, ADA)
    erasure = erase_user(world.app, ADA, upstream=True, by="support-7")
    answers = erasure.upstream
    assert set(answers) == {"smile_wink", "ucw", "smile_id"}
    smile, ucw, smile_id = answers["smile_wink"], answers["ucw"], answers["smile_id"]
    assert smile.asked and smile.ok and "revoked 1 account(s) and 1 archive(s)" in smile.answer
    assert "the user itself stays at Smile: its Open API has no call to delete a user" in smile.answer
    assert ucw.asked and ucw.ok and "UCW deleted the user at 1 aggregator(s)" in ucw.answer
    assert not smile_id.asked and "Smile ID has no API call to delete a user" in smile_id.answer
    # What the emulators hold now: Smile's account revoked and its data gone, the archive revoked;
    # UCW has forgotten the user.
    smile = world.smile
    auth = (smile.api_key, smile.api_secret)
    with httpx.Client(base_url=smile.api_host, auth=auth, timeout=TIMEOUT) as api:
        account = api.get(f"/accounts/{ada.smile_account_id}").json()["data"]
        assert account["connectionStatus"] == "DISCONNECTED"
        assert api.get(f"/archives/{ada.archive_id}").json()["data"]["state"]["status"] == "REVOKED"
        assert api.get("/employments", params={"userId": ada.smile_user_id}).json()["data"]["items"] == []
        assert api.get(f"/users/{ada.smile_user_id}").status_code == 200  # no call deletes it
    gone = httpx.get(world.ucw.url + "/api/data/accounts", timeout=TIMEOUT,
                     params={"aggregator": "mx", "userId": ada.ucw_user_id},
                     headers={"UCW-Connection-Id": ada.ucw_connection_id})
    assert gone.status_code == 404 and gone.json() == {"message": "Can't resolve userId"}
    # Smile's revocations send webhooks naming her: acknowledged, never stored.
    world.settle()
    with world.app.app_context():
        assert get_state().store.list_events(upstream_user_id=ada.smile_user_id, limit=10) == []
    # The audit line: when, her app id, who, counts and the answers; nothing else of hers.
    output = world.app.test_cli_runner().invoke(args=["wink", "users", "erasures"]).output
    [audit] = [json.loads(line) for line in output.splitlines()]
    assert audit["erasedBy"] == "support-7" and audit["appUserId"] == ADA
    assert audit["counts"] == dict(erasure.counts) and audit["upstream"]["ucw"]["answer"] == ucw.answer
    line = rows_text(world, "wink_erasures")
    for value in (*asdict(ada).values(), f"payslip-{ADA}.pdf", "4921711234", "Palomero", "Doe"):
        assert value not in line


def post_smile_webhook(world: World, event: dict[str, Any]) -> httpx.Response:
    raw, headers = signed_webhook(event, WEBHOOK_SECRET)
    return httpx.post(world.url + "/wink/webhooks", content=raw, headers=headers, timeout=TIMEOUT)


def test_a_later_webhook_naming_an_erased_user_is_acknowledged_dropped_and_counted(world):
    ada_smile, ada_account = link_smile(world, ADA)
    bob_smile, bob_account = link_smile(world, BOB)
    world.settle()
    # From here on only this test sends webhooks (the emulator's later ones would be dropped too,
    # and counted, whenever they came).
    world.unsubscribe()
    with world.app.app_context():
        stored = get_state().store.list_events(upstream_user_id=ada_smile, kind="webhook", limit=1)[0]
    erase_user(world.app, ADA, by="test")
    connected = {"userId": ada_smile, "accountId": ada_account, "providers": ["upwork"]}
    later = post_smile_webhook(world, make_event("ACCOUNT_CONNECTED", connected))
    redelivered = post_smile_webhook(world, stored.payload)  # the same event id, delivered again
    assert later.status_code == redelivered.status_code == 200
    assert later.json()["status"] == redelivered.json()["status"] == "dropped"
    # Smile ID's signed result for a verification of hers, arriving after she was erased.
    with world.app.app_context():
        get_state().store.link_user("smile_id", ADA, "wink-erased-ada")
    erase_user(world.app, ADA, by="test")
    result = signed_result(world.smile_id.partner_id, world.smile_id.api_key, job_id="job-late",
                           user_id="wink-erased-ada")
    late = httpx.post(world.url + "/wink/smile-id/webhooks", content=result, timeout=TIMEOUT,
                      headers={"Content-Type": "application/json"})
    assert late.status_code == 200 and late.json()["status"] == "dropped"
    # Bob's webhooks are stored as ever.
    bobs = post_smile_webhook(world, make_event("ACCOUNT_CONNECTED", {**connected, "userId": bob_smile,
                                                                       "accountId": bob_account}))
    assert bobs.json()["status"] == "stored"
    with world.app.app_context():
        state = get_state()
        assert state.store.list_events(upstream_user_id=ada_smile, limit=10) == []
        assert state.store.list_events(upstream_user_id="wink-erased-ada", limit=10) == []
        assert state.store.account("smile_wink", ada_account) is None
        assert dropped_webhooks(state) == 3
        assert [e["appUserId"] for e in list_erasures(state)] == [ADA, ADA]


# -- a fourth provider, and the edges, with no emulator -----------------------------------------

LEDGER_MIGRATIONS = Path(acme_ledger.__file__).resolve().parent / "migrations"


def ledger_app(tmp_path: Path, database_url: str, declared: PersonalData) -> tuple[Flask, Any]:
    """A host app with Acme Ledger alone (a provider outside the package, with a table of its
    own), declaring that table's personal data as ``declared`` says."""

    class ErasableLedger(AcmeLedger):
        migrations = LEDGER_MIGRATIONS
        personal_data = (declared,)

    ledger = ErasableLedger()
    app = Flask("ledger_host", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="s", WINK_HANDLE_EVENTS="request", WINK_DATABASE_URL=database_url)
    Wink(app, providers=[ledger])
    return app, ledger


def post_result(url: str, ledger: Any, job: str, user: str, verification: str) -> httpx.Response:
    body = {"jobId": job, "result": "approved", "user": user, "verification": verification}
    raw = json.dumps(body).encode()
    timestamp = str(time.time())
    return httpx.post(url + "/wink/acme-ledger/webhooks", content=raw, timeout=TIMEOUT, headers={
        "Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(raw, timestamp, ledger.secret)})


@pytest.mark.parametrize("declared", [
    PersonalData("wink_acme_results", "job_id", tied_by="event_id", columns=("verification", "result")),
    PersonalData("wink_acme_results", "verification", tied_by="app_user_id", columns=("verification",)),
], ids=["tied-by-event-id", "tied-by-app-user-id"])
def test_a_fourth_providers_declared_table_is_erased_too(tmp_path, database_url, declared):
    app, ledger = ledger_app(tmp_path, database_url, declared)
    with app.app_context():
        store = get_state().store
        store.link_user("acme_ledger", "ada", "acme-ada")
        store.link_user("acme_ledger", "bob", "acme-bob")
    with serve(app) as served:
        # The verification is named for the app user, so either declaration finds the row.
        assert post_result(served.url, ledger, "job-ada", "acme-ada", "ada").json()["status"] == "stored"
        assert post_result(served.url, ledger, "job-bob", "acme-bob", "bob").json()["status"] == "stored"
        erasure = erase_user(app, "ada", by="test")
        assert dict(erasure.counts) == {"wink_acme_results": 1, "wink_events": 1, "wink_accounts": 1,
                                        "wink_users": 1}
        assert erasure.tombstones == 1
        assert json.loads(rows_text_of(database_url, "wink_acme_results")) == [["job-bob", "bob", "approved"]]
        # Ada's later result is dropped; linked again, the same upstream id is hers again.
        assert post_result(served.url, ledger, "job-ada-2", "acme-ada", "ada").json()["status"] == "dropped"
        with app.app_context():
            get_state().store.link_user("acme_ledger", "ada", "acme-ada")
        assert post_result(served.url, ledger, "job-ada-3", "acme-ada", "ada").json()["status"] == "stored"
    with app.app_context():
        state = get_state()
        assert [e.event_id for e in state.store.list_events(limit=10)] == ["job-ada-3", "job-bob"]
        assert dropped_webhooks(state) == 0  # its tombstone went with the new link
    get_state(app).close()


def test_an_erasure_run_again_deletes_what_a_late_handler_wrote(tmp_path):
    url = f"sqlite:///{tmp_path / 'wink.sqlite3'}"
    app, _ = ledger_app(tmp_path, url, PersonalData("wink_acme_results", "job_id", tied_by="event_id"))
    with app.app_context():
        store = get_state().store
        store.link_user("acme_ledger", "ada", "acme-ada")
        assert erase_user(app, "ada", by="test").counts["wink_users"] == 1
        # A handler of another process, still running for one of her events, writes a status.
        store.update_account("acme_ledger", "v-late", "approved", replaces=(), connected=True,
                             upstream_user_id="acme-ada")
        again = erase_user(app, "ada", by="test")
        assert again.counts["wink_accounts"] == 1 and again.tombstones == 1
        assert store.account("acme_ledger", "v-late") is None
        assert len(list_erasures(get_state())) == 2
    get_state(app).close()


def rows_text_of(database_url: str, table: str) -> str:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return json.dumps([list(r) for r in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1"))],
                              default=str)
    finally:
        engine.dispose()


def test_erasing_a_user_the_kit_never_saw_deletes_nothing_and_leaves_an_audit_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'wink.sqlite3'}"
    app, _ = ledger_app(tmp_path, url, PersonalData("wink_acme_results", "job_id", tied_by="event_id"))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["wink", "users", "erase", "nobody", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["counts"] == {"wink_acme_results": 0, "wink_events": 0, "wink_accounts": 0, "wink_users": 0}
    assert answer["tombstones"] == 0 and "upstream" not in answer
    assert answer["erasedBy"] == getpass.getuser()  # the OS user, without --by
    with app.app_context():
        [line] = list_erasures(get_state())
    assert line["appUserId"] == "nobody" and line["upstream"] is None
    get_state(app).close()


@pytest.mark.parametrize("user", ["", "x" * 201])
def test_an_app_user_id_no_app_could_have_is_refused_in_one_line(tmp_path, user):
    url = f"sqlite:///{tmp_path / 'wink.sqlite3'}"
    app, _ = ledger_app(tmp_path, url, PersonalData("wink_acme_results", "job_id", tied_by="event_id"))
    result = app.test_cli_runner().invoke(args=["wink", "users", "erase", user])
    assert result.exit_code == 2
    assert "The app user id must be a non-empty string of at most 200 characters." in result.output
    with pytest.raises(ValueError, match="non-empty string"):
        erase_user(app, user)
    get_state(app).close()


def test_an_upstream_that_cannot_be_asked_is_recorded_and_the_kits_rows_are_erased_all_the_same(tmp_path):
    url = f"sqlite:///{tmp_path / 'wink.sqlite3'}"
    app, ledger = ledger_app(tmp_path, url, PersonalData("wink_acme_results", "job_id", tied_by="event_id"))

    def refuse(state, upstream_user_ids):
        raise RuntimeError(f"Acme is down; it names {upstream_user_ids[0]}")

    ledger.erase_upstream = refuse
    with app.app_context():
        get_state().store.link_user("acme_ledger", "ada", "acme-ada")
    result = app.test_cli_runner().invoke(args=["wink", "users", "erase", "ada", "--upstream"])
    assert result.exit_code == 1
    assert "acme-ledger: Acme Ledger could not be asked: RuntimeError; erase again to retry." in result.output
    assert "An upstream could not be asked: erase again with --upstream to ask again." in result.output
    assert "acme-ada" not in result.output  # the exception's message is not repeated
    with app.app_context():
        state = get_state()
        assert state.store.app_user_id("acme_ledger", "acme-ada") is None
        [line] = list_erasures(state)
    said = "Acme Ledger could not be asked: RuntimeError; erase again to retry."
    assert line["upstream"] == {"acme_ledger": {"asked": True, "ok": False, "answer": said}}
    get_state(app).close()


def test_a_declaration_says_what_ties_its_rows_to_a_user():
    with pytest.raises(ValueError, match="tied_by must be one of upstream_user_id, app_user_id, event_id"):
        PersonalData("wink_x", "owner", tied_by="email")


def test_the_dashboard_counts_webhooks_dropped_for_erased_users(quickstart_app):
    app = quickstart_app(WEBHOOK_SECRET="dashboard-secret")
    client = app.test_client()
    assert 'id="erased-dropped"' not in client.get("/").get_data(as_text=True)
    with app.app_context():
        get_state().store.link_user("smile_wink", "ada", "smile-ada")
    erase_user(app, "ada", by="test")
    for _ in range(2):
        raw, headers = signed_webhook(make_event("USER_CREATED", {"userId": "smile-ada"}), "dashboard-secret")
        answer = client.post("/wink/webhooks", data=raw, headers=headers)
        assert answer.status_code == 200 and answer.get_json()["status"] == "dropped"
    page = client.get("/").get_data(as_text=True)
    said = r'id="erased-dropped"[^>]*>2 webhooks naming an erased user were acknowledged and dropped'
    assert re.search(said, page)


def test_a_webhook_stored_while_the_erasure_runs_is_not_left_behind(tmp_path, database_url, monkeypatch):
    """On PostgreSQL a webhook's insert cannot see an erasure's tombstones before they commit: the
    erasure locks the events table against writers, so the insert waits and is then dropped."""
    import threading

    from flask_wink import erasure as erasing
    from flask_wink.store import events, utcnow
    from flask_wink.store.schema import users

    app = Flask("mid_erasure", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="s", WINK_HANDLE_EVENTS="request", WINK_DATABASE_URL=database_url,
                      WINK_API_KEY="k", WINK_API_SECRET="s", WINK_API_HOST="http://127.0.0.1:9/v1")
    Wink(app).user_id_loader(lambda: None)
    store = get_state(app).store
    store.init()
    with store.engine.begin() as conn:
        conn.execute(users.insert().values(provider="smile_wink", upstream_user_id="smile-a",
                                           app_user_id="alice", is_current=True, created_at=utcnow()))
    store.add_event(provider="smile_wink", kind="webhook", name="USER_CREATED", event_id="ev-1",
                    upstream_user_id="smile-a", payload={"data": {"loginName": "Alice Secret"}})
    deleted, go = threading.Event(), threading.Event()
    delete_rows = erasing._delete_rows

    def paused(*args: Any, **kwargs: Any) -> Any:
        counts = delete_rows(*args, **kwargs)
        deleted.set()
        go.wait(10)
        return counts

    monkeypatch.setattr(erasing, "_delete_rows", paused)
    eraser = threading.Thread(target=lambda: erase_user(app, "alice", by="test"), daemon=True)
    eraser.start()
    assert deleted.wait(10)
    late = threading.Thread(target=lambda: store.add_event(
        provider="smile_wink", kind="webhook", name="USER_UPDATED", event_id="ev-2",
        upstream_user_id="smile-a", payload={"data": {"loginName": "Alice Secret"}}), daemon=True)
    late.start()
    late.join(1.0)
    go.set()
    eraser.join(10)
    late.join(10)
    assert not eraser.is_alive() and not late.is_alive()
    with store.engine.connect() as conn:
        left = conn.execute(sa.select(events.c.event_id).where(events.c.upstream_user_id == "smile-a")).all()
    assert left == []
    assert dropped_webhooks(get_state(app)) == 1
    store.dispose()
