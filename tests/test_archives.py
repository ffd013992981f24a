"""Archives: the sandbox's /v1/archives and widget uploads over loopback, and the kit's tracking of them."""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from importlib import resources

import httpx
import pytest
from flask import Flask, request

from conftest import WEBHOOK_SECRET, make_host_app
from flask_wink import get_state
from flask_wink.providers.smile_wink import archives as kit
from flask_wink.providers.smile_wink import signals as smile_signals
from flask_wink.providers.smile_wink import userdata
from flask_wink.providers.smile_wink.client import SmileClient
from flask_wink.providers.smile_wink.errors import SmileNotFound
from flask_wink.providers.smile_wink.signature import SIGNATURE_HEADER, verify_signature
from flask_wink.providers.smile_wink.testing import SandboxServer, make_event, run_sandbox, signed_webhook
from flask_wink.testing import serve

# -- what the spec says (smile-openapi-v1.yaml) --------------------------------------------

# components/schemas/Archive: required fields with their JSON types
ARCHIVE_REQUIRED = {
    "id": str,
    "createdAt": str,
    "providerId": str,
    "userId": str,
    "type": str,
    "state": dict,
    "rawFiles": list,
}
ARCHIVE_STATE_REQUIRED = {"status", "updatedAt"}
ARCHIVE_STATUSES = {"STARTED", "ANALYZED", "UNSUPPORTED", "ERROR", "REVOKED"}
ARCHIVE_ERROR_CODES = {
    "MISSING_MANDATARY_FIELD",
    "MISSING_MANDATORY_FIELD",
    "INVALID_FIELD_FORMAT",
    "SYSTEM_ERROR",
    None,
}
# components/schemas/RawFile
RAW_FILE_REQUIRED = {
    "id": str,
    "createdAt": str,
    "name": str,
    "subType": (str, type(None)),
    "size": int,
    "format": str,
    "url": str,
}
RAW_FILE_FORMATS = {"PDF", "PNG", "JPG", "JPEG"}
# components/schemas/ArchivePayslipAnalysis (no field is required; these are the types of those given)
PAYSLIP_ANALYSIS_TYPES = {
    "startDate": str,
    "endDate": str,
    "payDate": str,
    "currency": str,
    "grossAmount": (int, float),
    "netAmount": (int, float),
    "employerName": str,
    "employeeName": str,
    "ssNumber": str,
    "philHealthNumber": str,
    "taxNumber": str,
    "pagIbigNumber": str,
}
# components/schemas/Archive*Event: what ``data`` requires
EVENT_DATA_REQUIRED = {
    "ARCHIVE_STARTED": {"userId", "archiveId"},
    "ARCHIVE_ANALYZED": {"userId", "archiveId"},
    "ARCHIVE_FAILED": {"userId", "archiveId", "errorCode", "errorMessage"},
    "ARCHIVE_REVOKED": {"userId", "archiveId"},
}
EVENT_FIELDS = {"id", "version", "type", "createdAt", "data"}

# One CA bundle for every request (all traffic is plain loopback HTTP); httpx loads one per client.
CA = ssl.create_default_context()


def fetch(method: str, url: str, **options) -> httpx.Response:
    return httpx.request(method, url, verify=CA, **options)


# -- files -------------------------------------------------------------------------------


def sample(name: str) -> bytes:
    samples = resources.files("flask_wink.providers.smile_wink.sandbox").joinpath("static/samples")
    return samples.joinpath(name).read_bytes()


def other_png() -> bytes:
    """A valid 2x2 PNG that is not the sample payslip."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


RANDOM_BYTES = hashlib.sha256(b"not a document").digest() * 8


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


# -- the sandbox -------------------------------------------------------------------------


def running_sandbox(delay: float = 0.1):
    """A sandbox that analyses an archive ``delay`` seconds after it is made."""
    return run_sandbox(config={"WINK_SANDBOX_ANALYSIS_DELAY": delay})


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as served:
        yield served


def api_client(sandbox) -> httpx.Client:
    return httpx.Client(base_url=sandbox.api_host, auth=(sandbox.api_key, sandbox.api_secret), verify=CA)


@pytest.fixture
def api(sandbox) -> Iterator[httpx.Client]:
    with api_client(sandbox) as client:
        yield client


def data_of(response: httpx.Response, status: int = 200):
    assert response.status_code == status, response.text
    body = response.json()
    assert {"code", "message", "requestId"} <= set(body)
    return body.get("data")


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "requestId", "data"}
    return body


def new_user(api: httpx.Client) -> dict:
    return data_of(api.post("/users", json={}), 201)


def create(api: httpx.Client, user_id: str | None, name: str, content: bytes, extension: str = "PDF") -> dict:
    body = {
        "userId": user_id,
        "fileType": "PAYSLIP",
        "rawFiles": [
            {
                "fileExtensionType": extension,
                "fileSubtype": "PAYSLIP",
                "fileName": name,
                "fileContent": b64(content),
            }
        ],
    }
    return data_of(api.post("/archives", json=body))


def wait_for(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def settled(api: httpx.Client, archive_id: str) -> dict:
    """The archive once its analysis is over."""
    def done():
        archive = data_of(api.get(f"/archives/{archive_id}"))
        return archive if archive["state"]["status"] != "STARTED" else None

    archive = wait_for(done)
    assert archive, f"archive {archive_id} stayed STARTED"
    return archive


def assert_spec_archive(archive: dict) -> None:
    for name, kind in ARCHIVE_REQUIRED.items():
        assert isinstance(archive.get(name), kind), (name, archive.get(name))
    assert ARCHIVE_STATE_REQUIRED <= set(archive["state"])
    assert archive["state"]["status"] in ARCHIVE_STATUSES
    assert archive["state"].get("errorCode") in ARCHIVE_ERROR_CODES
    assert archive["rawFiles"]
    for raw in archive["rawFiles"]:
        for name, kind in RAW_FILE_REQUIRED.items():
            assert isinstance(raw.get(name), kind), (name, raw.get(name))
        assert raw["format"] in RAW_FILE_FORMATS
    for name, value in (archive.get("analysis") or {}).items():
        assert isinstance(value, PAYSLIP_ANALYSIS_TYPES[name]), (name, value)


def test_sample_payslip_pdf_is_started_then_analyzed_with_its_amounts(api):
    user = new_user(api)["user"]
    archive = create(api, user["id"], "payslip.pdf", sample("payslip.pdf"))
    assert_spec_archive(archive)
    assert archive["state"]["status"] == "STARTED"
    assert (archive["userId"], archive["providerId"]) == (user["id"], "tenant-provided")
    assert archive["type"] == "PAYSLIP"
    assert archive["rawFiles"][0]["name"] == "payslip.pdf"
    done = settled(api, archive["id"])
    assert_spec_archive(done)
    assert done["state"]["status"] == "ANALYZED"
    assert done["analysis"]["grossAmount"] == 45000.00
    assert done["analysis"]["netAmount"] == 38250.00
    assert done["analysis"]["currency"] == "PHP"
    assert done["analysis"]["employerName"] == "Upwork Global Inc."
    assert (done["analysis"]["startDate"], done["analysis"]["endDate"]) == ("2026-10-01", "2026-10-31")


def test_sample_payslip_png_is_analyzed_too(api):
    archive = create(api, new_user(api)["user"]["id"], "payslip.png", sample("payslip.png"), "PNG")
    assert settled(api, archive["id"])["state"]["status"] == "ANALYZED"


def test_random_bytes_end_unsupported(api):
    archive = create(api, new_user(api)["user"]["id"], "noise.pdf", RANDOM_BYTES)
    done = settled(api, archive["id"])
    assert_spec_archive(done)
    assert done["state"]["status"] == "UNSUPPORTED"
    assert done["state"]["errorCode"] == "INVALID_FIELD_FORMAT"
    assert done["analysis"] is None


def test_a_png_that_is_not_the_sample_ends_error(api):
    archive = create(api, new_user(api)["user"]["id"], "photo.png", other_png(), "PNG")
    done = settled(api, archive["id"])
    assert_spec_archive(done)
    assert done["state"]["status"] == "ERROR"
    assert done["state"]["errorCode"] == "MISSING_MANDATORY_FIELD"
    assert done["analysis"] is None


def test_create_without_user_id_makes_a_new_user(api):
    archive = create(api, None, "payslip.pdf", sample("payslip.pdf"))
    assert data_of(api.get(f"/users/{archive['userId']}"))["id"] == archive["userId"]


def test_the_file_url_serves_the_uploaded_bytes_with_the_api_key(api):
    archive = create(api, new_user(api)["user"]["id"], "payslip.pdf", sample("payslip.pdf"))
    url = archive["rawFiles"][0]["url"]
    assert fetch("GET", url).status_code == 401
    answer = api.get(url)
    assert (answer.status_code, answer.content) == (200, sample("payslip.pdf"))
    assert answer.headers["content-type"] == "application/pdf"


def test_list_filters_by_user_and_pages_by_cursor(api):
    alice, bob = new_user(api)["user"]["id"], new_user(api)["user"]["id"]
    made = [create(api, alice, f"p{i}.pdf", sample("payslip.pdf"))["id"] for i in range(3)]
    create(api, bob, "bob.pdf", sample("payslip.pdf"))
    first = data_of(api.get("/archives", params={"userId": alice, "size": 2}))
    assert len(first["items"]) == 2 and first["nextCursor"]
    second = data_of(api.get("/archives", params={"userId": alice, "size": 2, "cursor": first["nextCursor"]}))
    assert second["nextCursor"] is None
    assert [a["id"] for a in first["items"] + second["items"]] == made
    for archive in first["items"] + second["items"]:
        assert_spec_archive(archive)
    assert len(data_of(api.get("/archives"))["items"]) == 4
    assert data_of(api.get("/archives", params={"fileType": "TAX_DOCUMENT"}))["items"] == []


def test_list_with_a_date_range(api):
    user = new_user(api)["user"]["id"]
    create(api, user, "p.pdf", sample("payslip.pdf"))
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert len(data_of(api.get("/archives", params={"startDate": today, "endDate": today}))["items"]) == 1
    assert data_of(api.get("/archives", params={"endDate": "2000-01-01"}))["items"] == []
    bad = api.get("/archives", params={"startDate": "yesterday"})
    assert error_of(bad, 400)["code"] == "INVALID_PARAMETERS"


def test_delete_revokes_the_archive_and_deletes_its_data(sandbox, api):
    archive = create(api, new_user(api)["user"]["id"], "payslip.pdf", sample("payslip.pdf"))
    settled(api, archive["id"])
    assert data_of(api.delete(f"/archives/{archive['id']}")) is None
    revoked = data_of(api.get(f"/archives/{archive['id']}"))
    assert_spec_archive(revoked)
    assert revoked["state"]["status"] == "REVOKED"
    assert revoked["analysis"] is None
    assert api.get(archive["rawFiles"][0]["url"]).status_code == 404
    # A second DELETE is answered the same, and Smile says REVOKED once.
    assert api.delete(f"/archives/{archive['id']}").status_code == 200
    assert [e["type"] for e in sandbox.state.events].count("ARCHIVE_REVOKED") == 1


def test_revoked_while_analysing_stays_revoked():
    with running_sandbox(delay=0.3) as sandbox:
        with api_client(sandbox) as api:
            archive = create(api, new_user(api)["user"]["id"], "payslip.pdf", sample("payslip.pdf"))
            api.delete(f"/archives/{archive['id']}")
            time.sleep(0.5)
            assert data_of(api.get(f"/archives/{archive['id']}"))["state"]["status"] == "REVOKED"
            assert "ARCHIVE_ANALYZED" not in [e["type"] for e in sandbox.state.events]


def test_get_or_delete_an_unknown_archive_is_404(api):
    assert error_of(api.get("/archives/u-nope"), 404)["code"] == "MISSING_RESOURCE"
    assert error_of(api.delete("/archives/u-nope"), 404)["code"] == "MISSING_RESOURCE"


def test_archives_need_the_api_key(sandbox):
    assert error_of(fetch("GET", sandbox.api_host + "/archives"), 401)["code"] == "INVALID_CREDENTIALS"


@pytest.mark.parametrize(
    "body, problem",
    [
        ({"rawFiles": []}, "rawFiles"),
        ({"rawFiles": "x"}, "rawFiles"),
        ({"rawFiles": [{"fileExtensionType": "GIF", "fileContent": "AAAA"}]}, "fileExtensionType"),
        ({"rawFiles": [{"fileExtensionType": "PDF", "fileContent": "not base64!"}]}, "base64"),
        ({"rawFiles": [{"fileExtensionType": "PDF"}]}, "fileContent"),
        ({"rawFiles": [{"fileExtensionType": "PDF", "fileContent": "", "fileSubtype": "X"}]}, "fileSubtype"),
        ({"rawFiles": [{"fileExtensionType": "PDF", "fileContent": "AAAA"}], "userId": 7}, "userId"),
        ({"rawFiles": [{"fileExtensionType": "PDF", "fileContent": "AAAA"}], "fileType": 3}, "fileType"),
    ],
)
def test_bad_create_requests_are_400_invalid_parameters(api, body, problem):
    body = {"userId": new_user(api)["user"]["id"]} | body
    answer = error_of(api.post("/archives", json=body), 400)
    assert answer["code"] == "INVALID_PARAMETERS"
    assert problem in answer["message"]


def test_create_with_a_body_that_is_not_json_is_400(api):
    answer = api.post("/archives", content=b"{nope", headers={"Content-Type": "application/json"})
    assert error_of(answer, 400)["code"] == "INVALID_PARAMETERS"


def test_create_for_an_unknown_user_is_404(api):
    body = {"userId": "tenant-nope", "rawFiles": [{"fileExtensionType": "PDF", "fileContent": "AAAA"}]}
    assert error_of(api.post("/archives", json=body), 404)["code"] == "MISSING_RESOURCE"


def test_samples_are_served_for_download(sandbox):
    for name, kind in (("payslip.pdf", "application/pdf"), ("payslip.png", "image/png")):
        answer = fetch("GET", f"{sandbox.url}/samples/{name}")
        assert answer.status_code == 200
        assert answer.content == sample(name)
        assert answer.headers["content-type"] == kind
        assert "attachment" in answer.headers["content-disposition"]
    assert error_of(fetch("GET", f"{sandbox.url}/samples/../app.py"), 404)["code"] == "MISSING_RESOURCE"
    assert fetch("GET", f"{sandbox.url}/samples/secret.pdf").status_code == 404


def test_sample_files_are_a_pdf_and_a_png_showing_the_payslip():
    pdf = sample("payslip.pdf")
    assert pdf.startswith(b"%PDF-1.") and pdf.rstrip().endswith(b"%%EOF")
    for text in (b"PAYSLIP", b"Upwork Global Inc.", b"2026-10-01 to 2026-10-31", b"45,000.00", b"38,250.00"):
        assert text in pdf
    png = sample("payslip.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png.endswith(b"IEND\xaeB`\x82")
    assert len(pdf) < 10_000 and len(png) < 10_000


# -- webhooks from the sandbox ------------------------------------------------------------


class Receiver:
    """A webhook endpoint on loopback that keeps what it is sent."""

    def __init__(self) -> None:
        self.hits: list[tuple[bytes, str | None]] = []
        self._lock = threading.Lock()
        self.app = Flask("receiver")
        self.app.add_url_rule("/hook", view_func=self._hook, methods=["POST"])

    def _hook(self):
        with self._lock:
            self.hits.append((request.get_data(), request.headers.get(SIGNATURE_HEADER)))
        return "", 200

    def events(self) -> list[dict]:
        with self._lock:
            return [json.loads(body) for body, _ in self.hits]


HOOK_SECRET = "archives hook secret"


def test_archive_webhooks_are_delivered_signed_with_the_spec_data(sandbox, api):
    receiver = Receiver()
    with serve(receiver.app) as served:
        hook = {"name": "t", "url": served.url + "/hook", "active": True, "secret": HOOK_SECRET,
                "eventTypes": ["ARCHIVE_STARTED", "ARCHIVE_ANALYZED", "ARCHIVE_FAILED", "ARCHIVE_REVOKED"]}
        data_of(api.post("/webhooks", json=hook))
        user = new_user(api)["user"]["id"]
        good = create(api, user, "payslip.pdf", sample("payslip.pdf"))
        bad = create(api, user, "noise.pdf", RANDOM_BYTES)
        settled(api, good["id"])
        settled(api, bad["id"])
        api.delete(f"/archives/{good['id']}")
        assert sandbox.state.dispatcher.wait_idle(10)
    events = receiver.events()
    seen = sorted((e["type"], e["data"]["archiveId"]) for e in events)
    assert seen == sorted([
        ("ARCHIVE_STARTED", good["id"]), ("ARCHIVE_ANALYZED", good["id"]), ("ARCHIVE_REVOKED", good["id"]),
        ("ARCHIVE_STARTED", bad["id"]), ("ARCHIVE_FAILED", bad["id"]),
    ])
    for body, signature in receiver.hits:
        verify_signature(body, signature, [HOOK_SECRET])  # raises when not signed with the secret
    for event in events:
        assert set(event) == EVENT_FIELDS
        assert EVENT_DATA_REQUIRED[event["type"]] <= set(event["data"])
        assert event["data"]["userId"] == user
    failed = next(e for e in events if e["type"] == "ARCHIVE_FAILED")
    assert failed["data"]["errorCode"] == "INVALID_FIELD_FORMAT"
    order = [e["type"] for e in events if e["data"]["archiveId"] == good["id"]]
    assert order == ["ARCHIVE_STARTED", "ARCHIVE_ANALYZED", "ARCHIVE_REVOKED"]


# -- the widget's upload endpoints --------------------------------------------------------


def widget(sandbox, path: str, body) -> httpx.Response:
    return fetch("POST", f"{sandbox.url}/widget/{path}", json=body)


def open_session(sandbox, api: httpx.Client) -> tuple[str, str]:
    created = new_user(api)
    answer = widget(sandbox, "session", {"token": created["token"]["accessToken"]})
    return answer.json()["sessionId"], created["user"]["id"]


def test_widget_upload_makes_one_user_provided_archive_per_file(sandbox, api):
    session_id, user_id = open_session(sandbox, api)
    files = [
        {"name": "payslip.pdf", "contentType": "application/pdf", "base64": b64(sample("payslip.pdf"))},
        {"name": "notes.txt", "contentType": "text/plain", "base64": b64(b"hello")},
    ]
    answer = widget(sandbox, "uploads", {"sessionId": session_id, "files": files})
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == "*"
    uploads = answer.json()["uploads"]
    assert [u["rawFiles"][0]["name"] for u in uploads] == ["payslip.pdf", "notes.txt"]
    assert {(u["userId"], u["providerId"], u["state"]["status"]) for u in uploads} == {
        (user_id, "user-provided", "STARTED")
    }
    assert settled(api, uploads[0]["id"])["state"]["status"] == "ANALYZED"
    assert settled(api, uploads[1]["id"])["state"]["status"] == "UNSUPPORTED"
    listed = widget(sandbox, "uploads/list", {"sessionId": session_id}).json()["uploads"]
    assert [u["id"] for u in listed] == [u["id"] for u in uploads]


def test_widget_remove_revokes_only_the_sessions_own_upload(sandbox, api):
    session_id, _ = open_session(sandbox, api)
    other_session, _ = open_session(sandbox, api)
    file = {"name": "payslip.pdf", "contentType": "application/pdf", "base64": b64(sample("payslip.pdf"))}
    upload = widget(sandbox, "uploads", {"sessionId": session_id, "files": [file]}).json()["uploads"][0]
    stolen = widget(sandbox, f"uploads/{upload['id']}/remove", {"sessionId": other_session})
    assert error_of(stolen, 404)["code"] == "MISSING_RESOURCE"
    removed = widget(sandbox, f"uploads/{upload['id']}/remove", {"sessionId": session_id})
    assert removed.status_code == 200
    assert removed.json()["upload"]["state"]["status"] == "REVOKED"


@pytest.mark.parametrize(
    "body, status",
    [
        ({"sessionId": "nope", "files": [{"name": "a.pdf", "base64": "AAAA"}]}, 401),
        ({"sessionId": None, "files": [{"name": "a.pdf", "base64": "AAAA"}]}, 401),
        ({"files": []}, 400),
        ({"files": [{"name": "", "base64": "AAAA"}]}, 400),
        ({"files": [{"name": "a.pdf", "base64": "%%%"}]}, 400),
        ({"files": [{"name": "a.pdf", "base64": ""}]}, 400),
        ({"files": ["a.pdf"]}, 400),
    ],
)
def test_bad_widget_uploads_are_refused_with_json(sandbox, api, body, status):
    session_id, _ = open_session(sandbox, api)
    body = {"sessionId": session_id} | body
    answer = widget(sandbox, "uploads", body)
    assert answer.status_code == status
    assert answer.json()["code"] in ("INVALID_PARAMETERS", "INVALID_TOKEN")


# -- the client ---------------------------------------------------------------------------


@pytest.fixture
def client(sandbox) -> Iterator[SmileClient]:
    with SmileClient(sandbox.api_host, sandbox.api_key, sandbox.api_secret) as smile:
        yield smile


def test_client_uploads_pairs_and_paths_base64_encoded(client, tmp_path):
    user_id = client.create_user({})["user"]["id"]
    path = tmp_path / "payslip.png"
    path.write_bytes(sample("payslip.png"))
    archive = client.upload_archive(user_id, [("payslip.pdf", sample("payslip.pdf")), path])
    files = [(f["name"], f["format"]) for f in archive["rawFiles"]]
    assert files == [("payslip.pdf", "PDF"), ("payslip.png", "PNG")]
    assert archive["type"] == "PAYSLIP" and archive["state"]["status"] == "STARTED"
    done = wait_for(lambda: client.get_archive(archive["id"])["state"]["status"] == "ANALYZED")
    assert done
    assert client.get_archive(archive["id"])["analysis"]["netAmount"] == 38250.00


def test_client_sniffs_the_format_of_a_file_without_extension(client):
    archive = client.upload_archive(None, [("scan", sample("payslip.png"))])
    assert archive["rawFiles"][0]["format"] == "PNG"
    with pytest.raises(ValueError, match="PDF, PNG or JPEG"):
        client.upload_archive(None, [("notes", b"hello")])


def test_client_revokes_an_archive(client):
    archive = client.upload_archive(None, [("payslip.pdf", sample("payslip.pdf"))])
    client.revoke_archive(archive["id"])
    assert client.get_archive(archive["id"])["state"]["status"] == "REVOKED"
    with pytest.raises(SmileNotFound):
        client.revoke_archive("u-nope")


# -- the kit: tracking, revoking, CLI -----------------------------------------------------


@pytest.fixture
def hosted(sandbox, tmp_path):
    """A host app served on loopback, subscribed to the sandbox's webhooks."""
    app, _ = make_host_app(sandbox, tmp_path)
    with serve(app) as served:
        sandbox.state.create_webhook({"name": "host", "url": served.url + "/wink/webhooks", "active": True,
                                      "secret": WEBHOOK_SECRET, "eventTypes": ["ALL_EVENTS"]})
        yield served


def start_widget(sandbox, hosted, user: str) -> tuple[str, str]:
    """Mint a token for app user ``user`` and open a widget session: (sessionId, smile userId)."""
    token = fetch("POST", hosted.url + "/wink/token", headers={"X-User": user}).json()
    answer = widget(sandbox, "session", {"token": token["accessToken"]})
    return answer.json()["sessionId"], token["userId"]


def callback(hosted, user: str, name: str, args: dict) -> None:
    body = {"name": name, "args": args}
    answer = fetch("POST", hosted.url + "/wink/callbacks", headers={"X-User": user}, json=body)
    assert answer.status_code == 201, answer.text


def kept(hosted, archive_id: str) -> dict | None:
    with hosted.app.app_context():
        return kit.get_archive(archive_id)


def wait_kept(hosted, archive_id: str, status: str) -> dict:
    found = wait_for(lambda: (kept(hosted, archive_id) or {}).get("status") == status)
    record = kept(hosted, archive_id)
    assert found, record
    return record


def upload(sandbox, session_id: str, name: str, content: bytes) -> dict:
    file = {"name": name, "contentType": "", "base64": b64(content)}
    return widget(sandbox, "uploads", {"sessionId": session_id, "files": [file]}).json()["uploads"][0]


def test_kit_tracks_an_upload_from_started_to_analyzed_with_its_analysis(sandbox, hosted):
    session_id, smile_user = start_widget(sandbox, hosted, "alice")
    changes = []

    def on_change(app, **kw):
        changes.append((kw["archive_id"], kw["status"], kw["smile_user_id"]))

    smile_signals.archive_status_changed.connect(on_change)
    try:
        archive = upload(sandbox, session_id, "payslip.pdf", sample("payslip.pdf"))
        callback(hosted, "alice", "onUploadsCreated", {"uploads": [archive], "userId": smile_user})
        record = wait_kept(hosted, archive["id"], "ANALYZED")
        # The status is stored before the signal goes out: give the receiver its moment.
        deadline = time.monotonic() + 5
        while (archive["id"], "ANALYZED", smile_user) not in changes and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        smile_signals.archive_status_changed.disconnect(on_change)
    assert record["smileUserId"] == smile_user
    assert record["fileNames"] == ["payslip.pdf"]
    assert record["type"] == "PAYSLIP"
    assert record["analysis"]["grossAmount"] == 45000.00 and record["analysis"]["netAmount"] == 38250.00
    assert record["analysis"]["employerName"] == "Upwork Global Inc."
    assert record["expiresAt"][:10] > record["createdAt"][:10]
    assert (archive["id"], "STARTED", smile_user) in changes
    assert (archive["id"], "ANALYZED", smile_user) in changes


def test_kit_tracks_unsupported_and_error_from_archive_failed(sandbox, hosted):
    session_id, _ = start_widget(sandbox, hosted, "alice")
    noise = upload(sandbox, session_id, "noise.bin", RANDOM_BYTES)
    photo = upload(sandbox, session_id, "photo.png", other_png())
    assert wait_kept(hosted, noise["id"], "UNSUPPORTED")["error"]
    assert wait_kept(hosted, photo["id"], "ERROR")["analysis"] is None


def test_removing_in_the_widget_tracks_revoked_and_deletes_the_analysis(sandbox, hosted):
    session_id, smile_user = start_widget(sandbox, hosted, "alice")
    archive = upload(sandbox, session_id, "payslip.pdf", sample("payslip.pdf"))
    wait_kept(hosted, archive["id"], "ANALYZED")
    removed = widget(sandbox, f"uploads/{archive['id']}/remove", {"sessionId": session_id}).json()["upload"]
    callback(hosted, "alice", "onUploadsRemoved", {"uploads": [removed], "userId": smile_user})
    record = wait_kept(hosted, archive["id"], "REVOKED")
    assert record["analysis"] is None


def test_a_callback_cannot_touch_another_users_archive(sandbox, hosted):
    session_id, _ = start_widget(sandbox, hosted, "alice")
    start_widget(sandbox, hosted, "mallory")
    archive = upload(sandbox, session_id, "payslip.pdf", sample("payslip.pdf"))
    wait_kept(hosted, archive["id"], "ANALYZED")
    forged = dict(archive, userId=None)
    callback(hosted, "mallory", "onUploadsRemoved", {"uploads": [forged]})
    callback(hosted, "mallory", "onUploadsRemoved", {"uploads": [archive]})
    record = kept(hosted, archive["id"])
    assert record["status"] == "ANALYZED" and record["analysis"]


def post_webhook(hosted, event: dict) -> None:
    body, headers = signed_webhook(event, WEBHOOK_SECRET)
    assert fetch("POST", hosted.url + "/wink/webhooks", content=body, headers=headers).status_code == 200


def test_a_later_status_is_never_replaced_by_an_earlier_one_and_revoked_is_final(hosted):
    data = {"userId": "tenant-w", "archiveId": "u-ordering"}
    analysis = {"grossAmount": 10, "netAmount": 9, "currency": "PHP"}
    post_webhook(hosted, make_event("ARCHIVE_ANALYZED", data | {"analysis": analysis}))
    post_webhook(hosted, make_event("ARCHIVE_STARTED", data))
    assert kept(hosted, "u-ordering")["status"] == "ANALYZED"
    assert kept(hosted, "u-ordering")["analysis"] == analysis
    post_webhook(hosted, make_event("ARCHIVE_REVOKED", data))
    post_webhook(hosted, make_event("ARCHIVE_ANALYZED", data | {"analysis": analysis}))
    post_webhook(hosted, make_event("ARCHIVE_STARTED", data))
    record = kept(hosted, "u-ordering")
    assert (record["status"], record["analysis"], record["smileUserId"]) == ("REVOKED", None, "tenant-w")


def test_archive_failed_for_an_archive_smile_no_longer_has_uses_the_error_code(hosted):
    data = {"userId": "tenant-w", "archiveId": "u-gone", "errorCode": "INVALID_FIELD_FORMAT"}
    data["errorMessage"] = "no"
    post_webhook(hosted, make_event("ARCHIVE_FAILED", data))
    record = kept(hosted, "u-gone")
    assert (record["status"], record["error"]) == ("UNSUPPORTED", "no")


def revoke(hosted, archive_id: str, **options) -> dict | None:
    with hosted.app.app_context():
        return kit.revoke_archive(archive_id, **options)


def test_revoke_archive_revokes_at_smile_marks_it_and_sends_the_signal(sandbox, hosted):
    session_id, smile_user = start_widget(sandbox, hosted, "alice")
    archive = upload(sandbox, session_id, "payslip.pdf", sample("payslip.pdf"))
    wait_kept(hosted, archive["id"], "ANALYZED")
    sent = []

    def on_revoked(app, **kw):
        sent.append(kw)

    smile_signals.archive_revoked.connect(on_revoked)
    try:
        record = revoke(hosted, archive["id"])
    finally:
        smile_signals.archive_revoked.disconnect(on_revoked)
    assert (record["status"], record["analysis"]) == ("REVOKED", None)
    assert sent == [{"archive_id": archive["id"], "smile_user_id": smile_user, "kept_data": False}]
    assert sandbox.state.archives[archive["id"]]["state"]["status"] == "REVOKED"
    # The ARCHIVE_REVOKED webhook that follows changes nothing.
    assert sandbox.state.dispatcher.wait_idle(10)
    assert kept(hosted, archive["id"])["status"] == "REVOKED"


def test_revoke_archive_with_keep_data_keeps_the_analysis(sandbox, hosted):
    session_id, _ = start_widget(sandbox, hosted, "alice")
    archive = upload(sandbox, session_id, "payslip.pdf", sample("payslip.pdf"))
    wait_kept(hosted, archive["id"], "ANALYZED")
    record = revoke(hosted, archive["id"], keep_data=True)
    assert sandbox.state.dispatcher.wait_idle(10)
    record = kept(hosted, archive["id"])
    assert record["status"] == "REVOKED"
    assert record["analysis"]["netAmount"] == 38250.00


def test_revoke_archive_unknown_at_smile_raises(hosted):
    with pytest.raises(SmileNotFound):
        revoke(hosted, "u-nope")
    assert kept(hosted, "u-nope") is None


def run_cli(hosted, *args: str):
    return hosted.app.test_cli_runner().invoke(args=["wink", *args])


def test_cli_lists_archives_with_status_and_expiry(sandbox, hosted):
    session_id, smile_user = start_widget(sandbox, hosted, "alice")
    archive = upload(sandbox, session_id, "payslip.pdf", sample("payslip.pdf"))
    record = wait_kept(hosted, archive["id"], "ANALYZED")
    result = run_cli(hosted, "archives", "--user", "alice")
    assert result.exit_code == 0, result.output
    assert archive["id"] in result.output and "ANALYZED" in result.output
    assert f"expires {record['expiresAt']}" in result.output
    assert "38250" in result.output
    listed = run_cli(hosted, "archives", "--user", smile_user, "--json")
    assert [json.loads(line)["archiveId"] for line in listed.output.splitlines()] == [archive["id"]]
    assert run_cli(hosted, "archives", "--user", "nobody").output.strip() == "No archives."


def revoke_command() -> list[str]:
    """``revoke archive`` under the user-data part's ``revoke`` group when it exists."""
    return ["revoke", "archive"] if getattr(userdata, "revoke_group", None) else ["archives", "revoke"]


def test_cli_revokes_an_archive(sandbox, hosted):
    session_id, _ = start_widget(sandbox, hosted, "alice")
    archive = upload(sandbox, session_id, "payslip.pdf", sample("payslip.pdf"))
    wait_kept(hosted, archive["id"], "ANALYZED")
    result = run_cli(hosted, *revoke_command(), archive["id"])
    assert result.exit_code == 0, result.output
    assert f"Revoked archive {archive['id']}" in result.output
    assert kept(hosted, archive["id"])["status"] == "REVOKED"
    missing = run_cli(hosted, *revoke_command(), "u-nope")
    assert missing.exit_code == 1 and "Smile refused" in missing.output
    assert "Traceback" not in missing.output


def test_tracking_works_on_postgresql_too(sandbox, tmp_path):
    from postgres import fresh_postgres_database

    with fresh_postgres_database() as url:
        app, _ = make_host_app(sandbox, tmp_path, WINK_DATABASE_URL=url)
        with serve(app) as served:
            data = {"userId": "tenant-pg", "archiveId": "u-pg"}
            post_webhook(served, make_event("ARCHIVE_STARTED", data))
            post_webhook(served, make_event("ARCHIVE_ANALYZED", data | {"analysis": {"netAmount": 1}}))
            post_webhook(served, make_event("ARCHIVE_STARTED", data))
            with app.app_context():
                record = kit.get_archive("u-pg")
                assert (record["status"], record["analysis"]) == ("ANALYZED", {"netAmount": 1})
                assert [a["archiveId"] for a in kit.list_archives(smile_user_id="tenant-pg")] == ["u-pg"]
            get_state(app).store.dispose()
