"""The UCW emulator answers like UCW: its validation messages, one-use 5-minute tokens, the bearer
check, the data endpoints' FDX shapes and errors, deletes (real HTTP over loopback)."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from urllib.parse import urlsplit

import httpx
import pytest

from conftest import free_port_url
from flask_wink.providers.ucw.sandbox.data import account_id
from flask_wink.providers.ucw.testing import run_ucw_sandbox

GOOD = {"jobTypes": ["transactions"], "userId": "u-1", "targetOrigin": "http://127.0.0.1:5000"}


@pytest.fixture
def ucw():
    with run_ucw_sandbox() as served:
        yield served


def refusal(response) -> str:
    assert response.status_code == 400
    assert "&#x22;" in response.text or '"' not in response.text  # UCW escapes its quotes
    return html.unescape(response.text)


@pytest.mark.parametrize("body, message", [
    ({k: v for k, v in GOOD.items() if k != "targetOrigin"}, '"targetOrigin" is required'),
    ({**GOOD, "targetOrigin": "ftp://x.test"},
     '"targetOrigin" must be a valid uri with a scheme matching the http|https pattern'),
    ({**GOOD, "jobTypes": ["nope"]},
     '"jobTypes[0]" must be one of [accountNumber, accountOwner, transactions, transactionHistory]'),
    ({**GOOD, "jobTypes": []}, '"jobTypes" must contain at least 1 items'),
    ({k: v for k, v in GOOD.items() if k != "jobTypes"}, '"jobTypes" is required'),
    ({k: v for k, v in GOOD.items() if k != "userId"}, '"userId" is required'),
    ({**GOOD, "colour": "red"}, '"colour" is not allowed'),
    ({**GOOD, "aggregator": "mx", "institutionId": "mxBank"},
     "aggregator missing required peer connectionId"),
    ({**GOOD, "connectionId": "MBR-1"}, '"connectionId" missing required peer "institutionId"'),
])
def test_widget_url_refusals_carry_ucws_messages(ucw, body, message):
    response = httpx.post(ucw.url + "/widgetUrl", json=body)
    assert refusal(response) == message


def test_a_widget_url_is_good_for_one_load_used_by_the_widgets_first_call(ucw):
    url = httpx.post(ucw.url + "/widgetUrl", json=GOOD).json()["widgetUrl"]
    assert re.fullmatch(re.escape(ucw.url) + r"/widget\?token=[0-9a-f-]{36}", url)
    # Loading the page (a link preview, a prefetch, a HEAD) leaves the token as it is.
    assert httpx.head(url).status_code == 200
    for _ in range(2):
        page = httpx.get(url)
        assert page.status_code == 200 and "ucw-config" in page.text
    started = start_widget(ucw, url)
    assert started.status_code == 200 and started.json()["session"]
    assert refusal(httpx.get(url)) == "A valid token is required"
    assert refusal(start_widget(ucw, url)) == "A valid token is required"
    assert refusal(httpx.get(ucw.url + "/widget?token=not-a-token")) == "A valid token is required"


def test_the_widget_url_tolerates_extra_query_parameters(ucw):
    url = httpx.post(ucw.url + "/widgetUrl", json=GOOD).json()["widgetUrl"] + "&utm_source=mail&x="
    assert httpx.get(url).status_code == 200
    assert start_widget(ucw, url).json()["jobTypes"] == ["transactions"]


def test_a_widget_token_expires_after_five_minutes(ucw):
    now = [1000.0]
    ucw.state.clock = lambda: now[0]
    url = httpx.post(ucw.url + "/widgetUrl", json=GOOD).json()["widgetUrl"]
    now[0] += 5 * 60 + 1
    assert refusal(httpx.get(url)) == "A valid token is required"


def test_v1_tokens_are_one_use_and_for_their_user():
    with run_ucw_sandbox(bearer_token="secret-bearer") as ucw:
        auth = {"Authorization": "Bearer secret-bearer"}
        token = httpx.get(ucw.url + "/api/token", params={"userId": "u-1"}, headers=auth).json()["token"]
        query = {"jobTypes": "transactions,accountOwner", "userId": "u-1", "token": token}
        url = str(httpx.URL(ucw.url + "/widget", params=query))
        assert httpx.get(url).status_code == 200
        assert start_widget(ucw, url).status_code == 200
        assert refusal(httpx.get(url)) == "A valid token is required"
        other = httpx.get(ucw.url + "/api/token", params={"userId": "u-2"}, headers=auth).json()["token"]
        assert refusal(httpx.get(ucw.url + "/widget", params={**query, "token": other})) == (
            "A valid token is required")
        no_token = {k: v for k, v in query.items() if k != "token"}
        assert refusal(httpx.get(ucw.url + "/widget", params=no_token)) == "A valid token is required"


def test_v1_widget_query_is_validated(ucw):
    bad = httpx.get(ucw.url + "/widget", params={"jobTypes": "transactions,bogus", "userId": "u"})
    assert refusal(bad) == (
        '"jobTypes[1]" must be one of [accountNumber, accountOwner, transactions, transactionHistory]')


def test_the_bearer_check_refuses_missing_or_wrong_tokens():
    with run_ucw_sandbox(bearer_token="secret-bearer") as ucw:
        assert httpx.post(ucw.url + "/widgetUrl", json=GOOD).status_code == 401
        wrong = httpx.post(ucw.url + "/widgetUrl", json=GOOD, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json() == {"message": "Unauthorized"}
        bearer = {"Authorization": "Bearer secret-bearer"}
        right = httpx.post(ucw.url + "/widgetUrl", json=GOOD, headers=bearer)
        assert right.status_code == 200


def start_widget(ucw, url: str) -> httpx.Response:
    """What the widget's script does first: its token is used up and its session opened."""
    return httpx.post(ucw.url + "/widget/api/instrumentation", json={"query": urlsplit(url).query})


def widget_session(ucw, user="u-1", **params) -> str:
    url = httpx.post(ucw.url + "/widgetUrl", json={**GOOD, "userId": user, **params}).json()["widgetUrl"]
    assert httpx.get(url).status_code == 200
    return start_widget(ucw, url).json()["session"]


def connect(ucw, user="u-1", guid="mxBank", username="mxuser", password="correct"):
    """What the widget's own script does for a bank without a second factor."""
    session = widget_session(ucw, user)
    return httpx.post(ucw.url + "/widget/api/members", headers={"X-UCW-Session": session},
                      json={"institutionId": guid, "username": username, "password": password}).json()


@pytest.mark.parametrize("body", [[1, 2], "mx_bank", 5, None])
def test_the_widgets_calls_answer_400_to_a_body_that_is_not_an_object(ucw, body):
    header = {"X-UCW-Session": widget_session(ucw)}
    members = httpx.post(ucw.url + "/widget/api/members", headers=header, json=body)
    assert members.status_code == 400 and members.json() == {"message": '"value" must be of type object'}
    login = {"institutionId": "sophtronBank", "username": "asdfg12X", "password": "asdfg12X"}
    challenged = httpx.post(ucw.url + "/widget/api/members", headers=header, json=login)
    assert challenged.json()["status"] == "CHALLENGED"
    mfa = httpx.post(f"{ucw.url}/widget/api/members/{challenged.json()['connectionId']}/mfa", headers=header,
                     json=body)
    assert mfa.status_code == 400 and mfa.json() == {"message": '"value" must be of type object'}


@pytest.mark.parametrize("origin", ["*", "javascript:alert(1)", "ftp://x.test", "null"])
def test_v1_widget_refuses_a_target_origin_that_is_not_http(ucw, origin):
    answer = httpx.get(ucw.url + "/widget", params={"jobTypes": "transactions", "userId": "u-1",
                                                    "targetOrigin": origin})
    assert refusal(answer) == (
        '"targetOrigin" must be a valid uri with a scheme matching the http|https pattern')
    fine = httpx.get(ucw.url + "/widget", params={"jobTypes": "transactions", "userId": "u-1",
                                                  "targetOrigin": "https://app.test"})
    assert fine.status_code == 200


def test_data_endpoints_answer_in_fdx_shapes(ucw):
    member = connect(ucw)
    assert member["status"] == "CONNECTED" and member["connectionStatus"] == 6
    header = {"UCW-Connection-Id": member["connectionId"]}
    query = {"aggregator": "mx", "userId": "u-1"}
    accounts = httpx.get(ucw.url + "/api/data/accounts", params=query, headers=header).json()["accounts"]
    deposit = accounts[0]["depositAccount"]
    assert {"accountId", "accountType", "accountNumberDisplay", "status", "currentBalance",
            "availableBalance"} <= set(deposit)
    assert [a["depositAccount"]["accountType"] for a in accounts] == ["CHECKING", "SAVINGS"]
    customers = httpx.get(ucw.url + "/api/data/identity", params=query, headers=header).json()["customers"]
    assert customers[0]["name"] == {"first": "Jane", "last": "Doe"}
    assert {"customerId", "email", "addresses", "telephones", "accounts"} <= set(customers[0])
    assert customers[0]["accounts"][0] == {"accountId": deposit["accountId"]}
    txq = {**query, "accountId": deposit["accountId"], "startDate": "2024-01-01", "endDate": "2024-01-10"}
    found = httpx.get(ucw.url + "/api/data/transactions", params=txq, headers=header).json()["transactions"]
    assert len(found) == 5
    first = found[0]["depositTransaction"]
    assert {"accountId", "transactionId", "postedTimestamp", "description", "debitCreditMemo", "status",
            "amount"} <= set(first)
    assert first["postedTimestamp"].startswith("2024-01-10")
    again = httpx.get(ucw.url + "/api/data/transactions", params=txq, headers=header).json()["transactions"]
    assert again == found  # deterministic
    assert deposit["accountId"] == account_id(member["connectionId"], "chk")


def test_data_endpoint_errors(ucw):
    member = connect(ucw)
    query = {"aggregator": "mx", "userId": "u-1"}
    missing = httpx.get(ucw.url + "/api/data/accounts", params=query)
    assert missing.status_code == 400 and missing.json() == "UCW-Connection-Id header is required"
    unknown_user = httpx.get(ucw.url + "/api/data/accounts", params={**query, "userId": "nobody"},
                             headers={"UCW-Connection-Id": member["connectionId"]})
    assert unknown_user.status_code == 404 and unknown_user.json() == {"message": "Can't resolve userId"}
    forged = httpx.get(ucw.url + "/api/data/accounts", params=query,
                       headers={"UCW-Connection-Id": "MBR-forged"})
    assert forged.status_code == 404
    # Another user's connection is not this user's.
    connect(ucw, user="u-2")
    theirs = httpx.get(ucw.url + "/api/data/accounts", params={**query, "userId": "u-2"},
                       headers={"UCW-Connection-Id": member["connectionId"]})
    assert theirs.status_code == 404


def test_wrong_password_makes_no_connection(ucw):
    member = connect(ucw, password="wrong")
    assert member["status"] == "DENIED" and member["connectionStatus"] == 2
    answer = httpx.get(ucw.url + "/api/data/accounts", params={"aggregator": "mx", "userId": "u-1"},
                       headers={"UCW-Connection-Id": member["connectionId"]})
    assert answer.status_code == 404


def test_deletes(ucw):
    member = connect(ucw)
    header = {"UCW-Connection-Id": member["connectionId"]}
    query = {"aggregator": "mx", "userId": "u-1"}
    delete = {"params": query, "headers": header}
    assert httpx.delete(ucw.url + "/api/connection", **delete).status_code == 204
    assert httpx.get(ucw.url + "/api/data/accounts", params=query, headers=header).status_code == 404
    assert httpx.delete(ucw.url + "/api/connection", **delete).status_code == 404
    assert httpx.delete(ucw.url + "/api/user", params=query).status_code == 204
    gone = httpx.get(ucw.url + "/api/data/accounts", params=query, headers=header)
    assert gone.status_code == 404 and gone.json() == {"message": "Can't resolve userId"}


def dotenv_lines(lines: list[str]) -> dict[str, str]:
    """The values a .env file made of ``lines`` sets; every line must be a setting or a comment."""
    import io

    from dotenv import dotenv_values

    for line in lines:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*=\S*", line) or line.startswith("#"), line
    return dict(dotenv_values(stream=io.StringIO("\n".join(lines))))


@pytest.mark.parametrize("token", [None, "sandbox-bearer"])
def test_the_emulator_runs_on_its_own_and_prints_env_lines(token):
    port = free_port_url().rsplit(":", 1)[1]
    extra = ["--token", token] if token else []
    process = subprocess.Popen(
        [sys.executable, "-m", "flask_wink.sandbox", "ucw", "--port", port, *extra],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout.readline().startswith("# UCW emulator running")
        lines = [process.stdout.readline().rstrip("\n") for _ in range(3 if token else 2)]
        expected = {"UCW_URL": f"http://127.0.0.1:{port}"} | ({"UCW_TOKEN": token} if token else {})
        assert dotenv_lines(lines) == expected
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = httpx.post(f"http://127.0.0.1:{port}/widgetUrl", json=GOOD, headers=headers)
        assert answer.status_code == 200 and "widgetUrl" in answer.json()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_emulator_in_jwt_mode_prints_a_jwt_it_takes():
    port = free_port_url().rsplit(":", 1)[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "flask_wink.sandbox", "ucw", "--port", port, "--jwt-secret", "s3cret",
         "--jwt-audience", "ucw"], stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout.readline().startswith("# UCW emulator running")
        lines = dotenv_lines([process.stdout.readline().rstrip("\n") for _ in range(3)])
        assert lines["UCW_TOKEN"].count(".") == 2  # a JWT
        url = f"http://127.0.0.1:{port}/widgetUrl"
        good = httpx.post(url, json=GOOD, headers={"Authorization": f"Bearer {lines['UCW_TOKEN']}"})
        assert good.status_code == 200
        assert httpx.post(url, json=GOOD, headers={"Authorization": "Bearer s3cret"}).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_sandbox_commands_help_lists_every_sandbox():
    done = subprocess.run([sys.executable, "-m", "flask_wink.sandbox", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    listed = done.stdout.split("sandboxes (NAME):", 1)[1]
    assert {"smile-wink", "ucw", "smile-id"} <= set(re.findall(r"^  ([a-z-]+)", listed, re.M))
