"""What runs after each Smile Wink event is stored, in order (see ``SmileWink.handlers``)."""

from __future__ import annotations

from . import archives, claims, invites, userdata, widget

HANDLERS = (
    widget.send_widget_signals,
    claims.confirm_account,
    archives.track_archive,
    userdata.fetch_on_webhook,
    invites.track_invites,
)
