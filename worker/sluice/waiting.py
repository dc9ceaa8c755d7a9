"""Waiting for a job's outcome without polling: the logic, apart from the round trips.

A waiter runs ``watch.lua``, which reads the job's state and, while the job has
not ended, marks that someone waits (``q:{N}:wt:<id>``, expiring with the
waiter). The script that ends the job (finish, cancel, reap) sees the mark and
appends an end notice to ``q:{N}:dn:<id>``, a one-entry stream with a short
TTL that carries the outcome (state, result or error and reason). The waiter
blocks on that stream with ``XREAD BLOCK``, which, unlike a list pop, wakes
*every* client blocked on the key: many waiters on one job all wake, and none
needs another round trip. Reading after the notice the watch saw (``0-0`` when
none) closes the race between the watch and the block: a notice written in
between is already there, and a stale one (a dead letter requeued since) is not
read.

When one block's time is up, the waiter watches again. Blocks are bounded
(below the client's socket timeout), so a wait with no timeout is a chain of
blocking reads, never a sleep loop. :class:`Waiter` holds that state machine; the
sync and async twins in :mod:`sluice.queue` only do the I/O.
"""

from __future__ import annotations

import time
from typing import Any

from sluice import jobinfo, limits
from sluice.errors import (
    JobCancelled,
    JobDeadLettered,
    JobNotFound,
    ResultExpired,
    WaitTimeout,
)
from sluice.protocol import ops
from sluice.protocol.keys import STATES, QueueKeys

# Longest single XREAD BLOCK: under the client's socket timeout (15 s), so a long wait
# is a chain of blocks and a dead server is still noticed.
MAX_BLOCK_S = 5.0
MIN_BLOCK_S = 0.001  # XREAD BLOCK 0 would mean "forever"
# The waiter mark outlives the block by this much: the round trip after a wake-up.
MARK_SLACK_S = 2.0


def check_timeout(timeout: float | None) -> float | None:
    """None (wait as long as it takes) or a finite number of seconds >= 0."""
    if timeout is None:
        return None
    return float(limits.WAIT_S.check("timeout", timeout))


def max_block(read_timeout: float | None) -> float:
    """The longest block: well under the client's socket timeout (or it reads as a dead server)."""
    return MAX_BLOCK_S if read_timeout is None else min(MAX_BLOCK_S, read_timeout / 2)


class Waiter:
    """One wait for one job: which call to make next, and what its reply means."""

    def __init__(
        self,
        keys: QueueKeys,
        job_id: str,
        timeout: float | None,
        *,
        known: bool,
        read_timeout: float | None = None,
    ) -> None:
        self.keys = keys
        self.max_block = max_block(read_timeout)
        self.job_id = job_id
        self.timeout = check_timeout(timeout)
        self.deadline = None if self.timeout is None else time.monotonic() + self.timeout
        # A handle saw the job enqueued: if it is gone, its record expired.
        self.known = known
        self.last = "0-0"  # the last end notice seen: a stale one wakes a waiter only once
        self.notice = keys.done(job_id)
        self.state = "waiting"

    def block_s(self) -> float:
        """How long the next XREAD may block (0: the time is up)."""
        if self.deadline is None:
            return self.max_block
        left = self.deadline - time.monotonic()
        return 0.0 if left <= 0 else max(MIN_BLOCK_S, min(left, self.max_block))

    def marker_s(self) -> float:
        """How long the waiter mark must live: this block and the round trip after it."""
        return self.block_s() + MARK_SLACK_S

    def watch(self) -> ops.Call[list[ops.Watched]]:
        return ops.watch([self.job_id], self.marker_s())

    def settle(self, watched: ops.Watched) -> tuple[bool, Any]:
        """(True, result) once the job completed; raises if it ended otherwise; (False, None)."""
        queue = self.keys.queue
        if watched.state is None:
            cls = ResultExpired if self.known else JobNotFound
            raise cls(queue, self.job_id)
        self.state = STATES.get(watched.state, watched.state)
        self.last = watched.notice if watched.notice != "0-0" else self.last
        if self.state == "completed":
            data = watched.result
            return True, jobinfo.decode_value(data) if data else None
        if self.state == "dead":
            reason = watched.dead_reason or "failed"
            raise JobDeadLettered(queue, self.job_id, reason, watched.error)
        if self.state == "cancelled":
            raise JobCancelled(queue, self.job_id)
        return False, None

    def timed_out(self) -> WaitTimeout:
        return WaitTimeout(self.keys.queue, self.job_id, self.timeout or 0.0, self.state)

    def xread_block_ms(self, block_s: float) -> int:
        return max(1, round(block_s * 1000))

    def woken(self, reply: Any) -> ops.Watched | None:
        """The outcome an XREAD brought (the end notice carries it); None: watch again."""
        for _key, entries in _streams(reply):
            if entries:
                return self.noticed(entries[-1])
        return None

    def noticed(self, entry: tuple[Any, Any] | None) -> ops.Watched | None:
        """The outcome one end notice (entry id, fields) carries; None: watch again."""
        if entry is None:
            return None
        entry_id, fields = entry
        self.last = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        watched = ops.notice(fields)
        return watched if watched.state is not None else None


def _streams(reply: Any) -> list[tuple[Any, list[Any]]]:
    """XREAD's reply as (key, entries) pairs: a list on RESP2, a dict on RESP3."""
    if not reply:
        return []
    pairs = reply.items() if isinstance(reply, dict) else reply
    return [(k, v) for k, v in pairs]
