"""Smile's response envelope and list paging, shared by every part of the sandbox's API."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Response, request

from .state import SandboxError

MAX_PAGE = 150


def envelope(data: Any = None, status: int = 200, code: str = "OK", message: str = "Success") -> Response:
    """``{code, message, requestId, data}``, as every Smile answer is shaped."""
    body = {"code": code, "message": message, "requestId": str(uuid.uuid4())}
    if data is not None:
        body["data"] = data
    return Response(json.dumps(body), status=status, mimetype="application/json")


def page(items: list[dict[str, Any]]) -> dict[str, Any]:
    """One page of ``items`` per the request's ``cursor`` and ``size``; ``nextCursor`` null at the end."""
    size = int_param("size", 10, 1, MAX_PAGE)
    start = int_param("cursor", 0, 0, None)
    chunk = items[start : start + size]
    more = start + size < len(items)
    return {"nextCursor": str(start + size) if more else None, "items": chunk}


def json_body(optional: bool = False) -> dict[str, Any]:
    """The request's JSON object, or a 400 INVALID_PARAMETERS."""
    raw = request.get_data(cache=True)
    if not raw and optional:
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SandboxError(400, "INVALID_PARAMETERS", "The body must be JSON.") from None
    if not isinstance(body, dict):
        raise SandboxError(400, "INVALID_PARAMETERS", "The body must be a JSON object.")
    return body


def int_param(name: str, default: int, low: int, high: int | None) -> int:
    """A whole-number query parameter within bounds, or a 400 INVALID_PARAMETERS."""
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SandboxError(400, "INVALID_PARAMETERS", f"{name} must be a whole number.") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise SandboxError(400, "INVALID_PARAMETERS", f"{name} must be {bound}.")
    return value
