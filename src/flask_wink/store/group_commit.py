"""Group commit: how the writes a request waits for reach the database.

A request that stores an event answers only once the event is committed. One commit per request
would cost one fsync (SQLite) or one round trip (PostgreSQL) each. Instead, the thread of one
waiting request (the leader) commits every write that is waiting, in one transaction on a
connection of its own, while the next group gathers; then it hands the lead to the oldest write
of that group. Each request is woken alone, once its write is committed.

The writes on that path go straight through the driver (:mod:`.statements`): each statement is a
wait on the database that every thread of the process would otherwise queue behind.

Every write has a deadline: the moment its request arrived plus ``wait`` (``WINK_DB_LOCK_TIMEOUT``).
A group waits for the database's lock (SQLite's busy timeout, PostgreSQL's ``lock_timeout``) no
longer than the earliest deadline in it, so a request is answered within its own deadline whatever
group it rode in. When a group gives up because another process holds the lock, the writes queued
behind it are answered at once too: they would wait for the same lock, and the request threads they
hold are freed for pages and health checks.

Writes nobody waits for ("handled" marks) ride along with the next group; when traffic stops, the
committer's own thread (its flusher) commits them so they never sit forever. A forked child resets
every committer of its parent (see :func:`reset_after_fork`).
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
import weakref
from concurrent.futures import Future
from typing import Any

from sqlalchemy.engine import Engine

from .operations import execute, gathered, nothing
from .statements import EventStatements

log = logging.getLogger("flask_wink")

#: Every committer of this process, so that a forked child can reset them (see reset_after_fork).
COMMITTERS: weakref.WeakSet[GroupCommitter] = weakref.WeakSet()


def reset_after_fork() -> None:
    """In a forked child: every committer forgets the parent's connection, threads and queue."""
    for committer in list(COMMITTERS):
        committer._after_fork()


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=reset_after_fork)


class DatabaseBusy(TimeoutError):
    """A write the database did not take in time: another process holds its lock. Not committed."""


def lock_refused(exc: BaseException) -> bool:
    """Whether ``exc`` says the database's lock was not obtained in time (SQLite's busy or locked,
    PostgreSQL's ``lock_not_available``): the write was not made, and trying again at once would
    only wait for the same lock."""
    if isinstance(exc, DatabaseBusy):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (extended codes keep them low)
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return sqlstate == "55P03"


class _Slot:
    """One write waiting in a :class:`GroupCommitter`, and how its thread is woken."""

    __slots__ = ("op", "state", "result", "error", "future", "sleeper", "deadline", "_wake")

    WAITING, DONE, LEAD = 0, 1, 2

    def __init__(
        self,
        op: Any,
        future: Future | None = None,
        *,
        sleeper: bool = False,
        deadline: float | None = None,
    ) -> None:
        self.op, self.future, self.sleeper, self.deadline = op, future, sleeper, deadline
        self.state, self.result, self.error = _Slot.WAITING, None, None
        self._wake = threading.Lock()
        self._wake.acquire()

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        """Record the outcome; a sleeping thread is woken separately (see ``wake``)."""
        self.result, self.error, self.state = result, error, _Slot.DONE
        if self.future is not None and self.future.set_running_or_notify_cancel():
            if error is None:
                self.future.set_result(result)
            else:
                self.future.set_exception(error)

    def wake(self) -> None:
        self._wake.release()

    def hand_lead(self) -> None:
        self.state = _Slot.LEAD
        self._wake.release()

    def sleep(self, timeout: float | None) -> bool:
        return self._wake.acquire(timeout=-1 if timeout is None else max(0.0, timeout))


class GroupCommitter:
    """Commits writes in groups on a connection of its own (see the module's text).

    An op is one of the batched kinds above, or any ``op(connection)`` given the driver's
    connection inside the group's transaction. If a group fails, each op is retried in a
    transaction of its own, so one bad write cannot sink the others; unless the lock was not
    obtained in time, which a retry would only wait for again.
    """

    #: Writes nobody waits for (see :meth:`note`) ride along once this many are queued, or once
    #: the oldest is this many seconds old: most groups carry no statement for them.
    NOTES_BATCH = 256
    NOTES_MAX_AGE = 0.5
    #: The thread that writes them when no group comes: how long it lets them gather, and how
    #: often it looks anyway while nothing is noted.
    FLUSHER_DELAY = 0.05
    FLUSHER_IDLE = 1.0
    #: Seconds a request waits past its deadline for a group that took the lock just in time to
    #: finish its statements and commit (an fsync, a round trip).
    GRACE = 1.0
    #: The database's lock wait is set again only when the group's time left differs from it by
    #: more than this, so that a group committed at once costs no extra statement.
    WAIT_SLACK = 0.25

    def __init__(
        self, engine: Engine, max_group: int = EventStatements.MAX_ROWS, *, wait: float = 60.0
    ) -> None:
        self.engine = engine
        #: Seconds a write may wait for the database's lock, from when it was queued.
        self.wait = wait
        self.dialect = engine.dialect.name
        self.max_group = max_group
        self._lock = threading.Lock()
        self._pending: list[_Slot] = []
        self._notes: collections.deque = collections.deque()
        self._notes_since = 0.0
        self._notes_wanted = False
        self._close_when_done = False
        self._leading = False
        #: The thread that commits noted writes when no group comes (see _flush_noted), and the
        #: signal that wakes it.
        self._flusher: threading.Thread | None = None
        self._noted = threading.Event()
        self._conn: Any = None  # the pool's wrapper of the driver connection, detached
        self._raw: Any = None  # the driver connection itself
        self._lock_wait: float | None = None  # the connection's lock wait as last set, in s
        #: Transactions committed so far by this process (each one a group, or one retried op).
        self.commits = 0
        COMMITTERS.add(self)

    def _after_fork(self) -> None:
        # A forked child has this one thread: a lock another thread held, a group it was
        # leading, the writes its requests waited for and the noted ones stay with the parent,
        # which commits them. The child opens its own connections, the writer's on its first
        # write and the pool's anew, and starts its own flusher; the parent's connections stay
        # open for the parent (as SQLAlchemy advises), untouched here.
        self.engine.dispose(close=False)
        self._conn = self._raw = None
        self._lock_wait = None
        self._flusher = None
        self._noted = threading.Event()
        self._lock = threading.Lock()
        self._leading = False
        self._close_when_done = False
        self._notes_wanted = False
        self._pending = []
        self._notes = collections.deque()

    # -- the API

    def run(self, op: Any, timeout: float | None = None) -> Any:
        """Commit ``op`` with whatever else is waiting; its result once committed.

        Raises the database's error, or :class:`DatabaseBusy`, when the database did not take it
        within ``timeout`` s (default ``wait``): then it was not committed.
        """
        deadline = time.monotonic() + (self.wait if timeout is None else timeout)
        slot = _Slot(op, sleeper=True, deadline=deadline)
        if self._queue(slot):
            self._lead(slot)
        while slot.state != _Slot.DONE:
            if slot.state == _Slot.LEAD:
                self._lead(slot)
                continue
            if slot.sleep(deadline + self.GRACE - time.monotonic()):
                continue  # committed, or told to lead
            with self._lock:
                if slot.state == _Slot.LEAD:
                    continue  # the lead came just now: take it
                if slot.state == _Slot.WAITING and slot in self._pending:
                    self._pending.remove(slot)
            if slot.state != _Slot.DONE:
                # Not answered: the write may still commit, and a redelivery is then a duplicate.
                raise TimeoutError("the database did not commit in time")
        if slot.error is not None:
            raise slot.error
        return slot.result

    def submit(self, op: Any) -> Future:
        """Queue ``op`` without waiting; the future resolves once its transaction committed."""
        future: Future = Future()
        if self._queue(_Slot(op, future)):
            self._lead(None)
        self._ensure_flusher()
        return future

    def _queue(self, slot: _Slot) -> bool:
        """Queue a write; True when no commit is under way, so the caller is to lead."""
        with self._lock:
            self._pending.append(slot)
            lead = not self._leading
            self._leading = True
        return lead

    def note(self, op: Any) -> None:
        """Queue a write nobody waits for; it rides along with a later group (within a second)."""
        if not self._notes:
            self._notes_since = time.monotonic()
        self._notes.append(op)
        self._ensure_flusher()
        if not self._noted.is_set():
            self._noted.set()

    def flush(self) -> None:
        """Wait until every write queued so far, noted ones included, is committed."""
        with self._lock:
            self._notes_wanted = True
        self.run(nothing)

    def close(self) -> None:
        """Close this process's connection (the next write opens another).

        Safe at any moment, from a garbage collector's finalizer too: while a group is being
        committed, its leader closes the connection once the group is done. The thread that
        commits noted writes ends too, once it has committed those still waiting.
        """
        # The flusher stops (only an assignment: no lock, for a finalizer's sake). It sees it is
        # no longer the flusher, commits what is still noted, closes the connection again and
        # ends; a later note starts another.
        self._flusher = None
        if not self._lock.acquire(blocking=False):
            # Called (by a finalizer) while this very thread, or another, holds the lock.
            self._close_when_done = True
            return
        try:
            if self._leading:
                self._close_when_done = True
                return
            self._leading = True  # nobody starts a group while the connection closes
        finally:
            self._lock.release()
        try:
            self._drop_connection()
        finally:
            with self._lock:
                self._leading = False
            self._wake_heir()

    # -- leading

    def _lead(self, own: _Slot | None, *, notes: bool = False) -> None:
        # Holds the lead (self._leading) on entry. Commits groups until ``own`` is committed,
        # then hands the lead to the oldest waiting write, or lays it down. Should anything
        # escape, the lead is laid down too, so that writing goes on.
        try:
            self._lead_groups(own, notes=notes)
        except BaseException:
            with self._lock:
                self._leading = False
            self._wake_heir()
            raise

    def _lead_groups(self, own: _Slot | None, *, notes: bool) -> None:
        while True:
            with self._lock:
                group = self._pending[: self.max_group]
                del self._pending[: self.max_group]
                if (
                    notes
                    or self._notes_wanted
                    or len(self._notes) >= self.NOTES_BATCH
                    or (self._notes and time.monotonic() - self._notes_since > self.NOTES_MAX_AGE)
                ):
                    self._notes_wanted = False
                    noted = [self._notes.popleft() for _ in range(len(self._notes))]
                    group[:0] = [_Slot(op) for op in gathered(noted)]
                if not group:
                    self._leading = False
                    return
            # The group waits for the lock no longer than its earliest deadline, nor than the
            # leader's own (it may be behind this group); writes nobody waits for get ``wait``.
            deadline = min(
                (slot.deadline for slot in group if slot.deadline is not None),
                default=time.monotonic() + self.wait,
            )
            if own is not None and own.deadline is not None:
                deadline = min(deadline, own.deadline)
            self._commit(group, own, deadline)
            self._after_group()
            if own is not None and own.state != _Slot.DONE:
                continue
            with self._lock:
                # The heir is a request thread asleep on its write; submitted writes have none.
                heir = next((slot for slot in self._pending if slot.sleeper), None)
                if heir is not None:
                    heir.hand_lead()
                    return
                if not self._pending:
                    self._leading = False
                    return
            own = None  # only submitted writes are left: commit them too

    # -- the flusher

    def _ensure_flusher(self) -> None:
        # Writes nobody waits for must not sit forever when traffic stops.
        flusher = self._flusher
        if flusher is None or not flusher.is_alive():
            with self._lock:
                flusher = self._flusher
                if flusher is None or not flusher.is_alive():
                    flusher = threading.Thread(target=self._flush_noted, name="wink-flusher", daemon=True)
                    self._flusher = flusher
                    flusher.start()

    def _flush_noted(self) -> None:
        # The flusher's loop. Asleep until a write is noted (or, as a safety net, once a
        # second); then, after a moment for others to gather, it commits them unless a group is
        # being committed.
        me = threading.current_thread()
        while True:
            self._noted.wait(self.FLUSHER_IDLE)
            self._noted.clear()
            led = False
            while True:
                time.sleep(self.FLUSHER_DELAY)
                with self._lock:
                    waiting = bool(self._notes or self._pending)
                    lead = waiting and not self._leading
                    if lead:
                        self._leading = True
                if lead:
                    self._lead(None, notes=True)
                    led = True
                if lead or not waiting:
                    break
            if self._flusher is not me and not self._notes:
                if led and self._flusher is None:  # no write came since close(): close again
                    self.close()
                return

    # -- committing

    def _commit(self, group: list[_Slot], own: _Slot | None, deadline: float) -> None:
        try:
            try:
                results = self._transaction([slot.op for slot in group], deadline)
            except Exception as exc:
                if lock_refused(exc):
                    self._give_up(group, exc, own)
                    return
                # One bad write must not sink the others: each is tried alone, within the time
                # the group had.
                for number, slot in enumerate(group):
                    try:
                        result = self._transaction([slot.op], deadline)[0]
                    except Exception as exc:
                        if lock_refused(exc):
                            self._give_up(group[number:], exc, own)
                            return
                        slot.settle(error=exc)
                    else:
                        slot.settle(result)
            else:
                for slot, result in zip(group, results, strict=True):
                    slot.settle(result)
        finally:
            for slot in group:
                if slot.state != _Slot.DONE:  # something escaped: no write is left waiting
                    slot.settle(error=RuntimeError("the write could not be committed"))
                if slot.sleeper and slot is not own:
                    slot.wake()

    def _give_up(self, group: list[_Slot], exc: BaseException, own: _Slot | None) -> None:
        # Another process holds the lock past the group's deadline. The group's writes are not
        # committed: their requests are answered (503), and so is every request queued behind
        # them, which would wait for the same lock; writes nobody waits for go back to wait for
        # a later group.
        log.warning("the database's lock was not obtained in time (another process holds it)")
        noted = [slot for slot in group if not slot.sleeper and slot.future is None]
        with self._lock:
            behind, self._pending = self._pending, []
            self._notes.extendleft(reversed([slot.op for slot in noted]))
        busy = DatabaseBusy("another process held the database's lock while this write waited")
        for slot in group:
            if slot in noted:
                slot.state = _Slot.DONE  # queued again, not failed
            else:
                slot.settle(error=exc)
        for slot in behind:
            slot.settle(error=busy)
            if slot.sleeper and slot is not own:
                slot.wake()

    def _after_group(self) -> None:
        if self._close_when_done:
            self._close_when_done = False
            self._drop_connection()

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._lock_wait = None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a connection already broken
                log.debug("closing the event writer's connection failed", exc_info=True)

    def _wake_heir(self) -> None:
        # Writes queued while no one could lead: the first of them leads.
        with self._lock:
            if self._leading:
                return
            heir = next((slot for slot in self._pending if slot.sleeper), None)
            if heir is not None:
                self._leading = True
                heir.hand_lead()

    def _transaction(self, ops: list[Any], deadline: float) -> list[Any]:
        raw = self._connection()
        self._bound_lock_wait(raw, deadline)
        # The driver is in autocommit mode: BEGIN and COMMIT are statements of our own, prepared
        # once (the driver's own commit prepares COMMIT every time). On PostgreSQL a group that
        # is one statement needs neither: it is its own transaction, one round trip.
        if self.dialect == "sqlite":
            begin: str | None = "BEGIN IMMEDIATE"
        else:
            begin = None if EventStatements.one_statement(ops) else "BEGIN"
        try:
            if begin is None:
                results = execute(raw, ops)
            else:
                cursor = raw.cursor()
                cursor.execute(begin)
                results = execute(raw, ops)
                cursor.execute("COMMIT")
                cursor.close()
            self.commits += 1
            return results
        except Exception:
            self._rollback(raw)
            raise

    def _bound_lock_wait(self, raw: Any, deadline: float) -> None:
        # The database waits for another process's lock (SQLite's busy timeout, PostgreSQL's
        # lock_timeout) no longer than the group's deadline. Set outside any transaction, where
        # PostgreSQL keeps it whatever becomes of the transaction.
        left = deadline - time.monotonic()
        if left <= 0:
            raise DatabaseBusy("the write's time ran out before the database took it")
        if self._lock_wait is not None and abs(left - self._lock_wait) <= self.WAIT_SLACK:
            return
        milliseconds = max(1, int(left * 1000))  # PostgreSQL reads 0 as no limit at all
        if self.dialect == "sqlite":
            raw.execute(f"PRAGMA busy_timeout = {milliseconds}")
        else:
            cursor = raw.cursor()
            cursor.execute(f"SET lock_timeout = {milliseconds}")
            cursor.close()
        self._lock_wait = left

    def _connection(self) -> Any:
        """The driver's connection this process writes groups on."""
        if self._conn is not None:
            return self._raw
        # The connection leaves the pool for good, so the pool never sees its autocommit mode.
        conn = self.engine.raw_connection()
        raw = conn.driver_connection
        conn.detach()
        if self.dialect == "sqlite":
            raw.isolation_level = None
        else:
            raw.autocommit = True  # transactions are begun and committed by _transaction
        self._conn, self._raw = conn, raw
        self._lock_wait = None  # whatever the engine set: the first group sets its own
        return raw

    def _rollback(self, raw: Any) -> None:
        try:
            if self.dialect == "sqlite":
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
            elif raw.info.transaction_status != 0:  # not idle: inside our BEGIN, or failed in it
                cursor = raw.cursor()
                cursor.execute("ROLLBACK")
                cursor.close()
        except Exception:
            # The connection itself is broken (the server went away): open a new one next time.
            log.warning("dropping the event writer's database connection after an error")
            self._drop_connection()
