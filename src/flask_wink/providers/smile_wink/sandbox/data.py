"""Fixed sandbox data: providers named after the spec's examples and the sandbox users of Smile's docs."""

from __future__ import annotations

from typing import Any

LOGO = "https://cdn.smileapi.io/image/provider-logo/v20210813064500/{id}.png"


def _provider(
    id_: str,
    name: str,
    long_name: str,
    type_: str,
    type_label: str,
    sub_type: str,
    sub_type_label: str,
    mfa: bool,
    supported: list[str],
) -> dict[str, Any]:
    return {
        "id": id_,
        "name": name,
        "longName": long_name,
        "logoUrl": LOGO.format(id=id_),
        "type": type_,
        "typeLabel": type_label,
        "subType": sub_type,
        "subTypeLabel": sub_type_label,
        "active": True,
        "enabled": True,
        "mfa": mfa,
        "accountConnection": True,
        "supported": supported,
        "monitorSupported": False,
    }


PROVIDERS: list[dict[str, Any]] = [
    _provider(
        "upwork",
        "Upwork",
        "Upwork Global Inc.",
        "GIG",
        "Gig Platform",
        "SERVICES",
        "Professional Services",
        True,
        ["IDENTITIES", "EMPLOYMENTS", "INCOMES", "TRANSACTIONS"],
    ),
    _provider(
        "grab",
        "Grab",
        "Grab Holdings Inc",
        "GIG",
        "Gig Platform",
        "TRANSPORTATION",
        "Transport and Delivery",
        True,
        ["IDENTITIES", "EMPLOYMENTS", "INCOMES", "RATINGS"],
    ),
    _provider(
        "sss",
        "SSS",
        "Social Security System",
        "GOVERNMENT",
        "Govt Service",
        "INSURANCE",
        "Social Insurance",
        False,
        ["IDENTITIES", "EMPLOYMENTS", "CONTRIBUTIONS"],
    ),
    _provider(
        "freelancer",
        "Freelancer",
        "Freelancer Technology Pty Limited",
        "GIG",
        "Gig Platform",
        "SERVICES",
        "Professional Services",
        True,
        ["IDENTITIES", "EMPLOYMENTS", "INCOMES"],
    ),
]

# The sandbox logins from Smile's "Testing in Sandbox" table.
SANDBOX_USERS: list[dict[str, str]] = [
    {
        "username": "George",
        "fullName": "George Palomero Jr.",
        "password": "123456",
        "verificationCode": "1234",
        "phone": "+639559991234",
        "ssNumber": "3300000008",
    },
    {
        "username": "Ryan",
        "fullName": "Ryan Lestari",
        "password": "654321",
        "verificationCode": "1234",
        "phone": "+628119994321",
        "ssNumber": "",
    },
    {
        "username": "Christina",
        "fullName": "Christina Tan",
        "password": "YGUS1",
        "verificationCode": "1234",
        "phone": "+6599996789",
        "ssNumber": "",
    },
    {
        "username": "Anisha",
        "fullName": "Anisha Bhatia",
        "password": "123456",
        "verificationCode": "1234",
        "phone": "+919511198765",
        "ssNumber": "",
    },
]


def find_login(username: str) -> dict[str, str] | None:
    """The sandbox user a login name belongs to (name, phone or SS number), if any."""
    wanted = (username or "").strip().lower()
    for user in SANDBOX_USERS:
        names = {user["username"].lower(), user["phone"], user["ssNumber"]}
        if wanted and wanted in names:
            return user
    return None
