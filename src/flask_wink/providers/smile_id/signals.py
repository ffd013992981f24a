"""Signals of the Smile ID provider; connect with ``signal.connect(fn)``.

Sent with :func:`flask_wink.signals.send`, so a receiver that raises marks the event failed.
"""

from blinker import Namespace

_signals = Namespace()

#: A signed result was stored (once per result, redeliveries not counted). kwargs: event, job_id,
#: smile_job_id, result_code, status (what it implies), final (IsFinalResult).
result_received = _signals.signal("smile-id-result-received")
#: A verification's status moved forward. kwargs: event, job_id, status, upstream_user_id.
verification_status_changed = _signals.signal("smile-id-verification-status-changed")
