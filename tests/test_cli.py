"""`flask wink ...` commands."""

import os
import subprocess
import sys

import pytest

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


def test_events_oneline_says_what_each_event_means_in_its_providers_words(host):
    body, headers = signed_webhook(make_event("USER_CREATED", {"userId": "tenant-7"}), WEBHOOK_SECRET)
    assert host.test_client().post("/wink/webhooks", data=body, headers=headers).status_code == 200
    result = host.test_cli_runner().invoke(args=["wink", "events", "--oneline"])
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    event_id, received_at, provider, _state, said = line.split("  ", 4)
    assert event_id.isdigit() and received_at.endswith("Z") and provider == "smile_wink"
    assert said == "Webhook USER_CREATED verified — Smile user created"


def test_events_retry_of_an_id_no_event_has_says_so_and_fails(host):
    result = host.test_cli_runner().invoke(args=["wink", "events", "retry", "--id", "99999"])
    assert result.exit_code == 1
    assert "No event has the id 99999" in result.output
    assert "Retried" not in result.output


HOST_APP_WITHOUT_PRIVACY_URL = '''
from flask import Flask
from flask_wink import Wink

app = Flask(__name__)
app.config.update(SECRET_KEY="s", WINK_PROVIDERS="smile_id", WINK_SMILE_ID_PARTNER_ID="085",
                  WINK_SMILE_ID_API_KEY="k-1", WINK_PUBLIC_URL="http://127.0.0.1:5000")
Wink(app)
'''


@pytest.mark.parametrize("command", [["run", "--port", "0"], ["wink", "events"]], ids=["run", "wink"])
def test_a_missing_setting_under_the_flask_command_is_one_line(tmp_path, command):
    (tmp_path / "hostapp.py").write_text(HOST_APP_WITHOUT_PRIVACY_URL)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "WINK_"))}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "hostapp", *command], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "Error: WINK_SMILE_ID_PRIVACY_URL is not set: set it to your data privacy policy's URL, "
        "which Smile ID shows on every link."
    ]
