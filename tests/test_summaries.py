"""What a stored event means, for people (flask_wink.summaries): the provider's own ``describe``
when it has one, else a generic line from the event's kind and name."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from example_provider import AcmeVerify
from flask_wink import EventSummary, summarize_event
from flask_wink.providers.smile_id.provider import SmileID
from flask_wink.providers.smile_wink.provider import SmileWink
from flask_wink.providers.ucw.provider import UniversalConnect
from flask_wink.summaries import ERROR, INFO, OK, PROGRESS


class Described(AcmeVerify):
    """The example provider, describing some of its events: as a line, as a summary, or not."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple] = []

    def describe(self, kind, name, payload, status=None):
        self.asked.append((kind, name, payload, status))
        if name == "approved":
            return EventSummary(f"Acme approved verification {payload['verification']}", "approved", OK)
        if name == "returned":
            return "Back from Acme's page"
        return None


@pytest.mark.parametrize(
    "kind, name, text",
    [("webhook", "approved", "Webhook approved"), ("callback", "returned", "Browser event returned")],
)
def test_a_provider_without_describe_gets_a_generic_line_from_the_kind_and_name(kind, name, text):
    summary = summarize_event(AcmeVerify(), kind, name, {"verification": "v1"})
    assert summary == EventSummary(text, "received", INFO)


def test_no_provider_at_all_gets_the_generic_line_too():
    # An event of a provider that is no longer enabled.
    assert summarize_event(None, "webhook", "ACCOUNT_CONNECTED", {}).text == "Webhook ACCOUNT_CONNECTED"


def test_a_providers_own_summary_or_line_is_used_and_none_falls_back():
    acme = Described()
    own = summarize_event(acme, "webhook", "approved", {"verification": "v1"}, status="approved")
    assert own == EventSummary("Acme approved verification v1", "approved", OK)
    line = summarize_event(acme, "callback", "returned", {})
    assert line == EventSummary("Back from Acme's page", "received", INFO)
    assert summarize_event(acme, "webhook", "submitted", {}).text == "Webhook submitted"
    # The account's last known status reaches the provider.
    assert acme.asked[0] == ("webhook", "approved", {"verification": "v1"}, "approved")


@pytest.mark.parametrize(
    "provider, kind, name, payload, status, text, tone",
    [
        (SmileWink(None), "webhook", "USER_CREATED", {"data": {}}, None,
         "Webhook USER_CREATED verified — Smile user created", INFO),
        (SmileWink(None), "callback", "onAccountConnected", {"providerId": "upwork"}, "CONNECTED",
         "Upwork account connected, confirmed by Smile", OK),
        (UniversalConnect(SimpleNamespace(base_url="https://ucw.example")), "callback",
         "connect/memberConnected", {}, "NOT_CONFIRMED",
         "Bank connection not confirmed by UCW — not trusted, nothing fetched", ERROR),
        (SmileID(SimpleNamespace(partner_id="085"), api_key="k", privacy_url="https://app.example/p"),
         "callback", "linkStarted", {}, None, "Identity verification started", PROGRESS),
    ],
    ids=["smile_wink webhook", "smile_wink callback", "ucw", "smile_id"],
)
def test_each_provider_describes_its_own_events(provider, kind, name, payload, status, text, tone):
    summary = summarize_event(provider, kind, name, payload, status=status)
    assert (summary.text, summary.tone) == (text, tone)
    assert provider.describe(kind, name, payload, status) == summary
