"""The door's JSON decision (flask_wink.jsonbody): orjson's fast path and the Python path decide
alike, value for value and refusal for refusal."""

from __future__ import annotations

import json

import pytest

from flask_wink import jsonbody
from flask_wink.jsonbody import MAX_DEPTH, BodyRefused, loads


def outcome(decode, raw):
    try:
        return "value", decode(raw)
    except BodyRefused as exc:
        return "refused", str(exc)


BODIES = [
    b'{"id": "e-1", "data": {"userId": "u", "n": 12, "x": -1.5e3, "ok": true, "none": null}}',
    b'{"n": ' + b"9" * 19 + b"}",  # past 64 bits: kept exact, not read as a float
    b'{"n": -' + b"1" * 40 + b"}",
    b'{"n": ' + b"1" * 41 + b"}",  # past the digit limit
    b'{"n": NaN}',
    b'{"n": -Infinity}',
    b'{"n": 1e999}',
    b'{"s": "\\ud800"}',
    b'{"s": "\\udc00\\ud800"}',
    b'{"s": "\\ud83d\\ude00"}',  # a surrogate pair: one character, accepted
    b'{"s": "a\\u0000"}',
    b'{"a\\u0000": 1}',
    b'{"s": "\\\\u0000"}',  # an escaped backslash, then text: accepted
    b'{"s": "\xed\xa0\x80"}',  # a surrogate encoded in UTF-8: not UTF-8
    b'{"s": "\xff"}',
    b"\xef\xbb\xbf{}",
    '{"s": "é"}'.encode("utf-16"),
    b"[" * MAX_DEPTH + b"]" * MAX_DEPTH,
    b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    b'{"s": "' + b"[" * 40 + b'"}',  # brackets in a string do not nest
    b"[" * 3000 + b"]" * 3000,
    b'{"a": 1,}',
    b"",
    b'  {"a": [1, 2, {"b": "c"}]}  ',
]


@pytest.mark.parametrize("raw", BODIES, ids=range(len(BODIES)))
def test_the_fast_path_decides_as_the_python_path(raw):
    assert outcome(loads, raw) == outcome(jsonbody._checked_loads, raw)
    # Stored rows are read back as text, lone surrogates and all.
    try:
        text = raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return
    assert outcome(loads, text) == outcome(jsonbody._checked_loads, text)


def test_long_integers_stay_exact():
    assert loads(b'{"n": 123456789012345678901234567890}') == {"n": 123456789012345678901234567890}


def test_what_the_fast_path_accepts_is_what_json_reads():
    raw = BODIES[0]
    assert loads(raw) == json.loads(raw)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"n": NaN}', "NaN is not JSON"),
        (b'{"n": 1e999}', "Infinity"),
        (b'{"s": "\\ud800"}', "lone surrogate"),
        (b'{"s": "a\\u0000"}', "NUL"),
        (b"[" * 40 + b"]" * 40, f"deeper than {MAX_DEPTH}"),
        (b'{"s": "\xff"}', "not valid UTF-8"),
    ],
)
def test_refusals_say_which_rule(raw, says):
    with pytest.raises(BodyRefused, match=says):
        loads(raw)
