"""Signals of the Universal Connect Widget provider (the core's are in :mod:`flask_wink.signals`)."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: UCW confirmed a connection the browser reported.
#: kwargs: event, account_id, upstream_user_id, institution_id.
connection_confirmed = _signals.signal("ucw-connection-confirmed")
#: UCW did not know a connection the browser reported (not trusted).
#: kwargs: event, account_id, upstream_user_id.
connection_not_confirmed = _signals.signal("ucw-connection-not-confirmed")
#: A connection's data was fetched and kept. kwargs: account_id, upstream_user_id, document.
data_fetched = _signals.signal("ucw-data-fetched")
#: A connection was deleted at UCW and here. kwargs: account_id, upstream_user_id.
connection_deleted = _signals.signal("ucw-connection-deleted")
