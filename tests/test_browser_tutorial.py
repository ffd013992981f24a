"""The tutorial's app in a real browser (Debian's Chromium through Playwright): `flask wink init`,
then myapp.py and home.html as docs/tutorial.md shows them, started with `flask run` in a process of
its own with the settings the tutorial gives (FLASK_* variables), all three providers enabled
against the three emulators over loopback. A person signs in and links in all three flows; the
links page lists them, and the receiver prints a line for each provider."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import free_port_url, link_in_widget
from flask_wink.providers.smile_id.testing import run_sandbox as run_smile_id_sandbox
from flask_wink.providers.smile_wink import SmileClient
from flask_wink.providers.smile_wink.testing import run_sandbox
from flask_wink.providers.ucw.testing import run_ucw_sandbox
from starter_app import blocks, flask_run, wink_init

pytestmark = pytest.mark.browser

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
WEBHOOK_SECRET = "whsec-tutorial"


def write_tutorial_app(directory: Path) -> None:
    """What the tutorial has its reader do: `flask wink init`, with myapp.py and home.html as shown."""
    assert wink_init(directory).returncode == 0
    parts = [b for b in blocks(TUTORIAL, "python") if b.startswith("# myapp.py")]
    (directory / "myapp.py").write_text("\n\n".join(p.removeprefix("# myapp.py, continued\n") for p in parts))
    [home] = [b for b in blocks(TUTORIAL, "html") if b.startswith("{# templates/home.html")]
    (directory / "templates" / "home.html").write_text(home)


@pytest.fixture
def tutorial_app(tmp_path):
    directory = tmp_path / "myapp"
    write_tutorial_app(directory)
    url = free_port_url()
    with run_sandbox() as smile, run_ucw_sandbox() as ucw, run_smile_id_sandbox() as smile_id:
        env = {
            "FLASK_SECRET_KEY": "tutorial-secret",
            "FLASK_WINK_PUBLIC_URL": url,
            "FLASK_WINK_API_HOST": smile.api_host,
            "FLASK_WINK_API_KEY": smile.api_key,
            "FLASK_WINK_API_SECRET": smile.api_secret,
            "FLASK_WINK_WEBHOOK_SECRETS": WEBHOOK_SECRET,
            "FLASK_WINK_UCW_URL": ucw.url,
            "FLASK_WINK_SMILE_ID_HOST": smile_id.host,
            "FLASK_WINK_SMILE_ID_PARTNER_ID": smile_id.partner_id,
            "FLASK_WINK_SMILE_ID_API_KEY": smile_id.api_key,
            "FLASK_WINK_SMILE_ID_PRIVACY_URL": "https://example.com/privacy",
        }
        with flask_run(directory, int(url.rsplit(":", 1)[1]), **env) as process:
            # As the tutorial says: the standalone Smile emulator gets the app's webhook URL.
            with SmileClient(smile.api_host, smile.api_key, smile.api_secret) as client:
                client.create_webhook(url + "/wink/webhooks", WEBHOOK_SECRET, ["ALL_EVENTS"])
            process.url = url
            yield process
        smile.state.dispatcher.close()


def printed(process, pattern: str, timeout: float = 15.0) -> list[str]:
    """The lines the app printed that match ``pattern``, once there is one (receivers run after
    the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line.strip() for line in process.lines if re.search(pattern, line)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_the_tutorials_app_links_in_all_three_flows(page, tutorial_app):
    url = tutorial_app.url
    page.goto(url)
    expect(page).to_have_url(url + "/login")
    page.get_by_label("Your name").fill("alice")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Link your accounts")).to_be_visible()

    # Smile's widget: George at Upwork, with the code.
    page.get_by_role("button", name="Link your work account").click()
    dialog = page.get_by_role("dialog", name="Smile Wink")
    link_in_widget(dialog, "Upwork")
    expect(dialog.get_by_role("heading", name="Account connected")).to_be_visible()
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_have_count(0)

    # UCW: MX Bank, then back to the page the button was on.
    page.get_by_role("link", name="Link a bank account").click()
    widget = page.frame_locator("#ucw-frame")
    widget.get_by_placeholder("Search").fill("MX")
    widget.get_by_role("button", name="Add account with MX Bank", exact=True).click()
    widget.get_by_label("Username").fill("mxuser")
    widget.get_by_label("Password").fill("correct")
    widget.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("status")).to_contain_text("connected and confirmed")
    page.get_by_role("link", name="Continue").click()
    expect(page).to_have_url(url + "/")

    # Smile ID: the hosted page, an ID number the emulator approves, the return page.
    page.get_by_role("button", name="Verify your identity").click()
    page.get_by_label("NG BVN (enhanced kyc)").check()
    page.get_by_label("ID number").fill("A1234560")
    page.get_by_label("Take the selfie or document photo (simulated)").check()
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(re.compile(re.escape(url) + r"/wink/smile-id/return\?status=success"))
    expect(page.get_by_role("status")).to_have_text("approved")
    page.get_by_role("link", name="Back to the app").click()
    expect(page).to_have_url(url + "/")

    page.get_by_role("link", name="Your links").click()
    links = page.locator("#links")
    expect(links.locator('tr[data-provider="smile_wink"]')).to_contain_text("CONNECTED")
    expect(links.locator('tr[data-provider="ucw"]')).to_contain_text("CONNECTED")
    expect(links.locator('tr[data-provider="ucw"]')).to_contain_text("mxBank")
    expect(links.locator('tr[data-provider="smile_id"]')).to_contain_text("approved")

    # The receiver heard each provider, filtered by provider.
    assert printed(tutorial_app, r"^work account a-\S+ connected \(callback onAccountConnected\)$")
    assert printed(tutorial_app, r"^work account a-\S+ connected \(webhook ACCOUNT_CONNECTED\)$")
    assert printed(tutorial_app, r"^bank connection ucw-\S+ confirmed by UCW$")
    assert printed(tutorial_app, r"^identity verification \S+ approved$")
