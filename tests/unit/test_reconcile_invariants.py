"""Scaling invariants at the edges, through the whole reconcile loop (pure: fakes, fake clock).

The loop is driven the way the operator and ``sluice up`` drive it: a reader
that may fail (Redis down), a workload whose count the loop sets, and spec
changes between ticks (``update_spec``), including pause. Whatever happens:

- the count lies within [minReplicas, maxReplicas] after every tick, paused,
  with or without data: a spec change lowering maxReplicas takes effect even
  while Redis is down or the queue is paused;
- it is never zero while a job runs, while ``activationBacklog`` jobs wait, or
  while a job has waited longer than ``latencyTargetSeconds`` (one job below
  the activation threshold still wakes the queue once it is late);
- missing data never scales down, except down to a lowered maxReplicas;
- paused holds the count as found, within the bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sluice.stats import Counters, Priority, QueueStats, WorkerInfo
from sluice_scaling.reconcile import Reconciler, ReplicaCount
from sluice_scaling.spec import JobQueueSpec, parse_spec

T0 = 1_800_000_000.0
BASE: dict[str, Any] = {
    "redis": {"url": "redis://localhost:6379/0"},
    "worker": {"image": "img", "tasks": "app.tasks:tasks", "concurrency": 2},
}


def make_spec(**scaling: Any) -> JobQueueSpec:
    return parse_spec({**BASE, "scaling": scaling})


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class Reader:
    """Serves whatever the test sets as the next snapshot; None means Redis is down."""

    clock: Clock
    next: QueueStats | None = None

    def read(self) -> QueueStats:
        if self.next is None:
            raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")
        return self.next


@dataclass
class Workload:
    desired: int = 0
    lag: int = 0  # replicas still starting
    calls: list[int] = field(default_factory=list)

    def current(self) -> ReplicaCount:
        return ReplicaCount(self.desired, max(0, self.desired - self.lag))

    def scale(self, replicas: int, workers: tuple[WorkerInfo, ...]) -> None:
        self.calls.append(replicas)
        self.desired = replicas


def stats_at(
    t: float, *, backlog: int = 0, in_flight: int = 0, oldest: float | None = None, enq: int = 0
) -> QueueStats:
    return QueueStats(
        queue="q",
        taken_at=t,
        ready={Priority.NORMAL: backlog},
        in_flight=in_flight,
        oldest_age_s=oldest if backlog else None,
        counters=Counters(enqueued=enq),
    )


def loop(spec: JobQueueSpec, desired: int) -> tuple[Reconciler, Reader, Workload, Clock]:
    clock, workload = Clock(), Workload(desired)
    reader = Reader(clock)
    return Reconciler(spec, reader, workload, clock), reader, workload, clock


# --- the three edges the issue found, each on its own ---------------------------------


def test_one_late_job_wakes_a_queue_below_its_activation_backlog() -> None:
    rec, reader, workload, clock = loop(
        make_spec(activationBacklog=2, latencyTargetSeconds=30), desired=0
    )
    for age in (1.0, 10.0, 29.0):
        clock.now += 5
        reader.next = stats_at(clock.now, backlog=1, oldest=age, enq=1)
        assert rec.tick().target == 0  # below the threshold and not late yet: asleep
    clock.now += 5
    reader.next = stats_at(clock.now, backlog=1, oldest=31.0, enq=1)
    tick = rec.tick()
    assert (tick.target, workload.desired) == (1, 1)
    assert "31s" in tick.decision.reason, tick.decision.reason


def test_lowering_max_while_redis_is_down_takes_effect() -> None:
    rec, _, workload, clock = loop(make_spec(maxReplicas=12), desired=12)
    for _ in range(3):
        clock.now += 5
        assert rec.tick().target == 12  # no data: no scale-down
    rec.update_spec(make_spec(maxReplicas=8))
    clock.now += 5
    tick = rec.tick()
    assert (tick.target, workload.desired, tick.scaled_from) == (8, 8, 12)
    assert tick.decision.limited == "max"
    for _ in range(3):
        clock.now += 5
        assert rec.tick().target == 8
    rec.update_spec(make_spec(maxReplicas=20))
    clock.now += 5
    assert rec.tick().target == 8  # raising max is no reason to scale up blind


def test_missing_data_still_never_scales_down_within_the_bounds() -> None:
    rec, _, workload, clock = loop(make_spec(maxReplicas=20, minReplicas=2), desired=12)
    for _ in range(10):
        clock.now += 30
        assert rec.tick().target == 12
    assert workload.calls == []


def test_paused_above_a_lowered_max_is_held_at_max() -> None:
    rec, reader, workload, clock = loop(make_spec(maxReplicas=12, paused=True), desired=12)
    reader.next = stats_at(clock.now, backlog=500, enq=500)
    assert rec.tick().target == 12
    rec.update_spec(make_spec(maxReplicas=8, paused=True))
    clock.now += 5
    reader.next = stats_at(clock.now, backlog=500, enq=500)
    tick = rec.tick()
    assert (tick.target, workload.desired) == (8, 8)
    assert (tick.decision.term, tick.decision.limited) == ("paused", "max")
    workload.desired = 5  # a hand edit within the bounds, paused: left alone
    clock.now += 5
    assert rec.tick().target == 5


# --- the invariants, over random runs ---------------------------------------------------


@dataclass(frozen=True)
class Step:
    dt: float
    scaling: dict[str, Any] | None  # a spec change before this tick
    up: bool  # Redis answers
    backlog: int
    in_flight: int
    oldest: float
    arrived: int
    lag: int


@st.composite
def scalings(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.integers(0, 3))
    high = draw(st.integers(low, 15))
    return {
        "minReplicas": low,
        "maxReplicas": high,
        "paused": draw(st.booleans()) and draw(st.booleans()),  # paused a quarter of the time
        "activationBacklog": draw(st.integers(1, 5)),
        "latencyTargetSeconds": draw(st.sampled_from([5, 30, 120])),
        "idleSecondsBeforeZero": draw(st.sampled_from([0, 30, 120])),
        "scaleUp": {"maxStep": draw(st.integers(1, 10))},
        "scaleDown": {
            "maxStep": draw(st.integers(1, 5)),
            "stabilizationWindowSeconds": draw(st.sampled_from([0, 30, 90])),
        },
        "fallback": {
            "failureThreshold": draw(st.integers(1, 3)),
            "replicas": draw(st.one_of(st.none(), st.integers(low, high))),
        },
    }


@st.composite
def steps(draw: st.DrawFn) -> list[Step]:
    out = []
    for _ in range(draw(st.integers(1, 30))):
        waiting = draw(st.sampled_from([0, 0, 1, 2, 5, 50, 400]))
        out.append(
            Step(
                dt=draw(st.sampled_from([1.0, 5.0, 15.0, 60.0])),
                scaling=draw(st.one_of(st.none(), st.none(), scalings())),
                up=draw(st.integers(0, 4)) > 0,
                backlog=waiting,
                in_flight=draw(st.sampled_from([0, 0, 1, 3, 40])),
                oldest=draw(st.floats(0, 400)),
                arrived=draw(st.integers(0, 100)),
                lag=draw(st.integers(0, 3)),
            )
        )
    return out


def _must_run(spec: JobQueueSpec, stats: QueueStats) -> bool:
    """Work that may not wait at zero replicas."""
    s = spec.scaling
    late = stats.backlog > 0 and (stats.oldest_age_s or 0.0) > s.latency_target_seconds
    return stats.in_flight > 0 or stats.backlog >= s.activation_backlog or late


def _check(spec: JobQueueSpec, before: int, after: int, stats: QueueStats | None) -> None:
    s = spec.scaling
    assert s.min_replicas <= after <= s.max_replicas, (before, after)
    if s.paused:
        assert after == min(max(before, s.min_replicas), s.max_replicas)
    elif stats is None:
        assert after >= min(before, s.max_replicas), "scaled down on missing data"
    elif _must_run(spec, stats) and s.max_replicas >= 1:
        assert after >= 1, "zero replicas while work waits or runs"


@settings(max_examples=150, deadline=None)
@given(first=scalings(), run=steps(), start=st.integers(0, 20))
def test_invariants_hold_through_the_loop(
    first: dict[str, Any], run: list[Step], start: int
) -> None:
    spec = make_spec(**first)
    rec, reader, workload, clock = loop(spec, desired=start)
    enqueued = 0
    for step in run:
        if step.scaling is not None:
            spec = make_spec(**step.scaling)
            rec.update_spec(spec)
        clock.now += step.dt
        enqueued += step.arrived
        stats = stats_at(clock.now, backlog=step.backlog, in_flight=step.in_flight,
                         oldest=step.oldest, enq=enqueued)  # fmt: skip
        reader.next = stats if step.up else None
        workload.lag = step.lag
        before = workload.desired
        tick = rec.tick()
        assert tick.target == workload.desired
        _check(spec, before, workload.desired, reader.next)
