"""Facts about Smile's Wink widget and Open API: URLs, callbacks, statuses, the token call.

Nothing here knows about Flask; the blueprint asks this module what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from .. import webhooks
from ..client import SmileClient


class AccountStatus(StrEnum):
    """The connection status of a linked account, as Smile names it."""

    PENDING = "PENDING"
    AWAITING_MFA = "AWAITING_MFA"
    ERROR = "ERROR"
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"


# Later states win over earlier ones, so a late-arriving callback cannot undo a webhook.
_STATUS_RANK = {
    AccountStatus.PENDING: 0,
    AccountStatus.AWAITING_MFA: 1,
    AccountStatus.ERROR: 2,
    AccountStatus.CONNECTED: 2,
    AccountStatus.DISCONNECTED: 3,
}

CALLBACKS = (
    "onAccountCreated",
    "onAccountConnected",
    "onAccountRemoved",
    "onTokenExpired",
    "onClose",
    "onAccountError",
    "onUploadsCreated",
    "onUploadsRemoved",
    "onUIEvent",
)

CALLBACK_STATUS = {
    "onAccountCreated": AccountStatus.PENDING,
    "onAccountConnected": AccountStatus.CONNECTED,
    "onAccountError": AccountStatus.ERROR,
    "onAccountRemoved": AccountStatus.DISCONNECTED,
}

WEBHOOK_STATUS = {
    "ACCOUNT_CREATED": AccountStatus.PENDING,
    "ACCOUNT_CONNECTED": AccountStatus.CONNECTED,
    "ACCOUNT_FAILED": AccountStatus.ERROR,
    "ACCOUNT_DISCONNECTED": AccountStatus.DISCONNECTED,
}

# Smile's own hosts; any other API host is taken to be a sandbox that serves its own SDK.
SMILE_API_HOSTS = {"open.smileapi.io", "sandbox.smileapi.io", "open-sandbox.smileapi.io"}
SMILE_SDK_URL = "https://web.smileapi.io/v{version}/smile.v{version}.js"
SDK_VERSIONS = (1, 2)


@dataclass(frozen=True)
class AccountUpdate:
    """What an event says about one account."""

    account_id: str
    status: AccountStatus
    provider_id: str | None = None
    error_code: str | None = None

    @property
    def connected(self) -> bool:
        """Whether the status means the account is connected."""
        return self.status is AccountStatus.CONNECTED


@dataclass(frozen=True)
class LinkToken:
    """A short-lived token that opens the widget for one Smile user."""

    access_token: str
    expires_at: str
    mode: str
    smile_user_id: str
    token_id: str | None = None


class SmileWinkProvider:
    """Smile's Wink widget: how to mint a token, name callbacks, read statuses and verify webhooks."""

    name = "smile_wink"
    callbacks = CALLBACKS
    signature_header = webhooks.SIGNATURE_HEADER
    sdk_versions = SDK_VERSIONS

    def sdk_url(self, version: int, api_base: str) -> str:
        """The widget script for ``version``: Smile's CDN for Smile's hosts, else the sandbox's."""
        parts = urlsplit(api_base)
        if parts.hostname in SMILE_API_HOSTS:
            return SMILE_SDK_URL.format(version=version)
        root = api_base.rstrip("/")
        if root.endswith("/v1"):
            root = root[: -len("/v1")]
        return f"{root}/v{version}/smile.v{version}.js"

    def mint_link_token(
        self, client: SmileClient, smile_user_id: str | None, app_user_id: str
    ) -> LinkToken:
        """A first-time user gets ``POST /users``; a returning one ``POST /tokens?userId=``."""
        if smile_user_id is None:
            # Smile takes ASCII metadata values of at most 500 characters; the mapping is ours anyway.
            fits = app_user_id.isascii() and len(app_user_id) <= 500
            data = client.create_user({"appUserId": app_user_id} if fits else {})
            smile_user_id = data["user"]["id"]
            token = data["token"]
        else:
            token = client.refresh_token(smile_user_id)
        return LinkToken(
            access_token=token["accessToken"],
            expires_at=token["expiresAt"],
            mode=token.get("mode", ""),
            smile_user_id=smile_user_id,
            token_id=token.get("id"),
        )

    def verify_signature(self, raw_body: bytes, headers: Mapping[str, str], secrets) -> None:
        """Raise :class:`~flask_wink.errors.WebhookVerificationError` unless the body is signed."""
        webhooks.verify_signature(raw_body, headers.get(self.signature_header), secrets)

    def parse_event(self, raw_body: bytes) -> dict[str, Any]:
        """The event envelope, or :class:`ValueError`."""
        return webhooks.parse_event(raw_body)

    def callback_account_update(self, name: str, args: Mapping[str, Any]) -> AccountUpdate | None:
        """The account status a widget callback reports, if any."""
        status = CALLBACK_STATUS.get(name)
        account = args
        if name == "onUIEvent":
            # The widget's UI events carry the account as it stands, AWAITING_MFA included.
            account = args.get("account") or {}
            account = {
                "accountId": account.get("id"),
                "providerId": account.get("providerId"),
                "errorCode": account.get("errorCode"),
            } | {"status": account.get("status")}
            status = _as_status(account["status"])
        if status is None or not isinstance(account.get("accountId"), str):
            return None
        return AccountUpdate(
            account_id=account["accountId"],
            status=status,
            provider_id=_str_or_none(account.get("providerId")),
            error_code=_str_or_none(account.get("errorCode")),
        )

    def webhook_account_update(self, event: Mapping[str, Any]) -> AccountUpdate | None:
        """The account status a webhook event reports, if any."""
        status = WEBHOOK_STATUS.get(event.get("type", ""))
        data = event.get("data") or {}
        if status is None or not isinstance(data.get("accountId"), str):
            return None
        providers = data.get("providers") or []
        return AccountUpdate(
            account_id=data["accountId"],
            status=status,
            provider_id=providers[0] if providers and isinstance(providers[0], str) else None,
            error_code=_str_or_none(data.get("errorCode")),
        )

    def callback_user_id(self, args: Mapping[str, Any]) -> str | None:
        """The Smile userId a callback names, if it names one."""
        return _str_or_none(args.get("userId"))

    def webhook_user_id(self, event: Mapping[str, Any]) -> str | None:
        """The Smile userId a webhook names, if it names one."""
        return _str_or_none((event.get("data") or {}).get("userId"))

    @staticmethod
    def statuses_replaced_by(new: AccountStatus) -> list[str]:
        """The last known statuses that ``new`` may replace (never a later one)."""
        return [str(old) for old, rank in _STATUS_RANK.items() if rank <= _STATUS_RANK[new]]


def _as_status(value: Any) -> AccountStatus | None:
    try:
        return AccountStatus(value)
    except ValueError:
        return None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


SMILE_WINK = SmileWinkProvider()
