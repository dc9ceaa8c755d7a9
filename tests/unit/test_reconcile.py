"""The shared reconcile loop, driven with fake readers and actuators and a fake clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from sluice.stats import Counters, Priority, QueueStats, WorkerInfo
from sluice_scaling.reconcile import Reconciler, ReplicaCount, describe_error
from sluice_scaling.spec import JobQueueSpec, parse_spec

BASE = {
    "redis": {"url": "redis://localhost:6379/0"},
    "worker": {"image": "img", "tasks": "app.tasks:tasks", "concurrency": 2},
    "scaling": {"maxReplicas": 10, "scaleDown": {"stabilizationWindowSeconds": 0}},
}


def spec(**scaling: object) -> JobQueueSpec:
    raw = {**BASE, "scaling": {**BASE["scaling"], **scaling}}  # type: ignore[dict-item]
    return parse_spec(raw)


@dataclass
class Reader:
    snapshots: list[QueueStats | Exception]
    reads: int = 0

    def read(self) -> QueueStats:
        item = self.snapshots[min(self.reads, len(self.snapshots) - 1)]
        self.reads += 1
        if isinstance(item, Exception):
            raise item
        return item


@dataclass
class Actuator:
    desired: int = 0
    calls: list[tuple[int, tuple[WorkerInfo, ...]]] = field(default_factory=list)
    fail: bool = False

    def current(self) -> ReplicaCount:
        return ReplicaCount(self.desired, self.desired)

    def scale(self, replicas: int, workers: tuple[WorkerInfo, ...]) -> None:
        if self.fail:
            raise RuntimeError("api down")
        self.calls.append((replicas, workers))
        self.desired = replicas


def snap(t: float, backlog: int, *, workers: tuple[WorkerInfo, ...] = ()) -> QueueStats:
    return QueueStats(
        queue="q",
        taken_at=t,
        ready={Priority.NORMAL: backlog},
        oldest_age_s=1.0 if backlog else None,
        counters=Counters(enqueued=backlog),
        workers=workers,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backlog_scales_up_and_reports_previous_count() -> None:
    actuator = Actuator()
    rec = Reconciler(spec(), Reader([snap(1000, 50)]), actuator, Clock())
    tick = rec.tick()
    assert tick.scaled_from == 0
    assert tick.decision.replicas > 0
    assert actuator.calls[0][0] == tick.decision.replicas
    assert tick.error is None
    assert tick.stats is not None


def test_no_scale_call_when_count_unchanged() -> None:
    actuator = Actuator(desired=3)
    rec = Reconciler(spec(paused=True), Reader([snap(1000, 500)]), actuator, Clock())
    tick = rec.tick()
    assert tick.scaled_from is None
    assert not tick.scaled
    assert actuator.calls == []
    assert tick.decision.term == "paused"


def test_read_failure_never_scales_down_and_hides_credentials() -> None:
    actuator = Actuator(desired=4)
    err = ConnectionError("cannot reach redis://admin:hunter2@redis.internal:6379/0")
    rec = Reconciler(spec(), Reader([err]), actuator, Clock())
    tick = rec.tick()
    assert tick.stats is None
    assert tick.decision.metrics_ok is False
    assert actuator.calls == []
    assert tick.error is not None
    assert "hunter2" not in tick.error
    assert "admin" not in tick.error
    assert "redis.internal:6379" in tick.error


def test_fallback_after_threshold_raises_replicas() -> None:
    actuator = Actuator(desired=1)
    scaling = {"fallback": {"failureThreshold": 2, "replicas": 3}}
    rec = Reconciler(spec(**scaling), Reader([OSError("down")]), actuator, Clock())
    assert rec.tick().scaled_from is None
    tick = rec.tick()
    assert tick.scaled_from == 1
    assert actuator.desired == 3


def test_scale_down_passes_worker_reports_to_actuator() -> None:
    clock = Clock()
    workers = (WorkerInfo("pod-a", 0, 2, 1000.0), WorkerInfo("pod-b", 1, 2, 1000.0))
    actuator = Actuator(desired=5)
    snaps = [snap(1000 + 5 * i, 0, workers=workers) for i in range(10)]
    rec = Reconciler(spec(minReplicas=1), Reader(list(snaps)), actuator, clock)
    ticks = []
    for _ in snaps:
        ticks.append(rec.tick())
        clock.now += 5
    down = [t for t in ticks if t.scaled]
    assert down, [t.decision.reason for t in ticks]
    assert down[0].scaled_from == 5
    assert actuator.calls[0][0] < 5
    assert actuator.calls[0][1] == workers


def test_failed_scale_keeps_policy_state() -> None:
    actuator = Actuator(fail=True)
    rec = Reconciler(spec(), Reader([snap(1000, 50)]), actuator, Clock())
    before = rec.state
    with pytest.raises(RuntimeError):
        rec.tick()
    assert rec.state is before


def test_update_spec_applies_to_next_tick() -> None:
    actuator = Actuator()
    clock = Clock()
    rec = Reconciler(
        spec(maxReplicas=1), Reader([snap(1000, 500), snap(1005, 500)]), actuator, clock
    )
    assert rec.tick().decision.replicas == 1
    rec.update_spec(spec(maxReplicas=4))
    clock.now += 5
    assert rec.tick().decision.replicas > 1


def test_describe_error_without_message() -> None:
    assert describe_error(TimeoutError()) == "TimeoutError"


def test_count_edited_by_hand_is_put_back() -> None:
    actuator = Actuator()
    clock = Clock()
    reader = Reader([snap(1000 + 5 * i, 50) for i in range(3)])
    rec = Reconciler(spec(), reader, actuator, clock)
    first = rec.tick().decision.replicas
    actuator.desired = 9  # someone ran kubectl scale
    clock.now += 5
    tick = rec.tick()
    assert tick.scaled_from == 9
    assert actuator.desired == first


def test_paused_leaves_hand_edits_alone() -> None:
    actuator = Actuator()
    rec = Reconciler(spec(paused=True), Reader([snap(1000, 50)]), actuator, Clock())
    rec.tick()
    actuator.desired = 9
    assert rec.tick().scaled_from is None
    assert actuator.desired == 9


def test_the_rate_limit_in_the_spec_caps_the_loop() -> None:
    from sluice.stats import Histogram
    from sluice_scaling.stats_reader import job_settings

    raw = {**BASE, "jobs": {"rateLimit": {"jobs": 30, "periodSeconds": 60}}}
    s = parse_spec(raw)
    assert job_settings(s.jobs).rate_limit == 30
    assert job_settings(s.jobs).rate_period_s == 60
    done = Histogram(tuple([0] * 9 + [100] + [0] * 9), 400.0)  # 100 jobs of 4 s
    first = QueueStats(
        queue="q",
        taken_at=0.0,
        ready={Priority.NORMAL: 500},
        counters=Counters(enqueued=600, completed=0),
        oldest_age_s=1.0,
    )
    later = QueueStats(queue="q", taken_at=5.0, ready={Priority.NORMAL: 500},
                       counters=Counters(enqueued=700, completed=100), service_time=done,
                       oldest_age_s=1.0)  # fmt: skip
    act = Actuator(desired=1)
    rec = Reconciler(s, Reader([first, later]), act, clock=iter([100.0, 105.0]).__next__)
    rec.tick()
    tick = rec.tick()
    # 0.5 jobs/s x 4 s / 2 slots: one replica keeps the limit busy (the first tick, before
    # a service time was known, had asked for 10; down by at most the larger of 4 and
    # half of 10 a tick from there: 5).
    assert (tick.decision.replicas, tick.decision.term) == (5, "rate_limit")
    assert "capped by the rate limit: 0.5 jobs/s x 4s service / 2 slots" in tick.decision.reason
