"""The background side of group commit: the thread that commits noted writes when no group comes,
and the reset of every committer in a forked child.

Writes nobody waits for ("handled" marks) ride along with the next group; when traffic stops,
this thread commits them so they never sit forever.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .group_commit import GroupCommitter

#: Every committer of this process, so that a forked child can reset them (see reset_after_fork).
COMMITTERS: weakref.WeakSet[GroupCommitter] = weakref.WeakSet()


def reset_after_fork() -> None:
    """In a forked child: every committer forgets the parent's connection, threads and queue."""
    for committer in list(COMMITTERS):
        committer._after_fork()


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=reset_after_fork)


class Flusher:
    """The thread of a :class:`~.group_commit.GroupCommitter` that commits noted writes."""

    def __init__(self, committer: GroupCommitter) -> None:
        self.committer = committer
        self.noted = threading.Event()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, name="wink-flusher", daemon=True)
        self.thread.start()

    def serves(self) -> bool:
        """Whether this thread still takes noted writes (not stopped, not dead)."""
        return not self.stopped and self.thread.is_alive()

    def _run(self) -> None:
        # Asleep until a write is noted (or, as a safety net, once a second); then, after a
        # moment for others to gather, it commits them unless a group is being committed.
        committer, noted = self.committer, self.noted
        while True:
            noted.wait(committer.FLUSHER_IDLE)
            noted.clear()
            led = False
            while True:
                time.sleep(committer.FLUSHER_DELAY)
                with committer._lock:
                    waiting = bool(committer._notes or committer._pending)
                    lead = waiting and not committer._leading
                    if lead:
                        committer._leading = True
                if lead:
                    committer._lead(None, notes=True)
                    led = True
                if lead or not waiting:
                    break
            if self.stopped and not committer._notes:
                if led and committer._flusher is self:  # no write came since close(): close again
                    committer.close()
                return
