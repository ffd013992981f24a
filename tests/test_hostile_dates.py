"""Dates from the browser cannot break pages or commands (the quickstart over loopback HTTP)."""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest

from flask_wink import get_state
from flask_wink.providers.smile_wink.archives import archives as archives_table
from flask_wink.timeutil import utcnow


def csrf_token(client: httpx.Client) -> str:
    page = client.get("/wink/link").text
    config = re.search(r'<script id="wink-config" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(html.unescape(config.group(1)))["csrfToken"]


ABSURD = ["9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z", "3000-01-01T00:00:00+14:00"]


@pytest.mark.parametrize("created", ABSURD)
def test_an_absurd_created_at_from_the_widget_breaks_no_page_or_command(quickstart_server, created):
    with httpx.Client(base_url=quickstart_server.url) as client:
        smile_user = client.post("/api/create_link_token").json()["userId"]
        upload = {"id": "arch-far", "userId": smile_user, "type": "PAYSLIP", "createdAt": created,
                  "rawFiles": [{"name": "payslip.pdf"}]}
        answer = client.post(
            "/wink/callbacks",
            json={"name": "onUploadsCreated", "args": {"uploads": [upload], "userId": smile_user}},
            headers={"X-CSRFToken": csrf_token(client)},
        )
        assert answer.status_code == 201, answer.text
        app = quickstart_server.app
        with app.app_context():
            get_state().wait_for_handlers()
        rows = client.get("/archives.json")
        assert rows.status_code == 200, rows.text
        (row,) = rows.json()["archives"]
        # The date is not believed: the archive counts from when it was seen.
        assert row["uploaded"] == utcnow().date().isoformat()
        assert client.get("/archives").status_code == 200
    runner = app.test_cli_runner()
    for command in (["wink", "archives"], ["wink", "archives", "--json"], ["wink", "retention"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 0, (command, result.output)
        assert "arch-far" in result.output


def test_a_stored_date_at_the_edge_of_time_breaks_no_page_or_command(quickstart_server):
    """Defence in depth: a row written before the door refused such dates."""
    app = quickstart_server.app
    with httpx.Client(base_url=quickstart_server.url) as client:
        smile_user = client.post("/api/create_link_token").json()["userId"]
        with app.app_context():
            store = get_state().store
            with store.begin() as conn:
                conn.execute(archives_table.insert().values(
                    archive_id="arch-edge", upstream_user_id=smile_user, status="STARTED",
                    file_names="[]", created_at=utcnow().replace(year=9999, month=12, day=31),
                    updated_at=utcnow(),
                ))
        assert client.get("/archives.json").status_code == 200
        assert client.get("/archives").status_code == 200
    runner = app.test_cli_runner()
    for command in (["wink", "archives"], ["wink", "retention"], ["wink", "retention", "--json"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 0, (command, result.output)
