"""``flask wink export / retention / token / webhooks / revoke account`` against the sandbox over loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from conftest import WEBHOOK_SECRET, free_port_url, make_host_app
from flask_wink import get_state
from flask_wink.providers.smile_wink.archives import archives
from flask_wink.providers.smile_wink.userdata import fetch_and_store, parse_window, stored_user_data
from flask_wink.store import accounts
from flask_wink.testing import serve
from test_userdata import PER_ACCOUNT, link_account, settle, subscribe


@pytest.fixture
def linked(sandbox, tmp_path):
    """A served host app with alice (George on Upwork) and bob (Ryan on Grab) linked."""
    app, _ = make_host_app(sandbox, tmp_path)
    with serve(app) as served:
        subscribe(sandbox, served.url)
        alice, alices = link_account(sandbox, served.url, "alice")
        bob, bobs = link_account(sandbox, served.url, "bob", login="Ryan", password="654321", provider="grab")
        settle(sandbox, app)
        yield app, {"alice": (alice, alices), "bob": (bob, bobs)}


def run(app, *args, input=None):
    result = app.test_cli_runner().invoke(args=["wink", *args], input=input)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def age_account(app, account_id: str, days: float) -> None:
    """Pretend an account connected ``days`` ago."""
    with app.app_context():
        with get_state().store.engine.begin() as conn:
            conn.execute(
                accounts.update()
                .where(accounts.c.account_id == account_id)
                .values(connected_at=datetime.now(UTC) - timedelta(days=days))
            )


# -- export -------------------------------------------------------------------------------


def test_export_user_by_app_user_id_to_a_file(linked, tmp_path):
    app, users = linked
    out = tmp_path / "exports" / "alice.json"
    result = run(app, "export", "alice", "--out", str(out))
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert (document["userId"], document["appUserId"]) == (users["alice"][0], "alice")
    assert {k: len(document[k]) for k in PER_ACCOUNT} == PER_ACCOUNT
    with app.app_context():  # the export is kept as the latest document too
        assert stored_user_data(app, users["alice"][0])["fetchedAt"] == document["fetchedAt"]


def test_export_user_by_smile_user_id_to_stdout(linked):
    app, users = linked
    result = run(app, "export", users["bob"][0])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["appUserId"] == "bob" and len(document["incomes"]) == 14
    assert {i["currency"] for i in document["incomes"]} == {"IDR"}


def test_export_of_an_unknown_user_says_so(linked):
    app, _ = linked
    result = run(app, "export", "nobody")
    assert result.exit_code == 1
    assert "Unknown user 'nobody'" in result.output


@pytest.mark.parametrize("args", [[], ["alice", "--expiring-within", "7d"]])
def test_export_needs_a_user_or_a_window_not_both(linked, args):
    app, _ = linked
    result = run(app, "export", *args)
    assert result.exit_code == 2
    assert "either USER or --expiring-within" in result.output


def test_export_expiring_within_exports_only_users_with_data_about_to_go(linked, tmp_path):
    app, users = linked
    age_account(app, users["alice"][1], 55)  # Smile deletes it in 5 days
    out_dir = tmp_path / "due"
    result = run(app, "export", "--expiring-within", "7d", "--out-dir", str(out_dir))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out_dir.iterdir()) == [f"{users['alice'][0]}.json"]
    assert "Exported 1 user(s)" in result.output
    assert len(json.loads((out_dir / f"{users['alice'][0]}.json").read_text())["transactions"]) == 25
    hours = run(app, "export", "--expiring-within", "12h", "--out-dir", str(tmp_path / "none"))
    assert "Exported 0 user(s)" in hours.output


def test_export_falls_back_to_the_stored_copy_when_smile_cannot_be_reached(linked, sandbox, tmp_path):
    app, users = linked
    with app.app_context():
        kept = fetch_and_store(app, users["alice"][0])
    # The same database, but Smile is down.
    offline, _ = make_host_app(sandbox, tmp_path, WINK_API_HOST=free_port_url() + "/v1")
    result = run(offline, "export", "alice")
    assert result.exit_code == 0
    assert f"exporting the copy of {kept['fetchedAt']}" in result.output
    assert json.loads(result.output[result.output.index("{"):])["fetchedAt"] == kept["fetchedAt"]
    nothing = run(offline, "export", "bob")
    assert nothing.exit_code == 1 and "nothing is stored" in nothing.output


@pytest.mark.parametrize("window", ["7x", "d", "", "-1d"])
def test_a_bad_window_is_a_clear_message(linked, window):
    app, _ = linked
    result = run(app, "export", "--expiring-within", window)
    assert result.exit_code == 2
    assert "window like 7d or 12h" in result.output or "either USER" in result.output


def test_parse_window():
    assert parse_window("7d") == timedelta(days=7)
    assert parse_window(" 36H ") == timedelta(hours=36)
    with pytest.raises(ValueError):
        parse_window("7 weeks")


# -- retention ----------------------------------------------------------------------------


def test_retention_lists_what_expires_when(linked):
    app, users = linked
    age_account(app, users["bob"][1], 58.5)
    result = run(app, "retention")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    # Soonest first: bob's account connected 58.5 days ago goes in a day and a half.
    assert users["bob"][1] in lines[0] and "of bob" in lines[0] and "in 1 d" in lines[0]
    assert users["alice"][1] in lines[1] and "in 59 d" in lines[1]
    expected = (datetime.now(UTC) + timedelta(days=60)).strftime("%Y-%m-%d")
    assert lines[1].startswith(expected)
    only = run(app, "retention", "--user", "alice")
    assert only.output.count("\n") == 1 and users["alice"][1] in only.output


def test_retention_includes_uploaded_files_when_archives_are_kept(linked):
    app, users = linked
    with app.app_context():
        created = datetime.now(UTC) - timedelta(days=6)
        row = {"archive_id": "ar-1", "upstream_user_id": users["alice"][0], "status": "ANALYZED",
               "created_at": created, "updated_at": created}
        with get_state().store.begin() as conn:
            conn.execute(archives.insert().values(**row))
    result = run(app, "retention", "--user", "alice", "--json")
    items = [json.loads(line) for line in result.output.splitlines()]
    assert [i["kind"] for i in items] == ["archive", "account"]
    assert items[0]["id"] == "ar-1" and 0 < items[0]["secondsLeft"] <= 86400


def test_retention_of_an_unknown_user_says_so(linked):
    app, _ = linked
    result = run(app, "retention", "--user", "nobody")
    assert result.exit_code == 1 and "Unknown user" in result.output


# -- token --------------------------------------------------------------------------------


def test_token_prints_a_fresh_link_token_for_the_same_smile_user(linked, sandbox):
    app, users = linked
    first = json.loads(run(app, "token", "alice").output)
    second = json.loads(run(app, "token", "alice").output)
    assert first["userId"] == second["userId"] == users["alice"][0]
    assert first["accessToken"] != second["accessToken"] and first["mode"] == "SANDBOX"
    assert len(sandbox.state.users) == 2  # nobody got a second Smile user
    new = json.loads(run(app, "token", "carol").output)
    assert new["userId"] not in (users["alice"][0], users["bob"][0])


def test_token_when_smile_refuses_is_a_clear_message(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, WINK_API_SECRET="wrong")
    result = run(app, "token", "alice")
    assert result.exit_code == 1 and "Minting a Link token failed" in result.output


# -- webhooks -----------------------------------------------------------------------------


def test_webhooks_register_list_delete(linked, sandbox):
    app, _ = linked
    registered = run(app, "webhooks", "register", "https://app.example/wink/webhooks",
                     "--events", "account_connected, TASK_FINISHED",
                     "--secret", "s3cret-value", "--name", "ops")
    assert registered.exit_code == 0, registered.output
    hook = json.loads(registered.output)
    assert hook["eventTypes"] == ["ACCOUNT_CONNECTED", "TASK_FINISHED"] and hook["name"] == "ops"
    assert "s3cret-value" not in registered.output
    assert sandbox.state.webhooks[hook["id"]]["secret"] == "s3cret-value"
    listed = run(app, "webhooks", "list")
    ids = [json.loads(line)["id"] for line in listed.output.splitlines()]
    assert hook["id"] in ids and len(ids) == 2  # with the one the fixture made
    assert "s3cret-value" not in listed.output and WEBHOOK_SECRET not in listed.output
    deleted = run(app, "webhooks", "delete", hook["id"])
    assert deleted.exit_code == 0 and hook["id"] not in sandbox.state.webhooks
    again = run(app, "webhooks", "delete", hook["id"])
    assert again.exit_code == 1 and "Deleting webhook" in again.output


def test_webhooks_register_prompts_for_the_secret_without_echoing_it(linked, sandbox):
    app, _ = linked
    result = run(app, "webhooks", "register", "https://app.example/hooks", "--events", "TASK_STARTED",
                 input="prompted-secret\n")
    assert result.exit_code == 0, result.output
    assert "prompted-secret" not in result.output
    hook = json.loads(result.output.splitlines()[-1])
    assert sandbox.state.webhooks[hook["id"]]["secret"] == "prompted-secret"


def test_webhooks_register_with_bad_input_is_a_clear_message(linked):
    app, _ = linked
    result = run(app, "webhooks", "register", "ftp://nope", "--events", "NOT_AN_EVENT", "--secret", "x")
    assert result.exit_code == 1
    assert "Smile refused the webhook" in result.output and "eventTypes" in result.output


# -- revoke account -----------------------------------------------------------------------


def test_revoke_account_command_deletes_local_data(linked, sandbox):
    app, users = linked
    smile_user, account_id = users["alice"]
    with app.app_context():
        fetch_and_store(app, smile_user)
    result = run(app, "revoke", "account", account_id)
    assert result.exit_code == 0, result.output
    assert f"Revoked account {account_id}: DISCONNECTED; deleted {sum(PER_ACCOUNT.values())}" in result.output
    assert sandbox.state.accounts[account_id]["connectionStatus"] == "DISCONNECTED"
    with app.app_context():
        assert get_state().store.account("smile_wink", account_id).status == "DISCONNECTED"
        document = stored_user_data(app, smile_user)
    assert all(document[k] == [] for k in PER_ACCOUNT)


def test_revoke_account_command_keep_data(linked, sandbox):
    app, users = linked
    smile_user, account_id = users["bob"]
    with app.app_context():
        fetch_and_store(app, smile_user)
    result = run(app, "revoke", "account", account_id, "--keep-data")
    assert result.exit_code == 0 and "kept the stored data" in result.output
    with app.app_context():
        assert get_state().store.account("smile_wink", account_id).status == "DISCONNECTED"
        assert len(stored_user_data(app, smile_user)["incomes"]) == 14


def test_revoke_of_an_unknown_account_is_a_clear_message(linked):
    app, _ = linked
    result = run(app, "revoke", "account", "a-unknown")
    assert result.exit_code == 1 and "Smile refused to revoke a-unknown" in result.output
