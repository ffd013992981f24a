"""Personal data encrypted at rest (WINK_ENCRYPTION_KEYS): the three upstreams' flows over loopback,
then the database read directly (the SQLite file's bytes, PostgreSQL's rows) holds none of it in
clear while the app reads it all back; a wrong key fails in one line; rotation; plaintext rows
from before keys; ``flask wink keys generate``; the quickstart's live mode warns without keys."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from flask import Flask, request
from quickstart.app import unencrypted_warning

from acme_ledger import AcmeLedger, post_signed
from conftest import ADMIN, WEBHOOK_SECRET, free_port_url, make_host_app
from flask_wink import PersonalData, Wink, get_state
from flask_wink.errors import ConfigurationError
from flask_wink.providers.smile_id.testing import run_sandbox as run_smile_id_sandbox
from flask_wink.providers.smile_wink import archives as smile_archives
from flask_wink.providers.smile_wink.testing import make_event, run_sandbox, signed_webhook
from flask_wink.providers.smile_wink.userdata import stored_user_data
from flask_wink.providers.ucw import connection_key, stored_data
from flask_wink.providers.ucw.testing import run_ucw_sandbox
from flask_wink.store import WrongEncryptionKey
from flask_wink.store.encryption import MARK, Keyring, generate_key, is_key
from flask_wink.testing import LOOPBACK_HOSTS, serve
from test_archives import callback, sample, start_widget, upload, wait_kept
from test_smile_id import results, verify
from test_ucw import log_in
from test_userdata import link_account, settle, subscribe

OLD, NEW, STRANGER = generate_key(), generate_key(), generate_key()
ROOT = Path(__file__).resolve().parent.parent
#: Every table the three providers and the core keep rows in.
TABLES = ("wink_events", "wink_users", "wink_accounts", "wink_user_data", "wink_archives",
          "wink_ucw_connections", "wink_smile_id_signatures")
#: The payslip's file name: a person's name, as uploads' names often are.
FILE_NAME = "payslip-ada-lovelace-2026.pdf"


@pytest.fixture
def sandbox():
    """Smile's sandbox, analysing an upload a moment after it is made."""
    with run_sandbox(config={"WINK_SANDBOX_ANALYSIS_DELAY": 0.1}) as served:
        yield served


@pytest.fixture
def ucw():
    with run_ucw_sandbox() as served:
        yield served


@pytest.fixture
def smile_id():
    with run_smile_id_sandbox() as served:
        yield served


def all_three(sandbox, ucw, smile_id, tmp_path, database_url, **config):
    """A host app with Smile Wink, UCW and Smile ID on ``database_url``."""
    app, _ = make_host_app(
        sandbox, tmp_path,
        WINK_DATABASE_URL=database_url,
        WINK_DEFAULT_PROVIDER="smile_wink",
        WINK_FETCH_ON="TASK_FINISHED",
        WINK_UCW_URL=ucw.url,
        WINK_SMILE_ID_PARTNER_ID=smile_id.partner_id,
        WINK_SMILE_ID_API_KEY=smile_id.api_key,
        WINK_SMILE_ID_HOST=smile_id.host,
        WINK_SMILE_ID_PRIVACY_URL="https://host.test/privacy",
        TRUSTED_HOSTS=LOOPBACK_HOSTS,
        **config,
    )
    return app


def run_the_three_flows(sandbox, ucw, smile_id, served) -> set[str]:
    """Link a Smile account (its user data fetched), upload a payslip (analysed), link a bank
    through UCW (its FDX data fetched), verify an identity with Smile ID; the personal values the
    app read back, each one checked to be there."""
    app = served.app
    subscribe(sandbox, served.url)
    smile_user, _ = link_account(sandbox, served.url, "alice")
    session_id, archive_user = start_widget(sandbox, served, "alice")
    archive = upload(sandbox, session_id, FILE_NAME, sample("payslip.pdf"))
    callback(served, "alice", "onUploadsCreated", {"uploads": [archive], "userId": archive_user})
    kept = wait_kept(served, archive["id"], "ANALYZED")
    settle(sandbox, app)
    member = link_bank(served, "bob")
    _, returned = verify(served, "1234560")
    assert returned.status_code == 200
    assert smile_id.state.wait_for_callbacks()
    with app.app_context():
        state = get_state()
        state.store.flush()
        user_data = stored_user_data(state, smile_user)
        bank = stored_data(state, connection_key("mx", member["connectionId"]))
    found = results(app)
    assert found, "Smile ID's result was stored"
    values = {
        # Smile: the person's name and an employer in their user data, the payslip's analysis.
        user_data["identities"][0]["fullName"],
        kept["fileNames"][0], kept["analysis"]["employerName"],
        # UCW: an account number, a transaction's description, the holder's e-mail and address,
        # the bank, the aggregator's connection id.
        bank["accounts"][0]["depositAccount"]["accountNumber"],
        bank["transactions"][0]["depositTransaction"]["description"],
        bank["customers"][0]["email"][0], bank["customers"][0]["addresses"][0]["line1"],
        bank["institutionName"], member["connectionId"],
        # Smile ID: the ID number and the result's text.
        found[0].payload["IDNumber"], found[0].payload["ResultText"],
    }
    # Six characters at least: a shorter one turns up in the random letters of encrypted values.
    assert FILE_NAME in values and not [v for v in values if not isinstance(v, str) or len(v) < 6], values
    # The pages read it back too.
    with httpx.Client(base_url=served.url) as client:
        events = client.get("/wink/events", params={"limit": 500}, headers=ADMIN).json()["events"]
        assert found[0].payload["ResultText"] in json.dumps(events)
        mine = client.get("/wink/ucw/connections", headers={"X-User": "bob"}).json()["connections"]
        assert mine[0]["institutionName"] == bank["institutionName"]
        status = client.get("/wink/smile-id/status", headers={"X-User": "ada"}).json()
        assert status["status"] == "approved"
    return values


def link_bank(served, user: str) -> dict:
    """Link MX Bank through UCW as the link page does, over loopback: the member UCW made."""
    headers = {"X-User": user}
    widget = httpx.post(served.url + "/wink/ucw/token", headers=headers).json()
    _, member = log_in(widget["widgetUrl"])
    metadata = {k: member[k] for k in ("ucpInstitutionId", "aggregator", "connectionId", "aggregatorUserId")}
    chosen = {"name": "MX Bank", "guid": "mxBank", "url": "https://mx.com", "code": "mxbank"}
    for name, args in (("connect/selectedInstitution", chosen), ("connect/memberConnected", metadata)):
        body = {"name": name, "args": args}
        answer = httpx.post(served.url + "/wink/ucw/callbacks", headers=headers, json=body)
        assert answer.status_code == 201, answer.text
    return member


def stored_text(database_url: str) -> str:
    """What the database holds, read past the kit: the SQLite file's bytes (and its write-ahead
    log's), or every row of every table of PostgreSQL as text."""
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
        return raw.decode("latin-1")
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return "\n".join(
                row[0] for table in TABLES
                for row in conn.execute(sa.text(f"SELECT CAST(t AS text) FROM {table} t"))
            )
    finally:
        engine.dispose()


def sealed_rows(database_url: str, table: str, column: str) -> list[str]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.text(f"SELECT {column} FROM {table}")) if r[0] is not None]
    finally:
        engine.dispose()


# -- what is stored ---------------------------------------------------------------------------


def test_after_the_three_flows_no_personal_value_is_stored_in_clear(
    sandbox, ucw, smile_id, tmp_path, database_url
):
    app = all_three(sandbox, ucw, smile_id, tmp_path, database_url, WINK_ENCRYPTION_KEYS=OLD)
    with serve(app) as served:
        values = run_the_three_flows(sandbox, ucw, smile_id, served)
        get_state(app).store.dispose()
    text = stored_text(database_url)
    assert not [v for v in values if v in text], "stored in clear"
    payloads = sealed_rows(database_url, "wink_events", "payload")
    assert payloads and all(p.startswith(MARK) for p in payloads)
    # Ids, states and times stay clear, so the queries still work.
    assert "handled" in text and "ACCOUNT_CONNECTED" in text


def test_without_keys_the_same_flows_store_in_clear(sandbox, ucw, smile_id, tmp_path):
    """The check above can see what it looks for: without keys every value is there in clear."""
    url = f"sqlite:///{tmp_path / 'clear.sqlite3'}"
    app = all_three(sandbox, ucw, smile_id, tmp_path, url)
    with serve(app) as served:
        values = run_the_three_flows(sandbox, ucw, smile_id, served)
        get_state(app).store.dispose()
    text = stored_text(url)
    assert [v for v in values if v not in text] == []


# -- wrong keys ----------------------------------------------------------------------------------


def smile_app(sandbox, tmp_path, **config):
    """A Smile Wink host app on its SQLite file (handlers off the request)."""
    url = f"sqlite:///{tmp_path / 'wink.sqlite3'}"
    app, _ = make_host_app(sandbox, tmp_path, WINK_DATABASE_URL=url, **config)
    return app


def post_webhooks(app, count: int, start: int = 0) -> None:
    client = app.test_client()
    for n in range(start, start + count):
        event = make_event("ACCOUNT_CONNECTED", {"userId": f"user-{n}", "accountId": f"acct-{n}",
                                                 "providerId": "upwork", "holder": f"Holder Name {n}"})
        body, headers = signed_webhook(event, WEBHOOK_SECRET)
        answer = client.post("/wink/webhooks", data=body, headers=headers)
        assert answer.status_code in (200, 201, 204), answer.text


def test_a_wrong_key_fails_loudly_in_one_line_never_with_garbage(sandbox, tmp_path, caplog):
    writer = smile_app(sandbox, tmp_path, WINK_ENCRYPTION_KEYS=OLD)
    post_webhooks(writer, 3)
    get_state(writer).close()
    reader = smile_app(sandbox, tmp_path, WINK_ENCRYPTION_KEYS=[STRANGER])
    with reader.app_context(), pytest.raises(WrongEncryptionKey) as raised:
        get_state().store.list_events()
    message = raised.value.description
    assert "WINK_ENCRYPTION_KEYS" in message and "\n" not in message
    # Over HTTP: a JSON 500 with that line, never a traceback; no key in the answer or the log.
    with caplog.at_level(logging.DEBUG):
        answer = reader.test_client().get("/wink/events", headers=ADMIN)
    assert answer.status_code == 500
    assert answer.get_json() == {"error": "WrongEncryptionKey", "message": message}
    assert not [k for k in (OLD, STRANGER) if k in answer.text or k in caplog.text]
    # The CLI: one line.
    result = reader.test_cli_runner().invoke(args=["wink", "events"])
    assert result.exit_code == 1 and result.output.strip() == f"Error: {message}"
    # Without any key, the same: encrypted rows are never shown as they are.
    get_state(reader).close()
    keyless = smile_app(sandbox, tmp_path)
    with keyless.app_context(), pytest.raises(WrongEncryptionKey, match="WINK_ENCRYPTION_KEYS is not set"):
        get_state().store.list_events()
    get_state(keyless).close()


@pytest.mark.parametrize("setting, named", [
    ("not-a-key", "1st key"),
    ([generate_key(), "short"], "2nd key"),
])
def test_a_setting_that_is_not_a_key_refuses_to_start_naming_which(sandbox, tmp_path, setting, named):
    with pytest.raises(ConfigurationError, match=named) as raised:
        smile_app(sandbox, tmp_path, WINK_ENCRYPTION_KEYS=setting)
    assert "flask wink keys generate" in str(raised.value) and "short" not in str(raised.value)


# -- keys generate / rotate ----------------------------------------------------------------------


def test_keys_generate_prints_a_new_valid_key_each_time(sandbox, tmp_path):
    runner = smile_app(sandbox, tmp_path).test_cli_runner()
    first = runner.invoke(args=["wink", "keys", "generate"])
    second = runner.invoke(args=["wink", "keys", "generate"])
    assert first.exit_code == 0 and is_key(first.output.strip())
    assert first.output != second.output
    keyring = Keyring.from_setting(first.output.strip())
    assert keyring.open(keyring.seal("Ada Lovelace")) == "Ada Lovelace"


def test_keys_given_as_a_comma_separated_string_or_a_list_read_the_same():
    sealed = Keyring([OLD]).seal("x")
    assert Keyring.from_setting(f" {NEW} , {OLD} ").open(sealed) == "x"
    assert Keyring.from_setting([NEW, OLD]).open(sealed) == "x"
    assert Keyring.from_setting("") is None and Keyring.from_setting(None) is None


def test_rotate_reencrypts_in_batches_while_requests_keep_coming(sandbox, tmp_path):
    old = smile_app(sandbox, tmp_path, WINK_ENCRYPTION_KEYS=OLD)
    post_webhooks(old, 120)
    get_state(old).close()
    both = smile_app(sandbox, tmp_path, WINK_ENCRYPTION_KEYS=f"{NEW},{OLD}")
    url = both.config["WINK_DATABASE_URL"]
    # Old-key tokens read with the new list before rotating.
    with both.app_context():
        assert len(get_state().store.list_events(limit=500)) == 120
    failures: list[str] = []
    stop = threading.Event()

    def keep_sending() -> None:
        n = 1000
        with serve(both) as served, httpx.Client(base_url=served.url) as client:
            while not stop.is_set():
                event = make_event("ACCOUNT_CONNECTED", {"userId": f"user-{n}", "accountId": f"acct-{n}",
                                                         "providerId": "upwork"})
                body, headers = signed_webhook(event, WEBHOOK_SECRET)
                answer = client.post("/wink/webhooks", content=body, headers=headers)
                listed = client.get("/wink/events", params={"limit": 5}, headers=ADMIN)
                if answer.status_code >= 300 or listed.status_code != 200:
                    failures.append(f"{answer.status_code} {listed.status_code}")
                n += 1

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        result = both.test_cli_runner().invoke(args=["wink", "keys", "rotate", "--batch", "25"])
    finally:
        stop.set()
        sender.join()
    assert result.exit_code == 0, result.output
    assert not failures
    lines = result.output.splitlines()
    events_line = next(line for line in lines if line.startswith("wink_events:"))
    assert events_line.startswith("wink_events: ") and "re-encrypted" in events_line
    resealed = int(events_line.split()[1])
    assert resealed >= 120 and f"{sum_of(lines)} rows re-encrypted under the first key" in result.output
    assert "--vacuum" in lines[-1]
    get_state(both).close()
    # After rotating only the new key is needed; every stored value is sealed.
    new = smile_app(sandbox, tmp_path, WINK_ENCRYPTION_KEYS=[NEW])
    with new.app_context():
        listed = get_state().store.list_events(limit=10_000)
    assert len(listed) >= 120 and not [e for e in listed if e.payload_error]
    assert all(p.startswith(MARK) for p in sealed_rows(url, "wink_events", "payload"))
    # A second run finds nothing to do.
    again = new.test_cli_runner().invoke(args=["wink", "keys", "rotate"])
    assert again.exit_code == 0 and again.output.splitlines()[-1].startswith("0 rows re-encrypted")
    get_state(new).close()


def sum_of(lines: list[str]) -> int:
    return sum(int(line.split()[1]) for line in lines if line.startswith("wink_"))


def test_rotate_without_keys_says_how_to_set_them(sandbox, tmp_path):
    result = smile_app(sandbox, tmp_path).test_cli_runner().invoke(args=["wink", "keys", "rotate"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: WINK_ENCRYPTION_KEYS is not set")
    assert len(result.output.splitlines()) == 1


def test_a_database_from_before_keys_keeps_working_and_rotate_encrypts_it(
    sandbox, ucw, smile_id, tmp_path, database_url
):
    clear = all_three(sandbox, ucw, smile_id, tmp_path, database_url)
    with serve(clear) as served:
        values = run_the_three_flows(sandbox, ucw, smile_id, served)
        get_state(clear).close()
    assert [v for v in values if v not in stored_text(database_url)] == []
    keyed = all_three(sandbox, ucw, smile_id, tmp_path, database_url, WINK_ENCRYPTION_KEYS=NEW)
    with keyed.app_context():
        before = {e.id: e.payload for e in get_state().store.list_events(limit=1000)}
    # Rotated, then vacuumed: the clear values' old copies leave the file's free pages too.
    result = keyed.test_cli_runner().invoke(args=["wink", "keys", "rotate", "--batch", "7", "--vacuum"])
    assert result.exit_code == 0, result.output
    counted = {line.split(":")[0]: int(line.split()[1]) for line in result.output.splitlines()
               if line.startswith("wink_")}
    assert counted["wink_events"] == len(before)
    assert counted["wink_user_data"] == 1 and counted["wink_ucw_connections"] >= 1
    assert counted["wink_archives"] >= 1
    with keyed.app_context():
        after = {e.id: e.payload for e in get_state().store.list_events(limit=1000)}
        archive = smile_archives.list_archives()[0]
    assert after == before and archive["fileNames"] == [FILE_NAME]
    get_state(keyed).store.dispose()
    text = stored_text(database_url)
    assert not [v for v in values if v in text]


# -- a provider of your own -------------------------------------------------------------------------


class SealedLedger(AcmeLedger):
    """A fourth provider that says its results' verification is personal."""

    personal_data = (
        PersonalData("wink_acme_results", "job_id", tied_by="event_id", columns=("verification",)),
    )
    migrations = Path(__file__).resolve().parent / "acme_ledger" / "migrations"


def test_a_fourth_providers_declared_columns_are_encrypted_and_rotated(tmp_path):
    url = f"sqlite:///{tmp_path / 'acme.sqlite3'}"
    ledger = SealedLedger()

    def acme_app(keys: str) -> Flask:
        app = Flask("acme_host", instance_path=str(tmp_path / "instance"))
        app.config.update(SECRET_KEY="s", WINK_HANDLE_EVENTS="request", WINK_DATABASE_URL=url,
                          WINK_ENCRYPTION_KEYS=keys)
        Wink(app, providers=[ledger]).user_id_loader(lambda: request.headers.get("X-User"))
        return app

    app = acme_app(OLD)
    body = {"jobId": "j-1", "result": "approved", "user": "acme-1", "verification": "Ada Lovelace's passport"}
    with serve(app) as served:
        answer = post_signed(served.url, ledger, body)
    assert answer.status_code == 200
    get_state(app).store.dispose()
    # (Acme's status names the verification as its account id, which, an id, stays clear.)
    [stored] = sealed_rows(url, "wink_acme_results", "verification")
    assert stored.startswith(MARK) and "Ada" not in stored
    rotated = acme_app(f"{NEW},{OLD}")
    result = rotated.test_cli_runner().invoke(args=["wink", "keys", "rotate"])
    assert "wink_acme_results: 1 re-encrypted" in result.output, result.output
    [resealed] = sealed_rows(url, "wink_acme_results", "verification")
    assert Keyring([NEW]).open(resealed) == body["verification"]
    get_state(rotated).close()


# -- the quickstart --------------------------------------------------------------------------------


def live(quickstart_app, sandbox, **extra):
    return quickstart_app(WINK_API_KEY=sandbox.api_key, WINK_API_SECRET=sandbox.api_secret,
                          OPEN_API_HOST=sandbox.api_host, WEBHOOK_SECRET="s", **extra)


def test_live_mode_without_keys_starts_with_one_warning_saying_how_to_fix_it(sandbox, tmp_path):
    port = int(free_port_url().rsplit(":", 1)[1])
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "APP_PORT": str(port), "API_KEY": "", "API_SECRET": "",
        "WINK_API_KEY": sandbox.api_key, "WINK_API_SECRET": sandbox.api_secret,
        "OPEN_API_HOST": sandbox.api_host, "WEBHOOK_SECRET": "s", "ADMIN_PASSWORD": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'start.sqlite3'}", "WINK_ENCRYPTION_KEYS": "",
    }
    process = subprocess.Popen([sys.executable, "-m", "quickstart"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        # The start lines come before the server listens: wait for it (a busy machine is slow).
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        process.terminate()
        rest = process.communicate(timeout=10)[0]
    assert lines[0].startswith("Mode: live ")  # the mode stays the first line
    assert lines[2] == ("WARNING quickstart: Personal data (events, user data, bank data) is stored "
                        "unencrypted: run `flask wink keys generate` and set WINK_ENCRYPTION_KEYS to the key "
                        "in .env.\n")
    assert "unencrypted" not in rest  # once


def test_live_mode_with_keys_encrypts_and_does_not_warn(quickstart_app, sandbox):
    app = live(quickstart_app, sandbox, WINK_ENCRYPTION_KEYS=NEW)
    assert unencrypted_warning(app) is None and get_state(app).store.keyring is not None


def test_sandbox_mode_holds_made_up_people_and_does_not_warn(quickstart_app):
    app = quickstart_app()
    assert unencrypted_warning(app) is None and get_state(app).store.keyring is None


def test_the_env_example_shows_a_key_line():
    example = (ROOT / ".env.example").read_text()
    assert "WINK_ENCRYPTION_KEYS=" in example and "keys generate" in example


def test_sqlite_bytes_are_what_the_reader_reads(tmp_path):
    """The SQLite check reads the file itself: a value written is found in its bytes."""
    path = tmp_path / "probe.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute("INSERT INTO t VALUES ('Ada Lovelace')")
        db.commit()
    assert "Ada Lovelace" in stored_text(f"sqlite:///{path}")
