"""The reconcile loop shared by the Kopf operator and local mode (``sluice up``).

One :meth:`Reconciler.tick` is: one stats read (the :class:`StatsReader`), the
workload's replica count (the :class:`Actuator`), the pure
:func:`~sluice_scaling.policy.decide`, and a scale call only when the count
changes. Everything that touches Redis, the Kubernetes API or processes sits
behind those two small protocols, so both front ends drive the very same
loop, and tests drive it with plain fakes.

The decision between the read and the scale is :meth:`Reconciler.plan` and
:meth:`Reconciler.commit`, which do no I/O. Two front doors wrap them:
:class:`Reconciler` over blocking edges (local mode ticks on its own thread)
and :class:`AsyncReconciler` over awaitable ones (the operator runs thousands
of queues on one event loop, no thread per poll). Both ticks are the same few
lines around the same plan, so the two modes cannot drift apart.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sluice.connection import redact
from sluice.stats import QueueStats, WorkerInfo

from .policy import Decision, Observation, PolicyState, decide
from .spec import JobQueueSpec

# Anything that looks like a URL in an error message; it may carry a password.
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class ReplicaCount:
    """The workload's replicas: asked for (``desired``) and able to take jobs (``ready``)."""

    desired: int
    ready: int


class StatsReader(Protocol):
    """Reads one queue snapshot in one round trip; raises on any failure."""

    def read(self) -> QueueStats: ...


class Actuator(Protocol):
    """The workload whose replica count the loop sets."""

    def current(self) -> ReplicaCount: ...

    def scale(self, replicas: int, workers: tuple[WorkerInfo, ...]) -> None:
        """Set the replica count; on a scale-down, stop idle workers first."""


class AsyncStatsReader(Protocol):
    """:class:`StatsReader` on the event loop."""

    async def read(self) -> QueueStats: ...


class AsyncActuator(Protocol):
    """:class:`Actuator` on the event loop."""

    async def current(self) -> ReplicaCount: ...

    async def scale(self, replicas: int, workers: tuple[WorkerInfo, ...]) -> None: ...


@dataclass(frozen=True)
class Plan:
    """What a tick will do, decided before any write: the pure middle of a tick."""

    decision: Decision
    state: PolicyState
    stats: QueueStats | None
    error: str | None
    current: ReplicaCount
    target: int

    @property
    def scales(self) -> bool:
        return self.target != self.current.desired


@dataclass(frozen=True)
class Tick:
    """What one tick saw and did."""

    decision: Decision
    stats: QueueStats | None  # None when the read failed
    error: str | None  # why the read failed, free of credentials
    scaled_from: int | None  # the replica count before a scale, None when unchanged
    replicas: ReplicaCount  # the workload as found at the start of the tick
    target: int  # the workload's count after the tick (the decision, bar the no-data guard)

    @property
    def scaled(self) -> bool:
        return self.scaled_from is not None


def describe_error(exc: BaseException) -> str:
    """A one-line, credential-free description of a failed read."""
    message = _URL.sub(lambda m: redact(m.group(0)), str(exc)).strip()
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:_MAX_ERROR_CHARS]


class ReconcileCore:
    """One queue's memory between ticks and the pure middle of a tick (no edges)."""

    def __init__(
        self,
        spec: JobQueueSpec,
        clock: Callable[[], float] = time.time,
        state: PolicyState | None = None,
    ) -> None:
        self.spec = spec
        self._clock = clock
        self.state = state or PolicyState()  # a restart may seed what was learnt before
        self._previous: QueueStats | None = None
        self._applied: int | None = None  # the count this loop last set

    @property
    def applied(self) -> int | None:
        """The replica count this loop last set (None before the first tick, or paused)."""
        return self._applied

    def update_spec(self, spec: JobQueueSpec) -> None:
        """Take a new spec; the policy's memory (rates, windows) carries over."""
        self.spec = spec

    def plan(self, stats: QueueStats | None, error: str | None, current: ReplicaCount) -> Plan:
        """Decide from a snapshot and the workload's count; no I/O, nothing kept yet."""
        obs = Observation(
            stats=stats,
            previous=self._previous,
            replicas=self._owned_count(current),
            ready_replicas=current.ready,
            concurrency=self.spec.worker.concurrency,
            rate_limit_per_s=None if (rl := self.spec.jobs.rate_limit) is None else rl.per_second,
        )
        decision, state = decide(self.spec.scaling, obs, self.state, self._clock())
        target = self._target(decision, current, stats is not None)
        return Plan(decision, state, stats, error, current, target)

    def commit(self, plan: Plan) -> Tick:
        """Keep what the tick learnt, once its scale (if any) went through.

        A scale that raised never gets here, so it is decided and tried again next tick.
        """
        self._remember(plan.target)
        self.state = plan.state
        if plan.stats is not None:
            self._previous = plan.stats
        scaled_from = plan.current.desired if plan.scales else None
        return Tick(plan.decision, plan.stats, plan.error, scaled_from, plan.current, plan.target)

    def _owned_count(self, current: ReplicaCount) -> int:
        """The count the policy starts from: ours, unless paused (then the workload's own).

        A count edited by hand is not a signal: deciding from the value this loop
        set makes the next decision put it back. Paused, hands are welcome.
        """
        if self.spec.scaling.paused or self._applied is None:
            self._applied = None
            return current.desired
        return self._applied

    def _target(self, decision: Decision, current: ReplicaCount, have_data: bool) -> int:
        """The decision, but never a scale-down on missing data except to a lowered maximum.

        Without data the count is held whatever the policy says; ``maxReplicas``
        still caps it, so a lowered maximum takes effect while Redis is down.
        """
        if have_data:
            return decision.replicas
        return min(max(decision.replicas, current.desired), self.spec.scaling.max_replicas)

    def _remember(self, replicas: int) -> None:
        if not self.spec.scaling.paused:
            self._applied = replicas


def _workers(plan: Plan) -> tuple[WorkerInfo, ...]:
    return plan.stats.workers if plan.stats is not None else ()


class Reconciler(ReconcileCore):
    """Drives one queue's workload over blocking edges (local mode)."""

    def __init__(
        self,
        spec: JobQueueSpec,
        reader: StatsReader,
        actuator: Actuator,
        clock: Callable[[], float] = time.time,
        state: PolicyState | None = None,
    ) -> None:
        super().__init__(spec, clock, state)
        self.reader = reader  # swappable: a spec change may move the queue
        self._actuator = actuator

    def tick(self) -> Tick:
        try:
            stats, error = self.reader.read(), None
        except Exception as exc:  # any read failure means "no metrics" to the policy
            stats, error = None, describe_error(exc)
        plan = self.plan(stats, error, self._actuator.current())
        if plan.scales:
            self._actuator.scale(plan.target, _workers(plan))
        return self.commit(plan)


class AsyncReconciler(ReconcileCore):
    """The same tick over awaitable edges: the operator runs thousands on one event loop."""

    def __init__(
        self,
        spec: JobQueueSpec,
        reader: AsyncStatsReader,
        actuator: AsyncActuator,
        clock: Callable[[], float] = time.time,
        state: PolicyState | None = None,
    ) -> None:
        super().__init__(spec, clock, state)
        self.reader = reader
        self._actuator = actuator

    async def tick(self) -> Tick:
        try:
            stats, error = await self.reader.read(), None
        except Exception as exc:
            stats, error = None, describe_error(exc)
        plan = self.plan(stats, error, await self._actuator.current())
        if plan.scales:
            await self._actuator.scale(plan.target, _workers(plan))
        return self.commit(plan)
