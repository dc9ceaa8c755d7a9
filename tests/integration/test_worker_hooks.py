"""on_success / on_failure hooks run in the worker once Redis has recorded the outcome."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from worker_helpers import configured_queue, running, worker

from sluice import AsyncQueue, Fail, JobDeadLettered, JobSettings
from sluice.tasks import JobContext, Tasks

FAST = JobSettings(lease_s=1, backoff_base_s=0.01, backoff_cap_s=0.05, max_attempts=2)
DEADLINE_S = 20.0


@pytest.fixture
async def queue(redis_url: str) -> AsyncIterator[AsyncQueue]:
    async with configured_queue(redis_url, FAST) as q:
        yield q


async def test_hooks_see_the_recorded_outcome(redis_url: str, queue: AsyncQueue) -> None:
    seen: list[tuple[str, ...]] = []
    hooked = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def succeeded(ctx: JobContext, result: object) -> None:
        info = await queue.get(ctx.id)  # already recorded when the hook runs
        seen.append(("success", ctx.id, str(result), info.state if info else "gone"))
        hooked.set()

    def failed(ctx: JobContext, reason: str, error: str | None) -> None:  # sync: in a thread
        seen.append(("failure", ctx.id, reason, (error or "").splitlines()[-1]))
        loop.call_soon_threadsafe(hooked.set)

    tasks = Tasks()

    @tasks.task("add", on_success=succeeded, on_failure=failed)
    async def add(ctx: JobContext) -> int:
        return int(ctx.payload[0]) + int(ctx.payload[1])

    @tasks.task("flaky", on_success=succeeded, on_failure=failed)
    async def flaky(ctx: JobContext) -> None:
        raise ValueError(f"attempt {ctx.attempt}")

    tasks.add("refuse", _refuse, on_failure=failed)

    async with running(worker(redis_url, tasks)):
        ok = await queue.enqueue("add", [2, 3])
        assert await ok.result(DEADLINE_S) == 5
        bad = await queue.enqueue("flaky")
        with pytest.raises(JobDeadLettered):
            await bad.result(DEADLINE_S)
        refused = await queue.enqueue("refuse")
        with pytest.raises(JobDeadLettered):
            await refused.result(DEADLINE_S)
        for _ in range(3):
            await asyncio.wait_for(hooked.wait(), DEADLINE_S)
            hooked.clear()
            if len(seen) == 3:
                break
    assert sorted(seen) == sorted([
        ("success", ok, "5", "completed"),
        ("failure", bad, "max_attempts", "ValueError: attempt 2"),  # once, for the last attempt
        ("failure", refused, "no thanks", "no thanks"),
    ])  # fmt: skip


async def test_a_failing_hook_changes_nothing(
    redis_url: str, queue: AsyncQueue, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(ctx: JobContext, result: object) -> None:
        raise RuntimeError("hook bug")

    tasks = Tasks()
    tasks.add("t", _answer, on_success=broken)
    async with running(worker(redis_url, tasks)):
        first = await queue.enqueue("t")
        second = await queue.enqueue("t")
        assert [await first.result(DEADLINE_S), await second.result(DEADLINE_S)] == [42, 42]
    assert "hook" in caplog.text
    assert "hook bug" in caplog.text


async def test_no_hook_for_a_cancelled_job(redis_url: str, queue: AsyncQueue) -> None:
    called: list[str] = []
    started = asyncio.Event()

    async def slow(ctx: JobContext) -> int:
        started.set()
        await asyncio.sleep(DEADLINE_S)  # the cancel interrupts it (CancelledError)
        return 1

    tasks = Tasks()
    tasks.add("slow", slow, on_success=lambda c, r: called.append(c.id))
    async with running(worker(redis_url, tasks)):
        job = await queue.enqueue("slow")
        await asyncio.wait_for(started.wait(), DEADLINE_S)
        assert await job.cancel()
        info = None
        for _ in range(int(DEADLINE_S / 0.02)):
            info = await job.info()
            if info is not None and info.state == "cancelled":
                break
            await asyncio.sleep(0.02)
        assert info is not None
        assert info.state == "cancelled"
    assert called == []


def test_hooks_must_be_callable() -> None:
    with pytest.raises(TypeError, match="not callable"):
        Tasks().add("t", _answer, on_success="nope")  # type: ignore[arg-type]


async def _answer(ctx: JobContext) -> int:
    return 42


async def _refuse(ctx: JobContext) -> None:
    raise Fail("no thanks")
