"""The controllers compared on every trace.

- :class:`SluiceController` runs the real :func:`sluice_scaling.policy.decide`.
- :class:`KedaController` models KEDA's Redis list scaler behind the HPA with
  their documented defaults: KEDA polls every 30 s to activate from zero and
  to deactivate after ``cooldownPeriod`` of an empty list; the HPA syncs every
  15 s, wants ``ceil(listLength / target)`` replicas, ignores a change within
  10 % tolerance, adds at most max(4 pods, 100 %) per sync, and scales down
  only to the highest recommendation of the last 300 s.
- :class:`OracleController` knows every future job: it asks, a start-up time
  ahead, for just the slots the coming latency target's worth of jobs fills
  on average (plus what waits now), i.e. full utilisation, and removes only
  idle pods. It is the floor of cost, not a policy anyone could run.
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

    def __init__(self, spec: ScalingSpec, name: str = "sluice") -> None:
        self.spec, self.name = spec, name
        self.interval_s = spec.polling_interval_seconds
        self.state = PolicyState()
        self.previous: QueueStats | None = None
        self.terms: Counter[str] = Counter()
        self.decisions: list[tuple[float, Decision]] = []

    def tick(self, sim: Sim, now: float) -> int:
        stats = snapshot(sim, now)
        obs = Observation(
            stats, self.previous, sim.desired, sim.ready_count, sim.config.concurrency
        )
        decision, self.state = decide(self.spec, obs, self.state, now)
        self.previous = stats
        self.terms[decision.term] += 1
        self.decisions.append((now, decision))
        return decision.replicas


class KedaController:
    name = "keda"
    removal: Removal = "kill"
    interval_s = 15.0  # HPA --horizontal-pod-autoscaler-sync-period

    polling_s = 30.0  # KEDA pollingInterval: activation and cooldown checks
    list_length = 5  # the Redis scaler's listLength target per replica
    activation = 0  # activationListLength: active when length > this
    cooldown_s = 300.0  # cooldownPeriod before scaling to zero
    tolerance = 0.1  # HPA: no change when the usage ratio is within 10 %
    window_s = 300.0  # HPA scale-down stabilizationWindowSeconds

    def __init__(self, max_replicas: int) -> None:
        self.max_replicas = max_replicas
        self.last_active: float | None = None
        self.last_poll = -math.inf
        self.recs: deque[tuple[float, int]] = deque()

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
        return self._hpa(length, current, now) if current else 0

    def _hpa(self, length: int, current: int, now: float) -> int:
        ratio = length / (self.list_length * current)
        raw = current if abs(1 - ratio) <= self.tolerance else math.ceil(length / self.list_length)
        raw = min(max(raw, 1), self.max_replicas)
        self.recs.append((now, raw))
        while self.recs[0][0] <= now - self.window_s:
            self.recs.popleft()
        desired = raw if raw >= current else min(current, max(r for _, r in self.recs))
        return min(desired, max(current + 4, 2 * current), self.max_replicas)


class OracleController:
    name = "oracle"
    removal: Removal = "drain"
    interval_s = 5.0

    def __init__(self, jobs: list[Job], config: SimConfig) -> None:
        self.config = config
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
        target = cfg.latency_target_s
        start = now + cfg.startup_s
        # The slots the coming latency target's worth of jobs fill on average (long jobs
        # keep theirs), plus what waits now, started before the oldest job's deadline
        # and no sooner than a new pod could help.
        slack = max(target - sim.oldest_wait(now), cfg.startup_s)
        slots = self._occupancy(start, start + target) / target + sim.queued_work / slack
        return min(cfg.max_replicas, math.ceil(slots / cfg.concurrency - 1e-9))
