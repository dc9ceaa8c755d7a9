"""The stats contract: what one round trip of the stats script returns.

This is the interface between the queue and the autoscaler. The operator,
``sluice up`` and ``sluice info`` read a :class:`QueueStats`; nothing else
about the Redis layout leaks out of :mod:`sluice`.

Counters and histograms are monotonic since the queue was created. Rates
(arrival, completion) and recent service times are derived by the reader from
the difference between two snapshots (see :meth:`QueueStats.since`), so a
snapshot needs no clock of its own beyond ``taken_at`` (the Redis server's
time, shared by every reader).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum


class Priority(IntEnum):
    """Strict priority levels; a lower value is served first."""

    CRITICAL = 0
    HIGH = 1
    NORMAL = 2
    LOW = 3

    @classmethod
    def parse(cls, value: str | int | Priority) -> Priority:
        """A name (any case) or a level 0-3; ValueError otherwise (True is not a level)."""
        if isinstance(value, Priority):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3:
            return cls(value)
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        names = ", ".join(p.name.lower() for p in cls)
        raise ValueError(f"priority: must be one of {names} (or 0-3), got {value!r}")


# Upper bounds (seconds) of the service-time and wait-time histogram buckets.
# The last bucket is open (+inf). Fixed, so every worker writes the same
# buckets and snapshots can be subtracted.
BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, math.inf,
)  # fmt: skip


@dataclass(frozen=True)
class Histogram:
    """Per-bucket counts (not cumulative) over :data:`BUCKETS`, plus the sum."""

    counts: tuple[int, ...] = (0,) * len(BUCKETS)
    total: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.counts)

    def mean(self) -> float | None:
        n = self.count
        return self.total / n if n else None

    def quantile(self, q: float) -> float | None:
        """Upper bound of the bucket holding quantile ``q`` (None when empty)."""
        n = self.count
        if not n:
            return None
        rank, seen = q * n, 0
        for bound, c in zip(BUCKETS, self.counts, strict=True):
            seen += c
            if seen >= rank and c:
                return bound
        return BUCKETS[-1]

    def interpolated(self, q: float) -> float | None:
        """Quantile ``q``, interpolated linearly inside its bucket (None when empty).

        For the open last bucket, its lower bound: "at least this long".
        """
        n = self.count
        if not n:
            return None
        rank, seen, lower = q * n, 0, 0.0
        for upper, count in zip(BUCKETS, self.counts, strict=True):
            if count and seen + count >= rank:
                if math.isinf(upper):
                    return lower
                return lower + (upper - lower) * max(0.0, rank - seen) / count
            seen += count
            lower = upper
        return lower

    def minus(self, older: Histogram) -> Histogram:
        counts = tuple(max(0, a - b) for a, b in zip(self.counts, older.counts, strict=True))
        return Histogram(counts, max(0.0, self.total - older.total))


@dataclass(frozen=True)
class Counters:
    """Monotonic totals since the queue was created."""

    enqueued: int = 0
    completed: int = 0
    failed: int = 0  # handler raised (each failed attempt counts once)
    retried: int = 0  # attempts scheduled again (failures, timeouts, started jobs' lease expiries)
    returned: int = 0  # claimed jobs back to the queue unstarted (their worker died): no attempt
    dead_lettered: int = 0
    dead_trimmed: int = 0  # dead letters dropped because the DLQ was full
    cancelled: int = 0  # jobs cancelled before or while running
    blocked: int = 0  # jobs enqueued waiting for parents (``after=``)
    unblocked: int = 0  # blocked jobs released, dead-lettered or cancelled


@dataclass(frozen=True)
class WorkerInfo:
    """A live worker process, from its heartbeat (expires when it stops)."""

    id: str  # the pod name in Kubernetes, host:pid locally
    busy: int  # slots running a job right now
    slots: int  # its concurrency
    seen_at: float  # Redis time of the last heartbeat


@dataclass(frozen=True)
class QueueStats:
    """One consistent snapshot of a queue, read in one round trip."""

    queue: str
    taken_at: float  # Redis server time, seconds since the epoch
    ready: Mapping[Priority, int] = field(default_factory=dict)
    delayed_due: int = 0  # delayed jobs whose time has come (ready in effect)
    delayed_total: int = 0
    delayed_soon: int = 0  # delayed jobs not due yet but due within the reader's horizon
    in_flight: int = 0  # jobs holding a lease
    dead: int = 0
    oldest_age_s: float | None = None  # longest wait among ready and due jobs
    counters: Counters = field(default_factory=Counters)
    service_time: Histogram = field(default_factory=Histogram)
    wait_time: Histogram = field(default_factory=Histogram)
    workers: tuple[WorkerInfo, ...] = ()

    @property
    def backlog(self) -> int:
        """Jobs that could run now: ready at every priority plus due delayed."""
        return sum(self.ready.values()) + self.delayed_due

    @property
    def blocked(self) -> int:
        """Jobs waiting for their parents: not backlog, they cannot run yet."""
        return max(0, self.counters.blocked - self.counters.unblocked)

    @property
    def busy_slots(self) -> int:
        return sum(w.busy for w in self.workers)

    @property
    def total_slots(self) -> int:
        return sum(w.slots for w in self.workers)

    def since(self, older: QueueStats) -> Window:
        """What happened between ``older`` and this snapshot."""
        return Window(
            seconds=max(0.0, self.taken_at - older.taken_at),
            enqueued=max(0, self.counters.enqueued - older.counters.enqueued),
            completed=max(0, self.counters.completed - older.counters.completed),
            service_time=self.service_time.minus(older.service_time),
            wait_time=self.wait_time.minus(older.wait_time),
        )


@dataclass(frozen=True)
class Window:
    """Activity between two snapshots: the input for rates."""

    seconds: float
    enqueued: int
    completed: int
    service_time: Histogram
    wait_time: Histogram

    @property
    def arrival_rate(self) -> float | None:
        return self.enqueued / self.seconds if self.seconds > 0 else None

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.seconds if self.seconds > 0 else None
