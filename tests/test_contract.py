"""The kit's machine-readable contract: an OpenAPI 3.1 document at /wink/openapi.json, fuzzed with
schemathesis against the quickstart over loopback (bounded examples): no 5xx, every answer as
documented."""

from __future__ import annotations

import json

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_the_document_is_openapi_3_1_of_every_route(client):
    document = client.get("/wink/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    paths = document["paths"]
    for path in ("/wink/token", "/wink/callbacks", "/wink/webhooks", "/wink/events", "/wink/accounts",
                 "/wink/{provider}/token", "/wink/{provider}/events", "/wink/{provider}/webhooks"):
        assert path in paths, path
    assert paths["/wink/{provider}/token"]["parameters"][0]["schema"]["enum"] == ["smile-wink"]
    schemathesis.openapi.from_dict(document)  # a document schemathesis accepts
    routes = {rule.rule for rule in client.application.url_map.iter_rules() if rule.rule.startswith("/wink/")}
    documented = {p.replace("{provider}", "<provider>") for p in paths}
    assert routes - {"/wink/smile-wink/static/<path:filename>"} == documented


@pytest.fixture
def contract(quickstart_server):
    document = httpx.get(quickstart_server.url + "/wink/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    return quickstart_server, [result.ok() for result in schema.get_all_operations()]


def test_schemathesis_finds_no_5xx_and_no_answer_off_the_document(contract):
    served, operations = contract
    assert len(operations) >= 13
    # A browser's session and CSRF token, so fuzzed bodies get past the CSRF check and are stored.
    browser = requests.Session()
    token = browser.get(served.url + "/wink/csrf").json()["csrfToken"]
    statuses: set[int] = set()
    for operation in operations:

        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def exercise(case):
            response = case.call(base_url=served.url, session=browser, headers={"X-CSRFToken": token},
                                 timeout=30)
            statuses.add(response.status_code)
            case.validate_response(response, checks=CHECKS)

        exercise()
    assert {200, 201, 400} <= statuses  # the fuzz got past the door as well as being refused at it
    # Everything it stored reads back as strict JSON.
    listed = browser.get(served.url + "/wink/events?limit=500")
    assert listed.status_code == 200
    json.loads(listed.text, parse_constant=lambda name: pytest.fail(f"{name} in the listing"))
