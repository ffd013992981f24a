"""The core's client base (flask_wink.upstream): every httpx failure and error answer becomes the
provider's class on the UpstreamCallError tree, and each provider can be given its own transport."""

from __future__ import annotations

import pickle

import httpx
import pytest
from flask import Flask

from flask_wink import Wink, get_state
from flask_wink.errors import (
    UpstreamAuthRefused,
    UpstreamCallError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamRefused,
    UpstreamServerFailed,
    UpstreamTimedOut,
    UpstreamUnreachable,
)
from flask_wink.providers.smile_id import errors as smile_id_errors
from flask_wink.providers.smile_wink import errors as smile_errors
from flask_wink.providers.ucw import errors as ucw_errors
from flask_wink.upstream import ErrorTree, UpstreamClient


class AcmeError(UpstreamCallError):
    upstream = "Acme"
    host_setting = "WINK_ACME_HOST"
    credential_settings = "WINK_ACME_KEY"


class AcmeClient(UpstreamClient):
    errors = ErrorTree.derive(AcmeError)


def acme(answer) -> AcmeClient:
    """A client whose upstream is ``answer`` (a function of the request, as httpx.MockTransport)."""
    return AcmeClient("https://acme.test/v1", transport=httpx.MockTransport(answer))


def raises(kind):
    def answer(request: httpx.Request) -> httpx.Response:
        raise kind("no", request=request)

    return answer


@pytest.mark.parametrize("tree, names", [
    (smile_errors, "SmileAPIError SmileAuthError SmileNotFound SmileRateLimited SmileServerError "
                   "SmileConnectionError SmileTimeout"),
    (smile_id_errors, "SmileIDAPIError SmileIDAuthError SmileIDNotFound SmileIDRateLimited "
                      "SmileIDServerError SmileIDConnectionError SmileIDTimeout"),
    (ucw_errors, "UcwRefused UcwAuthError UcwNotFound UcwRateLimited UcwServerError "
                 "UcwConnectionError UcwTimeout"),
], ids=["smile_wink", "smile_id", "ucw"])
def test_each_providers_error_classes_keep_their_names_and_sit_on_the_core_tree(tree, names):
    core = (UpstreamRefused, UpstreamAuthRefused, UpstreamNotFound, UpstreamRateLimited,
            UpstreamServerFailed, UpstreamUnreachable, UpstreamTimedOut)
    for name, kind, core_kind in zip(names.split(), tree.ERRORS, core, strict=True):
        assert getattr(tree, name) is kind and kind.__name__ == name and kind.__module__ == tree.__name__
        assert issubclass(kind, core_kind) and issubclass(kind, tree.ERRORS.refused.__mro__[1])
        error = pickle.loads(pickle.dumps(kind("said")))
        assert type(error) is kind and error.message == "said"
    assert issubclass(tree.ERRORS.auth_refused, tree.ERRORS.refused)
    assert issubclass(tree.ERRORS.timed_out, tree.ERRORS.unreachable)


@pytest.mark.parametrize("status, kind", [
    (400, AcmeClient.errors.refused), (401, AcmeClient.errors.auth_refused),
    (403, AcmeClient.errors.auth_refused), (404, AcmeClient.errors.not_found),
    (429, AcmeClient.errors.rate_limited), (500, AcmeClient.errors.server_failed),
    (503, AcmeClient.errors.server_failed), (302, AcmeClient.errors.refused),
])
def test_an_error_answer_is_the_class_for_its_status_with_what_the_upstream_said(status, kind):
    said = {"code": 7, "message": "Not today.", "requestId": "req-1"}
    with acme(lambda request: httpx.Response(status, json=said)) as client, pytest.raises(kind) as refused:
        client.call("POST", "/sessions", json={})
    error = refused.value
    assert type(error) is kind
    assert (error.status, error.code, error.message, error.request_id) == (status, "7", "Not today.", "req-1")
    assert (error.host, error.path) == ("https://acme.test/v1", "POST /sessions")


def test_an_error_answer_without_a_json_message_says_its_status_unless_text_is_quoted():
    page = "<html><h1>Bad &amp; gateway</h1></html>"
    with acme(lambda request: httpx.Response(502, text=page)) as client:
        with pytest.raises(AcmeClient.errors.server_failed) as refused:
            client.call("GET", "/x")
        assert refused.value.message == "HTTP 502" and refused.value.code is None

    class Talkative(AcmeClient):
        quotes_text = True

    with Talkative("https://acme.test", transport=httpx.MockTransport(
            lambda request: httpx.Response(400, text="&#x22;day&#x22; is wrong"))) as client:
        with pytest.raises(AcmeClient.errors.refused, match='^"day" is wrong'):
            client.call("GET", "/x")


@pytest.mark.parametrize("failure, kind, said", [
    (httpx.ConnectError, AcmeClient.errors.unreachable, "Acme could not be reached (ConnectError)."),
    (httpx.ReadTimeout, AcmeClient.errors.timed_out, "Acme did not answer GET /x in time."),
    (httpx.ConnectTimeout, AcmeClient.errors.timed_out, "Acme did not answer GET /x in time."),
    (httpx.RemoteProtocolError, AcmeClient.errors.unreachable,
     "Acme could not be reached (RemoteProtocolError)."),
])
def test_no_answer_is_unreachable_or_timed_out(failure, kind, said):
    with acme(raises(failure)) as client, pytest.raises(kind) as failed:
        client.call("GET", "/x")
    assert type(failed.value) is kind and failed.value.message == said
    assert "check WINK_ACME_HOST=https://acme.test/v1 and that it is up" in str(failed.value)


def test_a_value_no_request_can_carry_is_a_refusal_without_a_status():
    with acme(lambda request: httpx.Response(200, json={})) as client:
        with pytest.raises(AcmeClient.errors.refused, match="not valid in a request") as refused:
            client.call("GET", "/x", headers={"X-Id": "caf\u00e9"})
    assert type(refused.value) is AcmeClient.errors.refused and refused.value.status is None


@pytest.mark.parametrize("body", ["[1, 2]", "not json", ""])
def test_a_success_that_is_not_a_json_object_is_a_refusal(body):
    with acme(lambda request: httpx.Response(200, text=body)) as client:
        with pytest.raises(AcmeClient.errors.refused, match="something other than a JSON object"):
            client.call("GET", "/x")
        assert client.send("GET", "/x").status_code == 200  # send() does not read the body


def test_requests_go_below_the_base_url_without_query_values_that_are_none():
    seen = []

    def answer(request):
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    with acme(answer) as client:
        assert client.call("GET", "/users", params={"size": 5, "cursor": None}) == {"ok": True}
    assert str(seen[0].url) == "https://acme.test/v1/users?size=5"
    assert seen[0].headers["User-Agent"] == "flask-wink" and seen[0].headers["Accept"] == "application/json"


def test_mounts_give_each_host_its_own_transport():
    one = httpx.MockTransport(lambda request: httpx.Response(200, json={"from": "acme"}))
    other = httpx.MockTransport(lambda request: httpx.Response(200, json={"from": "elsewhere"}))
    with AcmeClient("https://acme.test/v1", mounts={"https://acme.test": one,
                                                    "https://elsewhere.test": other}) as client:
        assert client.call("GET", "/x") == {"from": "acme"}


def two_providers(tmp_path, transport) -> Flask:
    app = Flask("two", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="s", WINK_PROVIDERS="smile_wink,ucw", WINK_API_KEY="key",
                      WINK_API_SECRET="secret", WINK_API_HOST="https://smile.test/v1",
                      WINK_UCW_URL="https://ucw.test", WINK_PUBLIC_URL="https://app.test",
                      WINK_WEBHOOK_SECRETS="whsec")
    Wink(app, transport=transport)
    return app


def test_each_provider_gets_its_own_transport_by_name(tmp_path):
    calls = {"smile": [], "ucw": []}

    def recorder(name, answer):
        def record(request):
            calls[name].append(str(request.url))
            return httpx.Response(200, json=answer)

        return httpx.MockTransport(record)

    app = two_providers(tmp_path, {
        "smile_wink": recorder("smile", {"code": "OK", "data": {"id": "u-1"}}),
        "ucw": recorder("ucw", {"token": "t-1"}),
    })
    providers = get_state(app).providers
    assert providers["smile_wink"].client.get_user("u-1") == {"id": "u-1"}
    assert providers["ucw"].client.token("ada") == "t-1"
    assert calls == {"smile": ["https://smile.test/v1/users/u-1"],
                     "ucw": ["https://ucw.test/api/token?userId=ada"]}
    get_state(app).close()


def test_one_transport_still_serves_every_provider(tmp_path):
    every = httpx.MockTransport(lambda request: httpx.Response(503, json={}))
    app = two_providers(tmp_path, every)
    providers = get_state(app).providers
    with pytest.raises(smile_errors.SmileServerError):
        providers["smile_wink"].client.get_user("u-1")
    with pytest.raises(ucw_errors.UcwServerError):
        providers["ucw"].client.token("ada")
    get_state(app).close()


def test_a_transport_for_a_provider_not_enabled_is_refused_in_one_line(tmp_path):
    with pytest.raises(RuntimeError) as refused:
        two_providers(tmp_path, {"smile_id": httpx.MockTransport(lambda request: httpx.Response(200))})
    assert str(refused.value) == ("Wink(transport={...}) names 'smile_id', which is not enabled: use the "
                                  "names of the providers enabled (smile_wink, ucw).")
