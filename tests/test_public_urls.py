"""The URLs the kit hands an upstream (Smile ID's callback and redirect URLs, UCW's targetOrigin)
come from WINK_PUBLIC_URL, SERVER_NAME or a request whose host TRUSTED_HOSTS lists: never from an
unchecked Host header. Over loopback HTTP against the emulators, and the quickstart's CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from flask import Flask, request
from quickstart.checks import KNOWN_SETTINGS

from conftest import free_port_url
from flask_wink import Wink
from flask_wink.testing import serve
from ucw_host import make_ucw_app

ROOT = Path(__file__).resolve().parent.parent
USER = {"X-User": "ada"}
ATTACKER = "attacker.example"


def smile_id_app(emulator, tmp_path, **config) -> Flask:
    """A host app with Smile ID only, against the emulator; no public address unless given."""
    app = Flask("smile_id_host", instance_path=str(tmp_path / "instance"))
    app.config.update({
        "SECRET_KEY": "s",
        "WTF_CSRF_ENABLED": False,
        "WINK_PROVIDERS": "smile_id",
        "WINK_SMILE_ID_PARTNER_ID": emulator.partner_id,
        "WINK_SMILE_ID_API_KEY": emulator.api_key,
        "WINK_SMILE_ID_HOST": emulator.host,
        "WINK_SMILE_ID_PRIVACY_URL": "https://host.test/privacy",
        **config,
    })
    wink = Wink(app)
    wink.user_id_loader(lambda: request.headers.get("X-User"))
    return app


def start_as_attacker(quickstart_url: str, *, ucw: bool = False) -> httpx.Response:
    """A verification started on the quickstart with ``Host: attacker.example`` (and, with ``ucw``,
    then a UCW widget: that answer is returned instead)."""
    with httpx.Client(base_url=quickstart_url, headers={"Host": ATTACKER}) as browser:
        csrf = browser.get("/wink/csrf").json()["csrfToken"]
        json_please = {"X-CSRFToken": csrf, "Accept": "application/json"}
        started = browser.post("/wink/smile-id/start", headers=json_please)
        assert started.status_code == 201, started.text
        if ucw:
            started = browser.post("/wink/ucw/token", headers={"X-CSRFToken": csrf})
            assert started.status_code == 201, started.text
    return started


def widget_config(widget_url: str) -> dict:
    """What UCW's widget was told (its targetOrigin among it): the answer to its first call."""
    page = httpx.get(widget_url)
    assert page.status_code == 200, page.text
    base = widget_url.split("/widget")[0]
    answer = httpx.post(base + "/widget/api/instrumentation", json={"query": urlsplit(widget_url).query})
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize("public_url, base", [
    ("https://app.example.com", "https://app.example.com"),
    ("https://app.example.com/portal/", "https://app.example.com/portal"),  # mounted under a path
])
def test_a_smile_id_link_points_at_the_public_url_whatever_the_host_header(
        smile_id_sandbox, tmp_path, public_url, base):
    app = smile_id_app(smile_id_sandbox, tmp_path, WINK_PUBLIC_URL=public_url)
    with serve(app) as served:
        started = httpx.post(served.url + "/wink/smile-id/start", headers={**USER, "Host": ATTACKER})
    assert started.status_code == 303, started.text
    [link] = smile_id_sandbox.state.links.values()
    assert link.fields["callback_url"] == f"{base}/wink/smile-id/webhooks"
    assert link.fields["redirect_url"] == f"{base}/wink/smile-id/return"


def test_with_trusted_hosts_an_untrusted_host_is_refused_and_mints_nothing(smile_id_sandbox, tmp_path):
    app = smile_id_app(smile_id_sandbox, tmp_path, TRUSTED_HOSTS=["127.0.0.1"])
    with serve(app) as served:
        refused = httpx.post(served.url + "/wink/smile-id/start", headers={**USER, "Host": ATTACKER})
        assert refused.status_code == 400
        assert refused.json()["error"] == "SecurityError" and ATTACKER in refused.json()["message"]
        assert smile_id_sandbox.state.links == {}
        # The request's own host, when listed, is where Smile ID sends the result back.
        assert httpx.post(served.url + "/wink/smile-id/start", headers=USER).status_code == 303
    [link] = smile_id_sandbox.state.links.values()
    assert link.fields["callback_url"] == f"{served.url}/wink/smile-id/webhooks"


@pytest.mark.parametrize("config, origin", [
    ({"WINK_PUBLIC_URL": "https://app.example.com/portal"}, "https://app.example.com"),
    ({"SERVER_NAME": "app.example.com"}, "http://app.example.com"),  # the request's scheme
], ids=["public-url", "server-name"])
def test_a_ucw_widget_posts_to_the_public_origin_whatever_the_host_header(
        ucw_sandbox, tmp_path, config, origin):
    app = make_ucw_app(ucw_sandbox.url, tmp_path, TRUSTED_HOSTS=None, WTF_CSRF_ENABLED=False, **config)
    with serve(app) as served:
        token = httpx.post(served.url + "/wink/ucw/token", headers={**USER, "Host": "evil.example:4444"})
    assert token.status_code == 201, token.text
    assert widget_config(token.json()["widgetUrl"])["targetOrigin"] == origin


@pytest.mark.parametrize("provider", ["smile_id", "ucw"])
def test_a_provider_handing_out_this_apps_urls_needs_its_address_to_start(tmp_path, provider):
    app = Flask("bare", instance_path=str(tmp_path))
    settings = {
        "smile_id": {"WINK_SMILE_ID_PARTNER_ID": "085", "WINK_SMILE_ID_API_KEY": "k",
                     "WINK_SMILE_ID_PRIVACY_URL": "https://x.test/p"},
        "ucw": {"WINK_UCW_URL": "http://127.0.0.1:9"},
    }[provider]
    app.config.update(SECRET_KEY="s", WINK_PROVIDERS=provider, **settings)
    with pytest.raises(RuntimeError) as raised:
        Wink(app)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(
        "WINK_PUBLIC_URL is not set: set it to the address users reach this app at "
        "(https://app.example.com), or set TRUSTED_HOSTS"
    )
    # The provider's own settings for every URL it hands out are enough.
    explicit = {
        "smile_id": {"WINK_SMILE_ID_CALLBACK_URL": "https://app.example.com/wink/smile-id/webhooks",
                     "WINK_SMILE_ID_REDIRECT_URL": "https://app.example.com/wink/smile-id/return"},
        "ucw": {"WINK_UCW_TARGET_ORIGIN": "https://app.example.com"},
    }[provider]
    app.config.update(explicit)
    Wink(app)


def test_the_sandbox_quickstart_hands_upstreams_its_own_address_not_the_host_header(quickstart_server):
    widget = start_as_attacker(quickstart_server.url, ucw=True)
    own = quickstart_server.url  # http://127.0.0.1:APP_PORT
    emulator = quickstart_server.app.config["QUICKSTART_SMILE_ID_SANDBOX"].extensions["smile_id_sandbox"]
    try:
        [link] = emulator.links.values()
        assert link.fields["redirect_url"] == f"{own}/wink/smile-id/return"
        assert link.fields["callback_url"] == f"{own}/wink/smile-id/webhooks"
        assert widget_config(widget.json()["widgetUrl"])["targetOrigin"] == own
    finally:
        emulator.close()


def test_the_live_quickstart_with_smile_id_and_no_public_url_refuses_to_start_in_one_line(
        wink_sandbox, smile_id_sandbox, tmp_path):
    port = free_port_url().rsplit(":", 1)[1]
    env = {**os.environ, **dict.fromkeys(KNOWN_SETTINGS, ""), "PYTHONPATH": str(ROOT),
           "INSTANCE_PATH": str(tmp_path / "instance"), "APP_PORT": port,
           "API_KEY": wink_sandbox.api_key, "API_SECRET": wink_sandbox.api_secret,
           "OPEN_API_HOST": wink_sandbox.api_host, "SMILE_ID_PARTNER_ID": smile_id_sandbox.partner_id,
           "SMILE_ID_API_KEY": smile_id_sandbox.api_key, "SMILE_ID_HOST": smile_id_sandbox.host}
    done = subprocess.run([sys.executable, "-m", "quickstart"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert errors == [
        "Error: Live mode: PUBLIC_URL is not set: set it in .env to the address users reach this app at, "
        "e.g. PUBLIC_URL=https://app.example.com (Smile ID and UCW are handed this app's URLs)."
    ]


def test_the_live_quickstart_hands_upstreams_the_public_url_it_is_given(
        wink_sandbox, smile_id_sandbox, quickstart_app):
    with quickstart_app.served(
        API_KEY=wink_sandbox.api_key, API_SECRET=wink_sandbox.api_secret, OPEN_API_HOST=wink_sandbox.api_host,
        SMILE_ID_PARTNER_ID=smile_id_sandbox.partner_id, SMILE_ID_API_KEY=smile_id_sandbox.api_key,
        SMILE_ID_HOST=smile_id_sandbox.host, PUBLIC_URL="https://app.example.com",
    ) as served:
        start_as_attacker(served.url)
    [link] = smile_id_sandbox.state.links.values()
    assert link.fields["callback_url"] == "https://app.example.com/wink/smile-id/webhooks"
    assert link.fields["redirect_url"] == "https://app.example.com/wink/smile-id/return"
