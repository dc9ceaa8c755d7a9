"""Firing a queue's cron schedules: the I/O around :mod:`sluice_scaling.schedules`.

Both front ends call it once per poll: ``sluice up`` with a blocking
:class:`~sluice.Queue` (:meth:`Scheduler.tick`), the operator's loop with an
:class:`~sluice.AsyncQueue` (:meth:`Scheduler.atick`); what happens between
the calls (plans, which stale fires to cancel, what to show) is shared. A
tick reads every schedule's last fire from Redis (one call), plans each
schedule purely, and sends each schedule's fires in one script call that
enqueues only what is later than the recorded last fire and records the new
one in the same step. So two reconcilers, a
restart or a hand-over fire each time once, and a crash between enqueue and
record cannot happen. What the reconciler publishes (definition, next fire) is
written only when it changed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sluice import AsyncQueue, Queue
from sluice.protocol.messages import NewJob
from sluice.queue import new_job
from sluice.schedule_record import ScheduleRecord

from .schedules import MAX_FIRES_PER_TICK, Cron, Plan, check_cron, fire_id, grace_ms, plan
from .spec import JobQueueSpec, ScheduleSpec


@dataclass(frozen=True)
class ScheduleState:
    """One schedule after a tick; times in epoch seconds."""

    name: str
    last_fire: float | None
    next_fire: float | None
    fired: int = 0  # jobs this tick added
    skipped: int = 0  # missed fires this tick dropped (Skip policy)


# The fire script's arguments for one schedule (name, mark, jobs), or None: nothing to record.
Fire = tuple[str, int, list[tuple[int, NewJob]]] | None


def _pending(record: ScheduleRecord, now: int, mark: int) -> list[int]:
    """Fire times in (now, mark] of a published definition (none if it does not parse)."""
    try:
        cron = Cron(check_cron(record.cron), record.time_zone or "UTC")
        times = list(itertools.islice(cron.after(now), MAX_FIRES_PER_TICK))
    except ValueError:
        return []
    return [at for at in times if at <= mark]


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
        lead_s: float = 0.0,
    ) -> None:
        self.schedules = tuple(schedules)
        self.grace = grace_ms(polling_interval_s)
        self.lead = round(lead_s * 1000)  # fires this far ahead go in as delayed jobs
        self._clock = clock
        self._published: tuple[ScheduleRecord, ...] | None = None
        # Per schedule, the record a first sight made here (a time, no fire): the last fire
        # shown is the latest fire time after it, up to now and the record.
        self._baseline: dict[str, int] = {}

    @classmethod
    def for_spec(cls, spec: JobQueueSpec, clock: Callable[[], float] = time.time) -> Scheduler:
        """The schedules of ``spec``, fired ahead by its pre-scaling horizon."""
        scaling = spec.scaling
        lead = scaling.prescale_horizon_seconds
        return cls(spec.schedules, scaling.polling_interval_seconds, clock, lead_s=lead)

    def tick(self, queue: Queue) -> tuple[ScheduleState, ...]:
        """Fire what is due on ``queue``; raises on any Redis failure (retried next tick)."""
        if not self.schedules and self._published == ():
            return ()
        now = int(self._clock() * 1000)
        marks = queue.schedule_marks()
        if self._published is None:  # once per spec: a spec change makes a new Scheduler
            cancel, forget = self._stale(queue.schedules(), marks, now)
            for job_id in cancel:
                queue.cancel(job_id)
            for name in forget:
                queue.forget_schedule(name)
        todos = [self._plan(spec, marks.get(spec.name), now) for spec in self.schedules]
        fired = [queue.fire_schedule(*fire) if fire else 0 for _, _, fire in todos]
        states = self._states(todos, marks, fired, now)
        if (records := self._changed(states)) is not None:
            queue.publish_schedules(records)
            self._published = records
        return states

    async def atick(self, queue: AsyncQueue) -> tuple[ScheduleState, ...]:
        """:meth:`tick` on the event loop, with the same plans in between."""
        if not self.schedules and self._published == ():
            return ()
        now = int(self._clock() * 1000)
        marks = await queue.schedule_marks()
        if self._published is None:
            cancel, forget = self._stale(await queue.schedules(), marks, now)
            for job_id in cancel:
                await queue.cancel(job_id)
            for name in forget:
                await queue.forget_schedule(name)
        todos = [self._plan(spec, marks.get(spec.name), now) for spec in self.schedules]
        fired = [await queue.fire_schedule(*fire) if fire else 0 for _, _, fire in todos]
        states = self._states(todos, marks, fired, now)
        if (records := self._changed(states)) is not None:
            await queue.publish_schedules(records)
            self._published = records
        return states

    def _stale(
        self, records: Sequence[ScheduleRecord], marks: dict[str, int], now: int
    ) -> tuple[list[str], list[str]]:
        """Schedules removed, or whose cron or zone changed, since they were published: the
        fires sent ahead under the old definition are cancelled, and a changed one starts
        afresh (as a first sight), so it neither runs the old times nor skips the new ones.
        Returns (job ids to cancel, schedules to forget); ``marks`` loses the forgotten."""
        current = {s.name: s for s in self.schedules}
        cancel, forget = [], []
        for record in records:
            spec = current.get(record.name)
            if spec is not None and (spec.cron, spec.time_zone) == (record.cron, record.time_zone):
                continue
            mark = marks.get(record.name)
            if mark is not None and mark > now:
                cancel += [fire_id(record.name, at) for at in _pending(record, now, mark)]
            if spec is not None:
                forget.append(record.name)
                marks.pop(record.name, None)
        return cancel, forget

    def _plan(self, spec: ScheduleSpec, last: int | None, now: int) -> tuple[Cron, Plan, Fire]:
        """One schedule's plan, and the fire script's arguments (None: nothing to record)."""
        cron = Cron(spec.cron, spec.time_zone)
        todo = plan(cron, spec.catch_up, last, now, self.grace, lead=self.lead)
        if last is None and todo.mark is not None:
            self._baseline[spec.name] = todo.mark
        if todo.mark is None:
            return cron, todo, None
        jobs = [(at, self._job(spec, at, now)) for at in todo.fires]
        return cron, todo, (spec.name, todo.mark, jobs)

    def _states(
        self,
        todos: list[tuple[Cron, Plan, Fire]],
        marks: dict[str, int],
        fired: list[int],
        now: int,
    ) -> tuple[ScheduleState, ...]:
        return tuple(
            self._state(spec, cron, todo, marks.get(spec.name), count, now)
            for spec, (cron, todo, _), count in zip(self.schedules, todos, fired, strict=True)
        )

    def _state(  # noqa: PLR0917  (the parts of one schedule's tick, in their order)
        self, spec: ScheduleSpec, cron: Cron, todo: Plan, last: int | None, fired: int, now: int
    ) -> ScheduleState:
        newest = todo.mark if todo.mark is not None else last
        shown = cron.latest(min(now, newest)) if newest is not None else None
        if shown is not None and shown <= self._baseline.get(spec.name, -1):
            shown = None  # a time before the schedule was first seen: no fire of ours
        upcoming = cron.next(now)
        return ScheduleState(
            spec.name,
            None if shown is None else shown / 1000,
            None if upcoming is None else upcoming / 1000,
            fired,
            todo.skipped,
        )

    @staticmethod
    def _job(spec: ScheduleSpec, at: int, now: int) -> NewJob:
        delay = max(0, at - now) / 1000  # a fire sent ahead waits in the delayed set
        return new_job(spec.task, spec.payload, id=fire_id(spec.name, at), delay=delay)

    def _changed(self, states: tuple[ScheduleState, ...]) -> tuple[ScheduleRecord, ...] | None:
        """The records to publish, or None when they are what was published last."""
        records = tuple(_record(spec, st) for spec, st in zip(self.schedules, states, strict=True))
        return None if records == self._published else records
