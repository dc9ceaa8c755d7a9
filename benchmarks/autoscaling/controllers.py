"""The controllers compared on every trace.

- :class:`SluiceController` runs the real :func:`sluice_scaling.policy.decide`.
- :class:`KedaController` models KEDA's Redis list scaler behind the HPA, as
  shipped (``listLength`` 5, pods killed on scale-down) or as its docs tell a
  user to tune it (``listLength`` from the workload, drain on SIGTERM): KEDA
  polls every 30 s to activate from zero and to deactivate after
  ``cooldownPeriod`` of an empty list; the HPA syncs every 15 s, wants
  ``ceil(length / listLength)`` replicas, ignores a change within 10 %
  tolerance, adds at most max(4 pods, 100 %) per sync, and scales down only to
  the highest recommendation of the last 300 s.
- :class:`OracleController` knows every future job: it asks, a start-up time
  ahead, for just the slots the coming latency target's worth of jobs fills
  on average (plus what waits now), i.e. full utilisation, and removes only
  idle pods -- and none that any moment within the next start-up needs, since
  a pod removed now cannot be back sooner. It is the floor of cost, not a
  policy anyone could run.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter, deque

from sluice.stats import QueueStats
from sluice_scaling.policy import Decision, Observation, PolicyState, decide
from sluice_scaling.spec import ScalingSpec

from .engine import Removal, Sim, SimConfig
from .snapshot import snapshot
from .traces import Job


class SluiceController:
    removal: Removal = "drain"

    def __init__(
        self,
        spec: ScalingSpec,
        name: str = "sluice",
        *,
        prescale: bool = True,
        rate_limit: float | None = None,
    ) -> None:
        self.spec, self.name = spec, name
        self.rate_limit = rate_limit  # spec.jobs.rateLimit per second, as the reconciler passes it
        # The reader's horizon: 0 reads no delayed jobs ahead (pre-scaling off).
        self.horizon_s = spec.prescale_horizon_seconds if prescale else 0.0
        self.interval_s = spec.polling_interval_seconds
        self.state = PolicyState()
        self.previous: QueueStats | None = None
        self.terms: Counter[str] = Counter()
        self.decisions: list[tuple[float, Decision]] = []

    def tick(self, sim: Sim, now: float) -> int:
        stats = snapshot(sim, now, horizon_s=self.horizon_s)
        obs = Observation(
            stats, self.previous, sim.desired, sim.ready_count, sim.config.concurrency,
            rate_limit_per_s=self.rate_limit,
        )  # fmt: skip
        decision, self.state = decide(self.spec, obs, self.state, now)
        self.previous = stats
        self.terms[decision.term] += 1
        self.decisions.append((now, decision))
        return decision.replicas


class KedaController:
    """KEDA's Redis list scaler behind the HPA.

    Defaults as shipped (cited in the benchmarks page): KEDA ``pollingInterval``
    30 s, ``cooldownPeriod`` 300 s, ``activationListLength`` 0, the scaler's
    ``listLength`` 5; the HPA's 15 s sync, 10 % tolerance, scale-up policies
    100 % or 4 pods per 15 s (whichever is greater) and a 300 s scale-down
    stabilisation window. ``tuned`` is what KEDA's docs tell a user to do: a
    ``listLength`` of what one replica clears within the latency target, and
    workers that drain on SIGTERM (the ReplicaSet still picks the newest pods).
    """

    interval_s = 15.0  # HPA --horizontal-pod-autoscaler-sync-period

    polling_s = 30.0  # KEDA pollingInterval: activation and cooldown checks
    activation = 0  # activationListLength: active when length > this
    cooldown_s = 300.0  # cooldownPeriod before scaling to zero
    tolerance = 0.1  # HPA: no change when the usage ratio is within 10 %
    window_s = 300.0  # HPA scale-down stabilizationWindowSeconds
    up_pods, up_percent = 4, 100  # HPA scale-up policies per 15 s period, the larger wins

    def __init__(
        self, max_replicas: int, list_length: int = 5, *, drain: bool = False, name: str = "keda"
    ) -> None:
        self.max_replicas, self.list_length, self.name = max_replicas, list_length, name
        self.removal: Removal = "drain-newest" if drain else "kill"
        self.last_active: float | None = None
        self.last_poll = -math.inf
        self.recs: deque[tuple[float, int]] = deque()

    @classmethod
    def tuned(cls, max_replicas: int, config: SimConfig, mean_service_s: float) -> KedaController:
        """``listLength`` = slots x latency target / mean service time, drain on SIGTERM."""
        length = max(1, round(config.concurrency * config.latency_target_s / mean_service_s))
        return cls(max_replicas, length, drain=True, name="keda-tuned")

    def tick(self, sim: Sim, now: float) -> int:
        length, current = len(sim.queue), sim.desired
        if now - self.last_poll >= self.polling_s:
            self.last_poll = now
            if length > self.activation:
                self.last_active = now
            if current == 0:
                return 1 if length > self.activation else 0
            if self.last_active is None or now - self.last_active >= self.cooldown_s:
                return 0
        return self.hpa(length, current, now) if current else 0

    def hpa(self, length: int, current: int, now: float) -> int:
        """One HPA sync for an ``AverageValue`` external metric."""
        ratio = length / (self.list_length * current)
        raw = current if abs(1 - ratio) <= self.tolerance else math.ceil(length / self.list_length)
        raw = min(max(raw, 1), self.max_replicas)
        self.recs.append((now, raw))
        while self.recs[0][0] <= now - self.window_s:
            self.recs.popleft()
        desired = raw if raw >= current else min(current, max(r for _, r in self.recs))
        limit = max(current + self.up_pods, math.ceil(current * (1 + self.up_percent / 100)))
        return min(desired, limit, self.max_replicas)


class OracleController:
    name = "oracle"
    removal: Removal = "drain"
    interval_s = 5.0

    def __init__(self, jobs: list[Job], config: SimConfig, capacity: int | None = None) -> None:
        self.config = config
        # A saturating dependency: replicas beyond its capacity add nothing, so it stops there.
        self.ceiling = min(config.max_replicas, capacity or config.max_replicas)
        self.jobs = jobs
        self.arrivals = [j.arrival for j in jobs]
        self.longest = max((j.service for j in jobs), default=0.0)

    def _occupancy(self, start: float, end: float) -> float:
        """Slot-seconds jobs fill in [start, end) had each started on arrival."""
        lo = bisect_left(self.arrivals, start - self.longest)
        hi = bisect_left(self.arrivals, end)
        return sum(
            max(0.0, min(end, j.arrival + j.service) - max(start, j.arrival))
            for j in self.jobs[lo:hi]
        )

    def tick(self, sim: Sim, now: float) -> int:
        cfg = self.config
        wanted = self._wanted(sim, now, now + cfg.startup_s)
        # A pod removed now is back a start-up later at the soonest: keep the pods any
        # moment before then needs. (Without this it asked for a pod when a batch came
        # within a start-up plus the target, and removed it, idle, before the batch.)
        horizon = range(0, math.ceil(cfg.startup_s) + 1, round(self.interval_s))
        keep = max(self._wanted(sim, now, now + k) for k in horizon)
        return max(wanted, min(sim.desired, keep))

    def _wanted(self, sim: Sim, now: float, start: float) -> int:
        """Replicas for jobs from ``start`` on, as a pod ready then would serve them."""
        cfg = self.config
        target = cfg.latency_target_s
        # The slots the coming latency target's worth of jobs fill on average (long jobs
        # keep theirs), plus what waits now, started before the oldest job's deadline
        # and no sooner than a new pod could help.
        slack = max(target - sim.oldest_wait(now), cfg.startup_s)
        slots = self._occupancy(start, start + target) / target + sim.queued_work / slack
        return min(self.ceiling, math.ceil(slots / cfg.concurrency - 1e-9))
