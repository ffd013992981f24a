"""Confirming what the widget reports: its ``onAccountConnected`` is a claim (recorded
``UNCONFIRMED``) until Smile itself says the account is the user's and connected.

The kit asks Smile ``GET /accounts/{id}`` after the callback is stored (off the answer's path, as
every handler). Smile's answer is recorded as a webhook's would be; a claim Smile does not bear
out becomes ``NOT_CONFIRMED``. A failed read fails the event, which is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ... import signals as core_signals
from ...flow import ACCOUNT_ID_MAX
from ...provider import CALLBACK
from ...state import WinkState
from ...store import StoredEvent
from . import signals
from .errors import SmileAPIError, SmileError, SmileNotFound
from .statuses import NAME, NOT_CONFIRMED_REPLACES, SMILE_STATUSES, AccountStatus, statuses_replaced_by

log = logging.getLogger("flask_wink")

#: Smile's answers that say it has no such account (a malformed id is none either).
NOT_KNOWN = (404, 400)


def confirm_account(app: Any, state: WinkState, event: StoredEvent, errors: list[str]) -> None:
    """Handler: have Smile confirm an account the widget reported connected, for the event's own
    user; record what Smile says (CONNECTED only when it says so), or NOT_CONFIRMED."""
    if event.kind != CALLBACK or not event.upstream_user_id:
        return
    provider = state.provider_of(NAME)
    update = provider.status_update(event.kind, event.name, event.payload)
    if update is None or update.status != AccountStatus.UNCONFIRMED or not update.announces:
        return  # not a report of a connection (a UI event only carries the account as it stands)
    if len(update.account_id) > ACCOUNT_ID_MAX:
        return  # not an id the store keeps, nor one Smile makes
    user, account_id = event.upstream_user_id, update.account_id
    try:
        account = provider.client.get_account(account_id)
    except SmileError as exc:
        if isinstance(exc, SmileNotFound) or (isinstance(exc, SmileAPIError) and exc.status in NOT_KNOWN):
            not_confirmed(app, state, event, errors, account_id, code=str(exc.code or exc.status))
        else:  # Smile down, slow, or refusing our key: the event fails and is retried
            errors.append(f"Smile could not confirm the account the widget reported: {exc}")
        return
    account = account if isinstance(account, Mapping) else {}
    if account.get("userId") != user:
        log.warning("Smile did not confirm an account reported by the browser of %s: not their account",
                    event.app_user_id)
        not_confirmed(app, state, event, errors, account_id, code="OTHER_USER")
        return
    reported = account.get("connectionStatus")
    if not isinstance(reported, str) or reported not in SMILE_STATUSES:
        not_confirmed(app, state, event, errors, account_id, code="UNKNOWN_STATUS")
        return
    status = AccountStatus(reported)
    if AccountStatus.UNCONFIRMED not in statuses_replaced_by(status):
        # Smile has it for this user but not connected yet (PENDING): the claim is not borne out;
        # Smile's webhook, or a later read, moves it on.
        not_confirmed(app, state, event, errors, account_id, code=str(status), status=status)
        return
    connection = account.get("connection")
    error_code = connection.get("errorCode") if isinstance(connection, Mapping) else None
    changed = state.store.update_account(
        NAME, account_id, status, replaces=statuses_replaced_by(status),
        connected=status is AccountStatus.CONNECTED, upstream_user_id=user,
        institution_id=_text(account.get("providerId")), error_code=_text(error_code),
    )
    # Smile answered for this user: the account is theirs, whoever's browser named it first.
    state.store.assign_account(NAME, account_id, user)
    if changed:
        core_signals.send(app, core_signals.account_status_changed, errors, event=event, provider=NAME,
                          account_id=account_id, status=str(status), upstream_user_id=user)
    if status is AccountStatus.CONNECTED:
        core_signals.send(app, core_signals.account_connected, errors, event=event, provider=NAME,
                          account_id=account_id, source="upstream")
    else:  # Smile has it for this user, but AWAITING_MFA, ERROR or DISCONNECTED: recorded as such
        core_signals.send(app, signals.account_not_confirmed, errors, event=event, account_id=account_id,
                          smile_user_id=user, status=str(status))


def not_confirmed(
    app: Any,
    state: WinkState,
    event: StoredEvent,
    errors: list[str],
    account_id: str,
    *,
    code: str,
    status: AccountStatus | None = None,
) -> None:
    """Record NOT_CONFIRMED over the user's claim (over nothing else) and say so; ``status`` is
    what Smile says the user's account is, None when Smile has no such account of theirs."""
    user = event.upstream_user_id
    changed = state.store.update_account(
        NAME, account_id, AccountStatus.NOT_CONFIRMED, replaces=NOT_CONFIRMED_REPLACES, connected=False,
        owner=user, upstream_user_id=user, error_code=code[:100],
    )
    if changed:
        core_signals.send(app, core_signals.account_status_changed, errors, event=event, provider=NAME,
                          account_id=account_id, status=str(AccountStatus.NOT_CONFIRMED),
                          upstream_user_id=user)
    core_signals.send(app, signals.account_not_confirmed, errors, event=event, account_id=account_id,
                      smile_user_id=user, status=str(status) if status is not None else None)


def _text(value: Any) -> str | None:
    return value[:100] if isinstance(value, str) and value else None
