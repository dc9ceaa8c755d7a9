"""Buffered jobs run one after another in one task: what that must not change.

A job that ends normally hands its task to the next buffered job (see
``Worker._run``). These tests hold the three ways that could leak from one job
into the next: context variables a handler set, a cancellation meant for an
interrupted job, and a loop kept busy by handlers that never wait. Each runs one
slot over a backlog, so after the first job every job comes from the buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import AsyncIterator

import pytest
from worker_helpers import configured_queue, running, settled, until, worker

from sluice import AsyncQueue, JobSettings
from sluice.tasks import JobContext, Tasks
from sluice.worker.runner import CHAIN_SLICE_S

FAST = JobSettings(lease_s=2, backoff_base_s=0.05, backoff_cap_s=0.2, max_attempts=1)
REQUEST: contextvars.ContextVar[str | None] = contextvars.ContextVar("request", default=None)


@pytest.fixture
async def queue(redis_url: str) -> AsyncIterator[AsyncQueue]:
    async with configured_queue(redis_url, FAST) as q:
        yield q


async def _all_completed(queue: AsyncQueue, n: int) -> None:
    async def done() -> bool:
        return (await queue.stats()).counters.completed >= n

    await until(done, within=30)


async def test_each_job_starts_without_the_context_variables_an_earlier_job_set(
    redis_url: str, queue: AsyncQueue
) -> None:
    tasks = Tasks()
    seen: list[str | None] = []

    @tasks.task
    async def tag(ctx: JobContext) -> None:
        seen.append(REQUEST.get())
        REQUEST.set(ctx.id)  # never reset: as a careless handler (or a library) leaves it

    await queue.enqueue_many(("tag", None) for _ in range(60))
    async with running(worker(redis_url, tasks, concurrency=1)):
        await _all_completed(queue, 60)
    assert seen == [None] * 60


@pytest.mark.parametrize("swallow", [False, True], ids=["cancelled", "swallowed"])
async def test_jobs_after_an_interrupted_one_see_no_cancellation_of_it(
    redis_url: str, queue: AsyncQueue, swallow: bool
) -> None:
    """The worker's cancellation of a timed-out job must not reach the jobs after it.

    A task keeps count of the cancellations asked of it (``Task.cancelling()``), and
    code that tells a cancellation of its own from one of the whole task reads it: a
    job must start with none pending, whatever happened to the job before it."""
    tasks = Tasks()

    @tasks.task
    async def quick(ctx: JobContext) -> None:
        return None

    @tasks.task
    async def stuck(ctx: JobContext) -> None:
        if swallow:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(30)
        else:
            await asyncio.sleep(30)

    @tasks.task
    async def looks(ctx: JobContext) -> int:
        task = asyncio.current_task()
        assert task is not None
        return task.cancelling()

    ids = await queue.enqueue_many(("quick", None) for _ in range(5))
    slow = await queue.enqueue("stuck", timeout=0.3)
    after = await queue.enqueue_many(("looks", None) for _ in range(5))
    async with running(worker(redis_url, tasks, concurrency=1)):
        assert (await settled(queue, slow)).dead_reason == "timeout"
        for job in after:
            info = await settled(queue, job)
            assert (info.state, info.result) == ("completed", 0)
        for job in ids:
            assert (await settled(queue, job)).state == "completed"


async def test_handlers_that_never_wait_still_leave_the_loop_a_turn(
    redis_url: str, queue: AsyncQueue
) -> None:
    """Jobs that never await run back to back in one task; every CHAIN_SLICE_S or so
    the task pauses, so claims, outcomes and heartbeats are not held up by a backlog."""
    tasks = Tasks()
    turns = [0]
    seen: list[int] = []

    async def count_turns() -> None:
        while True:
            turns[0] += 1
            await asyncio.sleep(0)

    @tasks.task
    async def busy(ctx: JobContext) -> None:
        seen.append(turns[0])
        end = time.perf_counter() + 1.5 * CHAIN_SLICE_S
        while time.perf_counter() < end:  # CPU work, no await
            pass

    await queue.enqueue_many(("busy", None) for _ in range(40))
    ticker = asyncio.create_task(count_turns())
    try:
        async with running(worker(redis_url, tasks, concurrency=1)):
            await _all_completed(queue, 40)
    finally:
        ticker.cancel()
    # Between any two jobs the loop turned at least once.
    stalled = [i for i in range(1, len(seen)) if seen[i] == seen[i - 1]]
    assert len(seen) == 40
    assert stalled == []
