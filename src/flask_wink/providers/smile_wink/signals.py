"""Signals of the Smile Wink provider; connect with ``signal.connect(fn)``.

Sent with :func:`flask_wink.signals.send`, so a receiver that raises marks the event failed.
"""

from blinker import Namespace

_signals = Namespace()

#: The widget reported uploaded documents (onUploadsCreated). kwargs: event, uploads.
uploads_created = _signals.signal("smile-wink-uploads-created")
#: The widget was closed (onClose). kwargs: event, reason.
widget_closed = _signals.signal("smile-wink-widget-closed")
#: Smile did not bear out an account the widget reported connected (the kit asked it): no such
#: account of this user, or not connected. kwargs: event, account_id, smile_user_id, status (what
#: Smile says the user's account is, or None when Smile has no such account of theirs).
account_not_confirmed = _signals.signal("smile-wink-account-not-confirmed")
#: Smile sent an invite (INVITE_INVITED webhook). kwargs: event, invite_id, smile_user_id.
invite_sent = _signals.signal("smile-wink-invite-sent")
#: An invited user linked an account (INVITE_LINKED webhook). kwargs: event, invite_id, smile_user_id.
invite_linked = _signals.signal("smile-wink-invite-linked")
#: An account was revoked through the kit (no event). kwargs: account_id, smile_user_id, kept_data.
account_revoked = _signals.signal("smile-wink-account-revoked")
#: An archive's last known status changed. kwargs: event, archive_id, status, smile_user_id.
archive_status_changed = _signals.signal("smile-wink-archive-status-changed")
#: An archive was revoked through the kit (no event). kwargs: archive_id, smile_user_id, kept_data.
archive_revoked = _signals.signal("smile-wink-archive-revoked")
