"""Jobs listed by state, and the queues a Redis holds: plain reads, no script.

Tools (the dashboard) page through a queue's jobs. Every state but the
finished ones has an index of its own (:mod:`sluice.protocol.keys`): waiting
ids in the four ready lists, delayed, active and dead jobs in zsets. A page is
one ranged read of that index and one pipelined fetch of the job hashes, so it
costs the same on a queue of ten jobs or ten million, and needs no Lua (the
scripts stay the protocol's business). The read is not atomic with the fetch:
a job that moved on in between shows its new state, or is left out if it is gone.

Completed and cancelled jobs are in no index (their hashes simply expire after
the result TTL), so they are found by ``SCAN``, a cursor at a time: a page
holds what a few SCAN batches found, in no particular order, and ``total`` is
unknown. That is the price of not slowing every finish down with an index.

This module plans the reads (pure); :class:`sluice.Queue` and
:class:`sluice.AsyncQueue` run them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sluice.jobinfo import JobInfo
from sluice.protocol.keys import PRIORITIES, QueueKeys
from sluice.stats import Priority

ListedState = Literal["waiting", "delayed", "active", "dead", "completed", "cancelled"]
LISTED_STATES: tuple[ListedState, ...] = (
    "waiting", "delayed", "active", "dead", "completed", "cancelled",
)  # fmt: skip
INDEXED: frozenset[str] = frozenset({"waiting", "delayed", "active", "dead"})
SCANNED = {"completed": b"c", "cancelled": b"x"}  # the job hash's state letter
MAX_LIMIT = 500
MAX_OFFSET = 10_000_000
SCAN_COUNT = 200  # keys per SCAN call
SCAN_ROUNDS = 20  # SCAN calls per page at most: a page read stays bounded on a big Redis

# Keys that exist for every queue that ever had a job (stats) or settings (config).
DISCOVERY_PATTERNS = ("q:{*}:stats", "q:{*}:config")
_QUEUE_KEY = re.compile(rb"q:\{([^}]+)\}:(?:stats|config)")


def listed_state(value: str) -> ListedState:
    """``value`` as a :data:`ListedState`, or a ValueError naming the choices."""
    for state in LISTED_STATES:
        if value == state:
            return state
    raise ValueError(f"state: {value[:40]!r} is not one of {', '.join(LISTED_STATES)}")


@dataclass(frozen=True)
class PageRequest:
    """Which jobs: a state, for waiting jobs optionally one priority, and the page."""

    state: ListedState
    priority: Priority | None = None
    offset: int = 0
    limit: int = 50
    cursor: int = 0  # SCAN cursor, for completed and cancelled jobs

    def __post_init__(self) -> None:
        if self.state not in LISTED_STATES:
            raise ValueError(f"state: {self.state!r} is not one of {', '.join(LISTED_STATES)}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit: {self.limit} is not between 1 and {MAX_LIMIT}")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise ValueError(f"offset: {self.offset} is not between 0 and {MAX_OFFSET}")
        if self.cursor < 0:
            raise ValueError(f"cursor: {self.cursor} must be >= 0")
        if self.priority is not None and self.state != "waiting":
            raise ValueError("priority: only waiting jobs are listed by priority")


@dataclass(frozen=True)
class JobPage:
    """One page of jobs; ``total`` is None and ``next_cursor`` set for scanned states."""

    state: ListedState
    jobs: list[JobInfo]
    total: int | None
    offset: int
    next_cursor: int | None = None  # None: nothing more to scan


@dataclass(frozen=True)
class Range:
    """One ranged read of an index: ``LRANGE``, ``ZRANGE`` or ``ZREVRANGE`` key start stop."""

    command: Literal["lrange", "zrange", "zrevrange"]
    key: str
    start: int
    stop: int
    reverse: bool = False  # the reply is back to front (ready lists pop from the right)


def waiting_keys(keys: QueueKeys, priority: Priority | None) -> list[str]:
    """The ready lists a waiting page reads, in the order workers serve them."""
    return [keys.ready(p) for p in (PRIORITIES if priority is None else (priority,))]


def waiting_ranges(
    lists: Sequence[str], lengths: Sequence[int], offset: int, limit: int
) -> list[Range]:
    """Ranges over ready lists (given in serving order) for jobs ``offset..offset+limit``.

    The next job to run is at the right end of its list, so index ``i`` from the
    front of the line is ``-(i + 1)``.
    """
    ranges: list[Range] = []
    skip, want = offset, limit
    for key, length in zip(lists, lengths, strict=True):
        if want == 0:
            break
        if skip >= length:
            skip -= length
            continue
        take = min(want, length - skip)
        ranges.append(Range("lrange", key, -(skip + take), -(skip + 1), reverse=True))
        skip, want = 0, want - take
    return ranges


def zset_range(keys: QueueKeys, state: ListedState, offset: int, limit: int) -> Range:
    """Delayed: soonest due first; active: nearest lease deadline first; dead: latest first."""
    stop = offset + limit - 1
    if state == "delayed":
        return Range("zrange", keys.delayed, offset, stop)
    if state == "active":
        return Range("zrange", keys.leases, offset, stop)
    return Range("zrevrange", keys.dead, offset, stop)


def zset_key(keys: QueueKeys, state: ListedState) -> str:
    return zset_range(keys, state, 0, 1).key


def ids_from(reply: Sequence[bytes | str], reverse: bool) -> list[str]:
    ids = [i.decode() if isinstance(i, bytes) else i for i in reply]
    return ids[::-1] if reverse else ids


def job_id_of(keys: QueueKeys, key: bytes | str) -> str:
    text = key.decode() if isinstance(key, bytes) else key
    return text.removeprefix(keys.job(""))


def queue_of(key: bytes | str) -> str | None:
    """The queue name in a key matched by :data:`DISCOVERY_PATTERNS` (None if it is not one)."""
    raw = key if isinstance(key, bytes) else key.encode()
    found = _QUEUE_KEY.fullmatch(raw)
    return found.group(1).decode() if found else None
