"""Handlers on the host's own Celery workers: ``WINK_HANDLE_EVENTS = "celery"``.

The event is committed before the answer, as in every mode: the store stays the source of truth.
It is stored claimed by the hand-off (``handling``, ``claimed_by = "celery@<process>"``), then one
task, :data:`TASK_NAME`, is sent to the host's Celery app for it, its task id made from the event's
id (:func:`task_id`), so a redelivered message is the same task. The first task for the event
takes it from the hand-off in one ``UPDATE`` and runs the pipeline
(:func:`flask_wink.pipeline.handle_event`) in the worker; a task that finds the event handled,
dead or in a live worker's hands does nothing (in the last case it looks again when that worker's
claim would lapse).

Failures follow the kit's policy (``WINK_RETRY_*``): the event is marked failed with its next
attempt's time, and the task retries itself then (Celery's retry, same task id); after the last
attempt the event is ``dead``. Nothing is lost when Celery loses a message or a worker dies: the
event's claim (the hand-off's, or the dead worker's) lapses after ``WINK_CLAIM_LEASE`` and the
serving process's sweep (and a worker's, after each task) hands it to Celery again; a due retry
whose message was lost likewise;
``flask wink worker`` and ``flask wink events retry`` handle such events in their own process.

The task runs with ``acks_late`` (the message is acknowledged once the task returned, so a worker
killed mid-task leaves it to be delivered again) and ``ignore_result``. It runs in the Flask app's
context: the one a Flask-aware task class of the host pushes, otherwise that of the app that called
``Wink(app, celery=...)`` in the worker's process (the module ``celery -A`` names imports it).
"""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, has_app_context

from .pipeline import handle_event, now_of, process_name, sweep_if_due
from .state import HANDED_PREFIX, get_state
from .timeutil import aware

if TYPE_CHECKING:
    from .state import WinkState
    from .store import StoredEvent

log = logging.getLogger("flask_wink")

#: The task the kit registers on the host's Celery app (route it with Celery's ``task_routes``).
TASK_NAME = "flask_wink.handle_event"
#: Where the kit keeps, on the host's Celery app, the Flask app that registered its task.
_APP_ATTRIBUTE = "flask_wink_app"
#: Seconds past a claim's lapse at which a task finding the event in another worker's hands looks
#: again (the clocks of two hosts are never quite in step).
_LAPSE_MARGIN = 1.0


def task_id(event_id: int) -> str:
    """The Celery task id of a stored event's task: the same for every message about the event."""
    return f"flask_wink.event.{event_id}"


def celery_app_for(app: Flask, given: Any) -> Any:
    """The host's Celery app for ``app``: ``Wink(app, celery=...)``, else ``WINK_CELERY_APP`` (a
    Celery app, or ``"module:attribute"`` naming one), else ``app.extensions["celery"]`` (Flask's
    own Celery pattern). None when the app needs none (another mode and none given). Raises
    ``RuntimeError`` with the fix when celery mode has no Celery app or Celery is not installed."""
    mode = app.config["WINK_HANDLE_EVENTS"]
    celery_app = given if given is not None else app.config.get("WINK_CELERY_APP")
    if celery_app is None and mode == "celery":
        celery_app = app.extensions.get("celery")
    if celery_app is None:
        if mode == "celery":
            raise RuntimeError(
                'WINK_HANDLE_EVENTS = "celery" needs your Celery app: pass Wink(app, celery=celery_app) '
                'or set WINK_CELERY_APP to it (or to "module:attribute").'
            )
        return None
    try:
        from celery import Celery
    except ImportError:
        raise RuntimeError(
            "Handling events on Celery needs Celery installed: pip install 'flask-wink[celery]'."
        ) from None
    if isinstance(celery_app, str):
        module, _, attribute = celery_app.partition(":")
        try:
            celery_app = getattr(importlib.import_module(module), attribute or "celery")
        except (ImportError, AttributeError) as exc:
            raise RuntimeError(
                f"WINK_CELERY_APP = {celery_app!r} names no Celery app ({exc}): give it as "
                '"module:attribute", or pass Wink(app, celery=celery_app).'
            ) from None
    if not isinstance(celery_app, Celery):
        raise RuntimeError(
            f"The Celery app given to flask-wink is a {type(celery_app).__name__}, not a celery.Celery: "
            "pass your Celery() instance as Wink(app, celery=celery_app) or WINK_CELERY_APP."
        )
    return celery_app


def register(app: Flask, celery_app: Any) -> None:
    """Register the kit's task on ``celery_app`` (once; a second app reuses it) and remember
    ``app`` as the Flask app its tasks run in when no app context is pushed for them."""
    setattr(celery_app, _APP_ATTRIBUTE, app)
    # Celery keeps the first task registered under a name: registering again is a no-op.
    celery_app.task(
        name=TASK_NAME,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
        max_retries=None,
    )(_run)


class CeleryHandOff:
    """Sends stored events to the host's Celery app (``WinkState.hand_off`` in celery mode)."""

    def __init__(self, celery_app: Any) -> None:
        self.celery_app = celery_app

    def __call__(self, state: WinkState, event: StoredEvent) -> bool:
        """Send the task of ``event`` (stored or claimed under ``state.handler_name``). False when
        the broker refused it: the event stays stored, and is handed over again once its claim lapses."""
        return self.send(event.id)

    def send(self, event_id: int) -> bool:
        try:
            self.celery_app.send_task(TASK_NAME, args=[event_id], task_id=task_id(event_id))
        except Exception as exc:  # the broker is down: the store keeps the event, the sweep resends
            log.warning("event %s could not be handed to Celery (%s); it is handed over again after "
                        "WINK_CLAIM_LEASE", event_id, type(exc).__name__)
            return False
        return True

    def take_over(self, app: Flask, state: WinkState, *, batch: int = 50) -> int:
        """Send a task again for the events handed over ``WINK_CLAIM_LEASE`` s ago that no task
        took (the message was lost, or is still queued: its copy finds the event taken), then
        claim for Celery those whose worker's claim lapsed, whose retry is due, or that wait as
        ``pending`` (stored in worker mode, or made pending by hand), and send a task for each.
        Returns how many were sent; stops at the first the broker refuses (the rest lapse again,
        and a later sweep sends them)."""
        store, name, lease = state.store, state.handler_name, state.claim_lease
        taken = 0
        with app.app_context():
            while True:
                ids = store.renew_handed(HANDED_PREFIX, name, limit=batch, lease=lease, now=now_of(state))
                for event_id in ids:
                    if not self.send(event_id):
                        return taken
                    taken += 1
                if len(ids) < batch:
                    break
            while True:
                claimed = store.claim_events(name, limit=batch, lease=lease, now=now_of(state))
                for event in claimed:
                    if not self.send(event.id):
                        return taken
                    taken += 1
                if len(claimed) < batch:
                    return taken


def flask_app(task: Any) -> Flask:
    """The Flask app a task runs in: the current one when the host's task class pushed its
    context, else the one that registered the task on this Celery app."""
    if has_app_context() and "wink" in current_app.extensions:
        return current_app._get_current_object()  # type: ignore[attr-defined]
    app = getattr(task.app, _APP_ATTRIBUTE, None)
    if app is None:
        raise RuntimeError(
            f"{TASK_NAME} has no Flask app in this worker: the module `celery -A` names must build it "
            "with Wink(app, celery=celery_app) (see docs/production.md, Several hosts)."
        )
    return app


def _run(task: Any, event_id: int, failed_after: int | None = None) -> str:
    """The task: claim the event, run its handlers, record the outcome; on failure, retry when
    the kit's policy says (Celery's retry: the same task id, ``failed_after`` the attempts so
    far). Returns what it did (``handled``, ``dead``, ``skipped``: not its event to take)."""
    app = flask_app(task)
    with app.app_context():
        state = get_state(app)
        store = state.store
        now = now_of(state)
        event = store.claim_event(
            event_id, process_name(), handed_prefix=HANDED_PREFIX, failed_after=failed_after,
            lease=state.claim_lease, now=now,
        )
        if event is None:
            return _not_ours(task, state, event_id, failed_after)
        errors = handle_event(app, state, event)
        store.flush()  # the outcome is committed before Celery hears the task is done
        sweep_if_due(app, state)
        if not errors:
            return "handled"
        after = store.get_event(event_id)
        if after is None or after.state != "failed" or after.next_attempt_at is None:
            return "dead"
        wait = (aware(after.next_attempt_at) - now_of(state)).total_seconds()
        raise task.retry(
            args=[event_id], kwargs={"failed_after": after.attempts}, countdown=max(0.0, wait),
            max_retries=None,
        )


def _not_ours(task: Any, state: WinkState, event_id: int, failed_after: int | None) -> str:
    """A task that could not claim its event: done with when the event is handled, dead, or
    failed (its own retry is scheduled); when a live worker holds it, look again once that claim
    would lapse (that worker may have died since)."""
    found = state.store.claim_of(event_id)
    if found is None:
        log.warning("%s: no event %s in this worker's database: does it use the serving app's "
                    "WINK_DATABASE_URL?", TASK_NAME, event_id)
        return "skipped"
    status, claimed_at = found
    if status != "handling" or claimed_at is None:
        log.debug("%s: event %s is %s: nothing to do", TASK_NAME, event_id, status)
        return "skipped"
    lapses = aware(claimed_at) + timedelta(seconds=state.claim_lease)
    wait = (lapses - now_of(state)).total_seconds() + _LAPSE_MARGIN
    log.info("%s: event %s is being handled elsewhere; looking again in %.0f s", TASK_NAME, event_id, wait)
    raise task.retry(
        args=[event_id], kwargs={"failed_after": failed_after},
        countdown=max(_LAPSE_MARGIN, wait), max_retries=None,
    )
