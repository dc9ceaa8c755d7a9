"""Firing a queue's cron schedules: the I/O around :mod:`sluice_scaling.schedules`.

Both front ends (the operator's per-queue loop and ``sluice up``) call
:meth:`Scheduler.tick` once per poll. A tick reads every schedule's last fire
from Redis (one call), plans each schedule purely, and sends each schedule's
fires in one script call that enqueues only what is later than the recorded
last fire and records the new one in the same step. So two reconcilers, a
restart or a hand-over fire each time once, and a crash between enqueue and
record cannot happen. What the reconciler publishes (definition, next fire) is
written only when it changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sluice import Queue
from sluice.queue import new_job
from sluice.schedule_record import ScheduleRecord

from .schedules import Cron, fire_id, grace_ms, plan
from .spec import ScheduleSpec


@dataclass(frozen=True)
class ScheduleState:
    """One schedule after a tick; times in epoch seconds."""

    name: str
    last_fire: float | None
    next_fire: float | None
    fired: int = 0  # jobs this tick added
    skipped: int = 0  # missed fires this tick dropped (Skip policy)


def _record(spec: ScheduleSpec, state: ScheduleState) -> ScheduleRecord:
    return ScheduleRecord(
        name=spec.name,
        cron=spec.cron,
        time_zone=spec.time_zone,
        task=spec.task,
        catch_up=spec.catch_up,
        next_fire=state.next_fire,
        last_fire=state.last_fire,
    )


class Scheduler:
    """Fires one queue's schedules; keeps only what it last published between ticks."""

    def __init__(
        self,
        schedules: Sequence[ScheduleSpec],
        polling_interval_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.schedules = tuple(schedules)
        self.grace = grace_ms(polling_interval_s)
        self._clock = clock
        self._published: tuple[ScheduleRecord, ...] | None = None
        # The last fire to show, per schedule: Redis records how far a schedule is handled,
        # which a first sight also moves (to "now", no fire). After a restart that record
        # is the best there is.
        self._shown: dict[str, int | None] = {}

    def tick(self, queue: Queue) -> tuple[ScheduleState, ...]:
        """Fire what is due on ``queue``; raises on any Redis failure (retried next tick)."""
        if not self.schedules and self._published == ():
            return ()
        now = int(self._clock() * 1000)
        marks = queue.schedule_marks()
        states = tuple(
            self._fire(queue, spec, marks.get(spec.name), now) for spec in self.schedules
        )
        self._publish(queue, states)
        return states

    def _fire(self, queue: Queue, spec: ScheduleSpec, last: int | None, now: int) -> ScheduleState:
        cron = Cron(spec.cron, spec.time_zone)
        todo = plan(cron, spec.catch_up, last, now, self.grace)
        fired = 0
        if todo.mark is not None:
            jobs = [
                (at, new_job(spec.task, spec.payload, id=fire_id(spec.name, at)))
                for at in todo.fires
            ]
            fired = queue.fire_schedule(spec.name, todo.mark, jobs)
        newest = todo.mark if todo.mark is not None else last
        shown = self._shown.get(spec.name, last)
        if todo.fires or todo.skipped:
            shown = newest
        self._shown[spec.name] = shown
        upcoming = cron.next(max(now, newest or now))
        return ScheduleState(
            spec.name,
            None if shown is None else shown / 1000,
            None if upcoming is None else upcoming / 1000,
            fired,
            todo.skipped,
        )

    def _publish(self, queue: Queue, states: tuple[ScheduleState, ...]) -> None:
        records = tuple(_record(spec, st) for spec, st in zip(self.schedules, states, strict=True))
        if records != self._published:
            queue.publish_schedules(records)
            self._published = records
