"""Signals of the Smile ID provider; connect with ``signal.connect(fn)``.

Sent with :func:`flask_wink.signals.send`, so a receiver that raises marks the event failed.
"""

from blinker import Namespace

_signals = Namespace()

#: A signed callback was stored (once per result, redeliveries not counted); it decides nothing
#: until Smile ID's job_status confirms it. kwargs: event, job_id, smile_job_id, result_code,
#: status (what the callback claims), final (IsFinalResult).
result_received = _signals.signal("smile-id-result-received")
#: Smile ID's job_status confirmed a stored callback; the status is what job_status said.
#: kwargs: event (the job_status record), callback_event_id, job_id, smile_job_id, result_code,
#: status, final (job_complete).
result_confirmed = _signals.signal("smile-id-result-confirmed")
#: A stored callback does not match what Smile ID's job_status says for that job and user; it
#: moved nothing. kwargs: event (the job_status record), callback_event_id, job_id, reason.
result_not_confirmed = _signals.signal("smile-id-result-not-confirmed")
#: A verification's status moved forward (only ever on a job_status answer). kwargs: event,
#: job_id, status, upstream_user_id.
verification_status_changed = _signals.signal("smile-id-verification-status-changed")
