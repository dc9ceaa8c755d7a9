"""When a `sluice up` run ends: stop request, duration, or idle again after work."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any, cast

from sluice.stats import Counters, Priority, QueueStats
from sluice_local.processes import ProcessActuator, WorkerExit
from sluice_local.session import RunLimits, Session
from sluice_local.status import Status, Summary
from sluice_scaling.policy import Decision
from sluice_scaling.reconcile import Reconciler, ReplicaCount, Tick


def snap(t: float, backlog: int = 0, done: int = 0) -> QueueStats:
    return QueueStats(
        queue="q", taken_at=t, ready={Priority.NORMAL: backlog},
        counters=Counters(enqueued=backlog + done, completed=done),
    )  # fmt: skip


class FakeReconciler:
    """Plays a script of snapshots; the decision is "as many replicas as jobs waiting"."""

    def __init__(self, script: list[QueueStats | None]) -> None:
        self.script, self.ticks = script, 0
        self.spec = SimpleNamespace(scaling=SimpleNamespace(polling_interval_seconds=0.01))
        self.actuator: FakeActuator | None = None

    def tick(self) -> Tick:
        stats = self.script[min(self.ticks, len(self.script) - 1)]
        self.ticks += 1
        want = min(stats.backlog, 3) if stats else 0
        assert self.actuator is not None
        self.actuator.desired = want
        self.actuator.running = tuple(f"local-{i}" for i in range(want))
        decision = Decision(want, "test", f"-> {want}")
        return Tick(decision, stats, None if stats else "down", None, ReplicaCount(0, 0), want)


class FakeActuator:
    def __init__(self) -> None:
        self.desired, self.running, self.stopping = 0, (), ()
        self.accounting = SimpleNamespace(peak=3, replica_seconds=4.5)
        self.shut = False

    def supervise(self) -> None: ...

    def current(self) -> ReplicaCount:
        return ReplicaCount(self.desired, len(self.running))

    def take_exits(self) -> list[WorkerExit]:
        return []

    def shutdown(self) -> list[WorkerExit]:
        self.shut = True
        return []


class Recorder:
    def __init__(self) -> None:
        self.statuses: list[Status] = []

    def show(self, status: Status, exits: Any) -> None:
        self.statuses.append(status)

    def message(self, text: str) -> None: ...

    def summary(self, summary: Summary) -> None: ...

    def close(self) -> None: ...


class Reader:
    def __init__(self, last: QueueStats) -> None:
        self.last = last

    def read(self) -> QueueStats:
        return self.last


def session(script: list[QueueStats | None], limits: RunLimits) -> tuple[Session, Recorder]:
    rec, act, view = FakeReconciler(script), FakeActuator(), Recorder()
    rec.actuator = act
    final = next(s for s in reversed(script) if s is not None)
    sess = Session(cast(Reconciler, rec), Reader(final), cast(ProcessActuator, act), view, limits)
    return sess, view


def test_exit_when_idle_waits_for_work_then_for_rest() -> None:
    script = [snap(1), snap(2), snap(3, backlog=5), None, snap(4, done=5), snap(5, done=5)]
    sess, view = session(script, RunLimits(exit_when_idle=True, duration_s=10))
    sess.run(threading.Event())
    backlogs = [s.backlog for s in view.statuses]
    assert backlogs == [0, 0, 5, None, 0]  # not before the work, and at the first idle poll
    assert view.statuses[3].error == "down"
    summary = sess.finish()
    assert summary.jobs_done == 5
    assert (summary.peak_replicas, summary.replica_seconds) == (3, 4.5)


def test_an_idle_queue_runs_until_the_duration() -> None:
    sess, view = session([snap(1)], RunLimits(exit_when_idle=True, duration_s=0.3))
    sess.run(threading.Event())
    assert len(view.statuses) > 3


def test_a_stop_request_ends_the_run() -> None:
    stop = threading.Event()
    stop.set()
    sess, view = session([snap(1, backlog=2)], RunLimits())
    sess.run(stop)
    assert view.statuses == []


def test_schedules_fire_before_each_tick_and_a_failure_is_reported() -> None:
    from sluice_scaling.scheduler import ScheduleState

    rec, act, view = FakeReconciler([snap(1), snap(2), snap(3)]), FakeActuator(), Recorder()
    rec.actuator = act
    messages: list[str] = []
    view.message = messages.append  # type: ignore[method-assign,assignment]
    order: list[str] = []
    real_tick = rec.tick

    def tick() -> Tick:
        order.append("tick")
        return real_tick()

    rec.tick = tick  # type: ignore[method-assign,assignment]

    def fire() -> tuple[ScheduleState, ...]:
        order.append("fire")
        if order.count("fire") == 2:
            raise ConnectionError("redis down")
        return (ScheduleState("nightly", 1.0, 2.0, fired=1),)

    sess = Session(
        cast(Reconciler, rec), Reader(snap(3)), cast(ProcessActuator, act), view,
        RunLimits(duration_s=10, exit_when_idle=True), fire_schedules=fire,
    )  # fmt: skip
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    sess.run(stop)
    assert order[:4] == ["fire", "tick", "fire", "tick"]
    assert "schedule nightly: 1 fired, 0 skipped" in messages
    assert "schedules not fired: ConnectionError: redis down" in messages
