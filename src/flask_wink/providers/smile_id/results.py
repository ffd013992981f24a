"""What Smile ID's results mean: the one table of result codes, job types and the kit's statuses.

Every result code the kit knows falls in one class: ``approved``, ``provisional`` (under review:
a final result follows), ``rejected``, or ``cancelled``. docs/smile-id.md shows this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from ...settings import split_setting

NAME = "smile_id"
#: The browser event the kit records when it starts a verification for the signed-in user.
LINK_STARTED = "linkStarted"
#: The browser event a redirect back from the hosted page becomes (never trusted for the status).
REDIRECTED = "redirected"
#: Names of stored callbacks: an interim result and a final one are kept apart.
FINAL_RESULT = "final_result"
INTERIM_RESULT = "interim_result"
#: The name of what Smile ID's ``job_status`` answered for a stored callback: the only event
#: that moves a verification's status past ``pending`` (see :mod:`.confirmation`).
JOB_STATUS = "job_status"


class VerificationStatus(StrEnum):
    """A verification's status as the kit keeps it; it only moves forward."""

    PENDING = "pending"  # a link was made for the user; no result yet
    PROVISIONAL = "provisional"  # an interim result, or a final one under review
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # the link expired with no result


#: Result code -> (class, what it means). Codes not listed are taken as ``rejected`` when final
#: (the safe reading) and ``provisional`` when interim.
RESULT_CODES: dict[str, tuple[VerificationStatus, str]] = {
    "1012": (VerificationStatus.APPROVED, "Valid ID"),
    "1020": (VerificationStatus.APPROVED, "Exact Match"),
    "1021": (VerificationStatus.APPROVED, "Partial Match"),
    "0814": (VerificationStatus.PROVISIONAL, "Under Review"),
    "1013": (VerificationStatus.REJECTED, "Unable to Validate ID"),
    "1022": (VerificationStatus.REJECTED, "No Match"),
    "1023": (VerificationStatus.REJECTED, "Not Found"),
}

#: Codes only the kit's emulator sends, never Smile ID: none. (Smile ID sends no result for a
#: link the user cancelled, and neither does the emulator: such a verification stays pending,
#: with the redirect's ``cancelled``, until its link expires.)
EMULATOR_CODES: dict[str, tuple[VerificationStatus, str]] = {}


def describe(result_code: str) -> tuple[VerificationStatus, str] | None:
    """A code's class and meaning: Smile ID's table first, then the emulator's own codes."""
    return RESULT_CODES.get(result_code) or EMULATOR_CODES.get(result_code)

#: Smile ID's job type for each verification method.
JOB_TYPES: dict[str, int] = {
    "biometric_kyc": 1,
    "enhanced_kyc": 5,
    "doc_verification": 6,
    "enhanced_document_verification": 11,
}
VERIFICATION_METHODS = tuple(JOB_TYPES)

#: Which statuses each status may replace: forward only. A signed final result wins over a
#: status the kit decided itself (expired, cancelled); nothing replaces approved or rejected.
REPLACES: dict[VerificationStatus, tuple[VerificationStatus, ...]] = {
    VerificationStatus.PENDING: (),
    VerificationStatus.PROVISIONAL: (VerificationStatus.PENDING, VerificationStatus.EXPIRED),
    VerificationStatus.CANCELLED: (VerificationStatus.PENDING,),
    VerificationStatus.EXPIRED: (VerificationStatus.PENDING,),
    VerificationStatus.APPROVED: (
        VerificationStatus.PENDING,
        VerificationStatus.PROVISIONAL,
        VerificationStatus.CANCELLED,
        VerificationStatus.EXPIRED,
    ),
    VerificationStatus.REJECTED: (
        VerificationStatus.PENDING,
        VerificationStatus.PROVISIONAL,
        VerificationStatus.CANCELLED,
        VerificationStatus.EXPIRED,
    ),
}

#: Statuses after which nothing changes.
FINAL_STATUSES = frozenset({VerificationStatus.APPROVED, VerificationStatus.REJECTED})


def classify(result_code: str, final: bool) -> VerificationStatus:
    """The status a result implies: an interim result is provisional whatever its code."""
    if not final:
        return VerificationStatus.PROVISIONAL
    known = describe(result_code)
    return known[0] if known else VerificationStatus.REJECTED


def is_true(value: object) -> bool:
    """Smile ID sends booleans as strings (``"true"``); accept a JSON boolean too."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def verification_id(payload: Mapping[str, Any]) -> str | None:
    """The kit's id of the verification a result belongs to: the ``job_id`` it put in
    ``partner_params`` (else Smile ID's job id, for links made elsewhere)."""
    params = payload.get("PartnerParams")
    job_id = params.get("job_id") if isinstance(params, Mapping) else None
    if isinstance(job_id, str) and job_id:
        return job_id
    smile_job = payload.get("SmileJobID")
    return f"smile-{smile_job}" if isinstance(smile_job, str) and smile_job else None


def parse_id_types(value: Any) -> tuple[dict[str, str], ...]:
    """``"NG:BVN:enhanced_kyc,KE:NATIONAL_ID:biometric_kyc"`` (or a list of such, or of dicts)."""
    items = value if isinstance(value, list | tuple) and value and isinstance(value[0], dict) else None
    if items is not None:
        return tuple(dict(item) for item in items)
    parsed = []
    for item in split_setting(value):
        parts = [p.strip() for p in item.split(":")]
        if len(parts) != 3 or not all(parts) or parts[2] not in VERIFICATION_METHODS:
            raise ValueError(
                f"ID_TYPES entry {item!r} must be COUNTRY:ID_TYPE:method, method one of "
                f"{', '.join(VERIFICATION_METHODS)}"
            )
        parsed.append({"country": parts[0].upper(), "id_type": parts[1], "verification_method": parts[2]})
    if not parsed:
        raise ValueError("ID_TYPES names no ID type")
    return tuple(parsed)
