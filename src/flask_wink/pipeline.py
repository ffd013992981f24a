"""What happens to an event after it is stored: account status, the core's signals, then the
handlers its provider registered.

The same code runs after the answer in the process that stored the event (the default: on a
small bounded pool, ``WINK_HANDLE_EVENTS = "background"``), in the request itself
(``"request"``), in ``flask wink worker`` (``"worker"``), in a task on the host's Celery workers
(``"celery"``, see :mod:`flask_wink.tasks`), and in ``flask wink events retry``. A
handler or receiver that raises never loses the event: it is marked failed with the error and
is retried by itself: after ``WINK_RETRY_FIRST_DELAY`` s, then after waits growing by
``WINK_RETRY_FACTOR`` up to ``WINK_RETRY_MAX_DELAY`` s (with jitter), until
``WINK_RETRY_ATTEMPTS`` attempts ran out; it is then ``dead``, and only ``flask wink events
retry`` runs it again. Events whose claim lapsed (the process died) and failed events whose retry
is due are taken over by the next worker pass, the serving process's sweep, or ``flask wink
events retry``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask

from . import signals
from .provider import CALLBACK, UNCONFIRMED, Provider, StatusUpdate, member
from .retention import prune, prune_if_due
from .store import AccountChange, StoredEvent

if TYPE_CHECKING:
    from .state import WinkState

log = logging.getLogger("flask_wink")

#: Column sizes of wink_accounts: an event whose fields do not fit is stored all the same (a
#: status whose account id is too long is not tracked; a too long institution or error code is cut).
ACCOUNT_ID_MAX = 200
SHORT_TEXT_MAX = 100


def process_name() -> str:
    """Who claims events: host, pid and a random part, unique per process start."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def handle_event(app: Flask, state: WinkState, event: StoredEvent) -> list[str]:
    """Track the account status, send the core's signals, run the provider's handlers; record
    the outcome. Returns the errors (empty when everything succeeded)."""
    if event.payload_error is not None:  # nothing to hand a handler: failed, and said why
        mark_failed(state, event, event.payload_error)
        return [event.payload_error]
    errors: list[str] = []
    provider = state.providers.get(event.provider)
    if provider is not None and not event.status_read:
        # Read once here (a worker's event, or one stored without it): every step reads it.
        update = status_update(provider, event.kind, event.name, event.payload)
        event = replace(event, status_update=update, status_read=True)
    steps = [track_account, send_event_signals, *(member(provider, "handlers") if provider else ())]
    for step in steps:
        try:
            step(app, state, event, errors)
        except Exception as exc:  # the database or a bug: the event stays stored, marked failed
            name = getattr(step, "__qualname__", repr(step))
            log.exception("%s failed for event %s", name, event.id)
            errors.append(f"{name}: {exc!r}")
    if errors:
        mark_failed(state, event, "; ".join(errors))
    else:
        state.store.mark_handled(event.id)
    return errors


def now_of(state: WinkState) -> datetime:
    """The state's clock (``WinkState.clock``, replaceable in tests) as an aware UTC date-time."""
    return datetime.fromtimestamp(state.clock(), UTC)


def mark_failed(state: WinkState, event: StoredEvent, error: str) -> None:
    """Mark the event failed, to be retried by itself after the delay ``WINK_RETRY_*`` gives its
    attempt, or dead when that was its last attempt."""
    delay = state.retry.delay(max(1, event.attempts))
    retry_at = now_of(state) + timedelta(seconds=delay) if delay is not None else None
    if retry_at is None:
        log.warning("event %s is dead after %d attempt(s); flask wink events retry --id %s runs it again",
                    event.id, event.attempts, event.id)
    state.store.mark_failed(event.id, error, retry_at=retry_at)


def send_event_signals(app: Flask, state: WinkState, event: StoredEvent, errors: list[str]) -> None:
    """``callback_received`` or ``webhook_received`` for every event."""
    if event.kind == CALLBACK:
        signals.send(
            app, signals.callback_received, errors, event=event, name=event.name, args=event.payload
        )
    else:
        signals.send(
            app, signals.webhook_received, errors, event=event, type=event.name, payload=event.payload
        )


def status_update(provider: Provider, kind: str, name: str, payload: Any) -> StatusUpdate | None:
    """What the event says about an account, by its provider, with the one rule the core keeps
    for every provider: a browser's word is a claim, never a connection. An update of a browser
    event that says ``connected`` is recorded as :data:`~flask_wink.provider.UNCONFIRMED`, which
    replaces no other status (the provider is to confirm it with its upstream)."""
    update = provider.status_update(kind, name, payload)
    if update is not None and kind == CALLBACK and update.connected:
        log.warning("%s reported a browser event %s as connected: recorded as %s, a claim",
                    provider.name, name, UNCONFIRMED)
        update = replace(update, status=UNCONFIRMED, replaces=(), connected=False)
    return update


def account_change(
    provider: Provider, kind: str, name: str, payload: Any, upstream_user_id: str | None
) -> AccountChange | None:
    """The account status an event reports, as the store records it; None when it reports none."""
    if kind == CALLBACK and upstream_user_id is None:
        return None  # whose account it is cannot be known: nothing to record (nor to ask)
    return change_of(provider.name, kind, status_update(provider, kind, name, payload), upstream_user_id)


def change_of(
    provider_name: str, kind: str, update: StatusUpdate | None, upstream_user_id: str | None
) -> AccountChange | None:
    """``update`` (what an event of ``kind`` reports, see :func:`status_update`) as the change
    the store records; None when there is nothing to record."""
    if kind == CALLBACK:
        # Only accounts of the caller's own upstream user: the browser cannot be trusted further.
        owner = upstream_user_id
        if owner is None:
            return None
    else:
        owner = None
    if update is None or len(update.account_id) > ACCOUNT_ID_MAX:
        return None  # not an account id this store can keep; the event itself is still stored
    return AccountChange.make(
        provider_name,
        update.account_id,
        update.status,
        replaces=update.replaces,
        connected=update.connected,
        owner=owner,
        upstream_user_id=_fits(owner or upstream_user_id, ACCOUNT_ID_MAX),
        institution_id=_fits(update.institution_id, SHORT_TEXT_MAX),
        error_code=_fits(update.error_code, SHORT_TEXT_MAX),
    )


def _fits(value: str | None, limit: int) -> str | None:
    return value[:limit] if value is not None else None


def track_account(app: Flask, state: WinkState, event: StoredEvent, errors: list[str]) -> None:
    """Record the status the event reports (unless recorded with it) and say when it changed."""
    if event.provider not in state.providers:
        return
    update = event.status_update  # read once, when the event was received or its handling began
    change = change_of(event.provider, event.kind, update, event.upstream_user_id)
    if change is not None:
        changed = event.account_changed
        if changed is None:  # not recorded with the event: record it now
            changed = state.store.record_account(change)
        if change.owner is None and change.upstream_user_id is not None:
            # A signed message decides whose the account is, even when a browser named it first.
            # After the answer (the handler pool) nobody waits for it: it rides with the event's
            # "handled" mark, queued after it. Handled in the request, the answer shows it.
            state.store.assign_account(
                change.provider, change.account_id, change.upstream_user_id,
                wait=state.handler_pool is None,
            )
        if changed:
            signals.send(
                app,
                signals.account_status_changed,
                errors,
                event=event,
                provider=event.provider,
                account_id=change.account_id,
                status=change.status,
                upstream_user_id=change.upstream_user_id,
            )
    # Said whenever a signed message reports it, whether or not the status moved. Never for a
    # browser's report (a claim): its provider sends it once the upstream confirmed it.
    if update is not None and update.connected and update.announces:
        signals.send(
            app,
            signals.account_connected,
            errors,
            event=event,
            provider=event.provider,
            account_id=update.account_id,
            source="webhook",
        )


def sweep_if_due(app: Flask, state: WinkState) -> None:
    """Take over events whose claim lapsed (their process died while handling them) and retry
    failed events whose next attempt is due, when this process has not looked since it started
    or for ``WINK_SWEEP_INTERVAL`` s: on the handler pool when there is one, else in a thread of
    its own. Only where this process handles events itself (a ``flask wink worker`` does both in
    worker mode; in celery mode the sweep hands such events to Celery again)."""
    if not (state.handles_events or state.hand_off is not None) or not state.sweep_interval:
        return
    now = time.monotonic()
    last = state.last_sweep
    if last is not None and now - last < state.sweep_interval:
        return
    with state.sweep_lock:
        if state.last_sweep != last:
            return  # another thread started this sweep
        state.last_sweep = now
    # Events and fetched data past their retention go in a thread of their own: a long first
    # pass never holds up the handler pool.
    prune_if_due(app, state)
    if state.handler_pool is not None:
        try:
            future = state.handler_pool.submit(_sweep, app, state)
        except RuntimeError:
            return
    else:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wink-sweep")
        future = pool.submit(_sweep, app, state)
        pool.shutdown(wait=False)
    state.running.add(future)
    future.add_done_callback(state.running.discard)


def _sweep(app: Flask, state: WinkState) -> None:
    try:
        if state.hand_off is not None:
            taken = state.hand_off.take_over(app, state)
        else:
            taken = take_over_lapsed(app, state)
        if taken:
            log.warning("took over %d event(s) whose handling process had stopped or whose retry "
                        "was due", taken)
    except Exception:  # the database is down: the next sweep tries again
        log.exception("sweeping for events whose claim lapsed or whose retry is due failed")


def take_over_lapsed(app: Flask, state: WinkState, *, lease: float | None = None, batch: int = 50) -> int:
    """Claim and handle every event whose claim lapsed ``lease`` s ago (default
    ``WINK_CLAIM_LEASE``) and every failed event whose retry is due; returns how many. Pending
    events are left to their worker."""
    lease = state.claim_lease if lease is None else lease
    worker = process_name()
    taken = 0
    with app.app_context():
        while True:
            claimed = state.store.claim_events(
                worker, limit=batch, lease=lease, pending=False, now=now_of(state)
            )
            for event in claimed:
                handle_event(app, state, event)
                taken += 1
            if len(claimed) < batch:
                break
        state.store.flush()
    return taken


def start_handling(app: Flask, state: WinkState, event: StoredEvent) -> None:
    """Start handling a just-stored event in this process (after the answer, or in the request),
    unless a worker is to do it.

    After the answer, events wait in one queue that the pool's threads drain, each taking events
    until none is left: a thread is started only when fewer than the pool's size are draining,
    so under load a thread handles many events in one app context instead of the pool waking a
    thread, pushing a context and settling a future for each one.
    """
    if state.hand_off is not None:  # celery mode: a task on the host's workers handles it
        state.hand_off(state, event)
        sweep_if_due(app, state)
        return
    if not state.handles_events:
        return
    sweep_if_due(app, state)
    pool = state.handler_pool
    if pool is None:
        handle_event(app, state, event)
        # The answer shows what the handlers did: their "handled" or "failed" mark, and what
        # else they left to ride with a later group, is committed before it goes.
        state.store.flush()
        return
    with state.handler_lock:
        state.handler_queue.append(event)
        if state.draining >= state.handler_threads:
            return  # a draining thread takes it: each drains until the queue is empty
        state.draining += 1
    try:
        future = pool.submit(_drain, app, state)
    except RuntimeError:  # the pool is shut down (the app is closing): a worker takes it over
        with state.handler_lock:
            state.draining -= 1
        log.warning("event %s left for a worker: the handler pool is closed", event.id)
        return
    state.running.add(future)
    future.add_done_callback(state.running.discard)


def _drain(app: Flask, state: WinkState) -> None:
    # Ends only once it found the queue empty under the lock, so an event queued while it ran
    # is never left without a thread (start_handling starts none when enough are draining).
    counted = True
    try:
        with app.app_context():
            while True:
                with state.handler_lock:
                    if not state.handler_queue:
                        state.draining -= 1
                        counted = False
                        return
                    event = state.handler_queue.popleft()
                try:
                    handle_event(app, state, event)
                except Exception:  # marking it failed failed too: its claim lapses, it is taken over
                    log.exception("handling event %s failed", event.id)
    finally:
        if counted:  # something escaped: the next event starts a thread again
            with state.handler_lock:
                state.draining -= 1


#: The name :func:`start_handling` had before.
hand_on = start_handling


def handler_pool(size: int) -> ThreadPoolExecutor:
    """The bounded pool that runs handlers after the answer."""
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix="wink-handler")


def run_worker(
    app: Flask,
    *,
    once: bool = False,
    batch: int = 50,
    poll: float = 0.5,
    lease: float | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Claim pending events (and ones whose claim lapsed ``lease`` s ago, by default
    ``WINK_CLAIM_LEASE``, and failed ones whose retry is due) and handle them until ``stop`` is
    set (or, with ``once``, none are left). Meanwhile, and once more at the end with ``once``,
    events and fetched data past their retention are pruned (see :mod:`flask_wink.retention`).
    Returns how many events were handled."""
    from .state import get_state

    worker = process_name()
    handled = 0
    with app.app_context():
        state = get_state(app)
        lease = state.claim_lease if lease is None else lease
        while stop is None or not stop.is_set():
            claimed = state.store.claim_events(worker, limit=batch, lease=lease, now=now_of(state))
            for event in claimed:
                handle_event(app, state, event)
                handled += 1
            # Past their retention: pruned in a thread of its own, as often as the serving
            # process's sweep would (every minute when that is off).
            prune_if_due(app, state, interval=state.sweep_interval or 60.0)
            if not claimed:
                if once:
                    break
                time.sleep(poll)
        state.store.flush()
        if once and state.settings.retention.enabled:
            prune(state)  # nothing else to do: at full speed
    return handled
