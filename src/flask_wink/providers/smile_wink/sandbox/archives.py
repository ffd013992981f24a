"""Archives: documents a user uploads instead of logging in (``/v1/archives``).

Like Smile's sandbox, only the sample payslips are analysed: the sandbox knows them by the SHA-256
of their bytes (download them from ``/samples/payslip.pdf`` and ``/samples/payslip.png``). Any other
PDF, PNG or JPEG ends ``ERROR``; anything else ends ``UNSUPPORTED``. An archive is ``STARTED`` when
it is made and analysed ``WINK_SANDBOX_ANALYSIS_DELAY`` seconds later (app config, default 0.5).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import threading
import uuid
from datetime import date
from importlib import resources
from typing import Any

from flask import Flask, Response, request

from ..fileformat import sniff_format
from .http import envelope, json_body, page
from .state import SandboxError, SandboxState, iso, now

MAX_FILE_BYTES = 15 * 1024 * 1024  # RawFile: "File size limit is 15 MB"
MAX_FILES = 10
FORMATS = ("PDF", "PNG", "JPG", "JPEG")
FILE_SUBTYPES = (
    "PAYSLIP",
    "PERSONAL_INFORMATION",
    "EMPLOYMENT_INFORMATION",
    "TAX_PAYMENT",
    "COMPANY_ID_FRONT",
    "COMPANY_ID_BACK",
    "CARD_FRONT",
    "CARD_BACK",
)
MIMETYPES = {"PDF": "application/pdf", "PNG": "image/png", "JPG": "image/jpeg", "JPEG": "image/jpeg"}

#: What the sandbox "reads" from its sample payslip (both files show the same payslip).
SAMPLE_ANALYSIS: dict[str, Any] = {
    "startDate": "2026-10-01",
    "endDate": "2026-10-31",
    "payDate": "2026-10-31",
    "currency": "PHP",
    "grossAmount": 45000.00,
    "netAmount": 38250.00,
    "employerName": "Upwork Global Inc.",
    "employeeName": "George Palomero Jr.",
    "ssNumber": "3300000008",
}
SAMPLE_NAMES = ("payslip.pdf", "payslip.png")

# Archive.state.errorCode values the spec allows, with the message the sandbox gives.
FAILURES = {
    "UNSUPPORTED": ("INVALID_FIELD_FORMAT", "The file is not a PDF, PNG or JPEG document."),
    "ERROR": (
        "MISSING_MANDATORY_FIELD",
        "No payslip could be read from the file (the sandbox reads only its sample payslips).",
    ),
}


def sample_bytes(name: str) -> bytes:
    """The bytes of one bundled sample (``payslip.pdf`` or ``payslip.png``)."""
    return resources.files(__package__).joinpath("static/samples", name).read_bytes()


SAMPLE_DIGESTS = {hashlib.sha256(sample_bytes(name)).hexdigest() for name in SAMPLE_NAMES}


def analyse(files: list[bytes]) -> tuple[str, dict[str, Any] | None]:
    """The status an archive of ``files`` ends in, and its payslip analysis when ``ANALYZED``."""
    if any(sniff_format(content) is None for content in files):
        return "UNSUPPORTED", None
    if all(hashlib.sha256(content).hexdigest() in SAMPLE_DIGESTS for content in files):
        return "ANALYZED", dict(SAMPLE_ANALYSIS)
    return "ERROR", None


def register(app: Flask, state: SandboxState) -> None:
    """Add the archive endpoints, the widget's upload endpoints and the sample downloads."""
    app.config.setdefault("WINK_SANDBOX_ANALYSIS_DELAY", 0.5)
    # File bytes by file id, beside (not inside) the spec-shaped archives in state.archives.
    contents: dict[str, bytes] = {}

    def view(archive: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(archive)

    def find(archive_id: str, user_id: str | None = None) -> dict[str, Any]:
        with state.lock:
            archive = state.archives.get(archive_id)
        if archive is None or (user_id is not None and archive["userId"] != user_id):
            raise SandboxError(404, "MISSING_RESOURCE", f"Archive {archive_id} was not found.")
        return archive

    def create(user_id: str, file_type: str | None, files: list[dict[str, Any]], provider_id: str) -> dict:
        """Store one archive of ``files`` (``name``, ``format``, ``subType``, ``content``), STARTED."""
        stamp = iso(now())
        archive_id = "u-" + uuid.uuid4().hex
        root = request.url_root.rstrip("/")
        raw_files = []
        for f in files:
            file_id = "f-" + uuid.uuid4().hex
            contents[file_id] = f["content"]
            raw_files.append(
                {
                    "id": file_id,
                    "createdAt": stamp,
                    "name": f["name"],
                    "subType": f["subType"],
                    "size": max(1, (len(f["content"]) + 1023) // 1024),  # kilobytes, per the spec
                    "format": f["format"],
                    "url": f"{root}/v1/archives/{archive_id}/files/{file_id}",
                }
            )
        archive = {
            "id": archive_id,
            "createdAt": stamp,
            "providerId": provider_id,
            "userId": user_id,
            "type": file_type or "OTHERS",
            "state": {"status": "STARTED", "errorCode": None, "errorMessage": None, "updatedAt": stamp},
            "rawFiles": raw_files,
            "classification": None,
            "analysis": None,
        }
        with state.lock:
            state.archives[archive_id] = archive
            created = view(archive)
        state.emit("ARCHIVE_STARTED", {"userId": user_id, "archiveId": archive_id})
        status, analysis = analyse([f["content"] for f in files])
        delay = float(app.config["WINK_SANDBOX_ANALYSIS_DELAY"])
        if delay > 0:
            timer = threading.Timer(delay, finish, args=(archive_id, status, analysis))
            timer.daemon = True
            timer.start()
        else:
            finish(archive_id, status, analysis)
        return created

    def finish(archive_id: str, status: str, analysis: dict[str, Any] | None) -> None:
        """End the analysis, unless the archive was revoked meanwhile."""
        with state.lock:
            archive = state.archives.get(archive_id)
            if archive is None or archive["state"]["status"] != "STARTED":
                return
            error_code, error_message = FAILURES.get(status, (None, None))
            archive["state"] = {
                "status": status,
                "errorCode": error_code,
                "errorMessage": error_message,
                "updatedAt": iso(now()),
            }
            if status == "ANALYZED":
                archive["type"] = "PAYSLIP"
                archive["classification"] = {"fileType": "PAYSLIP"}
                archive["analysis"] = analysis
            user_id = archive["userId"]
        data = {"userId": user_id, "archiveId": archive_id}
        if status == "ANALYZED":
            state.emit("ARCHIVE_ANALYZED", data)
        else:
            state.emit("ARCHIVE_FAILED", data | {"errorCode": error_code, "errorMessage": error_message})

    def revoke(archive_id: str, user_id: str | None = None) -> dict[str, Any]:
        """REVOKED, with the files and the extracted data deleted; ARCHIVE_REVOKED the first time."""
        find(archive_id, user_id)
        with state.lock:
            archive = state.archives[archive_id]
            already = archive["state"]["status"] == "REVOKED"
            if not already:
                archive["state"] = {
                    "status": "REVOKED",
                    "errorCode": None,
                    "errorMessage": None,
                    "updatedAt": iso(now()),
                }
                archive["analysis"] = None
                for raw in archive["rawFiles"]:
                    contents.pop(raw["id"], None)
            revoked = view(archive)
        if not already:
            state.emit("ARCHIVE_REVOKED", {"userId": revoked["userId"], "archiveId": archive_id})
        return revoked

    # -- the Open API ---------------------------------------------------------------------

    @app.post("/v1/archives")
    def create_archive():
        body = json_body()
        user_id = body.get("userId")
        if user_id is None:
            # "If null, then Smile will create a new user associated with this archive."
            user, _token = state.create_user({})
            user_id = user["id"]
        elif not isinstance(user_id, str) or not user_id:
            raise SandboxError(400, "INVALID_PARAMETERS", "userId must be a string (or null).")
        else:
            state.user(user_id)  # 404 for an unknown user
        file_type = body.get("fileType")
        if file_type is not None and (not isinstance(file_type, str) or not 1 <= len(file_type) <= 50):
            raise SandboxError(400, "INVALID_PARAMETERS", "fileType must be a file type such as PAYSLIP.")
        # The spec's schema lists ``rawFiles`` but requires ``files``: take either.
        raw_files = body.get("rawFiles", body.get("files"))
        if not isinstance(raw_files, list) or not 1 <= len(raw_files) <= MAX_FILES:
            raise SandboxError(400, "INVALID_PARAMETERS", f"rawFiles must list 1 to {MAX_FILES} files.")
        files = [_api_file(i, item, file_type) for i, item in enumerate(raw_files)]
        return envelope(create(user_id, file_type, files, "tenant-provided"))

    @app.get("/v1/archives")
    def list_archives():
        user_id = request.args.get("userId") or None
        file_type = request.args.get("fileType") or None
        start = _date_param("startDate")
        end = _date_param("endDate")
        with state.lock:
            items = [
                view(a)
                for a in state.archives.values()
                if user_id in (None, a["userId"])
                and file_type in (None, a["type"])
                and (start is None or a["createdAt"][:10] >= start)
                and (end is None or a["createdAt"][:10] <= end)
            ]
        return envelope(page(items))

    @app.get("/v1/archives/<archive_id>")
    def get_archive(archive_id: str):
        with state.lock:
            return envelope(view(find(archive_id)))

    @app.delete("/v1/archives/<archive_id>")
    def revoke_archive(archive_id: str):
        revoke(archive_id)
        return envelope()

    @app.get("/v1/archives/<archive_id>/files/<file_id>")
    def archive_file(archive_id: str, file_id: str):
        archive = find(archive_id)
        raw = next((r for r in archive["rawFiles"] if r["id"] == file_id), None)
        content = contents.get(file_id)
        if raw is None or content is None:
            raise SandboxError(404, "MISSING_RESOURCE", f"File {file_id} was not found.")
        return Response(content, mimetype=MIMETYPES.get(raw["format"], "application/octet-stream"))

    # -- the widget's uploads (authenticated by the widget session) -------------------------

    @app.post("/widget/uploads")
    def widget_upload():
        body = json_body()
        user_id = state.session_user(str(body.get("sessionId") or ""))
        items = body.get("files")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_FILES:
            raise SandboxError(400, "INVALID_PARAMETERS", f"files must list 1 to {MAX_FILES} files.")
        files = [_widget_file(i, item) for i, item in enumerate(items)]
        # Each file the user picks becomes an archive of its own, so each can be removed alone.
        uploads = [create(user_id, "PAYSLIP", [f], "user-provided") for f in files]
        return _plain({"uploads": uploads})

    @app.post("/widget/uploads/list")
    def widget_uploads():
        body = json_body()
        user_id = state.session_user(str(body.get("sessionId") or ""))
        with state.lock:
            uploads = [view(a) for a in state.archives.values() if a["userId"] == user_id]
        return _plain({"uploads": uploads})

    @app.post("/widget/uploads/<archive_id>/remove")
    def widget_remove_upload(archive_id: str):
        body = json_body()
        user_id = state.session_user(str(body.get("sessionId") or ""))
        return _plain({"upload": revoke(archive_id, user_id)})

    # -- the sample payslips, for people to download and upload -----------------------------

    @app.get("/samples/<name>")
    def sample(name: str):
        if name not in SAMPLE_NAMES:
            raise SandboxError(404, "MISSING_RESOURCE", f"No sample named {name}.")
        mimetype = "application/pdf" if name.endswith(".pdf") else "image/png"
        return Response(
            sample_bytes(name),
            mimetype=mimetype,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


def _plain(data: dict[str, Any]) -> Response:
    return Response(json.dumps(data), mimetype="application/json")


def _decode(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise SandboxError(400, "INVALID_PARAMETERS", f"{where} must be base64 file content.")
    if len(value) > (MAX_FILE_BYTES * 4) // 3 + 4:
        raise SandboxError(400, "INVALID_PARAMETERS", f"{where} is larger than the 15 MB file limit.")
    try:
        content = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SandboxError(400, "INVALID_PARAMETERS", f"{where} is not valid base64.") from None
    if not content:
        raise SandboxError(400, "INVALID_PARAMETERS", f"{where} is empty.")
    return content


def _api_file(index: int, item: Any, file_type: str | None) -> dict[str, Any]:
    """One ``FileObject`` of a create request, checked."""
    where = f"rawFiles[{index}]"
    if not isinstance(item, dict):
        raise SandboxError(400, "INVALID_PARAMETERS", f"{where} must be an object.")
    extension = item.get("fileExtensionType")
    if extension not in FORMATS:
        raise SandboxError(
            400, "INVALID_PARAMETERS", f"{where}.fileExtensionType must be one of {', '.join(FORMATS)}."
        )
    subtype = item.get("fileSubtype")
    if subtype is not None and subtype not in FILE_SUBTYPES:
        raise SandboxError(400, "INVALID_PARAMETERS", f"{where}.fileSubtype is not a known subtype.")
    name = item.get("fileName")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 255):
        raise SandboxError(400, "INVALID_PARAMETERS", f"{where}.fileName must be 1-255 characters.")
    content = _decode(item.get("fileContent"), f"{where}.fileContent")
    return {
        "name": name or f"{(file_type or 'document').lower()}.{extension.lower()}",
        "format": extension,
        "subType": subtype or ("PAYSLIP" if file_type == "PAYSLIP" else None),
        "content": content,
    }


def _widget_file(index: int, item: Any) -> dict[str, Any]:
    """One file the widget read in the browser: ``{name, contentType, base64}``."""
    where = f"files[{index}]"
    if not isinstance(item, dict):
        raise SandboxError(400, "INVALID_PARAMETERS", f"{where} must be an object.")
    name = item.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise SandboxError(400, "INVALID_PARAMETERS", f"{where}.name must be 1-255 characters.")
    content = _decode(item.get("base64"), f"{where}.base64")
    declared = _declared_format(name, str(item.get("contentType") or ""))
    # The spec's RawFile.format only knows PDF/PNG/JPG/JPEG; other files keep their extension.
    extension = name.rsplit(".", 1)[-1].upper() if "." in name else "BIN"
    return {
        "name": name,
        "format": declared or sniff_format(content) or extension,
        "subType": "PAYSLIP",
        "content": content,
    }


def _declared_format(name: str, content_type: str) -> str | None:
    by_type = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG", "image/jpg": "JPG"}
    if content_type.lower() in by_type:
        return by_type[content_type.lower()]
    extension = name.rsplit(".", 1)[-1].upper() if "." in name else ""
    return extension if extension in FORMATS else None


def _date_param(name: str) -> str | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise SandboxError(400, "INVALID_PARAMETERS", f"{name} must be a date, YYYY-MM-DD.") from None
