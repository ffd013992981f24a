"""The emulator's test institutions (UCW's own test banks, under their UCP ids) and the
deterministic FDX data it serves for them, shaped as UCW's OpenAPI examples."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class Challenge:
    """One step of a bank's second factor: a text answer, or a choice among ``options``."""

    kind: str  # "text" or "options"
    label: str
    #: The text answer; for "options", any of the options is taken.
    answer: str = ""
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Account:
    """One account at a test bank."""

    suffix: str
    kind: str  # FDX accountType
    nickname: str
    number: str
    current: float
    available: float

    @property
    def display(self) -> str:
        """The masked number, as FDX ``accountNumberDisplay``."""
        return "****" + self.number[-4:]


@dataclass(frozen=True)
class Institution:
    """A test institution: how to log in to it and what its accounts look like."""

    guid: str  # the UCP institution id
    name: str
    aggregator: str
    url: str
    code: str
    #: The login field's label (MX says Username, Sophtron says User ID).
    login_label: str
    username: str
    password: str
    #: The second factor's steps, in order (none when the bank asks for none).
    mfa: tuple[Challenge, ...]
    owner: tuple[str, str, str]  # first name, last name, e-mail
    accounts: tuple[Account, ...]
    routing_number: str
    keywords: tuple[str, ...] = ()
    #: Logs in at the bank's own page (OAuth) instead of taking credentials in the widget.
    oauth: bool = False


_MX_ACCOUNTS = (
    Account("chk", "CHECKING", "Checking 1234", "4921711234", 1000.23, 985.12),
    Account("sav", "SAVINGS", "Savings 5678", "1526575678", 5250.00, 5250.00),
)

INSTITUTIONS: tuple[Institution, ...] = (
    Institution(
        "mxBank", "MX Bank", "mx", "https://mx.com", "mxbank", "Username", "mxuser", "correct", (),
        ("Jane", "Doe", "jane.doe@example.com"), _MX_ACCOUNTS, "111111111", ("Gringotts", "MX Bank"),
    ),
    Institution(
        "mxBankOauth", "MX Bank (Oauth)", "mx", "https://mx.com", "mx_bank_oauth", "Username", "", "", (),
        ("Jane", "Doe", "jane.doe@example.com"), _MX_ACCOUNTS, "111111111", ("Gringotts", "MX Bank", "oauth"),
        oauth=True,
    ),
    Institution(
        "sophtronBank", "Sophtron Bank", "sophtron", "https://sophtron.com", "sophtron_bank", "User ID",
        "asdfg12X", "asdfg12X",
        (Challenge("text", "Please enter the Captcha code", "asdf"),
         Challenge("text", "What is your favorite color?", "asdf"),
         Challenge("options", "Where should the token be sent?",
                   options=("Text message 1 (•••) •••-0102", "Email 1 s•••@example.com")),
         Challenge("text", "Please enter the Token", "asdf")),
        ("Maria", "Garcia", "maria.garcia@example.com"),
        (Account("chk", "CHECKING", "Primary Checking", "8765438765", 731.48, 700.00),
         Account("sav", "SAVINGS", "Primary Savings", "2468102468", 12040.77, 12040.77)),
        "222222222", ("soph",),
    ),
    Institution(
        "sophtronBankNoMFA", "Sophtron Bank NoMFA", "sophtron", "https://sophtron.com", "sophtron_bank_nomfa",
        "User ID", "asdf", "asdf", (),
        ("John", "Smith", "john.smith@example.com"),
        (Account("chk", "CHECKING", "Primary Checking", "9876541234", 2540.10, 2500.00),
         Account("sav", "SAVINGS", "Primary Savings", "9876544321", 830.00, 830.00)),
        "222222222", ("soph",),
    ),
)

BY_GUID = {i.guid: i for i in INSTITUTIONS}

#: (description, FDX debitCreditMemo, amount, category)
MERCHANTS = (
    ("Payroll Deposit", "CREDIT", 1450.00, "Paycheck"),
    ("Grocery Store", "DEBIT", 86.43, "Groceries"),
    ("Coffee Shop", "DEBIT", 4.75, "Coffee Shops"),
    ("Electric Utility", "DEBIT", 120.18, "Utilities"),
    ("Gas Station", "DEBIT", 45.60, "Gas"),
    ("Restaurant", "DEBIT", 38.20, "Restaurants"),
    ("Online Retailer", "DEBIT", 64.99, "Shopping"),
    ("Interest Payment", "CREDIT", 1.27, "Interest Income"),
)


def search(query: str) -> list[Institution]:
    """Institutions whose name or keywords hold every word of ``query``, or whose routing number
    it is (all of them for an empty query); an exact name first, as UCW ranks it."""
    words = query.lower().split()
    found = [i for i in INSTITUTIONS
             if query.strip() == i.routing_number
             or all(any(w in text.lower() for text in (i.name, *i.keywords)) for w in words)]
    return sorted(found, key=lambda i: i.name.lower() != query.strip().lower())


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def account_id(connection_id: str, suffix: str) -> str:
    """A stable account id for one account of a connection."""
    return f"ACT-{_digest(connection_id, suffix)[:16]}"


def _timestamp(day: date, hour: int = 0) -> str:
    return datetime.combine(day, datetime.min.time()).replace(hour=hour).isoformat() + "Z"


def _fi_attributes(institution: Institution, connection_id: str, external: str) -> list[dict]:
    return [{"name": "member_guid", "value": connection_id},
            {"name": "institution_guid", "value": institution.guid},
            {"name": "external_guid", "value": external},
            {"name": "institution_name", "value": institution.name}]


def accounts(institution: Institution, connection_id: str, *, with_numbers: bool) -> list[dict]:
    """The connection's accounts, as FDX ``depositAccount`` entries; the full account and routing
    numbers only when the connection was made for the ``accountNumber`` job type."""
    today = date.today()
    found = []
    for account in institution.accounts:
        found.append({
            "depositAccount": {
                "accountId": account_id(connection_id, account.suffix),
                "accountType": account.kind,
                "accountNumber": account.number if with_numbers else None,
                "accountNumberDisplay": account.display,
                "productName": f"{institution.name} {account.kind.title()}",
                "nickname": account.nickname,
                "status": "OPEN",
                "accountOpenDate": _timestamp(date(2021, 1, 4)),
                "accountClosedDate": None,
                "currency": {"currencyRate": None, "currencyCode": "USD", "originalCurrencyCode": None},
                "fiAttributes": _fi_attributes(institution, connection_id, f"act-{account.suffix}"),
                "routingTransitNumber": institution.routing_number if with_numbers else None,
                "balanceType": "ASSET",
                "interestRate": None,
                "lastActivityDate": _timestamp(today),
                "balanceAsOf": _timestamp(today),
                "currentBalance": account.current,
                "openingDayBalance": None,
                "availableBalance": account.available,
                "annualPercentageYield": 0.01 if account.kind == "SAVINGS" else None,
                "maturityDate": None,
            }
        })
    return found


def customers(institution: Institution, connection_id: str) -> list[dict]:
    """The account owner, as FDX customers: one per account, as MX answers."""
    first, last, email = institution.owner
    return [{
        "customerId": f"ACO-{_digest(connection_id, account.suffix, 'owner')[:16]}",
        "name": {"first": first, "last": last},
        "email": [email],
        "addresses": [{"line1": "123 Main Street", "city": "Lehi", "state": "UT", "postalCode": "84043",
                       "country": "US"}],
        "telephones": [{"type": "HOME", "country": "1", "number": "8015550100"}],
        "accounts": [{"accountId": account_id(connection_id, account.suffix)}],
    } for account in institution.accounts]


def transactions(institution: Institution, connection_id: str, account: str, start: date,
                 end: date) -> list[dict]:
    """An account's transactions between ``start`` and ``end`` (one every other day, newest first,
    none after today)."""
    found = []
    day = min(end, date.today())
    while day >= start:
        seed = int(_digest(account, day.isoformat())[:8], 16)
        description, memo, base, category = MERCHANTS[seed % len(MERCHANTS)]
        amount = round(base * (0.8 + (seed % 40) / 100), 2) if memo == "DEBIT" or base < 100 else base
        transaction_id = f"TRN-{_digest(account, day.isoformat(), 'id')[:16]}"
        found.append({
            "depositTransaction": {
                "accountId": account,
                "transactionId": transaction_id,
                "postedTimestamp": _timestamp(day, 12),
                "transactionTimestamp": f"{day.isoformat()}T09:30:00Z",
                "description": description,
                "debitCreditMemo": memo,
                "memo": None,
                "category": category,
                "status": "POSTED",
                "amount": amount,
                "fiAttributes": [
                    {"name": "member_guid", "value": connection_id},
                    {"name": "institution_guid", "value": institution.guid},
                    {"name": "account_guid", "value": account},
                    {"name": "external_guid", "value": f"trn-{transaction_id[4:]}"},
                ],
                "checkNumber": None,
            }
        })
        day -= timedelta(days=2)
    return found
