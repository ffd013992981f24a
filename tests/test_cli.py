"""`flask wink ...` commands."""

from conftest import WEBHOOK_SECRET
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook


def test_init_db_creates_the_tables(host, tmp_path):
    result = host.test_cli_runner().invoke(args=["wink", "init-db"])
    assert result.exit_code == 0, result.output
    assert "Tables ready" in result.output
    assert (tmp_path / "instance" / "wink.sqlite3").is_file()


def test_events_lists_stored_events_as_json_lines(host):
    body, headers = signed_webhook(make_event("USER_CREATED", {"userId": "tenant-7"}), WEBHOOK_SECRET)
    assert host.test_client().post("/wink/webhooks", data=body, headers=headers).status_code == 200
    result = host.test_cli_runner().invoke(args=["wink", "events", "--kind", "webhook"])
    assert result.exit_code == 0, result.output
    assert '"name": "USER_CREATED"' in result.output
    assert '"upstreamUserId": "tenant-7"' in result.output


def test_events_retry_of_an_id_no_event_has_says_so_and_fails(host):
    result = host.test_cli_runner().invoke(args=["wink", "events", "retry", "--id", "99999"])
    assert result.exit_code == 1
    assert "No event has the id 99999" in result.output
    assert "Retried" not in result.output
