"""Enabling, disabling or reordering a provider never changes what another provider's URLs do: the
un-prefixed /wink/token, /link, /callbacks and /webhooks serve Smile Wink whenever it is enabled,
else the only provider; several others and no WINK_DEFAULT_PROVIDER do not start. Over loopback
HTTP, the three providers enabled by entry point against their emulators, in every order."""

from __future__ import annotations

import itertools
import re

import httpx
import pytest
from flask import Flask, request

from flask_wink import Wink, get_state
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook
from flask_wink.testing import LOOPBACK_HOSTS, serve

SECRET = "whsec-default-provider"
USER = {"X-User": "ada"}
PROVIDERS = ("smile_wink", "ucw", "smile_id")
#: What a started link's answer holds, by provider.
STARTED_BY = {"accessToken": "smile_wink", "widgetUrl": "ucw", "url": "smile_id"}


def three_provider_app(tmp_path, order, wink_sandbox, ucw_sandbox, smile_id_sandbox, **config) -> Flask:
    app = Flask("three_providers", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SECRET_KEY="s",
        WTF_CSRF_ENABLED=False,
        TRUSTED_HOSTS=LOOPBACK_HOSTS,
        WINK_HANDLE_EVENTS="request",
        WINK_PROVIDERS=",".join(order),
        WINK_API_KEY=wink_sandbox.api_key,
        WINK_API_SECRET=wink_sandbox.api_secret,
        WINK_API_HOST=wink_sandbox.api_host,
        WINK_WEBHOOK_SECRETS=[SECRET],
        WINK_UCW_URL=ucw_sandbox.url,
        WINK_SMILE_ID_PARTNER_ID=smile_id_sandbox.partner_id,
        WINK_SMILE_ID_API_KEY=smile_id_sandbox.api_key,
        WINK_SMILE_ID_HOST=smile_id_sandbox.host,
        WINK_SMILE_ID_PRIVACY_URL="https://host.test/privacy",
        **config,
    )
    wink = Wink(app)
    wink.user_id_loader(lambda: request.headers.get("X-User"))
    return app


def last_event(app, kind: str):
    with app.app_context():
        found = get_state().store.list_events(kind=kind, limit=1)
    return found[0] if found else None


def who_answers(app, url: str) -> dict[str, str | None]:
    """Which provider each of the kit's link, event and webhook URLs serves on this app."""
    answers: dict[str, str | None] = {}
    with httpx.Client(base_url=url, headers=USER, timeout=30) as http:
        for path in ("/wink/token", "/wink/smile-wink/token", "/wink/ucw/token", "/wink/smile-id/token"):
            started = http.post(path)
            assert started.status_code == 201, (path, started.text)
            answers[path] = next(STARTED_BY[key] for key in STARTED_BY if key in started.json())
        page = http.get("/wink/link")
        assert page.status_code == 200
        answers["/wink/link"] = re.search(r'"provider": "([a-z_]+)"', page.text).group(1)
        recorded = http.post("/wink/callbacks", json={"name": "onClose", "args": {}})
        recorded_by = last_event(app, "callback").provider if recorded.status_code == 201 else None
        answers["/wink/callbacks"] = recorded_by
        body, headers = signed_webhook(make_event("USER_CREATED", {"userId": "smile-user-1"}), SECRET)
        delivered = http.post("/wink/webhooks", content=body, headers=headers)
        stored = delivered.status_code == 200 and delivered.json()["status"] == "stored"
        answers["/wink/webhooks"] = last_event(app, "webhook").provider if stored else None
    return answers


@pytest.mark.parametrize("fast_path", [False, True], ids=["flask", "fast-path"])
def test_every_order_of_the_providers_gives_each_url_the_same_provider(
        tmp_path, wink_sandbox, ucw_sandbox, smile_id_sandbox, fast_path):
    expected = {
        "/wink/token": "smile_wink",
        "/wink/smile-wink/token": "smile_wink",
        "/wink/ucw/token": "ucw",
        "/wink/smile-id/token": "smile_id",
        "/wink/link": "smile_wink",
        "/wink/callbacks": "smile_wink",
        "/wink/webhooks": "smile_wink",  # Smile's signed webhook is stored, not refused
    }
    for number, order in enumerate(itertools.permutations(PROVIDERS)):
        app = three_provider_app(tmp_path / str(number), order, wink_sandbox, ucw_sandbox, smile_id_sandbox,
                                 WINK_WEBHOOK_FAST_PATH=fast_path)
        try:
            with serve(app) as served:
                assert who_answers(app, served.url) == expected, order
        finally:
            get_state(app).close()


def test_several_providers_without_smile_wink_need_a_default_to_start(
        tmp_path, wink_sandbox, ucw_sandbox, smile_id_sandbox):
    with pytest.raises(RuntimeError) as raised:
        three_provider_app(tmp_path, ("ucw", "smile_id"), wink_sandbox, ucw_sandbox, smile_id_sandbox)
    message = str(raised.value)
    assert "\n" not in message
    assert message == (
        "Several providers are enabled (ucw, smile_id) and none owns the un-prefixed routes: set "
        "WINK_DEFAULT_PROVIDER to the one /wink/token, /wink/link, /wink/callbacks and /wink/webhooks serve."
    )
