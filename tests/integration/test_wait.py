"""Waiting for a job's outcome (Queue.wait, AsyncQueue.wait, the enqueue handle).

The waits must be woken by the job's end through Redis. To tell that apart from a
block that merely ran out, these tests make one block longer than the test's own
deadline (``long_blocks``): a waiter that were not woken would fail the test.
"""

from __future__ import annotations

import asyncio
import math
import pickle
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis

from sluice import (
    AsyncQueue,
    JobCancelled,
    JobDeadLettered,
    JobFailed,
    JobNotFound,
    JobSettings,
    Queue,
    ResultExpired,
    WaitTimeout,
    waiting,
)
from sluice.handle import JobHandle
from sluice.protocol import Outcome

DEADLINE_S = 20.0  # against hangs on a busy machine, well under a long block


@pytest.fixture(autouse=True)
def long_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waiting, "MAX_BLOCK_S", 300.0)


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    # No socket timeout: a block may be longer than the test (see long_blocks).
    client = redis.Redis.from_url(redis_url, socket_timeout=None)
    yield Queue("w", client)
    client.close()


@pytest.fixture
async def aqueue(redis_url: str) -> AsyncIterator[AsyncQueue]:
    client = redis.asyncio.Redis.from_url(redis_url, socket_timeout=None)
    yield AsyncQueue("w", client)
    await client.aclose()


def finish(queue: Queue, kind: str = "done", result: bytes | None = None, **kw: object) -> str:
    (job,) = queue.protocol.claim("worker-1", 1, 30)
    outcome = Outcome(job.id, job.token, kind, result=result, **kw)  # type: ignore[arg-type]
    assert queue.protocol.finish([outcome]) == [True]
    return job.id


def blocked_waiters(client: redis.Redis) -> int:
    return sum(1 for c in client.client_list() if c.get("cmd") == "xread")


def until(predicate: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def blocked_wait(handle: JobHandle, client: redis.Redis) -> Callable[[], object]:
    """``handle.result()`` in a thread, once it blocks in Redis; call the answer to join it.

    The call gives what the wait returned, or the exception it raised.
    """
    got: list[object] = []

    def wait() -> None:
        try:
            got.append(handle.result(DEADLINE_S))
        except Exception as exc:  # the test inspects it
            got.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    until(lambda: blocked_waiters(client) == 1, "the waiter never blocked")

    def ended() -> object:
        thread.join(DEADLINE_S)
        (outcome,) = got
        return outcome

    return ended


def test_a_waiter_is_woken_by_the_jobs_end(queue: Queue, redis_client: redis.Redis) -> None:
    handle = queue.enqueue("t", 1)
    ended = blocked_wait(handle, redis_client)
    finish(queue, result=b'{"sum": 3}')
    assert ended() == {"sum": 3}


async def test_many_waiters_on_one_job_all_wake(
    aqueue: AsyncQueue, queue: Queue, redis_client: redis.Redis
) -> None:
    handle = await aqueue.enqueue("t")
    waits = [asyncio.create_task(aqueue.wait(handle, timeout=DEADLINE_S)) for _ in range(50)]
    waits.append(asyncio.create_task(handle.result(1000)))
    deadline = time.monotonic() + DEADLINE_S
    while aqueue._waits is None or aqueue._waits.waiting(aqueue.keys.done(handle)) < len(waits):
        assert time.monotonic() < deadline, "not every waiter is waiting"
        await asyncio.sleep(0.01)
    while blocked_waiters(redis_client) < 1:
        assert time.monotonic() < deadline, "the waits never blocked"
        await asyncio.sleep(0.01)
    # One process's waits share one blocking read (sluice.wait_hub), not a connection each.
    assert blocked_waiters(redis_client) == 1
    scripts_before = script_calls(redis_client)
    finish(queue, result=b"7")
    assert await asyncio.wait_for(asyncio.gather(*waits), DEADLINE_S) == [7] * 51
    # claim and finish; the end notice carried the result, so no waiter read again.
    assert script_calls(redis_client) - scripts_before == 2


def script_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))


def test_a_waiter_after_the_end_returns_at_once(queue: Queue, redis_client: redis.Redis) -> None:
    queue.enqueue("t", id="done-early")
    finish(queue, result=b'"ok"')
    assert queue.wait("done-early", timeout=0) == "ok"
    assert queue.wait("done-early") == "ok"  # no timeout: still at once
    assert not redis_client.exists(queue.keys.waiter("done-early"))


def test_a_job_that_returned_nothing_gives_none(queue: Queue) -> None:
    handle = queue.enqueue("t")
    finish(queue)
    assert handle.result(0) is None


def test_dead_letter_raises_with_reason_and_error(queue: Queue) -> None:
    handle = queue.enqueue("t")
    finish(queue, "fail", reason="bad input", error="Traceback...\nValueError: width < 0")
    with pytest.raises(JobDeadLettered) as caught:
        handle.result(0)
    assert isinstance(caught.value, JobFailed)
    assert (caught.value.reason, caught.value.job_id) == ("bad input", handle)
    assert "ValueError: width < 0" in str(caught.value)


def test_cancelled_raises(queue: Queue) -> None:
    handle = queue.enqueue("t", delay=60)
    assert handle.cancel()
    with pytest.raises(JobCancelled):
        queue.wait(handle, timeout=5)


def test_cancel_of_a_waiting_job_wakes_its_waiter(queue: Queue, redis_client: redis.Redis) -> None:
    handle = queue.enqueue("t")
    ended = blocked_wait(handle, redis_client)
    assert queue.cancel(handle)
    assert isinstance(ended(), JobCancelled)


def test_a_reaped_poison_job_wakes_its_waiter(queue: Queue, redis_client: redis.Redis) -> None:
    handle = queue.enqueue("t", max_attempts=1)
    queue.protocol.claim("w", 1, 0)  # a lease that expires at once
    ended = blocked_wait(handle, redis_client)
    assert queue.protocol.reap() == 1
    error = ended()
    assert isinstance(error, JobDeadLettered)
    assert error.reason == "lease_expired"


def test_timing_out_raises_and_leaves_the_job_alone(queue: Queue) -> None:
    handle = queue.enqueue("t")
    with pytest.raises(WaitTimeout) as caught:
        handle.result(timeout=0.05)
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.state == "waiting"
    info = handle.info()
    assert info is not None
    assert info.state == "waiting"


def test_an_unknown_id_raises_at_once(queue: Queue) -> None:
    started = time.monotonic()
    with pytest.raises(JobNotFound) as caught:
        queue.wait("never-enqueued", timeout=3600)
    assert not isinstance(caught.value, ResultExpired)
    assert time.monotonic() - started < DEADLINE_S


@pytest.mark.parametrize("timeout", [-1, -0.001, math.nan, math.inf, -math.inf, "5", True])
def test_bad_timeouts_are_refused(queue: Queue, timeout: object) -> None:
    handle = queue.enqueue("t")
    with pytest.raises(ValueError, match="timeout"):
        handle.result(timeout)  # type: ignore[arg-type]


def test_an_expired_result_says_so(queue: Queue, redis_client: redis.Redis) -> None:
    queue.configure(JobSettings(result_ttl_s=1))
    handle = queue.enqueue("t")
    finish(queue, result=b"1")
    until(lambda: not redis_client.exists(queue.keys.job(handle)), "the job never expired")
    with pytest.raises(ResultExpired, match="expired"):
        handle.result(0)
    with pytest.raises(JobNotFound):  # a bare id cannot tell expired from unknown
        queue.wait(handle, 0)


def test_the_handle_is_the_id(queue: Queue) -> None:
    handle = queue.enqueue("t", id="order-9")
    assert handle == "order-9"
    assert isinstance(handle, str)
    assert {handle: 1} == {"order-9": 1}
    copy = pickle.loads(pickle.dumps(handle))  # noqa: S301  (our own bytes)
    assert copy == "order-9"
    assert type(copy) is str


async def test_async_wait_after_the_end_and_timeout(aqueue: AsyncQueue, queue: Queue) -> None:
    handle = await aqueue.enqueue("t")
    with pytest.raises(WaitTimeout):
        await handle.result(0.01)
    finish(queue, result=b"[1, 2]")
    assert await aqueue.wait(handle, 0) == [1, 2]
    with pytest.raises(JobNotFound):
        await aqueue.wait("nope")


def test_a_requeued_dead_letter_does_not_wake_new_waiters_early(
    queue: Queue, redis_client: redis.Redis
) -> None:
    handle = queue.enqueue("t")
    ended = blocked_wait(handle, redis_client)
    finish(queue, "fail", reason="r")
    assert isinstance(ended(), JobDeadLettered)
    assert queue.requeue_dead(handle) == 1  # the old end notice is still there
    with pytest.raises(WaitTimeout):
        handle.result(0.2)
    finish(queue, result=b"2")
    assert handle.result(0) == 2


async def test_a_wait_that_joins_a_blocked_read_is_woken_too(
    aqueue: AsyncQueue, queue: Queue, redis_client: redis.Redis
) -> None:
    first = await aqueue.enqueue("t", id="first")
    early = asyncio.create_task(first.result(DEADLINE_S))
    deadline = time.monotonic() + DEADLINE_S
    while blocked_waiters(redis_client) < 1:
        assert time.monotonic() < deadline, "the first wait never blocked"
        await asyncio.sleep(0.01)
    second = await aqueue.enqueue("t", id="second")
    short = asyncio.create_task(aqueue.wait("first", timeout=0.05))  # times out, alone
    late = asyncio.create_task(second.result(DEADLINE_S))  # the read in flight lacks its key
    with pytest.raises(WaitTimeout):
        await asyncio.wait_for(short, DEADLINE_S)
    while aqueue._waits is None or aqueue._waits.waiting(aqueue.keys.done(second)) < 1:
        assert time.monotonic() < deadline, "the second wait never registered"
        await asyncio.sleep(0.01)
    jobs = {j.id: j for j in queue.protocol.claim("w", 2, 30)}
    done = Outcome("second", jobs["second"].token, "done", result=b'"2nd"')
    assert queue.protocol.finish([done]) == [True]
    assert await asyncio.wait_for(late, DEADLINE_S) == "2nd"
    assert not early.done()
    done = Outcome("first", jobs["first"].token, "done", result=b'"1st"')
    assert queue.protocol.finish([done]) == [True]
    assert await asyncio.wait_for(early, DEADLINE_S) == "1st"
    await aqueue.close()
    assert not redis_client.keys(aqueue.keys.hub("*"))  # the poke stream goes with the queue
