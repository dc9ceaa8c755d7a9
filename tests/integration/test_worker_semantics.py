"""Worker semantics against a real redis-server, with the worker running in the test's loop.

Retries with backoff, a handler's Retry and Fail, bad input to the dead-letter
queue, timeouts that stop async work, cancellation of a running job, progress.
Leases are 1 s and backoff tens of milliseconds, so each test takes well under
a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio
from worker_helpers import QUEUE, configured_queue, running, settled, until, worker

from sluice import AsyncQueue, Fail, JobSettings, Retry
from sluice.protocol import NewJob, ops
from sluice.tasks import JobContext, Tasks
from sluice.worker import Worker
from sluice_local.redis_server import RedisServer

FAST = JobSettings(lease_s=1, backoff_base_s=0.05, backoff_cap_s=0.2, max_attempts=3)


@pytest.fixture
async def queue(redis_url: str) -> AsyncIterator[AsyncQueue]:
    async with configured_queue(redis_url, FAST) as q:
        yield q


async def test_runs_jobs_and_keeps_results(redis_url: str, queue: AsyncQueue) -> None:
    tasks = Tasks()
    seen: list[tuple[str, object, int]] = []

    @tasks.task
    async def add(ctx: JobContext) -> int:
        seen.append((ctx.id, ctx.payload, ctx.attempt))
        return int(ctx.payload["a"]) + int(ctx.payload["b"])

    @tasks.task("mul")
    def multiply(ctx: JobContext) -> int:  # sync: runs in a thread
        return int(ctx.payload[0]) * int(ctx.payload[1])

    async with running(worker(redis_url, tasks)):
        a = await queue.enqueue("add", {"a": 2, "b": 3})
        m = await queue.enqueue("mul", [4, 5])
        assert (await settled(queue, a)).result == 5
        assert (await settled(queue, m)).result == 20
    assert seen == [(a, {"a": 2, "b": 3}, 1)]
    stats = await queue.stats()
    assert stats.counters.completed == 2
    assert stats.service_time.count == 2


async def test_exception_retries_with_backoff_then_succeeds(
    redis_url: str, queue: AsyncQueue
) -> None:
    tasks = Tasks()
    attempts: list[int] = []

    @tasks.task
    async def flaky(ctx: JobContext) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise RuntimeError(f"boom {ctx.attempt}")
        return "ok"

    async with running(worker(redis_url, tasks)):
        job = await queue.enqueue("flaky")
        info = await settled(queue, job)
    assert (info.state, info.result, info.attempts) == ("completed", "ok", 3)
    assert attempts == [1, 2, 3]
    assert "RuntimeError: boom 2" in (info.error or "")  # the last failure's traceback
    assert (await queue.stats()).counters.retried == 2


async def test_exhausted_attempts_dead_letter_with_traceback(
    redis_url: str, queue: AsyncQueue, caplog: pytest.LogCaptureFixture
) -> None:
    tasks = Tasks()

    @tasks.task
    def broken(ctx: JobContext) -> None:
        raise ValueError("always")

    async with running(worker(redis_url, tasks)):
        job = await queue.enqueue("broken")
        info = await settled(queue, job)
    assert (info.state, info.dead_reason, info.attempts) == ("dead", "max_attempts", 3)
    assert "Traceback" in (info.error or "")
    assert "ValueError: always" in (info.error or "")
    assert f"job {job} (broken) attempt 1/3 failed: ValueError: always; retry in" in caplog.text
    assert f"job {job} (broken) attempt 3/3 failed: ValueError: always; no attempts left" in (
        caplog.text
    )


async def test_retry_with_explicit_delay(redis_url: str, queue: AsyncQueue) -> None:
    tasks = Tasks()

    @tasks.task
    async def later(ctx: JobContext) -> int:
        if ctx.attempt == 1:
            raise Retry(delay=0.6)
        return ctx.attempt

    async with running(worker(redis_url, tasks)):
        job = await queue.enqueue("later")
        delayed = await settled(queue, job, ("delayed",), within=5)
        info = await settled(queue, job)
    assert delayed.ready_at is not None
    assert delayed.started_at is not None
    assert delayed.ready_at - delayed.started_at >= 0.55  # the handler's delay, not the backoff
    assert info.result == 2
    assert info.started_at is not None
    assert info.started_at >= delayed.ready_at


async def test_fail_dead_letters_at_once_with_reason(redis_url: str, queue: AsyncQueue) -> None:
    tasks = Tasks()

    @tasks.task
    async def picky(ctx: JobContext) -> None:
        raise Fail("image is not a PNG")

    async with running(worker(redis_url, tasks)):
        job = await queue.enqueue("picky", max_attempts=10)
        info = await settled(queue, job)
    assert (info.state, info.dead_reason, info.attempts) == ("dead", "image is not a PNG", 1)


async def test_unknown_task_and_bad_payload_dead_letter_and_worker_goes_on(
    redis_url: str, queue: AsyncQueue
) -> None:
    tasks = Tasks()

    @tasks.task
    async def fine(ctx: JobContext) -> str:
        return "fine"

    bad = NewJob(id="bad-json", task="fine", payload=b"{not json")
    await queue.protocol.run(ops.enqueue(QUEUE, [bad]))
    unknown = await queue.enqueue("nobody-knows-me", {"x": 1})
    async with running(worker(redis_url, tasks)) as w:
        good = await queue.enqueue("fine")
        assert (await settled(queue, good)).result == "fine"
        bad_info = await settled(queue, "bad-json")
        unknown_info = await settled(queue, unknown)
        failed = {"queue": QUEUE, "outcome": "failed"}
        assert w.metrics.registry.get_sample_value("sluice_jobs_total", failed) == 2
    assert (bad_info.state, bad_info.dead_reason, bad_info.attempts) == ("dead", "bad_payload", 1)
    assert "not valid JSON" in (bad_info.error or "")
    assert (unknown_info.dead_reason, unknown_info.attempts) == ("unknown_task", 1)
    assert "nobody-knows-me" in (unknown_info.error or "")
    assert "fine" in (unknown_info.error or "")


async def test_result_that_is_not_json_dead_letters(redis_url: str, queue: AsyncQueue) -> None:
    tasks = Tasks()

    @tasks.task
    async def odd(ctx: JobContext) -> object:
        return {1, 2}

    async with running(worker(redis_url, tasks)):
        info = await settled(queue, await queue.enqueue("odd"))
    assert (info.state, info.dead_reason) == ("dead", "bad_result")


async def test_timeout_cancels_async_work(redis_url: str, queue: AsyncQueue) -> None:
    tasks = Tasks()
    stopped: list[int] = []

    @tasks.task
    async def slow(ctx: JobContext) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            stopped.append(ctx.attempt)
            raise

    async with running(worker(redis_url, tasks)):
        job = await queue.enqueue("slow", timeout=0.2, max_attempts=2)
        info = await settled(queue, job)
    assert (info.state, info.dead_reason, info.attempts) == ("dead", "timeout", 2)
    assert stopped == [1, 2]  # each attempt was actually stopped
    assert "timed out after 0.2s" in (info.error or "")


async def test_a_timeout_holds_when_the_handler_swallows_its_cancellation(
    redis_url: str, queue: AsyncQueue
) -> None:
    tasks = Tasks()
    finished = asyncio.Event()

    @tasks.task
    async def deaf(ctx: JobContext) -> str:
        until = time.monotonic() + 3  # long past the deadline
        while time.monotonic() < until:
            # Swallowed, every time, as redis-py may when cancelled mid-connect.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(until - time.monotonic())
        finished.set()
        return "too late"

    @tasks.task
    async def quick(ctx: JobContext) -> str:
        return "ran"

    async with running(worker(redis_url, tasks, concurrency=1)):
        job = await queue.enqueue("deaf", timeout=0.3, max_attempts=1)
        info = await settled(queue, job, within=2.5)  # the deadline and a short grace
        assert (info.state, info.dead_reason, info.result) == ("dead", "timeout", None)
        assert "timed out after 0.3s" in (info.error or "")
        # Its one slot is free again while the abandoned handler still runs.
        assert (await settled(queue, await queue.enqueue("quick"), within=2)).result == "ran"
        assert not finished.is_set()
        await asyncio.wait_for(finished.wait(), 5)
        await asyncio.sleep(0.1)  # its late return is ignored, not recorded
    info = await queue.get(job)
    assert info is not None
    assert (info.state, info.result, info.attempts) == ("dead", None, 1)
    assert (await queue.stats()).counters.completed == 1  # only "quick"


async def test_a_result_returned_after_the_deadline_is_a_timeout(
    redis_url: str, queue: AsyncQueue
) -> None:
    tasks = Tasks()

    @tasks.task
    async def late(ctx: JobContext) -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return "caught it"  # within the grace, but past the deadline
        return "never"

    async with running(worker(redis_url, tasks)):
        info = await settled(queue, await queue.enqueue("late", timeout=0.2, max_attempts=1))
    assert (info.state, info.dead_reason, info.result) == ("dead", "timeout", None)


async def test_cancel_stops_a_running_async_job(redis_url: str, queue: AsyncQueue) -> None:
    tasks = Tasks()
    started, stopped = asyncio.Event(), asyncio.Event()

    @tasks.task
    async def long(ctx: JobContext) -> str:
        started.set()
        try:
            await asyncio.sleep(30)
        finally:
            stopped.set()
        return "should be dropped"

    async with running(worker(redis_url, tasks)):
        job = await queue.enqueue("long")
        await asyncio.wait_for(started.wait(), 5)
        assert await queue.cancel(job)
        await asyncio.wait_for(stopped.wait(), 3)  # within a heartbeat (lease / 3)
        info = await settled(queue, job)
    assert (info.state, info.result) == ("cancelled", None)
    assert (await queue.stats()).counters.cancelled == 1


async def test_cancel_is_seen_by_a_sync_job_and_its_result_dropped(
    redis_url: str, queue: AsyncQueue
) -> None:
    tasks = Tasks()
    loop = asyncio.get_running_loop()
    started = asyncio.Event()

    @tasks.task
    def polling(ctx: JobContext) -> str:
        loop.call_soon_threadsafe(started.set)
        for _ in range(500):
            if ctx.cancelled:
                return "saw the cancel"
            ctx.progress(10, "working")
            time.sleep(0.01)
        return "never cancelled"

    async with running(worker(redis_url, tasks)):
        job = await queue.enqueue("polling")
        await asyncio.wait_for(started.wait(), 5)
        await until(lambda: _progress_is(queue, job, 10.0))
        await queue.cancel(job)
        info = await settled(queue, job)
    assert (info.state, info.result) == ("cancelled", None)


async def _progress_is(queue: AsyncQueue, job: str, pct: float) -> bool:
    info = await queue.get(job)
    return info is not None and info.progress == pct and info.progress_message == "working"


async def test_a_waiting_cancelled_job_never_runs(redis_url: str, queue: AsyncQueue) -> None:
    tasks = Tasks()
    ran: list[str] = []

    @tasks.task
    async def once(ctx: JobContext) -> None:
        ran.append(ctx.id)

    job = await queue.enqueue("once")
    assert await queue.cancel(job)
    async with running(worker(redis_url, tasks)):
        other = await queue.enqueue("once")
        await settled(queue, other)
    assert ran == [other]


async def test_an_idle_worker_wakes_for_a_new_job_without_polling(
    redis_url: str, queue: AsyncQueue
) -> None:
    await queue.configure(JobSettings(lease_s=30))  # an idle wait may block up to 5 s
    tasks = Tasks()

    @tasks.task
    async def quick(ctx: JobContext) -> None:
        return None

    async with running(worker(redis_url, tasks)):
        await asyncio.sleep(0.3)  # the worker is now blocked waiting for work
        info = await settled(queue, await queue.enqueue("quick"), within=2)
    assert info.started_at is not None
    assert info.started_at - info.enqueued_at < 1.0  # woken, not found by a periodic poll


async def test_worker_authenticates_with_acl_credentials(
    private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    admin = redis.asyncio.Redis.from_url(private_redis.url)
    await admin.execute_command(
        "ACL", "SETUSER", "jobs", "on", ">pa55-word", "~q:{wq}:*", "+@all", "-@dangerous",
        "+info", "+ping",
    )  # fmt: skip
    await admin.aclose()
    tasks = Tasks()

    @tasks.task
    async def hello(ctx: JobContext) -> str:
        return "hi"

    queue = AsyncQueue(QUEUE, private_redis.url)
    w = worker(private_redis.url, tasks, redis_username="jobs", redis_password="pa55-word")
    try:
        with caplog.at_level("DEBUG"):
            async with running(w):
                assert (await settled(queue, await queue.enqueue("hello"))).result == "hi"
    finally:
        await queue.close()
    assert "pa55-word" not in caplog.text


async def test_a_timed_out_sync_job_is_flagged_and_its_slot_freed(
    redis_url: str, queue: AsyncQueue
) -> None:
    tasks = Tasks()
    saw_cancel = threading.Event()

    @tasks.task
    def stubborn(ctx: JobContext) -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if ctx.cancelled:
                saw_cancel.set()
                return
            time.sleep(0.01)

    async with running(worker(redis_url, tasks, concurrency=1)):
        job = await queue.enqueue("stubborn", timeout=0.2, max_attempts=1)
        info = await settled(queue, job)
        assert (info.state, info.dead_reason) == ("dead", "timeout")
        assert await asyncio.to_thread(saw_cancel.wait, 2)


async def test_heartbeat_shows_busy_slots_and_is_withdrawn_on_stop(
    redis_url: str, queue: AsyncQueue
) -> None:
    tasks = Tasks()
    release = asyncio.Event()

    @tasks.task
    async def hold(ctx: JobContext) -> None:
        await release.wait()

    async with running(worker(redis_url, tasks, concurrency=3)):
        await queue.enqueue("hold")
        await until(lambda: _busy_is(queue, 1))
        release.set()
        await until(lambda: _busy_is(queue, 0))
    assert (await queue.stats()).workers == ()


async def _busy_is(queue: AsyncQueue, busy: int) -> bool:
    workers = (await queue.stats()).workers
    return [(w.id, w.busy, w.slots) for w in workers] == [("w-test", busy, 3)]


async def test_a_stop_during_an_empty_claim_does_not_wait_for_work(redis_url: str) -> None:
    # The stop request lands while the claim round trip is in flight, when there is no
    # idle wait to cancel yet: the worker must not start one (up to 5 s) after it.
    from sluice.protocol.scripts import script

    class StopOnClaim(redis.asyncio.Redis):
        async def evalsha(self, sha: str, *args: object) -> object:  # type: ignore[override]
            if sha == script("claim").sha:
                w.request_stop()
            return await super().evalsha(sha, *args)

    async with AsyncQueue(QUEUE, redis_url) as queue:
        await queue.configure(JobSettings(lease_s=30))  # an idle wait would be 5 s
    client = StopOnClaim.from_url(redis_url)
    w = Worker(worker(redis_url, Tasks()).settings, Tasks(), client=client)
    started = time.monotonic()
    await asyncio.wait_for(w.run(), 15)
    assert time.monotonic() - started < 2.0
    await client.aclose()
