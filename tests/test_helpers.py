"""The small shared helpers every module uses: signal sending, times, status ranks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone

import pytest
from flask import Flask

from flask_wink import signals
from flask_wink.providers.smile_wink import AccountStatus
from flask_wink.providers.smile_wink import signals as smile_signals
from flask_wink.providers.smile_wink.statuses import replaceable_by, statuses_replaced_by
from flask_wink.timeutil import aware, iso, parse_iso


def test_send_runs_every_receiver_and_records_errors_only_when_asked(caplog):
    app = Flask("signals_app")
    seen = []

    def broken(sender, **kw):
        raise RuntimeError("receiver bug")

    def fine(sender, **kw):
        seen.append(kw)

    smile_signals.widget_closed.connect(broken, app)
    smile_signals.widget_closed.connect(fine, app)
    try:
        errors: list[str] = []
        with caplog.at_level(logging.ERROR, logger="flask_wink"):
            signals.send(app, smile_signals.widget_closed, errors, reason="done")
            signals.send(app, smile_signals.widget_closed, reason="again")
    finally:
        smile_signals.widget_closed.disconnect(broken, app)
        smile_signals.widget_closed.disconnect(fine, app)
    assert seen == [{"reason": "done"}, {"reason": "again"}]
    assert len(errors) == 1 and "widget-closed" in errors[0] and "receiver bug" in errors[0]
    assert sum("a receiver of smile-wink-widget-closed failed" in r.getMessage() for r in caplog.records) == 2


def test_iso_writes_utc_with_z_and_takes_naive_times_as_utc():
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901)
    assert iso(moment) == "2026-01-02T03:04:05.678901Z"
    assert iso(moment, "seconds") == "2026-01-02T03:04:05Z"
    east = datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert iso(east) == "2026-01-02T03:04:05Z"
    assert aware(moment).tzinfo is UTC


@pytest.mark.parametrize("text", ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05+00:00", "2026-01-02T03:04:05"])
def test_parse_iso_gives_aware_utc_times(text):
    assert parse_iso(text) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_parse_iso_refuses_what_is_not_a_date_time():
    with pytest.raises(ValueError):
        parse_iso("yesterday")


def test_a_status_replaces_only_statuses_ranked_no_later():
    ranks = {"A": 0, "B": 1, "C": 1, "D": 2}
    assert replaceable_by(ranks, "B") == ["A", "B", "C"]
    assert replaceable_by(ranks, "A") == ["A"]
    assert statuses_replaced_by(AccountStatus.CONNECTED) == (
        "PENDING", "AWAITING_MFA", "UNCONFIRMED", "NOT_CONFIRMED", "ERROR", "CONNECTED",
    )
