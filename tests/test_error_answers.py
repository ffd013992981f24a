"""The kit's error answers: a browser's navigation (a form post, a page load) gets a page in the
kit's frame with a sentence for a person, the setting to fix for the operator and a way back;
a script's call gets JSON. Every upstream error names the setting that says where the upstream is
(or its credentials), never a secret. Over loopback, against the emulators."""

from __future__ import annotations

import re

import httpx
import pytest

from conftest import free_port_url
from flask_wink.providers.smile_id.testing import run_sandbox
from flask_wink.testing import serve
from test_smile_id import host_app
from ucw_host import make_ucw_app

#: What Chromium sends with a form post that navigates (a top-level page load).
NAVIGATION = {
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
}
#: What ``fetch()`` from a page sends.
FETCH = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Accept": "*/*"}
USER = {"X-User": "ada"}
WRONG_KEY = "not-the-key-0123456789"


@pytest.fixture
def emulator():
    with run_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def wrong_key_host(emulator, tmp_path):
    """A host app whose WINK_SMILE_ID_API_KEY the emulator refuses (Smile ID's 2205)."""
    with serve(host_app(emulator, tmp_path, WINK_SMILE_ID_API_KEY=WRONG_KEY)) as served:
        yield served


def visible_text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_a_form_post_refused_by_smile_id_gets_a_page_naming_the_settings_and_a_way_back(wrong_key_host):
    back = wrong_key_host.url + "/account"
    answer = httpx.post(wrong_key_host.url + "/wink/smile-id/start",
                        headers={**NAVIGATION, **USER, "Referer": back})
    assert answer.status_code == 502
    assert answer.headers["content-type"].startswith("text/html")
    text = visible_text(answer.text)
    assert "Smile ID could not do this" in text
    assert "Smile ID turned the request down, so nothing was started." in text
    assert "For the site's operator:" in text
    assert "check WINK_SMILE_ID_PARTNER_ID and WINK_SMILE_ID_API_KEY" in text
    assert f'<a href="{back}">Back</a>' in answer.text
    assert WRONG_KEY not in answer.text and '{"error"' not in answer.text
    assert "<!doctype html>" in answer.text  # the kit's frame (wink/page.html)


def test_a_page_load_without_sec_fetch_headers_that_prefers_html_gets_the_page(wrong_key_host):
    # Older browsers send no Sec-Fetch-*: their Accept prefers text/html.
    answer = httpx.post(wrong_key_host.url + "/wink/smile-id/start",
                        headers={**USER, "Accept": NAVIGATION["Accept"]})
    assert answer.status_code == 502 and answer.headers["content-type"].startswith("text/html")
    # No page of this app to go back to: the app's root.
    assert '<a href="/">Back</a>' in answer.text


@pytest.mark.parametrize("headers", [FETCH, {"Accept": "*/*"}, {"Accept": "application/json"}],
                         ids=["fetch", "curl", "json"])
def test_a_scripts_call_refused_by_smile_id_gets_json_naming_the_settings(wrong_key_host, headers):
    answer = httpx.post(wrong_key_host.url + "/wink/smile-id/start", headers={**headers, **USER})
    assert answer.status_code == 502 and answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["error"] == "UpstreamError" and body["code"] == "2205"
    assert "check WINK_SMILE_ID_PARTNER_ID and WINK_SMILE_ID_API_KEY" in body["message"]
    assert WRONG_KEY not in answer.text


def test_a_smile_id_host_that_is_not_its_api_is_named_in_the_404s_message(emulator, tmp_path):
    # Ends in /v1, so it starts; but nothing of Smile ID's answers there.
    elsewhere = emulator.url + "/elsewhere/v1"
    with serve(host_app(emulator, tmp_path, WINK_SMILE_ID_HOST=elsewhere)) as served:
        answer = httpx.post(served.url + "/wink/smile-id/start", headers={**FETCH, **USER})
    assert answer.status_code == 502
    assert answer.json()["message"] == (
        "Smile ID's API refused the request: HTTP 404; Smile ID answered 404 to POST smile_links at "
        f"WINK_SMILE_ID_HOST={elsewhere}: is it the API's base URL (it ends in /v1)?"
    )


def test_a_smile_id_host_without_v1_stops_the_start_in_one_line(emulator, tmp_path):
    with pytest.raises(RuntimeError) as refused:
        host_app(emulator, tmp_path, WINK_SMILE_ID_HOST=emulator.url)
    assert str(refused.value) == (
        f"WINK_SMILE_ID_HOST must end in /v1 (Smile ID's API base URL), not {emulator.url!r}: "
        f"set WINK_SMILE_ID_HOST={emulator.url}/v1."
    )


def test_a_down_ucw_is_named_by_its_setting_and_a_navigation_gets_the_page(tmp_path):
    down = free_port_url()
    with serve(make_ucw_app(down, tmp_path, WTF_CSRF_ENABLED=False)) as served:
        called = httpx.post(served.url + "/wink/ucw/token", headers={**FETCH, **USER})
        navigated = httpx.post(served.url + "/wink/ucw/token", headers={**NAVIGATION, **USER})
    assert called.status_code == 503
    said = called.json()["message"]
    assert said == f"UCW's API could not be reached: check WINK_UCW_URL={down} and that it is up."
    assert navigated.status_code == 503 and navigated.headers["content-type"].startswith("text/html")
    text = visible_text(navigated.text)
    assert "UCW cannot be reached" in text and f"check WINK_UCW_URL={down}" in text


def test_credentials_in_an_upstream_url_never_reach_the_message(tmp_path):
    down = free_port_url().replace("http://", "http://admin:s3cret-pass@") + "/ucw?token=s3cret-query"
    with serve(make_ucw_app(down, tmp_path, WTF_CSRF_ENABLED=False)) as served:
        called = httpx.post(served.url + "/wink/ucw/token", headers={**FETCH, **USER})
    assert called.status_code == 503 and "WINK_UCW_URL=http://127.0.0.1:" in called.json()["message"]
    assert "s3cret" not in called.text and "admin" not in called.text


def test_a_kit_error_a_browser_navigates_to_is_a_page_and_json_to_a_script(emulator, tmp_path):
    # Not signed in: 401, as a page with its own sentence for a person.
    with serve(host_app(emulator, tmp_path)) as served:
        page = httpx.get(served.url + "/wink/smile-id/status", headers=NAVIGATION)
        called = httpx.get(served.url + "/wink/smile-id/status", headers=FETCH)
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
    text = visible_text(page.text)
    assert "Sign in first" in text and "Details: Sign in to see your verification status." in text
    assert "For the site's operator" not in text  # the user's to fix, not a configuration problem
    assert called.status_code == 401 and called.json()["error"] == "NotSignedIn"


def test_a_rate_limited_navigation_keeps_retry_after_on_the_page(emulator, tmp_path):
    app = host_app(emulator, tmp_path, WINK_TOKEN_RATE_LIMIT="1 per day")
    with serve(app) as served:
        assert httpx.post(served.url + "/wink/smile-id/start", headers={**FETCH, **USER}).status_code == 303
        again = httpx.post(served.url + "/wink/smile-id/start", headers={**NAVIGATION, **USER})
    assert again.status_code == 429 and int(again.headers["Retry-After"]) > 0
    assert again.headers["content-type"].startswith("text/html")
    assert f"Try again in {again.headers['Retry-After']} s." in visible_text(again.text)


def test_an_untrusted_host_a_browser_navigates_to_is_a_page(emulator, tmp_path):
    app = host_app(emulator, tmp_path)
    app.config["TRUSTED_HOSTS"] = ["app.example"]
    answer = app.test_client().get("/wink/smile-id/status", headers={**NAVIGATION, "Host": "evil.example"})
    assert answer.status_code == 400 and answer.mimetype == "text/html"
    assert "<!doctype html>" in answer.get_data(as_text=True)



@pytest.mark.browser
def test_verify_your_identity_refused_by_smile_id_shows_a_page_in_chromium_and_leads_back(
    page, quickstart_server
):
    from playwright.sync_api import expect

    emulator = quickstart_server.app.config["QUICKSTART_SMILE_ID_SANDBOX"].extensions["smile_id_sandbox"]
    try:
        page.goto(quickstart_server.url)
        emulator.api_key = WRONG_KEY  # Smile ID now refuses the quickstart's key (2205)
        page.get_by_role("button", name="Verify your identity").click()
        expect(page.get_by_role("heading", name="Smile ID could not do this")).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("nothing was started")
        operator = page.locator(".detail")
        expect(operator).to_contain_text("check WINK_SMILE_ID_PARTNER_ID and WINK_SMILE_ID_API_KEY")
        assert "{" not in page.locator("body").inner_text()  # no JSON in sight
        page.get_by_role("link", name="Back").click()
        expect(page).to_have_url(quickstart_server.url + "/")
        expect(page.get_by_role("button", name="Verify your identity")).to_be_visible()
    finally:
        emulator.close()
