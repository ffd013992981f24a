"""The sandbox's in-memory world: users, tokens, accounts, webhooks, and webhook delivery."""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from .... import timeutil
from ..signature import SIGNATURE_HEADER, sign
from .data import PROVIDERS, SANDBOX_USERS, find_login
from .events import EVENT_TYPES, account_data, envelope

log = logging.getLogger("flask_wink.sandbox")

#: What a webhook may subscribe to: every event type, or ``ALL_EVENTS``.
WEBHOOK_EVENT_TYPES = (*EVENT_TYPES, "ALL_EVENTS")

ERROR_MESSAGES = {
    "INVALID_CREDENTIALS": "The username or password is incorrect.",
    "INVALID_MFA": "The verification code is incorrect.",
}


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """``moment`` as Smile writes times: UTC to the second, ending in ``Z``."""
    return timeutil.iso(moment, "seconds")


class SandboxError(Exception):
    """An error the sandbox answers with Smile's envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Delivery:
    """One webhook delivery attempt's outcome, kept so tests and people can see what was sent."""

    webhook_id: str
    url: str
    event_id: str
    event_type: str
    attempts: int = 0
    status: int | None = None
    error: str | None = None
    delivered: bool = False


class WebhookDispatcher:
    """Delivers signed events on one background thread, in order, retrying failed ones later."""

    def __init__(self, retry_delays: tuple[float, ...] = (1.0, 5.0), timeout: float = 5.0) -> None:
        self.retry_delays = retry_delays
        self._queue: queue.Queue = queue.Queue()
        self._timeout = timeout
        # Made on the first delivery, by the delivery thread: loading the CA bundle costs ~60 ms, and
        # most sandboxes (one per test) never deliver anything.
        self._http: httpx.Client | None = None
        self._pending = 0
        self._idle = threading.Condition()
        self.deliveries: list[Delivery] = []
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def submit(self, webhook: dict[str, Any], event: dict[str, Any]) -> None:
        delivery = Delivery(webhook["id"], webhook["url"], event["id"], event["type"])
        body = json.dumps(event, separators=(",", ":")).encode()
        with self._idle:
            self._pending += 1
            self.deliveries.append(delivery)
        self._queue.put((delivery, body, webhook["secret"]))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every submitted delivery succeeded or ran out of retries."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                delivery, body, secret = item
                self._attempt(delivery, body, secret)
        finally:
            # Closed here, not in close(), so a delivery in flight never meets a closed client.
            if self._http is not None:
                self._http.close()

    def _attempt(self, delivery: Delivery, body: bytes, secret: str) -> None:
        delivery.attempts += 1
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret)}
        if self._http is None:
            self._http = httpx.Client(
                timeout=self._timeout, headers={"User-Agent": "Smile-Sandbox-Webhooks"}
            )
        try:
            response = self._http.post(delivery.url, content=body, headers=headers)
            delivery.status, delivery.error = response.status_code, None
            delivery.delivered = response.is_success
        except httpx.HTTPError as exc:
            delivery.status, delivery.error = None, type(exc).__name__
        if delivery.delivered or delivery.attempts > len(self.retry_delays):
            if not delivery.delivered:
                log.warning(
                    "webhook %s to %s gave up after %d attempts",
                    delivery.event_type,
                    delivery.url,
                    delivery.attempts,
                )
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()
            return
        delay = self.retry_delays[delivery.attempts - 1]
        timer = threading.Timer(delay, self._queue.put, args=((delivery, body, secret),))
        timer.daemon = True
        timer.start()

    def close(self) -> None:
        """Stop the delivery thread once it has sent what is queued (retries not yet due are dropped)."""
        self._queue.put(None)


@dataclass
class SandboxState:
    """Everything the sandbox knows; one lock guards it all."""

    api_key: str = field(default_factory=lambda: "sbx_key_" + secrets.token_hex(8))
    api_secret: str = field(default_factory=lambda: "sbx_secret_" + secrets.token_hex(16))
    token_ttl: timedelta = timedelta(hours=5)
    mode: str = "SANDBOX"
    dispatcher: WebhookDispatcher = field(default_factory=WebhookDispatcher)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.users: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.accounts: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.archives: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.listeners: list = []

    # -- events ---------------------------------------------------------------------------

    def emit(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        """Record an event and deliver it to every active webhook subscribed to its type."""
        event = envelope(event_type, data, now())
        with self.lock:
            self.events.append(event)
            listeners = list(self.listeners)
            targets = [
                hook
                for hook in self.webhooks.values()
                if hook["active"]
                and (event_type in hook["eventTypes"] or "ALL_EVENTS" in hook["eventTypes"])
            ]
        for hook in targets:
            self.dispatcher.submit(hook, event)
        for listener in listeners:
            listener(event)
        return event

    def subscribe(self, listener) -> None:
        """Call ``listener(event)`` after each event is emitted (e.g. to emit follow-up events)."""
        with self.lock:
            self.listeners.append(listener)

    # -- users and tokens -----------------------------------------------------------------

    def create_user(self, external_metadata: dict[str, str]) -> tuple[dict, dict]:
        user_id = "tenant-" + uuid.uuid4().hex
        user = {
            "id": user_id,
            "externalMetadata": external_metadata,
            "createdAt": iso(now()),
            "providers": [],
            "session": {
                "userId": user_id,
                "channel": "Default",
                "channelId": None,
                "status": "IN_PROGRESS",
            },
        }
        with self.lock:
            self.users[user_id] = user
            token = self._new_token(user_id)
        self.emit("USER_CREATED", {"userId": user_id})
        return user, token

    def refresh_token(self, user_id: str) -> dict[str, Any]:
        with self.lock:
            self.user(user_id)
            return self._new_token(user_id)

    def _new_token(self, user_id: str) -> dict[str, Any]:
        token = {
            "id": "tk-" + uuid.uuid4().hex,
            "expiresAt": iso(now() + self.token_ttl),
            "mode": self.mode,
            "accessToken": secrets.token_urlsafe(32),
        }
        self.tokens[token["accessToken"]] = {
            "userId": user_id,
            "expires": time.time() + self.token_ttl.total_seconds(),
            "used": False,
        }
        return token

    def user(self, user_id: str) -> dict[str, Any]:
        with self.lock:
            user = self.users.get(user_id)
            if user is None:
                raise SandboxError(404, "MISSING_RESOURCE", f"User {user_id} was not found.")
            providers = sorted(
                {
                    a["providerId"]
                    for a in self.accounts.values()
                    if a["userId"] == user_id and a["connectionStatus"] == "CONNECTED"
                }
            )
            return {**user, "providers": providers}

    # -- widget sessions ------------------------------------------------------------------

    def start_session(self, access_token: str) -> dict[str, Any]:
        """Spend a Link token (single use) on a widget session."""
        with self.lock:
            token = self.tokens.get(access_token or "")
            if token is None or token["used"] or token["expires"] <= time.time():
                raise SandboxError(401, "INVALID_TOKEN", "The link token is expired or was used.")
            token["used"] = True
            session_id = secrets.token_urlsafe(24)
            self.sessions[session_id] = {"userId": token["userId"], "expires": token["expires"]}
            user_id = token["userId"]
            accounts = [
                self.account_view(a) for a in self.accounts.values() if a["userId"] == user_id
            ]
        return {
            "sessionId": session_id,
            "userId": user_id,
            "mode": self.mode,
            "providers": [{k: p[k] for k in ("id", "name", "longName", "mfa")} for p in PROVIDERS],
            "accounts": accounts,
        }

    def session_user(self, session_id: str) -> str:
        with self.lock:
            session = self.sessions.get(session_id or "")
            if session is None or session["expires"] <= time.time():
                raise SandboxError(401, "INVALID_TOKEN", "The widget session has expired.")
            return session["userId"]

    # -- accounts -------------------------------------------------------------------------

    def login(self, session_id: str, provider_id: str, username: str, password: str) -> dict:
        user_id = self.session_user(session_id)
        provider = next((p for p in PROVIDERS if p["id"] == provider_id), None)
        if provider is None:
            raise SandboxError(400, "INVALID_PARAMETERS", f"Unknown provider {provider_id!r}.")
        stamp = iso(now())
        account = {
            "id": "a-" + uuid.uuid4().hex,
            "createdAt": stamp,
            "providerId": provider_id,
            "userId": user_id,
            "loginName": username or "",
            "connectionStatus": "PENDING",
            "errorCode": None,
            "errorMessage": None,
            "updatedAt": stamp,
        }
        with self.lock:
            self.accounts[account["id"]] = account
        self.emit("ACCOUNT_CREATED", account_data("ACCOUNT_CREATED", account))
        login = find_login(username)
        if login is None or login["password"] != password:
            return self._fail(account, "INVALID_CREDENTIALS")
        account["sandboxUser"] = login["username"]
        if provider["mfa"]:
            return self._set_status(account, "AWAITING_MFA")
        return self._connect(account)

    def verify_mfa(self, session_id: str, account_id: str, code: str) -> dict:
        account = self._session_account(session_id, account_id)
        if account["connectionStatus"] != "AWAITING_MFA":
            raise SandboxError(400, "INVALID_PARAMETERS", "The account is not awaiting a code.")
        expected = next(
            u["verificationCode"] for u in SANDBOX_USERS if u["username"] == account["sandboxUser"]
        )
        if (code or "").strip() != expected:
            return self._fail(account, "INVALID_MFA")
        return self._connect(account)

    def remove_account(self, session_id: str, account_id: str) -> dict:
        self._session_account(session_id, account_id)
        return self.revoke_account(account_id)

    def revoke_account(self, account_id: str) -> dict:
        self.account(account_id)  # 404 for an unknown account
        with self.lock:
            account = self.accounts[account_id]
            already = account["connectionStatus"] == "DISCONNECTED"
            self._set_status(account, "DISCONNECTED")
        if not already:
            self.emit("ACCOUNT_DISCONNECTED", account_data("ACCOUNT_DISCONNECTED", account))
        return self.account_view(account)

    def _session_account(self, session_id: str, account_id: str) -> dict:
        user_id = self.session_user(session_id)
        with self.lock:
            account = self.accounts.get(account_id)
        if account is None or account["userId"] != user_id:
            raise SandboxError(404, "MISSING_RESOURCE", f"Account {account_id} was not found.")
        return account

    def _connect(self, account: dict) -> dict:
        view = self._set_status(account, "CONNECTED")
        self.emit("ACCOUNT_CONNECTED", account_data("ACCOUNT_CONNECTED", account))
        return view

    def _fail(self, account: dict, error_code: str) -> dict:
        view = self._set_status(account, "ERROR", error_code)
        self.emit("ACCOUNT_FAILED", account_data("ACCOUNT_FAILED", account, ERROR_MESSAGES[error_code]))
        return view

    def _set_status(self, account: dict, status: str, error_code: str | None = None) -> dict:
        with self.lock:
            account["connectionStatus"] = status
            account["errorCode"] = error_code
            account["errorMessage"] = ERROR_MESSAGES.get(error_code) if error_code else None
            account["updatedAt"] = iso(now())
            return self.account_view(account)

    def account(self, account_id: str) -> dict[str, Any]:
        with self.lock:
            account = self.accounts.get(account_id)
            if account is None:
                raise SandboxError(404, "MISSING_RESOURCE", f"Account {account_id} was not found.")
            return self.account_view(account)

    @staticmethod
    def account_view(account: dict[str, Any]) -> dict[str, Any]:
        """An account in the shape of the spec's ``Account`` schema."""
        return {
            "id": account["id"],
            "createdAt": account["createdAt"],
            "providerId": account["providerId"],
            "userId": account["userId"],
            "connectionStatus": account["connectionStatus"],
            "connection": {
                "status": account["connectionStatus"],
                "errorCode": account["errorCode"],
                "errorMessage": account["errorMessage"],
                "updatedAt": account["updatedAt"],
            },
            "monitorStatus": "UNSUPPORTED",
            "monitor": {"status": "UNSUPPORTED", "updatedAt": None},
            # Not in the Open API's schema; the widget reads these two directly.
            "status": account["connectionStatus"],
            "errorCode": account["errorCode"],
            "errorMessage": account["errorMessage"],
        }

    # -- webhooks -------------------------------------------------------------------------

    def create_webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        stamp = iso(now())
        hook = {
            "id": uuid.uuid4().hex,
            "createdAt": stamp,
            "name": body["name"],
            "url": body["url"],
            "secret": body["secret"],
            "eventTypes": body["eventTypes"],
            "active": body["active"],
            "includePayload": bool(body.get("includePayload")),
            "updatedAt": stamp,
        }
        with self.lock:
            self.webhooks[hook["id"]] = hook
        return dict(hook)

    def webhook(self, webhook_id: str) -> dict[str, Any]:
        with self.lock:
            hook = self.webhooks.get(webhook_id)
        if hook is None:
            raise SandboxError(404, "MISSING_RESOURCE", f"Webhook {webhook_id} was not found.")
        return dict(hook)

    def delete_webhook(self, webhook_id: str) -> None:
        with self.lock:
            if self.webhooks.pop(webhook_id, None) is None:
                raise SandboxError(404, "MISSING_RESOURCE", f"Webhook {webhook_id} was not found.")
