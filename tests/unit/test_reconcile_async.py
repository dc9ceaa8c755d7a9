"""The async reconciler is the sync one over awaitable edges: same decisions, same memory."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from test_reconcile import Actuator, Clock, Reader, snap, spec

from sluice.stats import QueueStats, WorkerInfo
from sluice_scaling.reconcile import AsyncReconciler, Reconciler, ReplicaCount, Tick


@dataclass
class AsyncReader:
    inner: Reader

    async def read(self) -> QueueStats:
        return self.inner.read()


@dataclass
class AsyncActuator:
    inner: Actuator
    calls: list[int] = field(default_factory=list)

    async def current(self) -> ReplicaCount:
        return self.inner.current()

    async def scale(self, replicas: int, workers: tuple[WorkerInfo, ...]) -> None:
        self.calls.append(replicas)
        self.inner.scale(replicas, workers)


def _story() -> list[QueueStats | Exception]:
    busy = [snap(1000.0 + 5 * i, 40 - 5 * i) for i in range(8)]
    return [*busy, ConnectionError("redis://:pw@h down"), snap(1045.0, 0), snap(1050.0, 0)]


def _summary(ticks: list[Tick]) -> list[tuple[int, int | None, str, str | None]]:
    return [(t.target, t.scaled_from, t.decision.term, t.error) for t in ticks]


async def test_async_ticks_decide_exactly_like_sync_ticks() -> None:
    queue_spec = spec(minReplicas=0, idleSecondsBeforeZero=1)
    sync_clock, async_clock = Clock(), Clock()
    sync_actuator, async_actuator = Actuator(), AsyncActuator(Actuator())
    sync = Reconciler(queue_spec, Reader(_story()), sync_actuator, sync_clock)
    run = AsyncReconciler(queue_spec, AsyncReader(Reader(_story())), async_actuator, async_clock)
    sync_ticks, async_ticks = [], []
    for _ in range(len(_story())):
        sync_ticks.append(sync.tick())
        async_ticks.append(await run.tick())
        sync_clock.now += 5
        async_clock.now += 5
    assert _summary(async_ticks) == _summary(sync_ticks)
    assert any(t.scaled_from is not None for t in async_ticks)  # the story scales at all
    assert async_actuator.calls == [r for r, _ in sync_actuator.calls]
    assert run.state == sync.state
    assert "pw" not in (async_ticks[8].error or "")


async def test_a_failed_async_scale_keeps_the_policy_memory() -> None:
    actuator = AsyncActuator(Actuator(fail=True))
    run = AsyncReconciler(spec(), AsyncReader(Reader([snap(1000.0, 30)])), actuator, Clock())
    before = run.state
    with pytest.raises(RuntimeError, match="api down"):
        await run.tick()
    assert run.state == before
    assert run.applied is None
