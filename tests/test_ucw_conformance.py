"""The UCW emulator answers as UCW's server does (its Joi schemas, express's body parsers, its
data and delete handlers, its OpenAPI examples), over real HTTP on loopback."""

from __future__ import annotations

import base64
import html
import json
from datetime import date, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from flask_wink import get_state
from flask_wink.providers.ucw import CONNECTED, connection_key
from flask_wink.providers.ucw.sandbox import mint_jwt
from flask_wink.providers.ucw.testing import run_ucw_sandbox
from ucw_host import make_ucw_app

GOOD = {"jobTypes": ["transactions"], "userId": "u-1", "targetOrigin": "http://127.0.0.1:5000"}
AGGREGATORS = "akoya, akoya_sandbox, finicity, finicity_sandbox, mx, mx_int, sophtron, plaid, plaid_sandbox"


@pytest.fixture
def ucw():
    with run_ucw_sandbox() as served:
        yield served


def refusal(response, status=400) -> str:
    assert response.status_code == status, response.text
    return html.unescape(response.text)


def widget_url(ucw, **body):
    return httpx.post(ucw.url + "/widgetUrl", json={**GOOD, **body})


# -- POST /widgetUrl ----------------------------------------------------------------------------

@pytest.mark.parametrize("key, message", [
    ("jobTypes", '"jobTypes" must be an array'),
    ("userId", '"userId" must be a string'),
    ("targetOrigin", '"targetOrigin" must be a string'),
    ("institutionId", '"institutionId" must be a string'),
    ("singleAccountSelect", '"singleAccountSelect" must be a boolean'),
])
def test_widget_url_null_values_are_refused_by_type(ucw, key, message):
    assert refusal(widget_url(ucw, **{key: None})) == message


@pytest.mark.parametrize("content, content_type", [
    (b"", "application/json"), (b"", None), (b"jobTypes please", "text/plain"),
])
def test_widget_url_empty_or_text_bodies_are_an_empty_object(ucw, content, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    answer = httpx.post(ucw.url + "/widgetUrl", content=content, headers=headers)
    assert refusal(answer) == '"jobTypes" is required'


def test_widget_url_takes_a_form_as_express_reads_it(ucw):
    form = "jobTypes[]=transactions&userId=u-1&targetOrigin=http%3A%2F%2F127.0.0.1%3A5000"
    answer = httpx.post(ucw.url + "/widgetUrl", content=form.encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200 and "widgetUrl" in answer.json()
    single = form.replace("jobTypes[]", "jobTypes")
    answer = httpx.post(ucw.url + "/widgetUrl", content=single.encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert refusal(answer) == '"jobTypes" must be an array'


@pytest.mark.parametrize("body, message", [
    (b'{"jobTypes": [', "Unexpected end of JSON input"),
    (b"{bad", "Expected property name or '}' in JSON at position 1"),
    (b'{"a": 1,}', "Expected double-quoted property name in JSON at position 8"),
    (b'{"a" 1}', "Expected ':' after property name in JSON at position 5"),
    (b'{"a": 1 "b": 2}', "Expected ',' or '}' after property value in JSON at position 8"),
    (b'[1 2]', "Expected ',' or ']' after array element in JSON at position 3"),
    (b'{"a": 1} x', "Unexpected non-whitespace character after JSON at position 9"),
    (b'"text"', 'Unexpected token \'"\', ""text"" is not valid JSON'),
    (b'{"jobTypes": ["transactions"], "userId": nope}',
     'Unexpected token \'n\', ...""userId": nope}" is not valid JSON'),
    (b'plain words, not JSON at all', 'Unexpected token \'p\', "plain word"... is not valid JSON'),
])
def test_malformed_json_is_400_with_the_parsers_message(ucw, body, message):
    answer = httpx.post(ucw.url + "/widgetUrl", content=body, headers={"Content-Type": "application/json"})
    assert refusal(answer) == message


def test_a_body_over_100_kb_is_413(ucw):
    answer = httpx.post(ucw.url + "/widgetUrl", json={**GOOD, "userId": "u" * (100 * 1024)})
    assert refusal(answer, 413) == "request entity too large"


def test_aggregator_is_one_of_ucws_list(ucw):
    refresh = {"connectionId": "MBR-1", "institutionId": "mxBank"}
    assert refusal(widget_url(ucw, aggregator="bank", **refresh)) == (
        f'"aggregator" must be one of [{AGGREGATORS}]')
    assert widget_url(ucw, aggregator="mx_int", **refresh).status_code == 200


def test_token_and_aggregator_override_are_accepted(ucw):
    assert widget_url(ucw, token="t-1", aggregatorOverride="sophtron").status_code == 200
    assert refusal(widget_url(ucw, aggregatorOverride="mx_int")) == (
        '"aggregatorOverride" must be one of [akoya, finicity, mx, sophtron, plaid]')


@pytest.mark.parametrize("value", ["true", "FALSE"])
def test_single_account_select_takes_joi_booleans(ucw, value):
    assert widget_url(ucw, singleAccountSelect=value).status_code == 200


def test_single_account_select_string_false_skips_account_select(ucw):
    url = widget_url(ucw, jobTypes=["accountNumber"], singleAccountSelect="false").json()["widgetUrl"]
    session = start(ucw, url).json()["session"]
    member = httpx.post(ucw.url + "/widget/api/members", headers={"X-UCW-Session": session},
                        json={"institutionId": "sophtronBankNoMFA", "username": "asdf", "password": "asdf"})
    assert member.json()["status"] == "CONNECTED"


@pytest.mark.parametrize("origin", ["http://app .test", "https://app.test/ x", "http://<app>.test"])
def test_a_target_origin_with_a_space_or_bad_character_is_refused(ucw, origin):
    assert refusal(widget_url(ucw, targetOrigin=origin)) == (
        '"targetOrigin" must be a valid uri with a scheme matching the http|https pattern')


@pytest.mark.parametrize("body, message", [
    ({"jobTypes": None, "userId": 5, "targetOrigin": 5}, '"jobTypes" must be an array'),
    ({**GOOD, "userId": 5, "connectionId": 5}, '"connectionId" must be a string'),
    ({"jobTypes": ["transactions"], "targetOrigin": 5}, '"userId" is required'),
    ({**GOOD, "colour": "red", "userId": ""}, '"userId" is not allowed to be empty'),
    ({**GOOD, "colour": "red", "connectionId": "MBR-1"}, '"colour" is not allowed'),
    ({**GOOD, "aggregator": "mx"}, "aggregator missing required peer connectionId"),
    ({**GOOD, "aggregator": "mx", "connectionId": "MBR-1"}, "aggregator missing required peer institutionId"),
])
def test_the_first_error_follows_the_schemas_key_order(ucw, body, message):
    assert refusal(httpx.post(ucw.url + "/widgetUrl", json=body)) == message


# -- the widget's token -------------------------------------------------------------------------

def start(ucw, url):
    return httpx.post(ucw.url + "/widget/api/instrumentation", json={"query": urlsplit(url).query})


def test_the_widget_passes_single_account_select_and_job_types_on(ucw):
    url = widget_url(ucw, jobTypes=["accountNumber", "transactions"]).json()["widgetUrl"]
    config = start(ucw, url).json()
    assert config["jobTypes"] == ["accountNumber", "transactions"] and config["refresh"] is False


# -- data endpoints -----------------------------------------------------------------------------

def connect(ucw, user="u-1", guid="mxBank", username="mxuser", password="correct", **params):
    url = widget_url(ucw, userId=user, **params).json()["widgetUrl"]
    session = start(ucw, url).json()["session"]
    return httpx.post(ucw.url + "/widget/api/members", headers={"X-UCW-Session": session},
                      json={"institutionId": guid, "username": username, "password": password}).json()


def test_data_endpoints_want_the_connection_header_as_a_json_string(ucw):
    answer = httpx.get(ucw.url + "/api/data/identity", params={"aggregator": "mx", "userId": "u-1"})
    assert answer.status_code == 400 and answer.json() == "UCW-Connection-Id header is required"


def test_data_endpoints_refuse_unknown_query_keys(ucw):
    member = connect(ucw)
    answer = httpx.get(ucw.url + "/api/data/accounts",
                       params={"aggregator": "mx", "userId": "u-1", "foo": "1"},
                       headers={"UCW-Connection-Id": member["connectionId"]})
    assert answer.status_code == 400 and html.unescape(answer.json()) == '"foo" is not allowed'


def test_data_endpoints_check_the_aggregator_against_ucws_list(ucw):
    bad = httpx.get(ucw.url + "/api/data/accounts", params={"aggregator": "bank", "userId": "u-1"})
    assert refusal(bad) == f'"aggregator" must be one of [{AGGREGATORS}]'
    missing = httpx.get(ucw.url + "/api/data/accounts", params={"userId": "u-1"})
    assert refusal(missing) == '"aggregator" is required'
    mx_int = httpx.get(ucw.url + "/api/data/accounts", params={"aggregator": "mx_int", "userId": "u-1"},
                       headers={"UCW-Connection-Id": "MBR-1"})
    assert mx_int.status_code == 404 and mx_int.json() == {"message": "Can't resolve userId"}


@pytest.mark.parametrize("value, status, message", [
    ("2024-01-01T00:00:00Z", 400, {"message": "startDate must be a valid ISO 8601 date string"}),
    ("yesterday", 400, "&#x22;startDate&#x22; must be in ISO 8601 date format"),
])
def test_transaction_dates_are_yyyy_mm_dd_with_ucws_messages(ucw, value, status, message):
    member = connect(ucw)
    accounts = httpx.get(ucw.url + "/api/data/accounts", params={"aggregator": "mx", "userId": "u-1"},
                         headers={"UCW-Connection-Id": member["connectionId"]}).json()["accounts"]
    query = {"aggregator": "mx", "userId": "u-1", "accountId": accounts[0]["depositAccount"]["accountId"],
             "startDate": value}
    answer = httpx.get(ucw.url + "/api/data/transactions", params=query)
    assert answer.status_code == status and answer.json() == message


def test_transactions_default_to_120_days_back(ucw):
    member = connect(ucw)
    accounts = httpx.get(ucw.url + "/api/data/accounts", params={"aggregator": "mx", "userId": "u-1"},
                         headers={"UCW-Connection-Id": member["connectionId"]}).json()["accounts"]
    query = {"aggregator": "mx", "userId": "u-1", "accountId": accounts[0]["depositAccount"]["accountId"]}
    found = httpx.get(ucw.url + "/api/data/transactions", params=query).json()["transactions"]
    days = [date.fromisoformat(t["depositTransaction"]["postedTimestamp"][:10]) for t in found]
    assert max(days) == date.today() and min(days) >= date.today() - timedelta(days=120)
    assert min(days) <= date.today() - timedelta(days=118)


def test_fdx_shapes_follow_ucws_openapi_examples(ucw):
    member = connect(ucw, jobTypes=["accountNumber", "accountOwner", "transactions"])
    header = {"UCW-Connection-Id": member["connectionId"]}
    query = {"aggregator": "mx", "userId": "u-1"}
    accounts = httpx.get(ucw.url + "/api/data/accounts", params=query, headers=header).json()
    assert accounts["id"] == member["aggregatorUserId"]
    deposit = accounts["accounts"][0]["depositAccount"]
    assert deposit["accountNumber"] and deposit["routingTransitNumber"] == "111111111"
    assert deposit["balanceType"] == "ASSET"
    assert {"accountOpenDate", "lastActivityDate", "balanceAsOf", "interestRate", "annualPercentageYield",
            "currency", "openingDayBalance", "maturityDate"} <= set(deposit)
    assert {a["name"] for a in deposit["fiAttributes"]} == {
        "member_guid", "institution_guid", "external_guid", "institution_name"}
    identity = httpx.get(ucw.url + "/api/data/identity", params=query, headers=header).json()
    assert identity["id"] == member["aggregatorUserId"]
    assert len(identity["customers"]) == len(accounts["accounts"])  # one per account, as MX answers
    assert identity["customers"][0]["addresses"][0]["state"] == "UT"
    found = httpx.get(ucw.url + "/api/data/transactions",
                      params={**query, "accountId": deposit["accountId"]}).json()["transactions"]
    first = found[0]["depositTransaction"]
    assert {"memo", "category", "checkNumber", "fiAttributes"} <= set(first)


def test_account_numbers_come_only_with_the_account_number_job_type(ucw):
    member = connect(ucw, jobTypes=["transactions"])
    accounts = httpx.get(ucw.url + "/api/data/accounts", params={"aggregator": "mx", "userId": "u-1"},
                         headers={"UCW-Connection-Id": member["connectionId"]}).json()["accounts"]
    assert accounts[0]["depositAccount"]["accountNumber"] is None
    assert accounts[0]["depositAccount"]["routingTransitNumber"] is None


def test_vc_endpoints_answer_a_jwt_credential(ucw):
    member = connect(ucw)
    answer = httpx.get(ucw.url + "/api/vc/data/accounts", params={"aggregator": "mx", "userId": "u-1"},
                       headers={"UCW-Connection-Id": member["connectionId"]})
    payload = answer.json()["jwt"].split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert "FinancialAccountCredential" in decoded["vc"]["type"]
    assert len(decoded["vc"]["credentialSubject"]["accounts"]) == 2


def test_health_says_healthy_even_with_authentication_on():
    with run_ucw_sandbox(bearer_token="secret") as ucw:
        answer = httpx.get(ucw.url + "/health")
        assert answer.status_code == 200 and answer.text == "healthy"


# -- deletes ------------------------------------------------------------------------------------

def test_delete_connection_requires_the_user(ucw):
    member = connect(ucw)
    answer = httpx.delete(ucw.url + "/api/connection", params={"aggregator": "mx"},
                          headers={"UCW-Connection-Id": member["connectionId"]})
    assert refusal(answer) == '"userId" is required'
    no_header = httpx.delete(ucw.url + "/api/connection", params={"aggregator": "mx", "userId": "u-1"})
    assert refusal(no_header) == '"connectionId" is required'


def test_delete_connection_deletes_only_that_users_connection(ucw):
    member = connect(ucw)
    connect(ucw, user="u-2")
    header = {"UCW-Connection-Id": member["connectionId"]}
    theirs = httpx.delete(ucw.url + "/api/connection", params={"aggregator": "mx", "userId": "u-2"},
                          headers=header)
    assert theirs.status_code == 404
    still = httpx.get(ucw.url + "/api/data/accounts", params={"aggregator": "mx", "userId": "u-1"},
                      headers=header)
    assert still.status_code == 200
    mine = httpx.delete(ucw.url + "/api/connection", params={"aggregator": "mx", "userId": "u-1"},
                        headers=header)
    assert mine.status_code == 204


# -- UCW's own authentication: a JWT bearer ------------------------------------------------------

JWT = {"jwt_secret": "jwt-secret", "jwt_audience": "ucw-api", "jwt_issuer": "https://issuer.test/"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_jwt_mode_takes_a_good_jwt():
    with run_ucw_sandbox(**JWT) as ucw:
        token = mint_jwt("jwt-secret", audience="ucw-api", issuer="https://issuer.test/")
        answer = httpx.post(ucw.url + "/widgetUrl", json=GOOD, headers=bearer(token))
        assert answer.status_code == 200 and "widgetUrl" in answer.json()


def test_jwt_mode_refuses_a_missing_bearer_as_ucw_does():
    with run_ucw_sandbox(**JWT) as ucw:
        answer = httpx.post(ucw.url + "/widgetUrl", json=GOOD)
        assert answer.status_code == 401 and answer.text == "Unauthorized"
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("token, message", [
    ("not-a-jwt", "Invalid Compact JWS"),
    (mint_jwt("other-secret", audience="ucw-api", issuer="https://issuer.test/"),
     "signature verification failed"),
    (mint_jwt("jwt-secret", audience="ucw-api", issuer="https://issuer.test/", ttl=-10),
     '"exp" claim timestamp check failed'),
    (mint_jwt("jwt-secret", audience="other", issuer="https://issuer.test/"), 'unexpected "aud" claim value'),
    (mint_jwt("jwt-secret", audience="ucw-api", issuer="https://other.test/"),
     'unexpected "iss" claim value'),
])
def test_jwt_mode_refuses_a_bad_jwt_with_the_libraries_message(token, message):
    with run_ucw_sandbox(**JWT) as ucw:
        answer = httpx.get(ucw.url + "/api/data/accounts", params={"aggregator": "mx", "userId": "u"},
                           headers=bearer(token))
        assert answer.status_code == 401 and answer.text == message
        assert answer.headers["WWW-Authenticate"] == (
            f'Bearer realm="api", error="invalid_token", error_description="{message}"')


def test_the_kit_links_and_fetches_with_a_jwt_bearer(tmp_path):
    with run_ucw_sandbox(**JWT) as ucw:
        token = mint_jwt("jwt-secret", audience="ucw-api", issuer="https://issuer.test/")
        app = make_ucw_app(ucw.url, tmp_path, WINK_UCW_TOKEN=token, WINK_HANDLE_EVENTS="request",
                           WTF_CSRF_ENABLED=False)
        client = app.test_client()
        widget = client.post("/wink/ucw/token", headers={"X-User": "ada"})
        assert widget.status_code == 201
        url = widget.get_json()["widgetUrl"]
        session = start(ucw, url).json()["session"]
        member = httpx.post(ucw.url + "/widget/api/members", headers={"X-UCW-Session": session},
                            json={"institutionId": "mxBank", "username": "mxuser",
                                  "password": "correct"}).json()
        client.post("/wink/ucw/callbacks", headers={"X-User": "ada"}, json={
            "name": "connect/memberConnected",
            "args": {"aggregator": "mx", "connectionId": member["connectionId"],
                     "ucpInstitutionId": "mxBank"}})
        with app.app_context():
            key = connection_key("mx", member["connectionId"])
            assert get_state().store.account("ucw", key).status == CONNECTED
