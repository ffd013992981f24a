"""Signals the kit sends after an event is stored; connect with ``signal.connect(fn)``.

Every receiver gets the Flask app as sender and, except for ``token_minted``, ``event`` (a
:class:`~flask_wink.store.StoredEvent`) among its keyword arguments. A receiver that raises is
logged; the event is then marked failed and ``flask wink events retry`` runs its receivers again,
so receivers should not mind running twice.
"""

from __future__ import annotations

import logging
from typing import Any

from blinker import Namespace, Signal

log = logging.getLogger("flask_wink")

_signals = Namespace()


def send(app: Any, signal: Signal, errors: list[str] | None = None, **kwargs: Any) -> None:
    """Send ``signal`` from ``app`` to every receiver; a receiver that raises never stops the others.

    Its error is logged and, when ``errors`` is given (while handling a stored event), added to it
    so the event is marked failed and can be retried; outside event handling nothing can be
    retried, so it is only logged.
    """
    event = kwargs.get("event")
    for receiver in signal.receivers_for(app):
        try:
            receiver(app, **kwargs)
        except Exception as exc:
            if event is not None:
                log.exception("a receiver of %s failed for event %s", signal.name, event.id)
            else:
                log.exception("a receiver of %s failed", signal.name)
            if errors is not None:
                name = getattr(receiver, "__qualname__", repr(receiver))
                errors.append(f"{signal.name} -> {name}: {exc!r}")


#: A widget callback was recorded. kwargs: event, name, args.
callback_received = _signals.signal("callback-received")
#: A verified, first-seen Smile webhook was stored. kwargs: event, type, data.
webhook_received = _signals.signal("webhook-received")
#: An account's last known status changed. kwargs: event (None when revoked through the kit),
#: account_id, status, smile_user_id.
account_status_changed = _signals.signal("account-status-changed")
#: The widget or Smile reported an account CONNECTED (so usually twice). kwargs: event, account_id, source.
account_connected = _signals.signal("account-connected")
#: The widget reported uploaded documents (onUploadsCreated). kwargs: event, uploads.
uploads_created = _signals.signal("uploads-created")
#: The widget was closed (onClose). kwargs: event, reason.
widget_closed = _signals.signal("widget-closed")
#: A Link token was minted for a user. kwargs: app_user_id, smile_user_id, created_user.
token_minted = _signals.signal("token-minted")
#: Smile sent an invite (INVITE_INVITED webhook). kwargs: event, invite_id, smile_user_id.
invite_sent = _signals.signal("invite-sent")
#: An invited user linked an account (INVITE_LINKED webhook). kwargs: event, invite_id, smile_user_id.
invite_linked = _signals.signal("invite-linked")
#: An account was revoked through the kit (no event). kwargs: account_id, smile_user_id, kept_data.
account_revoked = _signals.signal("account-revoked")
#: An archive's last known status changed. kwargs: event (None when revoked through the kit),
#: archive_id, status, smile_user_id.
archive_status_changed = _signals.signal("archive-status-changed")
#: An archive was revoked through the kit (no event). kwargs: archive_id, smile_user_id, kept_data.
archive_revoked = _signals.signal("archive-revoked")
