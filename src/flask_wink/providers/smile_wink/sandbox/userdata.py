"""User data: identities, employments, incomes and the rest, for the sandbox users.

Data is made, deterministically, for each account that CONNECTs (the same sandbox user, provider and
account id always give the same items) and deleted when the account is revoked. Every provider
serves every data type here, so an app can try all of them with one login; Smile serves only what a
provider ``supported`` lists.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, datetime, timedelta
from typing import Any

from flask import Flask, request

from .data import SANDBOX_USERS
from .http import envelope, page
from .state import SandboxError, SandboxState

#: The Open API's user-data collections, in the order their *_ADDED events are sent.
KINDS = ("identities", "employments", "incomes", "transactions", "documents", "ratings", "contributions")

#: kind -> (id prefix, *_ADDED event type, the event's per-item id field or None for a count event).
_EVENTS = {
    "identities": ("i", "IDENTITY_ADDED", "identityId"),
    "employments": ("e", "EMPLOYMENTS_ADDED", None),
    "incomes": ("in", "INCOMES_ADDED", None),
    "transactions": ("t", "TRANSACTIONS_ADDED", None),
    "documents": ("d", "DOCUMENTS_ADDED", None),
    "ratings": ("r", "RATING_ADDED", "ratingId"),
    "contributions": ("c", "CONTRIBUTIONS_ADDED", None),
}

# What the generated data says about each sandbox user (phones and names come from data.py).
_PROFILES: dict[str, dict[str, Any]] = {
    "George": {
        "first": "George", "middle": "Cimafranca", "last": "Palomero", "suffix": "Jr",
        "gender": "Male", "dob": "1970-08-24", "marital": "Married", "country": "PH", "currency": "PHP",
        "email": "gpalomero1234@yahoo.com", "line1": "12 Maybunga St", "line2": "Barangay Paraiso",
        "city": "Pasig City", "region": "NCR", "zip": "1600", "lat": "14.573454", "lon": "121.085042",
        "base": 45000, "employer": "Palomero Digital Services",
    },
    "Ryan": {
        "first": "Ryan", "middle": None, "last": "Lestari", "suffix": None,
        "gender": "Male", "dob": "1995-06-24", "marital": "Single", "country": "ID", "currency": "IDR",
        "email": "ryan.lestari@example.com", "line1": "Jl. Merdeka 24", "line2": "Gambir",
        "city": "Jakarta", "region": "DKI Jakarta", "zip": "10110", "lat": "-6.175392", "lon": "106.827153",
        "base": 9500000, "employer": "Nusantara Logistics",
    },
    "Christina": {
        "first": "Christina", "middle": None, "last": "Tan", "suffix": None,
        "gender": "Female", "dob": "1997-02-12", "marital": "Single", "country": "SG", "currency": "SGD",
        "email": "christina4321@yahoo.com", "line1": "8 Marina View", "line2": "#12-01",
        "city": "Singapore", "region": "Central", "zip": "018960", "lat": "1.279690", "lon": "103.852610",
        "base": 5200, "employer": "Lion City Design Pte Ltd",
    },
    "Anisha": {
        "first": "Anisha", "middle": None, "last": "Bhatia", "suffix": None,
        "gender": "Female", "dob": "1992-11-03", "marital": "Married", "country": "IN", "currency": "INR",
        "email": "anisha.bhatia@example.com", "line1": "21 Linking Road", "line2": "Bandra West",
        "city": "Mumbai", "region": "Maharashtra", "zip": "400050", "lat": "19.059984", "lon": "72.829544",
        "base": 85000, "employer": "Bhatia Analytics LLP",
    },
}

_JOBS = ("Web Developer", "Digital Marketing Assistant", "Data Analyst")
_WORK = ("Website redesign", "Ad campaign set-up", "Monthly sales report", "Logo design", "API integration")


def register(app: Flask, state: SandboxState) -> None:
    """Add the user-data endpoints to the sandbox app."""
    # kind -> item id -> item, in the order made, so cursors stay stable between pages.
    state.userdata = {kind: {} for kind in KINDS}
    state.userdata_sources = set()  # account ids whose data was made (and not revoked)

    def listener(event: dict[str, Any]) -> None:
        # Only account events: the events sent below come back here too and must not recurse.
        data = event.get("data") or {}
        if event["type"] == "ACCOUNT_CONNECTED":
            with state.lock:
                account = state.accounts.get(data.get("accountId"))
                made = _ensure(state, account) if account else None
            if made is not None:
                _announce(state, account, made)
        elif event["type"] == "ACCOUNT_DISCONNECTED":
            _forget(state, data.get("accountId"))

    state.subscribe(listener)

    def listing(kind: str):
        def view():
            items = _visible(state, kind)
            user_id = request.args.get("userId")
            # accountId is the spec's deprecated name for sourceId.
            source_id = request.args.get("sourceId") or request.args.get("accountId")
            if user_id:
                items = [i for i in items if i["metadata"]["userId"] == user_id]
            if source_id:
                items = [i for i in items if i["metadata"]["sourceId"] == source_id]
            return envelope(page(items))

        return view

    def one(kind: str):
        def view(item_id: str):
            for item in _visible(state, kind):
                if item["id"] == item_id:
                    return envelope(item)
            name = kind[:-3] + "y" if kind.endswith("ies") else kind[:-1]
            raise SandboxError(404, "MISSING_RESOURCE", f"{name.capitalize()} {item_id} was not found.")

        return view

    for kind in KINDS:
        app.add_url_rule(f"/v1/{kind}", f"list_{kind}", listing(kind), methods=["GET"])
        app.add_url_rule(f"/v1/{kind}/<item_id>", f"get_{kind}", one(kind), methods=["GET"])


def _visible(state: SandboxState, kind: str) -> list[dict[str, Any]]:
    """Items of connected accounts; made now for an account whose ACCOUNT_CONNECTED listener has not
    run yet (its webhook may reach the app, and the app ask, before that)."""
    with state.lock:
        for account in list(state.accounts.values()):
            _ensure(state, account)
        return [item for item in state.userdata[kind].values() if _live(state, item)]


def _live(state: SandboxState, item: dict[str, Any]) -> bool:
    """An account's items only while it is CONNECTED; items of other sources (uploads) always."""
    meta = item["metadata"]
    if meta["sourceType"] != "ACCOUNT":
        return True
    return (state.accounts.get(meta["sourceId"]) or {}).get("connectionStatus") == "CONNECTED"


def _ensure(state: SandboxState, account: dict[str, Any]) -> dict[str, list[dict[str, Any]]] | None:
    """Make an account's data once it is CONNECTED; the items made for it (None if it has none)."""
    if account.get("connectionStatus") != "CONNECTED" or not account.get("sandboxUser"):
        return None
    if account["id"] not in state.userdata_sources:
        state.userdata_sources.add(account["id"])
        for kind, items in make_user_data(account).items():
            for item in items:
                state.userdata[kind][item["id"]] = item
    return {
        kind: [i for i in state.userdata[kind].values() if i["metadata"]["sourceId"] == account["id"]]
        for kind in KINDS
    }


def _forget(state: SandboxState, account_id: str | None) -> None:
    with state.lock:
        state.userdata_sources.discard(account_id)
        for kind in KINDS:
            bucket = state.userdata[kind]
            for item_id in [k for k, v in bucket.items() if v["metadata"]["sourceId"] == account_id]:
                del bucket[item_id]


def _announce(state: SandboxState, account: dict[str, Any], made: dict[str, list[dict[str, Any]]]) -> None:
    """TASK_STARTED, the *_ADDED events of what was made, TASK_FINISHED: Smile's order after a link."""
    base = {"userId": account["userId"], "providers": [account["providerId"]]}
    task = {**base, "sourceId": account["id"], "sourceType": "ACCOUNT", "taskType": "LINK_ACCOUNT"}
    state.emit("TASK_STARTED", dict(task))
    datapoints = []
    for kind in KINDS:
        items = made[kind]
        if not items:
            continue
        datapoints.append(kind.upper())
        _prefix, event_type, id_field = _EVENTS[kind]
        if id_field:
            for item in items:
                state.emit(event_type, {**base, "accountId": account["id"], id_field: item["id"]})
        else:
            state.emit(event_type, {**base, "accountId": account["id"], "count": len(items)})
    # The spec lists ``data`` as required without defining it; counts per datapoint fill it.
    counts = {kind.upper(): len(made[kind]) for kind in KINDS if made[kind]}
    state.emit(
        "TASK_FINISHED",
        {**task, "status": "SUCCEEDED", "errorCode": None, "datapoints": datapoints, "data": counts},
    )


# -- the data itself ----------------------------------------------------------------------


def make_user_data(account: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every kind's items for one connected account, the same each time for the same account."""
    login = next(u for u in SANDBOX_USERS if u["username"] == account["sandboxUser"])
    profile = _PROFILES[login["username"]]
    provider = account["providerId"]
    rng = random.Random(f"{login['username']}:{provider}:{account['id']}")
    connected = datetime.strptime(account["updatedAt"], "%Y-%m-%dT%H:%M:%SZ")
    today = connected.date()
    meta = {
        "createdAt": account["updatedAt"],
        "itemCreatedAt": account["updatedAt"],
        "sourceId": account["id"],
        "sourceType": "ACCOUNT",
        "userId": account["userId"],
        "providerId": provider,
    }

    def ident(kind: str, n: int) -> str:
        prefix = _EVENTS[kind][0]
        return f"{prefix}-" + hashlib.sha256(f"{account['id']}:{kind}:{n}".encode()).hexdigest()[:32]

    def item(kind: str, n: int, fields: dict[str, Any]) -> dict[str, Any]:
        return {"id": ident(kind, n), **fields, "metadata": dict(meta)}

    currency, base = profile["currency"], profile["base"]
    full = " ".join(p for p in (profile["first"], profile["middle"], profile["last"]) if p)
    if profile["suffix"]:
        full += f", {profile['suffix']}"
    address = {
        "fullAddress": ", ".join(
            profile[k] for k in ("line1", "line2", "city", "region", "zip", "country")
        ),
        "line1": profile["line1"],
        "line2": profile["line2"],
        "city": profile["city"],
        "region": profile["region"],
        "zip": profile["zip"],
        "country": profile["country"],
        "latitude": profile["lat"],
        "longitude": profile["lon"],
        "type": "Primary",
        "tags": ["Primary", "Home"],
    }
    identities = [
        item("identities", 0, {
            "fullName": full,
            "firstName": profile["first"],
            "middleName": profile["middle"],
            "lastName": profile["last"],
            "suffix": profile["suffix"],
            "gender": profile["gender"],
            "dob": profile["dob"],
            "maritalStatus": profile["marital"],
            "countryResidence": profile["country"],
            "citizenship": "Citizen",
            "photoUrl": f"https://cdn.smileapi.io/image/avatar/v20211115191600/{login['username'].lower()}.jpg",
            "referenceId": f"~{hashlib.sha256(account['id'].encode()).hexdigest()[:18]}",
            "profileUrl": f"https://{provider}.example/profiles/{login['username'].lower()}",
            "emails": [{"address": profile["email"], "type": "Primary"}],
            "phones": [{"number": login["phone"], "type": "Mobile"}],
            "socialProfiles": [
                {"socialUrl": f"https://www.facebook.com/{login['username'].lower()}", "type": "Facebook"}
            ],
            "addresses": [address],
        })
    ]
    employments = []
    start = today - timedelta(days=365 * 6)
    for n, title in enumerate(_JOBS):
        end = None if n == len(_JOBS) - 1 else start + timedelta(days=700)
        employments.append(item("employments", n, {
            "name": title,
            "description": f"{title} work through {provider}.",
            "jobTitle": title,
            "department": ("Engineering", "Marketing", "Analytics")[n],
            "employeeNumber": f"EMP-{rng.randint(100000, 999999)}",
            "employerNumber": f"ER-{rng.randint(100000, 999999)}",
            "employer": profile["employer"] if n == len(_JOBS) - 1 else f"{profile['employer']} ({n + 1})",
            "status": "Permanent" if n == len(_JOBS) - 1 else "Contractual",
            "startDate": start.isoformat(),
            "endDate": end.isoformat() if end else None,
            "reportedDate": (end or today).isoformat(),
        }))
        start = (end or today) + timedelta(days=30)
    incomes = []
    for n in range(14):  # semimonthly pay, newest first
        end = _month_half(today, n)
        begin = end.replace(day=16) if end.day > 15 else end.replace(day=1)
        gross = round(base / 2 * rng.uniform(0.9, 1.1), 2)
        incomes.append(item("incomes", n, {
            "workItem": rng.choice(_WORK),
            "employer": profile["employer"],
            "startDate": begin.isoformat(),
            "endDate": end.isoformat(),
            "currency": currency,
            "frequency": "Semimonthly",
            "baseAmount": round(base / 2, 2),
            "grossAmount": gross,
            "netAmount": round(gross * 0.85, 2),
        }))
    transactions = []
    for n in range(25):
        credit = n % 4 != 3
        amount = round(base / 8 * rng.uniform(0.5, 1.5), 2)
        transactions.append(item("transactions", n, {
            "date": (today - timedelta(days=3 * n + 1)).isoformat(),
            "description": f"Payment for {rng.choice(_WORK).lower()}" if credit else "Platform service fee",
            "currency": currency,
            "amount": amount if credit else -round(amount * 0.1, 2),
            "referenceId": f"TX{rng.randint(10**8, 10**9 - 1)}",
        }))
    documents = [
        item("documents", 0, {
            "name": "National ID",
            "docId": f"ID{rng.randint(10**7, 10**8 - 1)}",
            "status": "VALID",
            "documentType": "IDENTIFICATION",
            "issueDate": (today - timedelta(days=900)).isoformat(),
            "expiryDate": (today + timedelta(days=900)).isoformat(),
            "fileUrl": None,
            "remarks": None,
        }),
        item("documents", 1, {
            "name": f"{provider.capitalize()} Top Rated Certificate",
            "docId": None,
            "status": None,
            "documentType": "CERTIFICATE",
            "issueDate": (today - timedelta(days=200)).isoformat(),
            "expiryDate": None,
            "fileUrl": f"https://{provider}.example/certificates/{login['username'].lower()}.png",
            "remarks": None,
        }),
    ]
    current = rng.randint(80, 99)
    ratings = [
        item("ratings", 0, {
            "currentRating": current,
            "maxRating": 100,
            "calculatedPercentage": current,
            "reviewsReceived": rng.randint(10, 60),
            "likesReceived": rng.randint(5, 40),
            "jobsCompleted": rng.randint(12, 80),
        })
    ]
    contributions = []
    for n in range(12):  # monthly social security, newest first
        month_end = _month_half(today, 2 * n + 1)
        contributions.append(item("contributions", n, {
            "date": month_end.isoformat(),
            "currency": currency,
            "amount": round(base * 0.045, 2),
            "referenceId": f"PA{rng.randint(10**6, 10**7 - 1)}",
        }))
    return {
        "identities": identities,
        "employments": employments,
        "incomes": incomes,
        "transactions": transactions,
        "documents": documents,
        "ratings": ratings,
        "contributions": contributions,
    }


def _month_half(today: date, back: int) -> date:
    """The end of the ``back``-th half-month before ``today`` (the 15th or the month's last day)."""
    first = today.replace(day=1)
    # Half-months ending on the 15th and at the month's end, counting back from the last complete one.
    halves = []
    month = first
    while len(halves) <= back + 2:
        last = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        for end in (last, month.replace(day=15)):
            if end < today:
                halves.append(end)
        month = (month - timedelta(days=1)).replace(day=1)
    return halves[back]
