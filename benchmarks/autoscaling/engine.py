"""The simulated queue and workers, driven by events in time order.

Waits are exact (a job starts the moment a slot frees, not at the next step).
Replicas take ``startup_s`` from request to taking jobs and cost from the
request on. Free slots form a FIFO, so the longest-idle slot gets the next
job, as with workers blocked on a wake-up list: load spreads over replicas.

Scale-down follows the controller's removal rule:

- ``drain``: not-ready pods first, then the least busy (pod-deletion-cost);
  a busy pod stops taking jobs and leaves when its jobs finish (SIGTERM
  drain), killed only at the grace period;
- ``drain-newest``: the ReplicaSet's default order (not ready, then the
  newest), and the pod drains on SIGTERM as above: a worker that finishes or
  hands back its jobs, without pod-deletion-cost;
- ``kill``: the ReplicaSet's order; its running jobs are interrupted and go
  back to the head of the queue.

A trace's :class:`~.traces.Saturation` stretches the service time of every job
started while more replicas are ready than the dependency serves. A trace's rate
limit starts jobs no faster than the claim script would (GCRA over one second:
a second's worth at once, then evenly), whatever the free slots.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field
from typing import Literal, Protocol

from sluice.stats import BUCKETS

from .traces import Job, Saturation

Removal = Literal["drain", "drain-newest", "kill"]

# Event kinds; the number orders simultaneous events (a freed slot first).
_COMPLETE, _READY, _ARRIVAL, _DEADLINE, _SAMPLE, _TICK, _WAKE = range(7)


@dataclass(frozen=True)
class SimConfig:
    concurrency: int = 4  # job slots per replica
    startup_s: float = 20.0  # pod scheduled, image pulled, worker connected
    grace_s: float = 330.0  # terminationGracePeriodSeconds: the drain's deadline
    latency_target_s: float = 30.0  # how long a job may wait
    max_replicas: int = 40
    sample_s: float = 1.0  # timeline resolution


@dataclass
class SimJob:
    arrival: float
    service: float
    start: float = -1.0
    replica: int = -1  # running on this replica, or -1
    attempt: int = 0  # bumped on every start; stale completion events are ignored
    ran: float = 0.0  # the service time of the last start, slowdown included


@dataclass
class Replica:
    id: int
    requested: float
    ready_at: float
    ready: bool = False
    draining: bool = False
    removed_at: float | None = None
    running: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Sample:
    t: float
    backlog: int
    replicas: int  # the count the controller asked for (starting pods included)
    alive: int  # pods that cost money: starting, ready and draining
    oldest_wait_s: float


class Controller(Protocol):
    name: str
    interval_s: float
    removal: Removal

    def tick(self, sim: Sim, now: float) -> int: ...


class Histo:
    """Per-bucket counts over :data:`sluice.stats.BUCKETS` plus the sum, as Redis keeps them."""

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.total = 0.0

    def add(self, value: float) -> None:
        self.counts[bisect_left(BUCKETS, value)] += 1
        self.total += value


class Sim:
    """One controller on one trace."""

    def __init__(
        self,
        jobs: list[Job],
        config: SimConfig,
        controller: Controller,
        saturation: Saturation | None = None,
        rate_limit: float | None = None,  # jobs started per second at most (the claim's GCRA)
    ) -> None:
        self.config, self.controller, self.saturation = config, controller, saturation
        self.rate_limit = rate_limit
        self._tat = 0.0  # the limiter's theoretical arrival time
        self._wake_at: float | None = None
        self.jobs = [SimJob(j.arrival, j.service) for j in jobs]
        # Due times of the jobs the queue holds ahead of time (delayed jobs, cron fires).
        self.scheduled = sorted(j.arrival for j in jobs if j.scheduled)
        self.replicas: list[Replica] = []
        self.queue: deque[int] = deque()
        self.free: deque[int] = deque()  # one token per free slot: a replica id
        self.queued_work = 0.0  # service seconds waiting in the queue
        self.enqueued = self.completed = self.interrupted = self.scale_events = 0
        self.service_hist, self.wait_hist = Histo(), Histo()
        self.samples: list[Sample] = []
        self.scales: list[tuple[float, int, int]] = []  # (time, from, to) of each change
        self.completions: list[float] = []  # completion times, in order
        self._events: list[tuple[float, int, int, int, int]] = []
        self._seq = 0

    # --- views the controllers read ------------------------------------------------
    @property
    def active(self) -> list[Replica]:
        """Replicas counted in the Deployment: not removed, not draining."""
        return [r for r in self.replicas if r.removed_at is None and not r.draining]

    @property
    def desired(self) -> int:
        return len(self.active)

    @property
    def ready_count(self) -> int:
        return sum(1 for r in self.active if r.ready)

    @property
    def in_flight(self) -> int:
        return sum(len(r.running) for r in self.replicas if r.removed_at is None)

    def oldest_wait(self, now: float) -> float:
        return max((now - self.jobs[i].arrival for i in list(self.queue)[:8]), default=0.0)

    # --- the run ---------------------------------------------------------------------
    def run(self, duration_s: float) -> None:
        for i, job in enumerate(self.jobs):
            self._push(job.arrival, _ARRIVAL, i)
        self._push(0.0, _SAMPLE)
        self._push(0.0, _TICK)
        while self._events and self._events[0][0] <= duration_s:
            t, kind, _, a, b = heapq.heappop(self._events)
            self._handle(t, kind, a, b)

    def _push(self, t: float, kind: int, a: int = 0, b: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self._events, (t, kind, self._seq, a, b))

    def _handle(self, t: float, kind: int, a: int, b: int) -> None:
        if kind == _ARRIVAL:
            self.enqueued += 1
            self.queue.append(a)
            self.queued_work += self.jobs[a].service
        elif kind == _COMPLETE:
            self._complete(t, a, b)
        elif kind == _READY:
            self._ready(self.replicas[a])
        elif kind == _DEADLINE:
            self._deadline(t, self.replicas[a])
        elif kind == _SAMPLE:
            self._sample(t)
        elif kind == _WAKE:
            self._wake_at = None  # the limiter allows a start again: dispatch below
        else:
            self.set_replicas(t, self.controller.tick(self, t))
            self._push(t + self.controller.interval_s, _TICK)
        self._dispatch(t)

    def _limited(self, now: float) -> bool:
        """True when the rate limit allows no start now (a wake-up is then scheduled)."""
        if self.rate_limit is None:
            return False
        interval = 1.0 / self.rate_limit
        tolerance = (self.rate_limit - 1) * interval
        if self._tat - tolerance <= now + 1e-9:
            self._tat = max(self._tat, now) + interval
            return False
        if self._wake_at is None:
            self._wake_at = self._tat - tolerance
            self._push(self._wake_at, _WAKE)
        return True

    def _dispatch(self, now: float) -> None:
        while self.queue and self.free:
            if self.free and self._limited(now):
                break
            rep = self.replicas[self.free.popleft()]
            if rep.draining or rep.removed_at is not None:
                continue  # a stale token of a pod that left
            i = self.queue.popleft()
            job = self.jobs[i]
            self.queued_work -= job.service
            job.start, job.replica, job.attempt = now, rep.id, job.attempt + 1
            job.ran = job.service * self._slowdown()
            rep.running.add(i)
            self.wait_hist.add(now - job.arrival)
            self._push(now + job.ran, _COMPLETE, i, job.attempt)

    def _slowdown(self) -> float:
        if self.saturation is None:
            return 1.0
        ready = sum(1 for r in self.replicas if r.ready and r.removed_at is None)
        return self.saturation.factor(ready)

    def _complete(self, now: float, i: int, attempt: int) -> None:
        job = self.jobs[i]
        if job.attempt != attempt or job.replica < 0:
            return  # the job was interrupted; this completion never happens
        rep = self.replicas[job.replica]
        rep.running.discard(i)
        job.replica = -1
        self.completed += 1
        self.completions.append(now)
        self.service_hist.add(job.ran)
        if not rep.draining:
            self.free.append(rep.id)
        elif not rep.running:
            rep.removed_at = now

    def _ready(self, rep: Replica) -> None:
        if rep.removed_at is None:
            rep.ready = True
            self.free.extend([rep.id] * self.config.concurrency)

    def _deadline(self, now: float, rep: Replica) -> None:
        if rep.removed_at is None:
            self._kill(now, rep)

    def _sample(self, t: float) -> None:
        alive = sum(1 for r in self.replicas if r.removed_at is None)
        self.samples.append(Sample(t, len(self.queue), self.desired, alive, self.oldest_wait(t)))
        self._push(t + self.config.sample_s, _SAMPLE)

    # --- the actuator ----------------------------------------------------------------
    def set_replicas(self, now: float, n: int) -> None:
        active = self.active
        if n == len(active):
            return
        self.scale_events += 1
        self.scales.append((now, len(active), n))
        for _ in range(n - len(active)):
            rep = Replica(len(self.replicas), now, now + self.config.startup_s)
            self.replicas.append(rep)
            self._push(rep.ready_at, _READY, rep.id)
        for rep in self._victims(active, len(active) - n):
            self._retire(now, rep)

    def _victims(self, active: list[Replica], count: int) -> list[Replica]:
        if count <= 0:
            return []
        if self.controller.removal == "drain":  # pod-deletion-cost: idle pods first
            order = sorted(active, key=lambda r: (r.ready, len(r.running), -r.ready_at))
        else:  # the ReplicaSet's default: not ready first, then the newest
            order = sorted(active, key=lambda r: (r.ready, -r.ready_at))
        return order[:count]

    def _retire(self, now: float, rep: Replica) -> None:
        if self.controller.removal == "kill" or not rep.running:
            self._kill(now, rep)
            return
        rep.draining = True
        self._push(now + self.config.grace_s, _DEADLINE, rep.id)

    def _kill(self, now: float, rep: Replica) -> None:
        for i in sorted(rep.running, key=lambda i: -self.jobs[i].arrival):
            job = self.jobs[i]
            job.replica, job.start = -1, -1.0
            self.queue.appendleft(i)  # back to the head: it waited longest
            self.queued_work += job.service
            self.interrupted += 1
        rep.running.clear()
        rep.removed_at = now
