"""The emulator's test institutions and the deterministic FDX data it serves for them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class Institution:
    """A test institution: how to log in to it and what its accounts look like."""

    guid: str  # the UCP institution id
    name: str
    aggregator: str
    url: str
    code: str
    username: str
    password: str
    #: The second factor's label and answer, or None when the bank asks for none.
    mfa: tuple[str, str] | None
    owner: tuple[str, str, str]  # first name, last name, e-mail
    #: (suffix, accountType, display number, current balance, available balance)
    accounts: tuple[tuple[str, str, str, float, float], ...]


INSTITUTIONS: tuple[Institution, ...] = (
    Institution(
        "mx_bank", "MX Bank", "mx", "https://www.mx.com", "mxbank", "mxuser", "correct", None,
        ("Jane", "Doe", "jane.doe@example.com"),
        (("chk", "CHECKING", "****1234", 1000.23, 985.12), ("sav", "SAVINGS", "****5678", 5250.00, 5250.00)),
    ),
    Institution(
        "sophtron_bank_nomfa", "Sophtron Bank NoMFA", "sophtron", "https://sophtron.com", "sophtron_nomfa",
        "asdf", "asdf", None,
        ("John", "Smith", "john.smith@example.com"),
        (("chk", "CHECKING", "****4321", 2540.10, 2500.00),),
    ),
    Institution(
        "sophtron_bank_mfa", "Sophtron Bank MFA", "sophtron", "https://sophtron.com", "sophtron_mfa",
        "asdf", "asdf", ("Verification code", "654321"),
        ("Maria", "Garcia", "maria.garcia@example.com"),
        (("chk", "CHECKING", "****8765", 731.48, 700.00), ("sav", "SAVINGS", "****2468", 12040.77, 12040.77)),
    ),
)

BY_GUID = {i.guid: i for i in INSTITUTIONS}

MERCHANTS = (
    ("Payroll Deposit", "CREDIT", 1450.00),
    ("Grocery Store", "DEBIT", 86.43),
    ("Coffee Shop", "DEBIT", 4.75),
    ("Electric Utility", "DEBIT", 120.18),
    ("Gas Station", "DEBIT", 45.60),
    ("Restaurant", "DEBIT", 38.20),
    ("Online Retailer", "DEBIT", 64.99),
    ("Interest Payment", "CREDIT", 1.27),
)


def search(query: str) -> list[Institution]:
    """Institutions whose name holds every word of ``query`` (all of them for an empty query)."""
    words = query.lower().split()
    return [i for i in INSTITUTIONS if all(w in i.name.lower() for w in words)]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def account_id(connection_id: str, suffix: str) -> str:
    """A stable account id for one account of a connection."""
    return f"ACT-{_digest(connection_id, suffix)[:16]}"


def accounts(institution: Institution, connection_id: str) -> list[dict]:
    """The connection's accounts, as FDX ``depositAccount`` entries."""
    found = []
    for suffix, kind, display, current, available in institution.accounts:
        found.append({
            "depositAccount": {
                "accountId": account_id(connection_id, suffix),
                "accountCategory": "DEPOSIT_ACCOUNT",
                "accountType": kind,
                "accountNumberDisplay": display,
                "productName": f"{institution.name} {kind.title()}",
                "nickname": f"{kind.title()} {display[-4:]}",
                "status": "OPEN",
                "currency": {"currencyCode": "USD"},
                "currentBalance": current,
                "availableBalance": available,
                "balanceAsOf": datetime.combine(date.today(), datetime.min.time()).isoformat() + "Z",
            }
        })
    return found


def customer(institution: Institution, connection_id: str, aggregator_user_id: str) -> dict:
    """The account owner, as an FDX customer."""
    first, last, email = institution.owner
    return {
        "customerId": aggregator_user_id,
        "name": {"first": first, "last": last},
        "email": [email],
        "addresses": [{"line1": "123 Main Street", "city": "Lehi", "region": "UT", "postalCode": "84043",
                       "country": "US"}],
        "telephones": [{"type": "HOME", "country": "1", "number": "8015550100"}],
        "accounts": [{"accountId": account_id(connection_id, a[0])} for a in institution.accounts],
    }


def transactions(account: str, start: date, end: date) -> list[dict]:
    """An account's transactions between ``start`` and ``end`` (one every other day, newest first)."""
    found = []
    day = end
    while day >= start:
        seed = int(_digest(account, day.isoformat())[:8], 16)
        description, memo, base = MERCHANTS[seed % len(MERCHANTS)]
        amount = round(base * (0.8 + (seed % 40) / 100), 2) if memo == "DEBIT" or base < 100 else base
        found.append({
            "depositTransaction": {
                "accountId": account,
                "transactionId": f"TRN-{_digest(account, day.isoformat(), 'id')[:16]}",
                "postedTimestamp": f"{day.isoformat()}T12:00:00Z",
                "transactionTimestamp": f"{day.isoformat()}T09:30:00Z",
                "description": description,
                "debitCreditMemo": memo,
                "status": "POSTED",
                "amount": amount,
            }
        })
        day -= timedelta(days=2)
    return found
