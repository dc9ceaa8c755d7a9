"""A :class:`sluice.stats.QueueStats` of the simulated queue, as the stats script builds it.

Monotonic counters, per-bucket histograms with sums, the ready count, the
oldest waiting job's age, leases in flight, and one heartbeat per live
worker with its busy slots: the policy under test sees what it sees in a
cluster, no more.
"""

from __future__ import annotations

from bisect import bisect_right

from sluice.stats import Counters, Histogram, Priority, QueueStats, WorkerInfo

from .engine import Histo, Sim


def _histogram(histo: Histo) -> Histogram:
    return Histogram(tuple(histo.counts), histo.total)


def snapshot(sim: Sim, now: float, queue: str = "sim", horizon_s: float = 0.0) -> QueueStats:
    workers = tuple(
        WorkerInfo(f"worker-{r.id}", len(r.running), sim.config.concurrency, now)
        for r in sim.replicas
        if r.ready and r.removed_at is None
    )
    # Delayed jobs due within the horizon (the stats script's ARGV), not due yet. With
    # pre-scaling they were sent ahead (cron fires), so Redis has counted them as enqueued.
    due = bisect_right(sim.scheduled, now)
    soon = bisect_right(sim.scheduled, now + horizon_s) - due if horizon_s > 0 else 0
    return QueueStats(
        queue=queue,
        taken_at=now,
        ready={Priority.NORMAL: len(sim.queue)},
        delayed_soon=soon,
        in_flight=sim.in_flight,
        oldest_age_s=sim.oldest_wait(now) if sim.queue else None,
        counters=Counters(enqueued=sim.enqueued + soon, completed=sim.completed),
        service_time=_histogram(sim.service_hist),
        wait_time=_histogram(sim.wait_hist),
        workers=workers,
    )
