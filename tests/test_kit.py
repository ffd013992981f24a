"""The authoring kit: BaseProvider's defaults, settings read by convention, the URLs start_link is
handed, state.provider_of, and the names the core reads a provider by."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from flask import Blueprint, Flask, request

from example_provider import AcmeVerify, WidgetOnly
from flask_wink import Provider, Wink, get_state
from flask_wink.errors import ConfigurationError, VerificationError
from flask_wink.provider import (
    BROWSER,
    CALLBACK,
    INBOUND,
    WEBHOOK,
    BaseProvider,
    LinkStart,
    LinkURLs,
    PublicURL,
    ReturnEvent,
    blueprint_of,
    member,
)
from flask_wink.providers.smile_id import SmileID
from flask_wink.providers.smile_wink import SmileWink
from flask_wink.providers.ucw import UniversalConnect
from flask_wink.settings import URL, Invalid, Setting, read_settings

USER = {"X-User": "ada"}


class Minimal(BaseProvider):
    """A provider with the required members only."""

    name = "minimal"
    title = "Minimal"

    def start_link(self, app_user_id, upstream_user_id, options, urls) -> LinkStart:
        return LinkStart(upstream_user_id or f"m-{app_user_id}", url="https://minimal.test/start")


class Configured(BaseProvider):
    """Settings of every type, read by convention from WINK_UP_*."""

    name = "up"
    title = "Up"
    settings = (
        Setting("URL", URL, required=True, hint="the upstream's base URL, e.g. https://up.example"),
        Setting("SECRET", required=True, enables=False, hint="the upstream's secret"),
        Setting("RETRIES", int, default=3, minimum=0),
        Setting("TIMEOUT", float, default=10.0),
        Setting("SANDBOX", bool, default=False),
        Setting("SCOPES", list, default=("read",)),
        Setting("MODE", default="live", choices=("live", "test")),
        Setting("REGION", lambda value: _region(value), default="eu"),
    )

    def __init__(self, **settings: Any) -> None:
        self.settings_read = settings

    def start_link(self, app_user_id, upstream_user_id, options, urls) -> LinkStart:
        return LinkStart("u")


def _region(value: Any) -> str:
    if value not in ("eu", "us"):
        raise Invalid(f"must be eu or us, not {value!r}: set WINK_UP_REGION=eu")
    return value


def app_with(tmp_path, *providers, **config) -> Flask:
    app = Flask("kit_host", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="s", WTF_CSRF_ENABLED=False, WINK_HANDLE_EVENTS="request", **config)
    wink = Wink(app, providers=list(providers))

    @wink.user_id_loader
    def user():
        return request.headers.get("X-User")

    return app


# -- the base class ------------------------------------------------------------------------


def test_a_subclass_with_the_required_members_only_is_a_provider_with_every_default():
    minimal = Minimal()
    assert isinstance(minimal, Provider)
    assert minimal.browser_events == () and minimal.accepts_inbound is False and minimal.handlers == ()
    assert minimal.page_settings({}) == {} and minimal.return_event({"status": "x"}) is None
    reported = ReturnEvent("back")
    assert minimal.match_return(None, "ada", reported) is reported
    assert minimal.status_update(CALLBACK, "any", {}) is None
    assert minimal.stored_args("any", {"a": 1}, None) == {"a": 1}
    assert minimal.shown_payload(WEBHOOK, "any", {"a": 1}) == {"a": 1}
    assert minimal.describe(WEBHOOK, "any", {}) is None
    assert list(minimal.test_messages("x", None)) == [] and minimal.test_events == ()
    assert minimal.page_origins() == [] and minimal.openapi("/wink/minimal") == {}
    assert minimal.cli_group() is None and minimal.blueprint() is None and minimal.flask_parts() is None
    assert minimal.serve_sandbox is None and dict(minimal.public_urls) == {}
    assert minimal.owns_unprefixed_routes is False and minimal.signature_header is None
    with pytest.raises(VerificationError, match="Minimal sends no server-to-server messages"):
        minimal.verify_inbound(b"{}", {}, 0.0)
    minimal.close()  # nothing to close
    # No migrations attribute: the core looks for a migrations/ folder beside its module.
    assert not hasattr(minimal, "migrations")


def test_close_closes_the_providers_client():
    closed = []

    class Client:
        def close(self):
            closed.append(True)

    minimal = Minimal()
    minimal.client = Client()
    minimal.close()
    assert closed == [True]


def test_a_base_provider_runs_through_the_core(tmp_path):
    app = app_with(tmp_path, Minimal())
    client = app.test_client()
    started = client.post("/wink/minimal/token", headers=USER)
    assert started.status_code == 201 and started.get_json() == {"url": "https://minimal.test/start"}
    assert client.post("/wink/minimal/webhooks", json={}).status_code == 404
    assert client.get("/wink/minimal/return", headers=USER).status_code == 404
    assert client.post("/wink/minimal/callbacks", headers=USER, json={"name": "x"}).status_code == 404


def test_the_core_reads_a_plain_objects_missing_members_with_the_base_defaults(tmp_path):
    widget = WidgetOnly()  # no handlers, return_event, cli_group, blueprint, close...
    assert isinstance(widget, Provider)
    assert member(widget, "handlers") == () and member(widget, "return_event")({}) is None
    assert member(widget, "cli_group")() is None and member(widget, "shown_payload")(CALLBACK, "n", 1) == 1
    assert member(widget, "page_settings")({}) == {"widgetOrigin": "https://w.test"}  # its own
    app = app_with(tmp_path, widget)
    client = app.test_client()
    assert client.post("/wink/widget-only/token", headers=USER).status_code == 201
    recorded = client.post("/wink/widget-only/callbacks", headers=USER,
                           json={"name": "connected", "args": {"connectionId": "c1"}})
    assert recorded.status_code == 201 and recorded.get_json()["accountId"] == "c1"
    get_state(app).close()


def test_a_provider_with_only_flask_parts_still_gets_its_blueprint_mounted(tmp_path):
    parts = Blueprint("wink_older", __name__)
    parts.add_url_rule("/hello", "hello", lambda: "hello")

    class Older(WidgetOnly):
        name = "older"

        def flask_parts(self):
            return parts

    assert blueprint_of(Older()) is parts
    app = app_with(tmp_path, Older())
    assert app.test_client().get("/wink/older/hello").get_data(as_text=True) == "hello"


def test_the_kinds_have_one_name_each_and_keep_their_old_ones():
    assert (CALLBACK, WEBHOOK) == ("callback", "webhook")  # the stored values
    assert (BROWSER, INBOUND) == (CALLBACK, WEBHOOK)


# -- settings by convention --------------------------------------------------------------


def test_settings_are_read_from_wink_provider_name_and_converted():
    read = read_settings(Configured, {
        "WINK_UP_URL": "https://up.example", "WINK_UP_SECRET": "s",
        "WINK_UP_RETRIES": "5", "WINK_UP_TIMEOUT": "2.5", "WINK_UP_SANDBOX": "true",
        "WINK_UP_SCOPES": "read, write,", "WINK_UP_MODE": "test", "WINK_UP_REGION": "us",
    })
    assert read == {"url": "https://up.example", "secret": "s", "retries": 5, "timeout": 2.5,
                    "sandbox": True, "scopes": ("read", "write"), "mode": "test", "region": "us"}


def test_unset_settings_take_their_defaults_and_typed_values_pass_as_they_are():
    base = {"WINK_UP_URL": "https://up.example", "WINK_UP_SECRET": "s"}
    assert read_settings(Configured, {**base, "WINK_UP_RETRIES": "", "WINK_UP_MODE": None}) == {
        "url": "https://up.example", "secret": "s", "retries": 3, "timeout": 10.0, "sandbox": False,
        "scopes": ("read",), "mode": "live", "region": "eu"}
    typed = read_settings(Configured, {**base, "WINK_UP_SANDBOX": 0, "WINK_UP_SCOPES": ["a"],
                                       "WINK_UP_RETRIES": 0, "WINK_UP_TIMEOUT": 1})
    assert (typed["sandbox"], typed["scopes"], typed["retries"], typed["timeout"]) == (False, ("a",), 0, 1.0)
    words = (("1", True), ("yes", True), ("on", True), ("false", False), ("0", False), ("off", False))
    for word, value in words:
        assert read_settings(Configured, {**base, "WINK_UP_SANDBOX": word})["sandbox"] is value


@pytest.mark.parametrize("given, message", [
    ({"WINK_UP_URL": ""},
     "WINK_UP_URL is not set: set it to the upstream's base URL, e.g. https://up.example."),
    ({"WINK_UP_SECRET": None}, "WINK_UP_SECRET is not set: set it to the upstream's secret."),
    ({"WINK_UP_URL": "up.example"},
     "WINK_UP_URL must be an http(s) URL like https://example.com, not 'up.example'."),
    ({"WINK_UP_RETRIES": "many"}, "WINK_UP_RETRIES must be a whole number, not 'many'."),
    ({"WINK_UP_RETRIES": "2.5"}, "WINK_UP_RETRIES must be a whole number, not '2.5'."),
    ({"WINK_UP_RETRIES": -1}, "WINK_UP_RETRIES must be at least 0, not -1."),
    ({"WINK_UP_TIMEOUT": "soon"}, "WINK_UP_TIMEOUT must be a number, not 'soon'."),
    ({"WINK_UP_SANDBOX": "maybe"}, "WINK_UP_SANDBOX must be true or false, not 'maybe'."),
    ({"WINK_UP_MODE": "staging"}, "WINK_UP_MODE must be live or test, not 'staging'."),
    ({"WINK_UP_REGION": "mars"},
     "WINK_UP_REGION must be eu or us, not 'mars': set WINK_UP_REGION=eu."),
])
def test_a_bad_or_missing_setting_is_one_line_saying_the_fix(given, message):
    config = {"WINK_UP_URL": "https://up.example", "WINK_UP_SECRET": "s", **given}
    with pytest.raises(ConfigurationError) as raised:
        read_settings(Configured, config)
    assert str(raised.value) == message


def test_the_settings_that_enable_a_provider_and_its_hint_come_from_its_declaration():
    assert Configured.configured({"WINK_UP_URL": "https://up.example"})  # SECRET does not enable
    assert not Configured.configured({"WINK_UP_SECRET": "s"})
    assert not Minimal.configured({})  # it declares none: only WINK_PROVIDERS or providers=[...] enable it
    assert Configured.setup_hint == "set WINK_UP_URL and WINK_UP_SECRET for Up"
    built = Configured.from_config({"WINK_UP_URL": "https://up.example", "WINK_UP_SECRET": "s"})
    assert built.settings_read["url"] == "https://up.example" and built.settings_read["retries"] == 3


def test_the_three_providers_declare_their_settings_under_the_names_they_always_had():
    assert SmileWink.setup_hint == "set WINK_API_KEY and WINK_API_SECRET for Smile Wink"
    assert SmileWink.configured({"WINK_API_KEY": "k"}) and not SmileWink.configured({"WINK_API_SECRET": "s"})
    assert UniversalConnect.setup_hint == "set WINK_UCW_URL for Universal Connect Widget"
    assert SmileID.setup_hint == ("set WINK_SMILE_ID_PARTNER_ID, WINK_SMILE_ID_API_KEY and "
                                  "WINK_SMILE_ID_PRIVACY_URL for Smile ID")
    smile = {"WINK_API_KEY": "k", "WINK_API_SECRET": "s"}
    read = read_settings(SmileWink, {**smile, "WINK_WEBHOOK_MAX_AGE": None, "WINK_FETCH_ON": "task_finished",
                                     "WINK_SDK_VERSION": "1"})
    assert (read["webhook_max_age"], read["fetch_on"], read["sdk_version"]) == (0.0, {"TASK_FINISHED"}, 1)
    assert read_settings(SmileWink, smile)["webhook_max_age"] == 259200
    with pytest.raises(ConfigurationError, match=r"^WINK_SDK_VERSION must be 1 or 2, not '3'\.$"):
        read_settings(SmileWink, {**smile, "WINK_SDK_VERSION": "3"})
    ucw = read_settings(UniversalConnect, {"WINK_UCW_URL": "https://u.example", "WINK_UCW_API_VERSION": "1",
                                           "WINK_UCW_TARGET_ORIGIN": "https://app.example/x"})
    assert (ucw["api_version"], ucw["target_origin"]) == ("v1", "https://app.example")


# -- the URLs start_link is handed -----------------------------------------------------------


class Recording(BaseProvider):
    name = "recording"
    title = "Recording"
    accepts_inbound = True
    public_urls = {"results": PublicURL("wink.receive_webhook", {"provider": "recording"}),
                   "given": PublicURL(None, given="https://elsewhere.example/hook")}

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    def start_link(self, app_user_id, upstream_user_id, options, urls: LinkURLs) -> LinkStart:
        self.seen.append({"origin": urls.origin, "return": urls.return_url, "webhook": urls.webhook_url,
                          **dict(urls)})
        return LinkStart("r-1", url="https://recording.test/")


def test_start_link_is_handed_the_apps_public_urls_never_the_requests_host(tmp_path):
    provider = Recording()
    app = app_with(tmp_path, provider, WINK_PUBLIC_URL="https://app.example/base")
    client = app.test_client()
    answer = client.post("/wink/recording/token", headers={**USER, "Host": "attacker.example"})
    assert answer.status_code == 201
    assert provider.seen == [{
        "origin": "https://app.example",
        "return": "https://app.example/base/wink/recording/return",
        "webhook": "https://app.example/base/wink/recording/webhooks",
        "results": "https://app.example/base/wink/recording/webhooks",
        "given": "https://elsewhere.example/hook",
    }]


def test_a_link_that_reads_no_url_needs_no_public_address(tmp_path):
    app = app_with(tmp_path, Minimal())  # no WINK_PUBLIC_URL, SERVER_NAME or TRUSTED_HOSTS
    assert app.test_client().post("/wink/minimal/token", headers=USER).status_code == 201


def test_a_start_link_written_before_urls_were_handed_is_still_called(tmp_path):
    class ThreeArguments(AcmeVerify):
        name = "three_arguments"

        def start_link(self, app_user_id: str, upstream_user_id: str | None,
                       options: Mapping[str, str]) -> LinkStart:
            return LinkStart(upstream_user_id or "t-1", url="https://three.test/")

    app = app_with(tmp_path, ThreeArguments())
    answer = app.test_client().post("/wink/three-arguments/token", headers=USER)
    assert answer.status_code == 201 and answer.get_json() == {"url": "https://three.test/"}


# -- state.provider_of -----------------------------------------------------------------------


def test_provider_of_gives_the_enabled_provider_or_says_how_to_enable_it(tmp_path):
    acme = AcmeVerify()
    app = app_with(tmp_path, acme)
    state = get_state(app)
    assert state.provider_of("acme_verify") is acme and state.provider_of("acme-verify") is acme
    with pytest.raises(ConfigurationError) as raised:
        state.provider_of("ucw")
    assert str(raised.value) == (
        "Universal Connect Widget is not enabled on this app: set WINK_UCW_URL "
        "(and list ucw in WINK_PROVIDERS if you set that)."
    )
    with pytest.raises(ConfigurationError, match="^Smile Wink is not enabled on this app: set "
                                                 r"WINK_API_KEY and WINK_API_SECRET \(and list smile_wink"):
        state.provider_of("smile_wink")
    with pytest.raises(ConfigurationError, match="^nowhere is not enabled on this app: list nowhere in "
                                                 "WINK_PROVIDERS.$"):
        state.provider_of("nowhere")


def test_a_providers_parts_are_declared_and_imported_from_its_own_package_when_asked_for():
    from flask_wink.providers.ucw import UniversalConnect
    from flask_wink.providers.ucw.cli import ucw_cli
    from flask_wink.providers.ucw.sandbox import serve as ucw_serve
    from flask_wink.providers.ucw.views import parts

    ucw = object.__new__(UniversalConnect)  # its parts need no client
    assert ucw.cli_group() is ucw_cli and ucw.blueprint() is parts

    calls = []

    class Echo(BaseProvider):
        name, title = "echo", "Echo"
        sandbox = "flask_wink.providers.ucw.sandbox.serve:serve_sandbox"

    original = ucw_serve.serve_sandbox
    ucw_serve.serve_sandbox = lambda argv, prog: calls.append((argv, prog)) or 7
    try:  # imported when called, not when the class is made
        assert Echo.serve_sandbox(["--port", "1"], "prog") == 7
    finally:
        ucw_serve.serve_sandbox = original
    assert calls == [(["--port", "1"], "prog")]
    assert BaseProvider.serve_sandbox is None and Echo().cli_group() is None and Echo().blueprint() is None
