"""One run of ``sluice up``: the reconcile loop on a timer, supervision in between.

Every ``pollingIntervalSeconds`` the shared
:class:`~sluice_scaling.reconcile.Reconciler` ticks (one stats read, one
decision, a scale when the count changes) and the view shows the result.
Between ticks the process actuator is supervised several times a second, so a
worker that dies is replaced without waiting for the next poll; so is an
embedded Redis, restarted from its append-only file.

The run ends on a stop request (Ctrl-C), after ``duration_s``, or, with
``exit_when_idle``, once the queue has had work and is back to nothing
waiting, nothing running and no workers. Then every worker drains, and the
:class:`~sluice_local.status.Summary` is computed from the first and
last good snapshots.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sluice.stats import QueueStats
from sluice_scaling.reconcile import Reconciler, StatsReader, Tick, describe_error
from sluice_scaling.scheduler import ScheduleState

from .processes import ProcessActuator
from .status import Replicas, Status, Summary, is_idle, status_of, summarize
from .view import View

SUPERVISE_S = 0.2  # how often children are checked between ticks


@dataclass(frozen=True)
class RunLimits:
    duration_s: float | None = None
    exit_when_idle: bool = False


class Session:
    """Drives one queue until stopped; owns the loop's timing, not its decisions."""

    def __init__(
        self,
        reconciler: Reconciler,
        reader: StatsReader,
        actuator: ProcessActuator,
        view: View,
        limits: RunLimits = RunLimits(),
        *,
        clock: Callable[[], float] = time.monotonic,
        revive: Callable[[float], str | None] | None = None,
        on_tick: Callable[[Tick], None] | None = None,
        fire_schedules: Callable[[], tuple[ScheduleState, ...]] | None = None,
    ) -> None:
        self._reconciler = reconciler
        self._reader = reader
        self._actuator = actuator
        self._view = view
        self._limits = limits
        self._clock = clock
        self._revive = revive  # restarts the embedded Redis if it died; a note if it did
        self._on_tick = on_tick  # e.g. the dashboard's decision log
        self._fire_schedules = fire_schedules  # the queue's cron schedules, fired per tick
        self._first: QueueStats | None = None
        self._last: QueueStats | None = None
        self._busy_seen = False
        self._started = clock()

    @property
    def _interval(self) -> float:
        return self._reconciler.spec.scaling.polling_interval_seconds

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set or a limit is reached (the caller then calls finish)."""
        self._started = next_tick = self._clock()
        limit = self._limits.duration_s
        while not stop.is_set():
            now = self._clock()
            if limit is not None and now - self._started >= limit:
                return
            if now >= next_tick:
                if self._poll():
                    return
                next_tick = now + self._interval
            if self._revive is not None and (note := self._revive(now)):
                self._view.message(note)
            self._actuator.supervise()
            stop.wait(max(0.0, min(SUPERVISE_S, next_tick - self._clock())))

    def _poll(self) -> bool:
        """One tick; True when the run should end."""
        self._fire()  # first: a fire's job is backlog for this tick's decision
        try:
            tick = self._reconciler.tick()
        except Exception as exc:  # a failed start must not end the run; say why
            self._view.message(f"scaling failed: {describe_error(exc)}")
            return False
        if self._on_tick is not None:
            self._on_tick(tick)
        previous = self._last
        if tick.stats is not None:
            self._first = self._first or tick.stats
            self._last = tick.stats
        self._view.show(self._status(tick, previous), self._actuator.take_exits())
        return self._done(tick.stats)

    def _fire(self) -> None:
        if self._fire_schedules is None:
            return
        try:
            states = self._fire_schedules()
        except Exception as exc:  # Redis down: the tick says so too; due fires go next tick
            self._view.message(f"schedules not fired: {describe_error(exc)}")
            return
        for st in states:
            if st.fired or st.skipped:
                self._view.message(f"schedule {st.name}: {st.fired} fired, {st.skipped} skipped")

    def _status(self, tick: Tick, previous: QueueStats | None) -> Status:
        current = self._actuator.current()
        replicas = Replicas(
            running=len(self._actuator.running),
            desired=self._actuator.desired,
            ready=current.ready,
            stopping=len(self._actuator.stopping),
        )
        queue = tick.stats.queue if tick.stats else (previous.queue if previous else "")
        return status_of(tick, previous, replicas, queue, time.time())

    def _done(self, stats: QueueStats | None) -> bool:
        if stats is None or not self._limits.exit_when_idle:
            return False
        self._busy_seen = self._busy_seen or not is_idle(stats) or self._changed(stats)
        at_rest = not self._actuator.running and not self._actuator.stopping
        return self._busy_seen and is_idle(stats) and at_rest and self._actuator.desired == 0

    def _changed(self, stats: QueueStats) -> bool:
        return self._first is not None and stats.counters != self._first.counters

    def finish(self) -> Summary:
        """Drain every worker, read the queue once more, and sum the run up."""
        running = len(self._actuator.running)
        if running:
            self._view.message(f"stopping: draining {running} worker(s)")
        self._actuator.shutdown()
        try:
            self._last = self._reader.read()
            self._first = self._first or self._last
        except Exception as exc:  # the summary then uses the last good read
            self._view.message(f"final stats read failed: {describe_error(exc)}")
        acc = self._actuator.accounting
        return summarize(
            self._first,
            self._last,
            seconds=self._clock() - self._started,
            peak_replicas=acc.peak,
            replica_seconds=acc.replica_seconds,
        )
