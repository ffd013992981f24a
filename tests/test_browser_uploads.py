"""Uploads in a real browser: the widget's upload screen and the quickstart's /archives page."""

from __future__ import annotations

import struct
import zlib
from importlib import resources

import pytest
from playwright.sync_api import expect

from flask_wink import get_state

pytestmark = pytest.mark.browser

SAMPLES = resources.files("flask_wink.providers.smile_wink.sandbox").joinpath("static/samples")




@pytest.fixture
def quickstart(quickstart_server):
    return quickstart_server



def other_png() -> bytes:
    """A valid PNG that is not the sample payslip."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x00\x80\xff" * 4 for _ in range(4))
    header = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def open_upload_screen(page):
    page.get_by_role("button", name="Upload a document").click()
    dialog = page.get_by_role("dialog", name="Smile Wink")
    dialog.get_by_role("button", name="Agree").click()
    dialog.get_by_role("button", name="Upload documents").click()
    expect(dialog.get_by_role("heading", name="Upload documents")).to_be_visible()
    return dialog


def row(page, status):
    return page.locator(f'#archives tr[data-status="{status}"]')


def callbacks(app, name):
    with app.app_context():
        events = get_state().store.list_events(kind="callback", limit=500)
    return [e.payload for e in reversed(events) if e.name == name]


def test_the_sample_payslip_uploaded_in_the_widget_shows_analyzed_with_its_amounts(page, quickstart):
    page.goto(quickstart.url + "/archives")
    expect(page.get_by_role("heading", name="Archives")).to_be_visible()
    expect(page.locator("#archives")).to_contain_text("No uploads yet.")
    dialog = open_upload_screen(page)
    dialog.get_by_label("Document").set_input_files(str(SAMPLES.joinpath("payslip.pdf")))
    dialog.get_by_role("button", name="Submit").click()
    expect(dialog.get_by_role("heading", name="Your uploads")).to_be_visible()
    uploads = dialog.get_by_role("list", name="Uploads")
    expect(uploads).to_contain_text("payslip.pdf")
    expect(uploads).to_contain_text("ANALYZED")  # the widget follows the analysis by itself
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_have_count(0)

    analyzed = row(page, "ANALYZED")
    expect(analyzed).to_have_count(1)  # the page updates without a reload
    for text in ("payslip.pdf", "Upwork Global Inc.", "2026-10-01 to 2026-10-31", "PHP", "45,000.00",
                 "38,250.00"):
        expect(analyzed).to_contain_text(text)

    created = callbacks(quickstart.app, "onUploadsCreated")
    assert len(created) == 1
    assert [u["rawFiles"][0]["name"] for u in created[0]["uploads"]] == ["payslip.pdf"]
    assert created[0]["userId"] == created[0]["uploads"][0]["userId"]
    ui = [e for e in callbacks(quickstart.app, "onUIEvent") if e["eventName"] == "UPLOADS_CREATED"]
    assert ui and ui[0]["archive"]["id"] == created[0]["uploads"][0]["id"]
    assert callbacks(quickstart.app, "onClose") == [{"reason": "exit"}]


def test_other_files_end_unsupported_or_error(page, quickstart):
    page.goto(quickstart.url + "/archives")
    dialog = open_upload_screen(page)
    dialog.get_by_label("Document").set_input_files([
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a payslip"},
        {"name": "holiday.png", "mimeType": "image/png", "buffer": other_png()},
    ])
    dialog.get_by_role("button", name="Submit").click()
    uploads = dialog.get_by_role("list", name="Uploads")
    expect(uploads).to_contain_text("UNSUPPORTED")
    expect(uploads).to_contain_text("ERROR")
    dialog.get_by_role("button", name="Close").click()
    expect(row(page, "UNSUPPORTED")).to_contain_text("notes.txt")
    expect(row(page, "ERROR")).to_contain_text("holiday.png")


def test_removing_an_upload_in_the_widget_shows_revoked(page, quickstart):
    page.goto(quickstart.url + "/archives")
    dialog = open_upload_screen(page)
    dialog.get_by_label("Document").set_input_files(str(SAMPLES.joinpath("payslip.png")))
    dialog.get_by_role("button", name="Submit").click()
    expect(row(page, "ANALYZED")).to_have_count(1)
    dialog.get_by_role("button", name="Remove payslip.png").click()
    expect(dialog.get_by_role("list", name="Uploads")).to_contain_text("REVOKED")
    expect(dialog.get_by_role("button", name="Remove payslip.png")).to_have_count(0)
    revoked = row(page, "REVOKED")
    expect(revoked).to_contain_text("payslip.png")
    expect(revoked).not_to_contain_text("38,250.00")  # the analysis went with the revocation
    removed = callbacks(quickstart.app, "onUploadsRemoved")
    assert [u["state"]["status"] for u in removed[0]["uploads"]] == ["REVOKED"]


def test_submit_without_a_file_asks_for_one_and_back_returns_to_the_providers(page, quickstart):
    page.goto(quickstart.url + "/archives")
    dialog = open_upload_screen(page)
    dialog.get_by_role("button", name="Submit").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Choose a document first.")
    dialog.get_by_role("button", name="Back").click()
    expect(dialog.get_by_role("heading", name="Select your provider")).to_be_visible()


def test_the_dashboard_links_the_archives_page_and_it_offers_the_samples(page, quickstart):
    page.goto(quickstart.url + "/")
    page.get_by_role("link", name="Archives").click()
    expect(page).to_have_url(quickstart.url + "/archives")
    pdf = page.get_by_role("link", name="download it as PDF")
    answer = page.request.get(quickstart.url + pdf.get_attribute("href"))
    assert answer.ok and answer.body() == SAMPLES.joinpath("payslip.pdf").read_bytes()
    expect(page.get_by_role("link", name="Refresh")).to_have_attribute("href", "/archives")
