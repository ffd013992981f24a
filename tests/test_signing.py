"""The core's HMAC verifier (flask_wink.signing): schemes, rotation, the window both ways, and
what each failure raises."""

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_wink.errors import MalformedMessage, StaleMessage, VerificationError
from flask_wink.signing import ISO_8601, UNIX_SECONDS, HmacVerifier

NOW = 1_700_000_000.0
BODY = b'{"id": "evt_1", "type": "verified"}'


def acme(secrets=("current",), **options) -> HmacVerifier:
    """A Stripe-like scheme: hex SHA-256 over "<timestamp>.<body>", both in headers."""
    scheme = {"hash": "sha256", "encoding": "hex", "signature_header": "Acme-Signature",
              "timestamp_header": "Acme-Timestamp", "signed": "{timestamp}.{body}",
              "max_age": 300, "max_future": 60, "time_format": UNIX_SECONDS, "what": "callback",
              "max_age_setting": "WINK_ACME_MAX_AGE", **options}
    return HmacVerifier(secrets, **scheme)


def test_a_signature_is_the_documented_hmac_of_the_signed_bytes():
    # Computed independently of the verifier, for each hash and encoding.
    signed = b"1700000000." + BODY
    for name in ("sha256", "sha512"):
        digest = hmac.new(b"current", signed, getattr(hashlib, name)).digest()
        assert acme(hash=name).sign(BODY, "1700000000") == digest.hex()
        in_base64 = base64.b64encode(digest).decode()
        assert acme(hash=name, encoding="base64").sign(BODY, "1700000000") == in_base64
    assert acme(prefix="v1=").sign(BODY, "1700000000").startswith("v1=")


def test_headers_made_by_the_scheme_pass_its_own_check():
    verifier = acme()
    headers = verifier.headers(BODY, now=NOW)
    assert headers == {"Acme-Signature": verifier.sign(BODY, "1700000000"), "Acme-Timestamp": "1700000000"}
    verifier.verify(BODY, headers, NOW)


def test_any_of_several_secrets_passes_and_the_first_signs():
    rotating = acme(("new", "old"))
    for secret in ("old", "new"):
        rotating.verify(BODY, acme((secret,)).headers(BODY, now=NOW), NOW)
    assert rotating.headers(BODY, now=NOW) == acme(("new",)).headers(BODY, now=NOW)
    with pytest.raises(VerificationError, match="^signature does not match$"):
        rotating.verify(BODY, acme(("retired",)).headers(BODY, now=NOW), NOW)


def test_every_secret_is_compared_in_constant_time(monkeypatch):
    # compare_digest decides, and is asked about every secret, so timing does not tell which matched.
    calls = []

    def spy(a, b):
        calls.append((a, b))
        return False

    headers = acme(("b",)).headers(BODY, now=NOW)
    monkeypatch.setattr(hmac, "compare_digest", spy)
    with pytest.raises(VerificationError, match="does not match"):
        acme(("a", "b", "c")).verify(BODY, headers, NOW)
    assert len(calls) == 3 and (headers["Acme-Signature"].encode(),) * 2 in calls


@pytest.mark.parametrize("age", [0, 299, -59])
def test_a_timestamp_within_the_window_passes(age):
    acme().verify(BODY, acme().headers(BODY, now=NOW - age), NOW)


def test_a_timestamp_too_old_is_stale_and_names_the_setting():
    headers = acme().headers(BODY, now=NOW - 301)
    with pytest.raises(StaleMessage) as stale:
        acme().verify(BODY, headers, NOW)
    assert str(stale.value) == ("The callback's timestamp is 301 s old, more than the 300 s this app "
                                "accepts (WINK_ACME_MAX_AGE).")


def test_a_timestamp_too_far_ahead_is_stale():
    headers = acme().headers(BODY, now=NOW + 61)
    with pytest.raises(StaleMessage, match=r"^The callback's timestamp is 61 s in the future\.$"):
        acme().verify(BODY, headers, NOW)


def test_no_window_either_way_when_none_is_set():
    open_ended = acme(max_age=None, max_future=None)
    for moment in (NOW - 10**8, NOW + 10**6):
        open_ended.verify(BODY, open_ended.headers(BODY, now=moment), NOW)


def test_the_age_is_checked_only_once_the_signature_matches():
    # A forged old message is a bad signature (401), never "stale" (400): that would tell a forger
    # something about the scheme.
    headers = {"Acme-Signature": "0" * 64, "Acme-Timestamp": str(int(NOW - 10**6))}
    with pytest.raises(VerificationError) as refused:
        acme().verify(BODY, headers, NOW)
    assert type(refused.value) is VerificationError


def test_an_unreadable_timestamp_that_is_signed_is_malformed():
    verifier = acme()
    headers = {"Acme-Signature": verifier.sign(BODY, "yesterday"), "Acme-Timestamp": "yesterday"}
    with pytest.raises(MalformedMessage, match="^The callback's timestamp is not a number of seconds"):
        verifier.verify(BODY, headers, NOW)


@pytest.mark.parametrize("missing, said", [
    ("Acme-Signature", "missing Acme-Signature header"),
    ("Acme-Timestamp", "missing Acme-Timestamp header"),
])
def test_a_missing_header_is_named(missing, said):
    headers = acme().headers(BODY, now=NOW)
    del headers[missing]
    with pytest.raises(VerificationError) as refused:
        acme().verify(BODY, headers, NOW)
    assert type(refused.value) is VerificationError and str(refused.value) == said


@pytest.mark.parametrize("scheme", [
    {"hash": "sha512"},                       # a SHA-256 signature is too short for SHA-512
    {"encoding": "base64"},                   # hex is not base64 of a SHA-256 digest
    {"prefix": "v1="},                        # no prefix where the scheme writes one
])
def test_a_signature_of_another_scheme_is_malformed(scheme):
    headers = acme().headers(BODY, now=NOW)
    with pytest.raises(VerificationError, match="^malformed Acme-Signature header$"):
        acme(**scheme).verify(BODY, headers, NOW)


def test_a_hash_or_encoding_the_verifier_does_not_know_is_refused_when_built():
    with pytest.raises(ValueError, match="hash must be one of sha256, sha512, not 'md5'"):
        HmacVerifier("s", hash="md5")
    with pytest.raises(ValueError, match="encoding must be one of hex, base64"):
        HmacVerifier("s", encoding="base32")


def test_hex_is_read_in_either_case_and_around_blanks():
    verifier = HmacVerifier("s", hash="sha512", signature_header="Smile-Signature")
    signature = verifier.sign(BODY)
    verifier.verify(BODY, {"Smile-Signature": f"  {signature.upper()} "})


def test_the_body_alone_is_signed_by_default_and_needs_no_timestamp():
    verifier = HmacVerifier("s", signature_header="X-Sig")
    assert verifier.headers(BODY) == {"X-Sig": hmac.new(b"s", BODY, "sha256").hexdigest()}
    with pytest.raises(VerificationError, match="does not match"):
        verifier.verify(BODY + b" ", verifier.headers(BODY))


def test_a_function_says_what_is_signed_for_a_scheme_that_carries_it_in_the_body():
    # Smile ID's shape: base64 SHA-256 over timestamp + partner id + a fixed suffix.
    verifier = HmacVerifier("key", encoding="base64", signed=lambda ts, _body: f"{ts}042sid".encode(),
                            max_age=3600, max_future=300, time_format=ISO_8601, what="callback")
    timestamp = verifier.timestamp(NOW)
    assert timestamp == "2023-11-14T22:13:20.000Z"
    signature = verifier.sign(b"", timestamp)
    expected = hmac.digest(b"key", f"{timestamp}042sid".encode(), "sha256")
    assert signature == base64.b64encode(expected).decode()
    verifier.check(b"any body", signature, timestamp, NOW)
    with pytest.raises(VerificationError, match="^missing timestamp$"):
        verifier.check(b"", signature, None, NOW)
    with pytest.raises(VerificationError, match="^missing signature$"):
        verifier.check(b"", 42, timestamp, NOW)


def test_the_verifier_never_shows_a_secret():
    assert "hunter2" not in repr(HmacVerifier(["hunter2", "other"]))


@given(body=st.binary(max_size=200), timestamp=st.integers(0, 10**10).map(str),
       secrets=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=3))
def test_what_is_signed_verifies_and_any_change_to_it_does_not(body, timestamp, secrets):
    verifier = acme(secrets, max_age=None, max_future=None)
    signature = verifier.sign(body, timestamp)
    verifier.check(body, signature, timestamp, NOW)
    for changed_body, changed_time in ((body + b"x", timestamp), (body, timestamp + "0")):
        with pytest.raises(VerificationError, match="does not match"):
            verifier.check(changed_body, signature, changed_time, NOW)


@given(signature=st.text(max_size=200))
def test_any_text_for_a_signature_is_refused_with_the_one_exception(signature):
    with pytest.raises(VerificationError):
        acme().check(BODY, signature, str(int(NOW)), NOW)
