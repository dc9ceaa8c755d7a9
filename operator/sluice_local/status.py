"""What one poll of ``sluice up`` shows, and the summary it ends with: plain data.

The live view, the ``--json`` lines and the tests all read these values, so
what a script parses is exactly what a person sees. Rates come from two
consecutive snapshots' counters (:meth:`sluice.QueueStats.since`), except the
arrival rate, where the policy's own windowed estimate is preferred: it is
the figure the decision used.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from sluice.stats import Histogram, QueueStats
from sluice_scaling.reconcile import Tick


@dataclass(frozen=True)
class Replicas:
    """The process actuator's side of a poll."""

    running: int
    desired: int
    ready: int  # running and heartbeating
    stopping: int  # draining after SIGTERM


@dataclass(frozen=True)
class Status:
    """One poll: the queue, the workers and the decision."""

    at: float  # wall clock, seconds since the epoch
    queue: str
    backlog: int | None
    in_flight: int | None
    delayed: int | None
    dead: int | None
    oldest_wait_s: float | None
    arrival_rate: float | None
    completion_rate: float | None
    completed: int | None  # since the queue was created
    replicas: Replicas
    term: str
    reason: str
    error: str | None  # why the stats read failed, free of credentials

    def to_json(self) -> str:
        return json.dumps({"type": "status", **asdict(self)}, separators=(",", ":"))


def status_of(
    tick: Tick, previous: QueueStats | None, replicas: Replicas, queue: str, at: float
) -> Status:
    """The :class:`Status` of a reconcile tick (``previous``: the last good snapshot)."""
    stats, decision = tick.stats, tick.decision
    window = stats.since(previous) if stats is not None and previous is not None else None
    arrival = decision.arrival_rate
    if arrival is None and window is not None:
        arrival = window.arrival_rate
    return Status(
        at=at,
        queue=queue,
        backlog=stats.backlog if stats else None,
        in_flight=stats.in_flight if stats else None,
        delayed=stats.delayed_total if stats else None,
        dead=stats.dead if stats else None,
        oldest_wait_s=stats.oldest_age_s if stats else None,
        arrival_rate=arrival,
        completion_rate=window.completion_rate if window else None,
        completed=stats.counters.completed if stats else None,
        replicas=replicas,
        term=decision.term,
        reason=decision.reason,
        error=tick.error,
    )


def is_idle(stats: QueueStats) -> bool:
    """Nothing waiting, scheduled or running."""
    return stats.backlog == 0 and stats.delayed_total == 0 and stats.in_flight == 0


def quantile(hist: Histogram, q: float) -> float | None:
    """Quantile ``q`` of a bucketed histogram, interpolated linearly inside its bucket."""
    return hist.interpolated(q)


@dataclass(frozen=True)
class Summary:
    """What a run did: the line ``sluice up`` and ``make demo`` end with."""

    seconds: float
    jobs_done: int
    jobs_failed: int  # failed attempts (retried or dead-lettered)
    peak_replicas: int
    p95_wait_s: float | None
    replica_seconds: float

    def to_json(self) -> str:
        return json.dumps({"type": "summary", **asdict(self)}, separators=(",", ":"))

    def text(self) -> str:
        p95 = "n/a" if self.p95_wait_s is None else f"{self.p95_wait_s:.2f} s"
        return (
            f"{self.jobs_done} jobs done ({self.jobs_failed} failed attempts) in "
            f"{self.seconds:.0f} s; peak {self.peak_replicas} replicas; p95 wait {p95}; "
            f"{self.replica_seconds:.0f} replica-seconds"
        )


def summarize(
    first: QueueStats | None,
    last: QueueStats | None,
    *,
    seconds: float,
    peak_replicas: int,
    replica_seconds: float,
) -> Summary:
    """The run between two snapshots (the first and last good reads)."""
    window = last.since(first) if first is not None and last is not None else None
    failed = last.counters.failed - first.counters.failed if first and last else 0
    return Summary(
        seconds=seconds,
        jobs_done=window.completed if window else 0,
        jobs_failed=max(0, failed),
        peak_replicas=peak_replicas,
        p95_wait_s=quantile(window.wait_time, 0.95) if window else None,
        replica_seconds=replica_seconds,
    )
