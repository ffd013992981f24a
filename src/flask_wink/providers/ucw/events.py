"""UCW's postMessage events, the statuses this kit records for a connection, and its account key."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

NAME = "ucw"

MEMBER_CONNECTED = "connect/memberConnected"
SELECTED_INSTITUTION = "connect/selectedInstitution"

#: Every postMessage type the widget sends (``{type, metadata}``); the link page relays these.
EVENT_TYPES: tuple[str, ...] = (
    "connect/loaded",
    "connect/stepChange",
    "connect/institutionSearch",
    SELECTED_INSTITUTION,
    "connect/enterCredentials",
    "connect/submitMFA",
    "connect/memberStatusUpdate",
    MEMBER_CONNECTED,
    "connect/memberError",
    "connect/backToSearch",
    "connect/memberDeleted",
    "connect/updateCredentials",
    "connect/createMemberError",
    "connect/oauthRequested",
    "connect/invalidData",
    "connect/connected/primaryAction",
)

#: The job types UCW accepts.
JOB_TYPES: tuple[str, ...] = ("accountNumber", "accountOwner", "transactions", "transactionHistory")

#: UCW's ``connectionStatus`` for a connected member (``memberStatusUpdate``).
CONNECTION_STATUS_CONNECTED = 6

# What this kit records for a connection (``wink_accounts.status``):
#: The browser said ``memberConnected``; UCW has not confirmed it (or refused to).
UNCONFIRMED = "UNCONFIRMED"
#: UCW did not know the connection for this user: the browser's claim is not trusted.
NOT_CONFIRMED = "NOT_CONFIRMED"
#: UCW answered for this connection and this user: the connection is real.
CONNECTED = "CONNECTED"
#: Deleted at UCW through this kit.
DELETED = "DELETED"

#: Which recorded statuses each status may replace (a status only moves forward).
REPLACES: dict[str, tuple[str, ...]] = {
    UNCONFIRMED: (UNCONFIRMED, NOT_CONFIRMED),
    NOT_CONFIRMED: (UNCONFIRMED,),
    CONNECTED: (UNCONFIRMED, NOT_CONFIRMED, CONNECTED, DELETED),
    DELETED: (UNCONFIRMED, NOT_CONFIRMED, CONNECTED, DELETED),
}


#: What :func:`connection_key` makes.
CONNECTION_KEY_RE = re.compile(r"ucw-[0-9a-f]{32}")


def connection_key(aggregator: str, connection_id: str) -> str:
    """The id a connection is recorded under in ``wink_accounts``: a digest, so the connection id
    itself (which, with the user id, opens the user's data at UCW) is never listed as an account."""
    digest = hashlib.sha256(f"{aggregator}\x00{connection_id}".encode()).hexdigest()
    return f"ucw-{digest[:32]}"


#: What the kit accepts as UCW's ids in a relayed event (the browser may send anything): an
#: aggregator's name, a connection id (sent to UCW in a header: visible ASCII only) and a UCP
#: institution id. Anything else is not a connection UCW made, so the claim is ignored.
AGGREGATOR_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}")
CONNECTION_ID_RE = re.compile(r"[\x21-\x7e]{1,200}")
INSTITUTION_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


def connected_ids(payload: Any) -> tuple[str, str, str | None] | None:
    """``(aggregator, connection id, UCP institution id)`` from a ``memberConnected``'s metadata:
    v2 says ``{aggregator, connectionId, ucpInstitutionId}``, v1 ``{aggregator, member_guid}``.
    None when an id is missing or not one UCW could have made (see the patterns above)."""
    if not isinstance(payload, Mapping):
        return None
    aggregator = payload.get("aggregator")
    connection = payload.get("connectionId") or payload.get("member_guid")
    if not (isinstance(aggregator, str) and AGGREGATOR_RE.fullmatch(aggregator)):
        return None
    if not (isinstance(connection, str) and CONNECTION_ID_RE.fullmatch(connection)):
        return None
    institution = payload.get("ucpInstitutionId")
    if institution in (None, ""):
        return aggregator, connection, None
    if not (isinstance(institution, str) and INSTITUTION_ID_RE.fullmatch(institution)):
        return None
    return aggregator, connection, institution


#: The fields of a relayed event that may hold a connection id (v2, v1).
CONNECTION_ID_FIELDS = ("connectionId", "member_guid")


def masked(value: str) -> str:
    """A connection id cut to its last four characters (``…Q7rX``)."""
    return "…" + value[-4:] if len(value) > 8 else "…"


def kept_metadata(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A relayed event's metadata as it is stored: each connection id masked (``connectionId``,
    ``member_guid``, a ``memberError``'s ``member.guid``), and, when the ids
    are ones UCW could have made, ``connection``: the connection's key (see
    :func:`connected_ids`). The browser's own ``connection``, if it sent one, is not kept."""
    kept = {k: masked(v) if k in CONNECTION_ID_FIELDS and isinstance(v, str) else v
            for k, v in payload.items() if k != "connection"}
    member = kept.get("member")
    if isinstance(member, Mapping) and isinstance(member.get("guid"), str):
        kept["member"] = {**member, "guid": masked(member["guid"])}  # a memberError's connection id
    ids = connected_ids(payload)
    if ids is not None:
        kept["connection"] = connection_key(ids[0], ids[1])
    return kept


def reported_connection(payload: Any) -> tuple[str, str | None] | None:
    """``(key, UCP institution id)`` of a stored ``memberConnected``: the key the kit stored in
    place of the connection id, or, for an event stored with its ids, the key they make."""
    if not isinstance(payload, Mapping):
        return None
    key = payload.get("connection")
    if isinstance(key, str) and CONNECTION_KEY_RE.fullmatch(key):
        institution = payload.get("ucpInstitutionId")
        valid = isinstance(institution, str) and INSTITUTION_ID_RE.fullmatch(institution)
        return key, institution if valid else None
    ids = connected_ids(payload)
    return (connection_key(ids[0], ids[1]), ids[2]) if ids is not None else None
