import json

import pytest

from flask_wink import WebhookVerificationError
from flask_wink.providers.smile_wink import sign, verify
from flask_wink.providers.smile_wink.signature import parse_event, verify_signature
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook

SECRET = "a little secret"


def test_sign_is_hex_hmac_sha512_of_raw_body():
    # Known answer computed independently: HMAC-SHA512(key="key", msg="hello")
    assert sign(b"hello", "key") == (
        "ff06ab36757777815c008d32c8e14a705b4e7bf310351a06a23b612dc4c7433e"
        "7757d20525a5593b71020ea2ee162d2311b247e9855862b270122419652c0c92"
    )


def test_verify_accepts_a_signed_event():
    body, headers = signed_webhook(make_event("ACCOUNT_CONNECTED", {"userId": "u"}), SECRET)
    event = verify(body, headers, [SECRET])
    assert event["type"] == "ACCOUNT_CONNECTED"


def test_verify_accepts_any_of_several_secrets():
    body, headers = signed_webhook(make_event("USER_CREATED", {"userId": "u"}), "new")
    assert verify(body, headers, ["old", "new"])["type"] == "USER_CREATED"


@pytest.mark.parametrize(
    "signature",
    [None, "", "not-hex", "ab" * 63, sign(b"other body", SECRET), sign(b"{}", "wrong")],
)
def test_verify_signature_refuses_missing_malformed_or_wrong(signature):
    with pytest.raises(WebhookVerificationError):
        verify_signature(b"{}", signature, [SECRET])


def test_signature_over_reserialised_json_does_not_verify():
    event = make_event("USER_CREATED", {"userId": "u"})
    body = json.dumps(event, indent=2).encode()
    compact_signature = sign(json.dumps(event).encode(), SECRET)
    with pytest.raises(WebhookVerificationError):
        verify_signature(body, compact_signature, [SECRET])


def test_no_secret_configured_refuses_everything():
    body, headers = signed_webhook(make_event("USER_CREATED", {}), SECRET)
    with pytest.raises(WebhookVerificationError):
        verify(body, headers, [])


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"id": "x", "type": "T", "createdAt": "", "data": {}}', "lacks version"),
        (b'{"id": "", "version": 1, "type": "T", "createdAt": "", "data": {}}', "id"),
        (b'{"id": "x", "version": 1, "type": "T", "createdAt": "", "data": []}', "data"),
    ],
)
def test_parse_event_explains_what_is_wrong(body, reason):
    with pytest.raises(ValueError, match=reason):
        parse_event(body)


def test_verify_reports_bad_envelope_as_verification_error():
    body = b'{"hello": 1}'
    with pytest.raises(WebhookVerificationError, match="lacks"):
        verify(body, {"Smile-Signature": sign(body, SECRET)}, [SECRET])
