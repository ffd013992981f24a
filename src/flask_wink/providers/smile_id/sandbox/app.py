"""An offline emulator of Smile ID's Smile Links: the REST API under ``/v1`` (links and
``job_status``) and the hosted link page, with signed callbacks. Same paths, fields, error shapes
and signatures as Smile ID's; docs/conformance.md lists where it still differs.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Flask, jsonify, render_template, request, url_for

from ....errors import VerificationError
from ....timeutil import parse_iso
from ..results import VERIFICATION_METHODS, VerificationStatus, describe
from ..signature import scheme, signed_fields
from .state import Job, Link, SandboxState

#: Fields ``POST /smile_links`` requires, as Smile ID's documentation marks them.
REQUIRED = ("callback_url", "company_name", "data_privacy_policy_url")
#: Smile ID's codes: a missing parameter, and a parameter of the wrong data type.
MISSING, WRONG_TYPE = "2213", "2204"
#: ``job_status``'s ``code``: the job is complete, or still in progress.
JOB_COMPLETE, JOB_IN_PROGRESS = "2302", "2314"
#: A 1x1 transparent PNG: what the emulator serves for every image of a job.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000b49444154789c63"
    "60000200000500017a5eab3f0000000049454e44ae426082"
)


class SmileIDFailure(Exception):
    """An answer in Smile ID's error shape: ``{"code": ..., "error": ...}``."""

    def __init__(self, status: int, code: str, error: str) -> None:
        super().__init__(error)
        self.status, self.code, self.error = status, code, error


def create_sandbox_app(**options: Any) -> Flask:
    """The emulator as a WSGI app; ``options`` go to :class:`SandboxState` (``partner_id``,
    ``api_key``, ``review_delay``, ``retry_delays``, ``page_size``, ``clock``...)."""
    app = Flask(__name__, template_folder="templates")
    state = SandboxState(**options)
    app.extensions["smile_id_sandbox"] = state

    @app.errorhandler(SmileIDFailure)
    def failure(exc: SmileIDFailure):
        return jsonify({"code": exc.code, "error": exc.error}), exc.status

    @app.errorhandler(404)
    def not_found(_exc):
        if request.path.startswith("/v1/"):
            return jsonify({"code": "2202", "error": "Not found"}), 404
        return render_template("smile_id_sandbox/error.html", message="This page does not exist."), 404

    @app.errorhandler(405)
    def not_allowed(_exc):
        return jsonify({"code": "2202", "error": "Method not allowed"}), 405

    @app.get("/")
    def home():
        return jsonify({"service": "Smile ID sandbox", "partner_id": state.partner_id, "api": url_for(
            "create_link", _external=True)})

    @app.get("/privacy")
    def privacy():
        # A page for WINK_SMILE_ID_PRIVACY_URL while trying the emulator (the lines it prints).
        return render_template("smile_id_sandbox/privacy.html")

    # -- REST API ------------------------------------------------------------------------

    @app.post("/v1/smile_links")
    def create_link():
        body = authorised(state)
        missing = [name for name in REQUIRED if body.get(name) in (None, "", [], {})]
        if missing:
            raise SmileIDFailure(400, MISSING, f"Missing parameter: {', '.join(missing)}")
        checked_fields(body)
        id_types = checked_id_types(body["id_types"]) if body.get("id_types") is not None else []
        params = body.get("partner_params") or {}
        if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
            raise wrong_type("partner_params must be an object of string values")
        expires_at = None
        if body.get("expires_at") is not None:
            try:
                expires_at = parse_iso(body["expires_at"])
            except (TypeError, ValueError, AttributeError):
                raise wrong_type("expires_at must be an ISO 8601 date-time") from None
        fields = {key: body.get(key) for key in (
            "name", "company_name", "callback_url", "data_privacy_policy_url", "logo_url",
            "is_single_use", "user_id", "redirect_url", "partner_id")}
        fields.update(id_types=id_types, partner_params=params,
                      is_single_use=body.get("is_single_use") is True)
        link = state.create_link(fields, expires_at)
        return jsonify({"link": link_url(link), "ref_id": link.ref_id})

    @app.post("/v1/smile_links/:list")
    def list_links():
        body = authorised(state)
        page = body.get("page") or 1
        if not isinstance(page, int) or isinstance(page, bool) or page < 1:
            raise wrong_type("page must be a whole number of at least 1")
        links, total, pages = state.page(page)
        return jsonify({
            "links": [link.as_dict(link_url(link)) for link in links],
            "meta": {"currentPage": page, "limit": state.page_size, "totalCount": total, "totalPages": pages},
        })

    @app.post("/v1/smile_links/<ref_id>")
    def get_link(ref_id: str):
        authorised(state)
        link = found(state, ref_id)
        return jsonify(link.as_dict(link_url(link)))

    @app.put("/v1/smile_links/<ref_id>")
    def update_link(ref_id: str):
        body = authorised(state)
        link = found(state, ref_id)
        if "id_types" in body:
            link.fields["id_types"] = checked_id_types(body["id_types"])
        if "is_disabled" in body:
            if not isinstance(body["is_disabled"], bool):
                raise wrong_type("is_disabled must be true or false")
            link.disabled_at = (link.disabled_at or state.now()) if body["is_disabled"] else None
        link.updated_at = state.now()
        data = link.as_dict(link_url(link))
        return jsonify({key: data[key] for key in ("disabled_at", "id_types", "link_url", "ref_id")})

    @app.post("/v1/job_status")
    def job_status():
        """The job's result as Smile ID reaches it, signed: ``job_complete`` false until the
        final result; ``history`` and ``image_links`` when asked."""
        body = authorised(state)
        missing = [name for name in ("user_id", "job_id") if body.get(name) in (None, "")]
        if missing:
            raise SmileIDFailure(400, MISSING, f"Missing parameter: {', '.join(missing)}")
        if not isinstance(body["user_id"], str) or not isinstance(body["job_id"], str):
            raise wrong_type("user_id and job_id must be strings")
        asked = {}
        for flag in ("image_links", "history"):
            value = body.get(flag)
            if value is not None and not isinstance(value, bool):
                raise wrong_type(f"{flag} must be true or false")
            asked[flag] = value is True
        job = state.job(body["user_id"], body["job_id"])
        if job is None:
            raise SmileIDFailure(404, "2202", "No job found for this user_id and job_id")
        return jsonify(job_answer(state, job, **asked))

    @app.post("/v1/sandbox/jobs")
    def add_job():
        """The emulator's own: record a result of a job as if a user had submitted it, without
        sending its callback (``flask wink trigger`` sends it), so that ``job_status`` answers with
        it. Signed like every request; answers the result's body. Smile ID has no such endpoint."""
        body = authorised(state)
        missing = [name for name in ("user_id", "job_id", "result_code") if body.get(name) in (None, "")]
        if missing:
            raise SmileIDFailure(400, MISSING, f"Missing parameter: {', '.join(missing)}")
        fields = ("user_id", "job_id", "result_code", "smile_job_id")
        if not all(isinstance(body.get(name), str) for name in fields if body.get(name) is not None):
            raise wrong_type("user_id, job_id, result_code and smile_job_id must be strings")
        if not isinstance(body.get("final", True), bool):
            raise wrong_type("final must be true or false")
        if describe(body["result_code"]) is None:
            raise wrong_type(f"result_code {body['result_code'][:20]} is not a code the emulator knows")
        result = state.add_job(body["user_id"], body["job_id"], body["result_code"],
                               final=body.get("final", True), smile_job_id=body.get("smile_job_id"))
        return jsonify(result)

    @app.get("/images/<smile_job_id>/<name>.png")
    def image(smile_job_id: str, name: str):
        return PIXEL, 200, {"Content-Type": "image/png"}

    # -- the hosted page -----------------------------------------------------------------

    @app.route("/links/<ref_id>", methods=["GET", "POST"])
    def hosted(ref_id: str):
        link = state.links.get(ref_id)
        if link is None:
            return page_error("This link does not exist.", 404)
        refusal = unusable(state, link)
        if refusal:
            return page_error(refusal, 410)
        id_types = link.fields.get("id_types") or []
        if request.method == "GET":
            return render_template("smile_id_sandbox/link.html", link=link, id_types=id_types, error=None)
        try:
            chosen = id_types[int(request.form.get("id_type", "0"))]
        except (ValueError, IndexError):
            chosen = None
        user_id = state.user_id_of(link)
        if request.form.get("action") == "cancel":
            state.cancel(link)
            return finish(link, "cancelled", user_id)
        id_number = (request.form.get("id_number") or "").strip()
        error = None
        if chosen is None:
            error = "Choose an ID type."
        elif not id_number.isalnum() or not 4 <= len(id_number) <= 30:
            error = "Enter the ID number: 4 to 30 letters or digits."
        elif not request.form.get("capture"):
            error = "Take the selfie or the photo of your document first."
        if error:
            page = render_template("smile_id_sandbox/link.html", link=link, id_types=id_types, error=error)
            return page, 400
        status, _ = state.submit(link, chosen, id_number)
        return finish(link, status, user_id)

    def finish(link: Link, status: str, user_id: str):
        redirect_url = link.fields.get("redirect_url")
        if not redirect_url:
            return render_template("smile_id_sandbox/done.html", link=link, status=status)
        parts = urlsplit(redirect_url)
        query = urlencode([*parse_qsl(parts.query), ("status", status), ("user_id", user_id)])
        return "", 302, {"Location": urlunsplit(parts._replace(query=query))}

    def page_error(message: str, status: int):
        return render_template("smile_id_sandbox/error.html", message=message), status

    return app


def link_url(link: Link) -> str:
    return url_for("hosted", ref_id=link.ref_id, _external=True)


def wrong_type(message: str) -> SmileIDFailure:
    """Smile ID's answer to a parameter of the wrong type: 400 with code 2204 (the same code
    also answers an unauthorised request, with 401: the HTTP status tells them apart)."""
    return SmileIDFailure(400, WRONG_TYPE, f"A parameter is of the wrong data type: {message}")


def job_answer(state: SandboxState, job: Job, *, image_links: bool, history: bool) -> dict[str, Any]:
    """``job_status``'s answer for ``job``, signed like every answer of Smile ID's."""
    with state.lock:
        results = [dict(r) for r in job.results]
        complete = job.complete
    latest = results[-1] if results else {}
    answer: dict[str, Any] = {
        "job_complete": complete,
        "job_success": complete and (describe(str(latest.get("ResultCode"))) or (None,))[0]
        is VerificationStatus.APPROVED,
        "code": JOB_COMPLETE if complete else JOB_IN_PROGRESS,
        "result": latest if results else "Job is in progress",
    }
    if history:
        answer["history"] = list(reversed(results))  # newest first
    if image_links:
        answer["image_links"] = {} if job.job_type == "5" else {
            "selfie_image": url_for("image", smile_job_id=job.smile_job_id, name="selfie", _external=True)}
    fields = signed_fields(state.partner_id, state.api_key, state.clock())
    answer.update(timestamp=fields["timestamp"], signature=fields["signature"])
    return answer


def authorised(state: SandboxState) -> dict[str, Any]:
    """The request's JSON body, once its partner id, timestamp and signature pass."""
    try:
        body = json.loads(request.get_data() or b"")
    except (ValueError, UnicodeDecodeError):
        raise SmileIDFailure(400, "2203", "Invalid JSON") from None
    if not isinstance(body, dict):
        raise SmileIDFailure(400, "2203", "Invalid JSON")
    missing = [name for name in ("partner_id", "timestamp", "signature") if not body.get(name)]
    if missing:
        raise SmileIDFailure(400, MISSING, f"Missing parameter: {', '.join(missing)}")
    if str(body["partner_id"]) != state.partner_id:
        raise SmileIDFailure(401, "2204", "You're not authorized to do that.")
    # Smile ID documents no window for the timestamp; its server library signs the time it sends
    # (``datetime.isoformat()``, with microseconds and ``+00:00``). A window is optional here.
    tolerance = state.timestamp_tolerance
    try:
        scheme(state.partner_id, state.api_key, max_age=tolerance, max_future=tolerance).check(
            b"", str(body["signature"]), str(body["timestamp"]), state.clock())
    except VerificationError:
        raise SmileIDFailure(401, "2205", "You're not authorized to do that.") from None
    return body


#: Text fields of a link and whether each must be an http(s) URL.
TEXT_FIELDS = {"name": False, "company_name": False, "user_id": False, "callback_url": True,
               "data_privacy_policy_url": True, "logo_url": True, "redirect_url": True}


def checked_fields(body: dict[str, Any]) -> None:
    """Smile ID's type checks: text fields are strings, URLs are http(s) URLs (nothing else is
    fetched, linked or redirected to), ``is_single_use`` is a boolean."""
    for key, is_url in TEXT_FIELDS.items():
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise wrong_type(f"{key} must be a string")
        if len(value) > 2000:
            raise SmileIDFailure(400, "2213", f"{key} is too long")
        if is_url and not is_http_url(value):
            raise SmileIDFailure(400, "2213", f"{key} must be a valid http or https URL")
    single = body.get("is_single_use")
    if single is not None and not isinstance(single, bool):
        raise wrong_type("is_single_use must be true or false")


def is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(
        c.isspace() or ord(c) < 32 for c in value)


def checked_id_types(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise wrong_type("id_types must be an array")
    checked = []
    for item in value:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) and item.get(k)
                                                 for k in ("country", "id_type", "verification_method")):
            raise SmileIDFailure(
                400, "2213", "Each id_types entry needs country, id_type and verification_method"
            )
        if item["verification_method"] not in VERIFICATION_METHODS:
            raise SmileIDFailure(
                400, "2213", f"verification_method must be one of {', '.join(VERIFICATION_METHODS)}"
            )
        checked.append({k: item[k] for k in ("country", "id_type", "verification_method")})
    return checked


def found(state: SandboxState, ref_id: str) -> Link:
    link = state.links.get(ref_id)
    if link is None:
        raise SmileIDFailure(404, "2202", "Link not found")
    return link


def unusable(state: SandboxState, link: Link) -> str | None:
    """Why the link cannot be used now, or None."""
    if link.disabled_at is not None:
        return "This link has been disabled."
    if link.expires_at <= state.now():
        return "This link has expired."
    if link.fields.get("is_single_use") and link.used:
        return "This link has already been used."
    return None
