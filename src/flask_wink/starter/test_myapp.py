"""The app's own tests, against flask-wink's offline emulators (its pytest fixtures)."""

import re

import httpx
import pytest
from myapp import create_app

from flask_wink.testing import LOOPBACK_HOSTS


@pytest.fixture
def app(wink_sandbox, ucw_sandbox, smile_id_sandbox, tmp_path):
    return create_app({
        "SECRET_KEY": "test",
        "TRUSTED_HOSTS": LOOPBACK_HOSTS,  # the app's address, for the URLs handed to UCW and Smile ID
        "WINK_DATABASE_URL": f"sqlite:///{tmp_path / 'wink.sqlite3'}",
        "WINK_API_HOST": wink_sandbox.api_host,
        "WINK_API_KEY": wink_sandbox.api_key,
        "WINK_API_SECRET": wink_sandbox.api_secret,
        "WINK_WEBHOOK_SECRETS": "test-webhook-secret",
        "WINK_UCW_URL": ucw_sandbox.url,
        "WINK_SMILE_ID_HOST": smile_id_sandbox.host,
        "WINK_SMILE_ID_PARTNER_ID": smile_id_sandbox.partner_id,
        "WINK_SMILE_ID_API_KEY": smile_id_sandbox.api_key,
        "WINK_SMILE_ID_PRIVACY_URL": "https://example.com/privacy",
    })


def sign_in(client, name="alice"):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"name": name, "csrf_token": token})


def test_the_home_page_offers_the_three_providers(app):
    client = app.test_client()
    assert client.get("/").headers["Location"] == "/login"
    sign_in(client)
    page = client.get("/").get_data(as_text=True)
    assert "data-wink-open" in page  # Smile's widget
    assert 'href="/wink/ucw/link?next=/"' in page  # UCW's page
    assert 'action="/wink/smile-id/start"' in page  # Smile ID's form


def test_verifying_identity_sends_the_browser_to_smile_id(app, smile_id_sandbox):
    client = app.test_client()
    sign_in(client)
    page = client.get("/").get_data(as_text=True)
    form = page[page.index('action="/wink/smile-id/start"'):]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    started = client.post("/wink/smile-id/start", data={"csrf_token": token})
    assert started.status_code == 303
    assert started.headers["Location"].startswith(smile_id_sandbox.url)
    assert httpx.get(started.headers["Location"]).status_code == 200


def test_the_links_page_lists_a_verification_started(app):
    client = app.test_client()
    sign_in(client)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    client.post("/wink/smile-id/start", data={"csrf_token": token})
    page = client.get("/links").get_data(as_text=True)
    assert 'data-provider="smile_id"' in page and "pending" in page
