"""The one decision at the door about a JSON body, the same for every provider's browser events
and inbound messages, made before anything is stored.

A body is accepted when it is UTF-8 JSON (RFC 8259) that every later reader can take back:

- UTF-8 without a byte order mark; UTF-16 and UTF-32 are refused;
- no ``NaN``, ``Infinity`` or numbers that overflow to them (``1e999``);
- integers of at most :data:`MAX_INTEGER_DIGITS` digits;
- objects and arrays nested at most :data:`MAX_DEPTH` deep;
- no lone surrogates (``"\\ud800"``) and no NUL characters in any string, keys included.

:func:`loads` raises :class:`BodyRefused` (a ``ValueError``) with a message saying which rule was
broken. A body is decoded by orjson, which enforces RFC 8259 strictly in C (UTF-8, no ``NaN`` or
``Infinity``, no lone surrogates); the rules orjson does not know (the depth and digit limits, NUL
characters) are checked on the raw text before it, and a body that any of them might break, or
that orjson refuses, is decoded and checked again by the Python path below, which decides and
says why. The store reads stored rows back with the same function, so a row that slipped in by
another way (an older version, a hand-made insert) is shown as a placeholder instead of failing.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

#: Deepest nesting of objects and arrays accepted (Smile's events nest 4 deep).
MAX_DEPTH = 32
#: Most digits an integer may have (a 64-bit integer has 20; JavaScript keeps 15 exactly).
MAX_INTEGER_DIGITS = 40


class BodyRefused(ValueError):
    """A body that is not JSON the kit accepts; the message says why (answered 400)."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise BodyRefused(f"an integer has more than {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyRefused(f"the number {text[:40]} is out of range (it would be Infinity)")
    return value


def _parse_constant(name: str) -> Any:
    raise BodyRefused(f"{name} is not JSON")


_DECODER = json.JSONDecoder(
    parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
)


def decode_text(raw: bytes) -> str:
    """``raw`` as text, refused unless it is UTF-8 without a byte order mark."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raise BodyRefused("the body starts with a byte order mark; send UTF-8 without one")
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in raw:
        raise BodyRefused("the body is not UTF-8 (UTF-16 and UTF-32 are not accepted)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyRefused("the body is not valid UTF-8") from None


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


def _check_nesting(text: str) -> None:
    """Refuse nesting past :data:`MAX_DEPTH` before decoding, so a deep body never reaches the
    decoder's recursion (which fails at a depth that depends on the caller's stack)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for bracket in _NOT_BRACKETS.sub("", _STRINGS.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise BodyRefused(f"the body nests deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1


#: What sends a body to the Python path: an escaped NUL (orjson accepts ``"\\u0000"``), and a
#: run of 19 digits or more (orjson reads an integer past 64 bits as a float, losing digits;
#: the Python path keeps it exact up to MAX_INTEGER_DIGITS, or refuses it). Strings may match
#: too: such a body only takes the slower path, with the same outcome. Digits are found by
#: mapping each to "0" and looking for a run of zeros (bytes.translate and ``in`` run in C at
#: about a byte a cycle; a regular expression scanning for the run took ten times longer).
_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_RUN = b"0" * 19
_LONG_TEXT = re.compile(r"[0-9]{19}")


def loads(raw: bytes | str) -> Any:
    """Decode and check a JSON body by the rules above; :class:`BodyRefused` says what is wrong."""
    if isinstance(raw, bytes):
        if raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw:
            decode_text(raw)  # raises, saying which
        slow = (b"\\u0000" in raw or _RUN in raw.translate(_DIGITS)
                or raw.count(b"[") + raw.count(b"{") > MAX_DEPTH)
    else:
        slow = "\\u0000" in raw or _LONG_TEXT.search(raw) or raw.count("[") + raw.count("{") > MAX_DEPTH
    if not slow:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # the Python path says why (orjson's message is worded for programmers)
    return _checked_loads(raw)


def _checked_loads(raw: bytes | str) -> Any:
    """The Python path: every rule above, each refusal worded for the sender."""
    text = decode_text(raw) if isinstance(raw, bytes) else raw
    _check_nesting(text)
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise BodyRefused(f"the body nests deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise BodyRefused(f"the body is not JSON ({exc.msg} at character {exc.pos})") from None
    except BodyRefused:
        raise
    except ValueError as exc:  # Python's own limit on integer conversion, and the like
        raise BodyRefused(f"the body holds a value this server cannot read ({exc})") from None
    check(value)
    return value


def check(value: Any) -> None:
    """Refuse a decoded value nested past :data:`MAX_DEPTH` or holding an unstorable string."""
    # Iterative, so a deep value cannot exhaust the interpreter's stack here.
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth >= MAX_DEPTH:
                raise BodyRefused(f"the body nests deeper than {MAX_DEPTH} levels")
            for key, child in item.items():
                _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth >= MAX_DEPTH:
                raise BodyRefused(f"the body nests deeper than {MAX_DEPTH} levels")
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise BodyRefused("the body holds NaN or Infinity, which are not JSON")


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise BodyRefused("a string holds a NUL character")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise BodyRefused("a string holds a lone surrogate (\\ud800-\\udfff)") from None
