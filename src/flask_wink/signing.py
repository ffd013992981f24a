"""One HMAC verifier for the messages upstreams sign, and the matching signer.

A provider describes its upstream's scheme once (the hash and how the signature is written, where
the signature and the timestamp travel, what bytes are signed, how old or how far ahead a message
may be, the secrets) and uses the same :class:`HmacVerifier` to check what arrives and to sign what
it sends (a signed API call, ``flask wink trigger``'s test messages, a sandbox's webhooks)::

    verifier = HmacVerifier(secrets, hash="sha256", encoding="hex",
                            signature_header="Acme-Signature", timestamp_header="Acme-Timestamp",
                            signed="{timestamp}.{body}", max_age=300, max_future=60,
                            time_format=UNIX_SECONDS)
    verifier.verify(raw_body, request_headers, now)    # raises VerificationError's subclasses
    headers = verifier.headers(raw_body)               # the same two headers, for a message sent

Every failure is a :class:`~flask_wink.errors.VerificationError`: a missing or malformed
signature or a signature that matches no secret is the base class (the receiver answers 401),
an unreadable timestamp :class:`~flask_wink.errors.MalformedMessage` and a timestamp outside
the window :class:`~flask_wink.errors.StaleMessage` (both 400). Signatures are compared with
:func:`hmac.compare_digest` against every secret, so rotating one (old and new both accepted)
does not let the timing tell which one matched.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import MalformedMessage, StaleMessage, VerificationError
from .timeutil import parse_iso

#: The hashes a scheme may use, with their digest sizes in bytes.
HASHES = {"sha256": 32, "sha512": 64}
#: How a signature may be written: lower- or upper-case hex, or standard base64 with padding.
ENCODINGS = ("hex", "base64")

#: What is signed: a template over ``{timestamp}`` and ``{body}`` (everything else is literal),
#: or a function of the timestamp (None when the scheme has none) and the raw body.
Signed = str | Callable[[str | None, bytes], bytes]


@dataclass(frozen=True)
class TimeFormat:
    """How a scheme writes its timestamps: ``read`` turns the text into seconds since 1970 (or
    raises ``ValueError`` saying what the text is not: "not an ISO 8601 date-time"), ``write``
    does the reverse."""

    read: Callable[[str], float]
    write: Callable[[float], str]


def _read_iso(text: str) -> float:
    try:
        return parse_iso(text).timestamp()
    except (TypeError, ValueError):
        raise ValueError("not an ISO 8601 date-time") from None


def _write_iso(moment: float) -> str:
    written = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    return written.replace("+00:00", "Z")


def _read_unix(text: str) -> float:
    if not re.fullmatch(r"\d{1,12}(\.\d{1,9})?", text.strip()):
        raise ValueError("not a number of seconds since 1970")
    return float(text)


#: ISO 8601 (``Z`` or an offset; none is UTC), written with milliseconds: ``2024-02-29T16:13:40.813Z``.
ISO_8601 = TimeFormat(_read_iso, _write_iso)
#: Whole seconds since 1970, as text (``1700000000``); a fraction is read, never written.
UNIX_SECONDS = TimeFormat(_read_unix, lambda moment: str(int(moment)))


class HmacVerifier:
    """Checks and makes one upstream's HMAC signatures.

    - ``secrets``: one secret or several (rotation: a signature made with any of them passes;
      the first one signs). ``str`` secrets are used as their UTF-8 bytes.
    - ``hash``: ``"sha256"`` or ``"sha512"``; ``encoding``: ``"hex"`` or ``"base64"``;
      ``prefix``: text before the encoded digest in the signature (``"sha256="``), if any.
    - ``signature_header`` / ``timestamp_header``: where :meth:`verify` reads them and
      :meth:`headers` writes them. A scheme that carries them elsewhere (in the body) hands them
      to :meth:`check` itself.
    - ``signed``: what the HMAC covers (:data:`Signed`); the raw body by default. A scheme whose
      template or function uses the timestamp requires one.
    - ``max_age`` / ``max_future``: how many seconds a timestamp may lie before or after now
      (None or 0: no limit that way); ``time_format``: :data:`ISO_8601` or :data:`UNIX_SECONDS`.
    - ``what`` and ``max_age_setting`` word the messages ("The callback's timestamp is 400 s
      old, more than the 300 s this app accepts (WINK_ACME_MAX_AGE).").
    """

    def __init__(
        self,
        secrets: str | bytes | Iterable[str | bytes],
        *,
        hash: str = "sha256",  # noqa: A002 - the scheme's word
        encoding: str = "hex",
        prefix: str = "",
        signature_header: str | None = None,
        timestamp_header: str | None = None,
        signed: Signed = "{body}",
        max_age: float | None = None,
        max_future: float | None = None,
        time_format: TimeFormat = ISO_8601,
        what: str = "message",
        max_age_setting: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if hash not in HASHES:
            raise ValueError(f"hash must be one of {', '.join(HASHES)}, not {hash!r}.")
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}.")
        if isinstance(secrets, str | bytes):
            secrets = (secrets,)
        self._keys = tuple(s.encode() if isinstance(s, str) else bytes(s) for s in secrets)
        self.hash, self.encoding, self.prefix = hash, encoding, prefix
        self.signature_header, self.timestamp_header = signature_header, timestamp_header
        self._signed, signs_time = _signed_bytes(signed)
        #: Whether a message must carry a timestamp: the scheme signs one, or names its header.
        self.timed = signs_time or timestamp_header is not None
        self.max_age, self.max_future = max_age, max_future
        self.time_format, self.what, self.max_age_setting = time_format, what, max_age_setting
        self.clock = clock
        self._size = HASHES[hash]

    def __repr__(self) -> str:  # never a secret
        return (f"HmacVerifier(hash={self.hash!r}, encoding={self.encoding!r}, "
                f"signature_header={self.signature_header!r}, secrets={len(self._keys)})")

    # -- signing ---------------------------------------------------------------------------

    def sign(self, raw: bytes, timestamp: str | None = None) -> str:
        """The signature of ``raw`` (and ``timestamp``, when the scheme signs one) under the
        first secret, written as the scheme writes it."""
        if not self._keys:
            raise ValueError("no secret to sign with.")
        return self.prefix + self._encode(self._digest(self._keys[0], raw, timestamp))

    def timestamp(self, now: float | None = None) -> str:
        """``now`` (default: the clock) written in the scheme's time format."""
        return self.time_format.write(self.clock() if now is None else now)

    def headers(self, raw: bytes, now: float | None = None) -> dict[str, str]:
        """The signature header (and the timestamp header, when the scheme has one) for sending
        ``raw``, as :meth:`verify` reads them."""
        if self.signature_header is None:
            raise ValueError("this scheme names no signature header: use sign() and timestamp().")
        timestamp = self.timestamp(now) if self.timed else None
        signed = {self.signature_header: self.sign(raw, timestamp)}
        if self.timestamp_header is not None and timestamp is not None:
            signed[self.timestamp_header] = timestamp
        return signed

    # -- verifying -------------------------------------------------------------------------

    def verify(self, raw: bytes, headers: Mapping[str, str], now: float | None = None) -> None:
        """Check a message whose signature (and timestamp) travel in the scheme's headers."""
        if self.signature_header is None:
            raise ValueError("this scheme names no signature header: use check().")
        timestamp = headers.get(self.timestamp_header) if self.timestamp_header else None
        self.check(raw, headers.get(self.signature_header), timestamp, now)

    def check(self, raw: bytes, signature: object, timestamp: object = None,
              now: float | None = None) -> None:
        """Check ``signature`` over ``raw`` (and ``timestamp``), then the timestamp's age.

        Raises :class:`~flask_wink.errors.VerificationError` (missing, malformed or wrong
        signature; missing timestamp), :class:`~flask_wink.errors.MalformedMessage` (an
        unreadable timestamp) or :class:`~flask_wink.errors.StaleMessage` (too old, too far ahead).
        """
        self.check_signature(raw, signature, timestamp)
        if self.timed:
            self.check_time(timestamp, now)  # type: ignore[arg-type]

    def check_signature(self, raw: bytes, signature: object, timestamp: object = None) -> None:
        """Only the signature (a :class:`~flask_wink.errors.VerificationError` when it is
        missing, malformed or matches no secret), not the timestamp's age."""
        where = f"{self.signature_header} header" if self.signature_header else "signature"
        if not isinstance(signature, str) or not signature.strip():
            raise VerificationError(f"missing {where}")
        if self.timed and (not isinstance(timestamp, str) or not timestamp):
            where_time = f"{self.timestamp_header} header" if self.timestamp_header else "timestamp"
            raise VerificationError(f"missing {where_time}")
        given = self._canonical(signature)
        if given is None:
            raise VerificationError(f"malformed {where}")
        signed_time = timestamp if self.timed else None
        matched = False
        for key in self._keys:
            # Against every secret, so the timing does not tell which one matched.
            expected = self._encode(self._digest(key, raw, signed_time)).encode()  # type: ignore[arg-type]
            matched |= hmac.compare_digest(expected, given)
        if not matched:
            raise VerificationError("signature does not match")

    def check_time(self, timestamp: str, now: float | None = None) -> float:
        """The age of ``timestamp`` in seconds (negative: ahead of now) when the window allows
        it; :class:`~flask_wink.errors.MalformedMessage` when it cannot be read,
        :class:`~flask_wink.errors.StaleMessage` when it is too old or too far ahead."""
        now = self.clock() if now is None else now
        try:
            age = now - self.time_format.read(str(timestamp))
        except (ValueError, OverflowError, OSError) as exc:
            raise MalformedMessage(f"The {self.what}'s timestamp is {exc}.") from None
        if self.max_age and age > self.max_age:
            setting = f" ({self.max_age_setting})" if self.max_age_setting else ""
            raise StaleMessage(f"The {self.what}'s timestamp is {int(age)} s old, more than the "
                               f"{int(self.max_age)} s this app accepts{setting}.")
        if self.max_future and -age > self.max_future:
            raise StaleMessage(f"The {self.what}'s timestamp is {int(-age)} s in the future.")
        return age

    # -- the scheme ------------------------------------------------------------------------

    def _digest(self, key: bytes, raw: bytes, timestamp: str | None) -> bytes:
        # hmac.new, not the one-shot hmac.digest: the one-shot lets the interpreter's lock go for
        # every message, however short, and under load each webhook then waits for a turn of the
        # lock to come back (a thread switch, up to the 5 ms switch interval); hmac.new lets it go
        # only for messages of 2 KiB and more, where the hash itself is the longer wait.
        return hmac.new(key, self._signed(timestamp, raw), self.hash).digest()

    def _encode(self, digest: bytes) -> str:
        return digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode("ascii")

    def _canonical(self, signature: str) -> bytes | None:
        """``signature`` as :meth:`sign` would write it (hex in lower case, without the prefix
        and surrounding blanks), or None when it cannot be a digest of the scheme's hash."""
        text = signature.strip()
        if self.prefix:
            if not text.startswith(self.prefix):
                return None
            text = text[len(self.prefix):]
        if self.encoding == "hex":
            text = text.lower()
            if len(text) != 2 * self._size or not re.fullmatch(r"[0-9a-f]+", text):
                return None
            return text.encode("ascii")
        try:
            decoded = base64.b64decode(text.encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error):
            return None
        return text.encode("ascii") if len(decoded) == self._size else None


_PLACES = re.compile(r"(\{timestamp\}|\{body\})")


def _signed_bytes(signed: Signed) -> tuple[Callable[[str | None, bytes], bytes], bool]:
    """The function that makes the signed bytes, and whether it needs a timestamp (a template
    naming ``{timestamp}``; a function is taken to need one)."""
    if callable(signed):
        return signed, True
    parts = _PLACES.split(signed)
    if "{body}" not in parts and "{timestamp}" not in parts:
        raise ValueError("signed must name {body} or {timestamp} (or be a function).")

    def made(timestamp: str | None, raw: bytes) -> bytes:
        pieces = {"{body}": raw, "{timestamp}": (timestamp or "").encode()}
        return b"".join(pieces.get(part, part.encode()) for part in parts)  # type: ignore[misc]

    return made, "{timestamp}" in parts
