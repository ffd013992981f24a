"""Each provider's partial (``wink/<provider>/_button.html``) in a plain host template, with nothing
from the view: the page is served over loopback beside the three emulators, and what the markup
says is followed as a browser would (the form posted with its token, the link opened, the widget's
config used), with and without Flask-WTF's CSRFProtect on the host."""

from __future__ import annotations

import json
import re
from html import unescape

import flask
import httpx
import pytest
from flask import Flask, render_template
from flask_wtf.csrf import CSRFProtect

from flask_wink import Wink
from flask_wink.providers.smile_id.testing import run_sandbox as run_smile_id_sandbox
from flask_wink.providers.ucw.testing import run_ucw_sandbox
from flask_wink.testing import LOOPBACK_HOSTS, serve

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Settings</title></head>
<body>
  {% include "wink/smile_wink/_button.html" %}
  {% include "wink/ucw/_button.html" %}
  {% include "wink/smile_id/_button.html" %}
</body></html>
"""


@pytest.fixture(params=["no CSRFProtect", "CSRFProtect"])
def host(request, sandbox, tmp_path):
    csrf_protect = request.param == "CSRFProtect"
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "settings.html").write_text(PAGE)
    with run_ucw_sandbox() as ucw, run_smile_id_sandbox() as smile_id:
        app = Flask("partials_host", instance_path=str(tmp_path / "instance"), template_folder=str(templates))
        app.config.update(
            SECRET_KEY="test-secret",
            TRUSTED_HOSTS=LOOPBACK_HOSTS,
            WINK_API_KEY=sandbox.api_key, WINK_API_SECRET=sandbox.api_secret, WINK_API_HOST=sandbox.api_host,
            WINK_WEBHOOK_SECRETS=["whsec-test"],
            WINK_UCW_URL=ucw.url,
            WINK_SMILE_ID_HOST=smile_id.host, WINK_SMILE_ID_PARTNER_ID=smile_id.partner_id,
            WINK_SMILE_ID_API_KEY=smile_id.api_key, WINK_SMILE_ID_PRIVACY_URL="https://host.test/privacy",
        )
        if csrf_protect:
            CSRFProtect(app)
        wink = Wink(app)
        wink.user_id_loader(lambda: flask.request.cookies.get("user"))

        @app.get("/settings")
        def settings():
            return render_template("settings.html")  # nothing from the view: the partials need nothing

        with serve(app) as served, httpx.Client(base_url=served.url, cookies={"user": "alice"}) as client:
            served.client, served.ucw, served.smile_id = client, ucw, smile_id
            yield served


def settings_page(host) -> str:
    page = host.client.get("/settings")
    assert page.status_code == 200, page.text
    return page.text


def test_the_smile_id_partial_posts_its_token_and_is_sent_to_smile_ids_page(host):
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', settings_page(host), re.S)
    assert form.group(1) == "/wink/smile-id/start"
    token = unescape(re.search(r'name="csrf_token" value="([^"]+)"', form.group(2)).group(1))
    started = host.client.post(form.group(1), data={"csrf_token": token})
    assert started.status_code == 303, started.text
    link = started.headers["Location"]
    assert link.startswith(host.smile_id.url + "/")
    assert httpx.get(link).status_code == 200


def test_the_ucw_partial_opens_ucws_link_page_that_returns_to_the_page(host):
    page = settings_page(host)
    link = re.search(r'<a class="wink-button" href="([^"]+)">Link a bank account</a>', page)
    href = unescape(link.group(1))
    assert href == "/wink/ucw/link?next=/settings"
    page = host.client.get(href)
    assert page.status_code == 200
    assert 'id="ucw-frame"' in page.text and '<a href="/settings">Continue</a>' in page.text
    config = json.loads(re.search(r"var wink = (\{.*?\});\n", page.text).group(1))
    minted = host.client.post(config["tokenUrl"], headers={config["csrfHeader"]: config["csrfToken"]})
    assert minted.status_code == 201 and minted.json()["widgetUrl"].startswith(host.ucw.url)


def test_the_smile_wink_partial_has_a_button_and_the_widgets_config(host):
    page = settings_page(host)
    assert re.search(r"<button [^>]*data-wink-open[^>]*>Link your work account</button>", page)
    config = json.loads(unescape(re.search(
        r'<script id="wink-config" type="application/json">(.*?)</script>', page, re.S).group(1)))
    assert config["provider"] == "smile_wink" and f'<script src="{config["sdkUrl"]}">' in page
    assert httpx.get(config["sdkUrl"]).status_code == 200
    minted = host.client.post(config["tokenUrl"], headers={config["csrfHeader"]: config["csrfToken"]})
    assert minted.status_code == 201, minted.text
