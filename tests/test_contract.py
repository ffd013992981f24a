"""The kit's machine-readable contract: an OpenAPI 3.1 document at /wink/openapi.json, fuzzed with
schemathesis against the quickstart over loopback (bounded examples): no 5xx, every answer as
documented."""

from __future__ import annotations

import json
import re

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from flask_wink import get_state
from flask_wink.provider import blueprint_of, url_segment

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# A request the document allows is never refused (400, 411, 413, 415, 422): the document is as
# strict as the server.
POSITIVE_CHECKS = [*CHECKS, positive_data_acceptance]


def test_the_document_is_openapi_3_1_of_every_route(client):
    document = client.get("/wink/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    paths = document["paths"]
    for path in ("/wink/token", "/wink/callbacks", "/wink/webhooks", "/wink/events", "/wink/accounts",
                 "/wink/smile-wink/token", "/wink/smile-wink/callbacks", "/wink/smile-wink/events",
                 "/wink/smile-wink/webhooks"):
        assert path in paths, path
    schemathesis.openapi.from_dict(document)  # a document schemathesis accepts
    assert kit_routes(client.application) == documented(document)


def kit_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every route the kit and its enabled providers registered on ``app``, a
    provider's route once per enabled provider, in OpenAPI's spelling (``{name}``)."""
    state = get_state(app)
    blueprints = {"wink"} | {parts.name for p in state.providers.values() if (parts := blueprint_of(p))}
    segments = [url_segment(name) for name in state.providers]
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in blueprints:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            for segment in segments if "{provider}" in path else [None]:
                found.add((method.lower(), path.replace("{provider}", segment) if segment else path))
    return found


def documented(document) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item
            if method != "parameters"}


def test_every_route_of_the_kit_and_its_providers_is_in_the_document(quickstart_server):
    document = httpx.get(quickstart_server.url + "/wink/openapi.json").json()
    routes = kit_routes(quickstart_server.app)
    assert {("post", "/wink/smile-id/start"), ("get", "/wink/ucw/connections")} <= routes
    assert routes - documented(document) == set()
    assert documented(document) - routes == set()


@pytest.fixture
def contract(quickstart_server):
    document = httpx.get(quickstart_server.url + "/wink/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    return quickstart_server, [result.ok() for result in schema.get_all_operations()]


def fuzz(operation, mode, checks, examples, call) -> set[int]:
    """Run ``examples`` cases of ``mode`` against ``operation``; the statuses answered."""
    statuses: set[int] = set()

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case):
        response = call(case)
        statuses.add(response.status_code)
        case.validate_response(response, checks=checks)

    try:
        exercise()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing of the operation can be sent wrong
    return statuses


def test_schemathesis_finds_no_5xx_and_no_answer_off_the_document(contract):
    served, operations = contract
    assert len(operations) >= 28
    # A browser's session and CSRF token, so fuzzed bodies get past the CSRF check and are stored.
    browser = requests.Session()
    token = browser.get(served.url + "/wink/csrf").json()["csrfToken"]

    def call(case):
        # A redirect is the answer under test (Smile ID's start), not the page it leads to.
        return case.call(base_url=served.url, session=browser, headers={"X-CSRFToken": token}, timeout=30,
                         allow_redirects=False)

    accepted: set[int] = set()
    refused: set[int] = set()
    for operation in operations:
        # Schema-valid cases, every one accepted; then schema-invalid ones, each answered as documented.
        accepted |= fuzz(operation, GenerationMode.POSITIVE, POSITIVE_CHECKS, 25, call)
        refused |= fuzz(operation, GenerationMode.NEGATIVE, CHECKS, 10, call)
    # The fuzz got past the door as well as being refused at it.
    assert {200, 201} <= accepted and 400 in refused
    # Everything it stored reads back as strict JSON.
    listed = browser.get(served.url + "/wink/events?limit=500")
    assert listed.status_code == 200
    json.loads(listed.text, parse_constant=lambda name: pytest.fail(f"{name} in the listing"))


def test_a_provider_without_browser_events_answers_404_on_its_callbacks_route(quickstart_server):
    browser = requests.Session()
    token = browser.get(quickstart_server.url + "/wink/csrf").json()["csrfToken"]
    answer = browser.post(quickstart_server.url + "/wink/smile-id/events", json={"name": "linkStarted"},
                          headers={"X-CSRFToken": token})
    assert answer.status_code == 404
    assert answer.json()["message"] == "Smile ID reports no browser events."


def test_a_ucw_refresh_naming_no_connection_key_is_refused_by_the_token_route_too(quickstart_server):
    browser = requests.Session()
    token = browser.get(quickstart_server.url + "/wink/csrf").json()["csrfToken"]
    for answer in (browser.post(quickstart_server.url + "/wink/ucw/token?connection=nonsense",
                                headers={"X-CSRFToken": token}),
                   browser.get(quickstart_server.url + "/wink/ucw/link?connection=nonsense")):
        assert answer.status_code == 400
        assert answer.json()["message"] == (
            "connection must be a connection key as the connections list gives it.")
