"""UCW's request validation, with its messages: UCW validates with Joi, stops at the first
problem (keys in the schema's order, then unknown keys, then peer rules), answers 400 with the
message as text and HTML-escapes its quotes as ``&#x22;``."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from ..events import JOB_TYPES

#: UCW's aggregators, in its adapter map's order (each production one with its test twin).
AGGREGATORS = (
    "akoya", "akoya_sandbox", "finicity", "finicity_sandbox", "mx", "mx_int", "sophtron", "plaid",
    "plaid_sandbox",
)
#: The ones ``aggregatorOverride`` may name (no test twins).
NON_TEST_AGGREGATORS = ("akoya", "finicity", "mx", "sophtron", "plaid")
#: Aggregators UCW needs no ``userId`` for.
USERLESS_AGGREGATORS = ("plaid", "plaid_sandbox")

CONNECTION_HEADER_REQUIRED = "UCW-Connection-Id header is required"


def escaped(message: str) -> str:
    """A message as UCW sends it: HTML-escaped, quotes as ``&#x22;``."""
    return html.escape(message, quote=False).replace('"', "&#x22;")


TARGET_ORIGIN_PROBLEM = '"targetOrigin" must be a valid uri with a scheme matching the http|https pattern'

# RFC 3986, as Joi's ``uri()`` checks it: an absolute URI whose scheme is http or https.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_USERINFO = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*"
_HOST = rf"(?:\[[0-9A-Fa-f:.vV]+\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*)"
_AUTHORITY = rf"(?:{_USERINFO}@)?{_HOST}(?::\d*)?"
_HIER = rf"(?://{_AUTHORITY}(?:/{_PCHAR}*)*|/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?|{_PCHAR}+(?:/{_PCHAR}*)*|)"
_QUERY = rf"(?:{_PCHAR}|[/?])*"
HTTP_URI_RE = re.compile(rf"(?:http|https):{_HIER}(?:\?{_QUERY})?(?:#{_QUERY})?")


def is_http_uri(value: str) -> bool:
    """Whether ``value`` is an http(s) URI as Joi's ``uri({scheme: ['http', 'https']})`` sees it."""
    return bool(HTTP_URI_RE.fullmatch(value))


Rule = Callable[[str, Any], str | None]


def _string(label: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return f'"{label}" must be a string'
    if value == "":
        return f'"{label}" is not allowed to be empty'
    return None


def _one_of(choices: tuple[str, ...]) -> Rule:
    def rule(label: str, value: Any) -> str | None:
        # Joi checks the allowed values before the type: a number or "" is "must be one of".
        if value not in choices:
            return f'"{label}" must be one of [{", ".join(choices)}]'
        return None
    return rule


def _job_types(label: str, value: Any) -> str | None:
    if not isinstance(value, list):
        return f'"{label}" must be an array'
    for index, item in enumerate(value):
        if item not in JOB_TYPES:
            return f'"{label}[{index}]" must be one of [{", ".join(JOB_TYPES)}]'
    if not value:
        return f'"{label}" must contain at least 1 items'
    return None


def as_boolean(value: Any) -> bool | None:
    """Joi's ``bool()`` with conversion: a boolean, or the string true/false in any case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _boolean(label: str, value: Any) -> str | None:
    return None if as_boolean(value) is not None else f'"{label}" must be a boolean'


def _target_origin(label: str, value: Any) -> str | None:
    problem = _string(label, value)
    if problem is None and not is_http_uri(value):
        problem = TARGET_ORIGIN_PROBLEM
    return problem


def job_types_problem(value: Any, *, present: bool) -> str | None:
    """What is wrong with a ``jobTypes`` array, or None."""
    if not present:
        return '"jobTypes" is required'
    return _job_types("jobTypes", value)


#: ``POST /widgetUrl``'s schema, in UCW's key order: (key, required, rule).
WIDGET_URL_SCHEMA: tuple[tuple[str, bool, Rule], ...] = (
    ("connectionId", False, _string),
    ("institutionId", False, _string),
    ("jobTypes", True, _job_types),
    ("aggregator", False, _one_of(AGGREGATORS)),
    ("singleAccountSelect", False, _boolean),
    ("userId", True, _string),
    ("token", False, _string),
    ("aggregatorOverride", False, _one_of(NON_TEST_AGGREGATORS)),
    ("targetOrigin", True, _target_origin),
)
WIDGET_URL_KEYS = tuple(key for key, _, _ in WIDGET_URL_SCHEMA)


def _first_problem(body: Mapping[str, Any], schema: tuple[tuple[str, bool, Rule], ...],
                   required_message: Callable[[str], str | None] = lambda key: None) -> str | None:
    for key, required, rule in schema:
        if key not in body:
            if required:
                return required_message(key) or f'"{key}" is required'
            continue
        problem = rule(key, body[key])
        if problem:
            return problem
    known = {key for key, _, _ in schema}
    unknown = [key for key in body if key not in known]
    return f'"{unknown[0]}" is not allowed' if unknown else None


def widget_url_problem(body: Any) -> str | None:
    """What is wrong with a ``POST /widgetUrl`` body (unescaped), or None."""
    if not isinstance(body, Mapping):
        return '"value" must be of type object'

    def peer_required(key: str) -> str | None:
        # With an aggregator, UCW's schema makes both ids required, with messages of its own.
        if "aggregator" in body and key in ("connectionId", "institutionId"):
            return f"aggregator missing required peer {key}"
        return None

    schema = tuple((key, required or peer_required(key) is not None, rule)
                   for key, required, rule in WIDGET_URL_SCHEMA)
    return _first_problem(body, schema, peer_required) or peers_problem(body)


def widget_params(body: Mapping[str, Any]) -> dict[str, Any]:
    """A valid body's values as Joi hands them on (``singleAccountSelect`` converted)."""
    params = dict(body)
    if "singleAccountSelect" in params:
        params["singleAccountSelect"] = as_boolean(params["singleAccountSelect"])
    return params


def peers_problem(params: Mapping[str, Any]) -> str | None:
    """A refresh names the connection with its institution and aggregator (Joi's ``with``)."""
    if "connectionId" in params:
        for peer in ("institutionId", "aggregator"):
            if peer not in params:
                return f'"connectionId" missing required peer "{peer}"'
    return None


# -- the data endpoints -----------------------------------------------------------------------

def aggregator_problem(query: Mapping[str, Any]) -> str | None:
    """UCW's first check on every data and delete endpoint (its answer is text)."""
    if "aggregator" not in query:
        return '"aggregator" is required'
    return _one_of(AGGREGATORS)("aggregator", query["aggregator"])


def _user_id_required(query: Mapping[str, Any]) -> bool:
    return query.get("aggregator") not in USERLESS_AGGREGATORS


def _iso_date(label: str, value: Any) -> str | None:
    problem = _string(label, value)
    if problem is None and not is_iso_date(value):
        problem = f'"{label}" must be in ISO 8601 date format'
    return problem


# Joi's isoDate: a date with an optional time and zone.
_ISO_DATE_RE = re.compile(
    r"\d{4}(?:-?\d{2}(?:-?\d{2})?)?"
    r"(?:[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)


def is_iso_date(value: str) -> bool:
    """Whether Joi's ``isoDate()`` takes ``value`` (a date, maybe with a time and a zone)."""
    if not _ISO_DATE_RE.fullmatch(value):
        return False
    digits = re.sub(r"\D", "", value[:10])
    try:
        date(int(digits[:4]), int(digits[4:6] or 1), int(digits[6:8] or 1))
    except ValueError:
        return False
    return True


def data_query_problem(
    query: Mapping[str, Any], connection_id: str | None, *, transactions: bool
) -> str | None:
    """What is wrong with a data endpoint's query (and its ``UCW-Connection-Id``), or None."""
    values = dict(query)
    values.pop("connectionId", None)  # the header's value stands in for it, even when absent
    if connection_id is not None:
        values["connectionId"] = connection_id
    user_required = _user_id_required(query)
    schema: tuple[tuple[str, bool, Rule], ...]
    if transactions:
        schema = (("accountId", True, _string), ("aggregator", True, _string),
                  ("userId", user_required, _string), ("connectionId", False, _string),
                  ("startDate", False, _iso_date), ("endDate", False, _iso_date))
    else:
        schema = (("aggregator", True, _string), ("userId", user_required, _string),
                  ("connectionId", True, _string))
    return _first_problem(values, schema,
                          lambda key: CONNECTION_HEADER_REQUIRED if key == "connectionId" else None)


def delete_query_problem(query: Mapping[str, Any], connection_id: str | None, *, user: bool) -> str | None:
    """What is wrong with ``DELETE /api/user`` (``user``) or ``DELETE /api/connection``'s query."""
    values = dict(query)
    if user:
        schema: tuple[tuple[str, bool, Rule], ...] = (
            ("aggregator", True, _string), ("userId", True, _string))
    else:
        if connection_id:
            values["connectionId"] = connection_id
        schema = (("aggregator", True, _string), ("userId", _user_id_required(query), _string),
                  ("connectionId", True, _string))
    return _first_problem(values, schema)


def plain_date(value: str | None) -> date | None:
    """UCW's adapters take YYYY-MM-DD only (no time); None for anything else."""
    if value is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
