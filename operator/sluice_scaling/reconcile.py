"""The reconcile loop shared by the Kopf operator and local mode (``sluice up``).

One :meth:`Reconciler.tick` is: one stats read (the :class:`StatsReader`), the
workload's replica count (the :class:`Actuator`), the pure
:func:`~sluice_scaling.policy.decide`, and a scale call only when the count
changes. Everything that touches Redis, the Kubernetes API or processes sits
behind those two small protocols, so both front ends drive the very same
loop, and tests drive it with plain fakes.

The code is synchronous on purpose: the Kubernetes client and the pooled Redis
clients are blocking, and Kopf runs a tick with ``asyncio.to_thread``.
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


class Reconciler:
    """Drives one queue's workload; keeps the policy state between ticks."""

    def __init__(
        self,
        spec: JobQueueSpec,
        reader: StatsReader,
        actuator: Actuator,
        clock: Callable[[], float] = time.time,
        state: PolicyState | None = None,
    ) -> None:
        self.spec = spec
        self.reader = reader  # swappable: a spec change may move the queue
        self._actuator = actuator
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

    def tick(self) -> Tick:
        stats, error = self._read()
        current = self._actuator.current()
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
        scaled_from = self._apply(target, current, stats)
        # Committed only once the scale went through: a failed scale is retried next tick.
        self.state = state
        if stats is not None:
            self._previous = stats
        return Tick(decision, stats, error, scaled_from, current, target)

    def _owned_count(self, current: ReplicaCount) -> int:
        """The count the policy starts from: ours, unless paused (then the workload's own).

        A count edited by hand is not a signal: deciding from the value this loop
        set makes the next decision put it back. Paused, hands are welcome.
        """
        if self.spec.scaling.paused or self._applied is None:
            self._applied = None
            return current.desired
        return self._applied

    def _read(self) -> tuple[QueueStats | None, str | None]:
        try:
            return self.reader.read(), None
        except Exception as exc:  # any read failure means "no metrics" to the policy
            return None, describe_error(exc)

    def _target(self, decision: Decision, current: ReplicaCount, have_data: bool) -> int:
        """The decision, but never a scale-down on missing data except to a lowered maximum.

        Without data the count is held whatever the policy says; ``maxReplicas``
        still caps it, so a lowered maximum takes effect while Redis is down.
        """
        if have_data:
            return decision.replicas
        return min(max(decision.replicas, current.desired), self.spec.scaling.max_replicas)

    def _apply(self, target: int, current: ReplicaCount, stats: QueueStats | None) -> int | None:
        if target == current.desired:
            self._remember(target)
            return None
        workers = stats.workers if stats is not None else ()
        self._actuator.scale(target, workers)
        self._remember(target)
        return current.desired

    def _remember(self, replicas: int) -> None:
        if not self.spec.scaling.paused:
            self._applied = replicas
