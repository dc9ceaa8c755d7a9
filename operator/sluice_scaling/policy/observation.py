"""The policy's input for one tick: a queue snapshot and the workload's state."""

from __future__ import annotations

from dataclasses import dataclass

from sluice.stats import QueueStats


@dataclass(frozen=True)
class Observation:
    """What the reconcile loop saw this tick.

    ``stats`` is None when the read failed; ``previous`` is the snapshot of an
    earlier tick (the policy also keeps its own, so it may be None).
    """

    stats: QueueStats | None
    previous: QueueStats | None
    replicas: int  # desired replicas of the workload now (starting pods included)
    ready_replicas: int  # replicas that are up and able to take jobs
    concurrency: int  # job slots per replica
    rate_limit_per_s: float | None = None  # the queue's rate limit (spec.jobs.rateLimit)
