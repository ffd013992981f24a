"""UCW's request validation, with its messages: UCW validates with Joi, stops at the first
problem, answers 400 with the message as text and HTML-escapes its quotes as ``&#x22;``."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ..events import JOB_TYPES

WIDGET_URL_KEYS = (
    "jobTypes", "userId", "targetOrigin", "institutionId", "connectionId", "aggregator",
    "singleAccountSelect",
)


def escaped(message: str) -> str:
    """A message as UCW sends it: HTML-escaped, quotes as ``&#x22;``."""
    return html.escape(message, quote=False).replace('"', "&#x22;")


TARGET_ORIGIN_PROBLEM = '"targetOrigin" must be a valid uri with a scheme matching the http|https pattern'


def is_http_uri(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _string(body: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    if key not in body or body[key] is None:
        return f'"{key}" is required' if required else None
    value = body[key]
    if not isinstance(value, str):
        return f'"{key}" must be a string'
    if value == "":
        return f'"{key}" is not allowed to be empty'
    return None


def job_types_problem(value: Any, *, present: bool) -> str | None:
    """What is wrong with a ``jobTypes`` array, or None."""
    if not present or value is None:
        return '"jobTypes" is required'
    if not isinstance(value, list):
        return '"jobTypes" must be an array'
    if not value:
        return '"jobTypes" must contain at least 1 items'
    for index, item in enumerate(value):
        if item not in JOB_TYPES:
            return f'"jobTypes[{index}]" must be one of [{", ".join(JOB_TYPES)}]'
    return None


def widget_url_problem(body: Any) -> str | None:
    """What is wrong with a ``POST /widgetUrl`` body (unescaped), or None."""
    if not isinstance(body, Mapping):
        return '"value" must be of type object'
    problem = job_types_problem(body.get("jobTypes"), present="jobTypes" in body)
    problem = problem or _string(body, "userId", required=True)
    if problem is None:
        if "targetOrigin" not in body or body["targetOrigin"] is None:
            problem = '"targetOrigin" is required'
        elif not isinstance(body["targetOrigin"], str):
            problem = '"targetOrigin" must be a string'
        elif not is_http_uri(body["targetOrigin"]):
            problem = TARGET_ORIGIN_PROBLEM
    for key in ("institutionId", "connectionId", "aggregator"):
        problem = problem or _string(body, key, required=False)
    single = body.get("singleAccountSelect", False)
    if problem is None and not isinstance(single, bool):
        problem = '"singleAccountSelect" must be a boolean'
    if problem is None:
        unknown = [key for key in body if key not in WIDGET_URL_KEYS]
        if unknown:
            problem = f'"{unknown[0]}" is not allowed'
    return problem or peers_problem(body)


def peers_problem(params: Mapping[str, Any]) -> str | None:
    """A refresh names the connection, its aggregator and its institution together."""
    given = {key for key in ("connectionId", "aggregator", "institutionId") if params.get(key)}
    for main, peers in (("connectionId", ("aggregator", "institutionId")),
                        ("aggregator", ("connectionId", "institutionId"))):
        if main in given:
            for peer in peers:
                if peer not in given:
                    return f'"{main}" missing required peer "{peer}"'
    return None
