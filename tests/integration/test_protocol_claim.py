"""Contract of the enqueue and claim scripts against a real redis-server."""

from __future__ import annotations

import time

import pytest
import redis

from sluice.protocol import NewJob, Protocol, ops
from sluice.stats import BUCKETS, Priority


@pytest.fixture
def proto(redis_client: redis.Redis) -> Protocol:
    return Protocol(redis_client, "jobs")


def enqueue(proto: Protocol, *jobs: NewJob) -> int:
    return proto.run(ops.enqueue(proto.queue, list(jobs)))


def job(job_id: str, **kw: object) -> NewJob:
    return NewJob(job_id, kw.pop("task", "t"), b"{}", **kw)  # type: ignore[arg-type]


def test_enqueue_is_idempotent_by_id(proto: Protocol, redis_client: redis.Redis) -> None:
    assert enqueue(proto, job("a"), job("b")) == 2
    assert enqueue(proto, job("a", task="other"), job("c")) == 1
    assert redis_client.hget(proto.keys.job("a"), "t") == b"t"  # the first enqueue wins
    assert proto.stats().counters.enqueued == 3
    assert sum(proto.stats().ready.values()) == 3


def test_claim_is_strict_priority_then_fifo(proto: Protocol) -> None:
    enqueue(proto, job("low1", priority=Priority.LOW), job("n1"), job("n2"))
    enqueue(proto, job("crit", priority=Priority.CRITICAL), job("high", priority=Priority.HIGH))
    order = [j.id for j in proto.claim("w", 10, 30)]
    assert order == ["crit", "high", "n1", "n2", "low1"]


def test_claim_takes_at_most_count_and_leases_them(proto: Protocol) -> None:
    enqueue(proto, *(job(f"j{i}") for i in range(5)))
    claimed = proto.claim("w", 3, 30)
    assert [j.id for j in claimed] == ["j0", "j1", "j2"]
    stats = proto.stats()
    assert stats.in_flight == 3
    assert stats.ready[Priority.NORMAL] == 2


def test_claimed_job_carries_what_the_worker_needs(proto: Protocol) -> None:
    enqueue(proto, NewJob("a", "resize", b'{"w":1}', max_attempts=7, timeout_s=2.5))
    enqueue(proto, job("b"))
    a, b = proto.claim("w", 2, 30)
    assert (a.task, a.payload, a.attempt, a.max_attempts, a.timeout_s) == (
        "resize",
        b'{"w":1}',
        1,
        7,
        2.5,
    )
    assert (b.max_attempts, b.timeout_s) == (5, 300.0)  # the queue's defaults
    assert abs(a.enqueued_at - time.time()) < 5
    assert 0 <= a.wait_s < 5


def test_every_claim_gets_a_new_token(proto: Protocol) -> None:
    enqueue(proto, job("a"))
    first = proto.claim("w", 1, 0)[0]  # lease 0: expires at once
    assert proto.reap() == 1
    second = proto.claim("w", 1, 30)[0]
    assert second.id == "a"
    assert second.token != first.token
    assert second.attempt == 2


def test_delayed_job_is_claimable_only_when_due(proto: Protocol) -> None:
    enqueue(proto, job("later", delay_s=0.05), job("now"))
    assert [j.id for j in proto.claim("w", 10, 30)] == ["now"]
    stats = proto.stats()
    assert (stats.delayed_total, stats.delayed_due) == (1, 0)
    time.sleep(0.06)
    assert proto.stats().delayed_due == 1
    late = proto.claim("w", 10, 30)
    assert [j.id for j in late] == ["later"]
    assert late[0].wait_s < 0.05  # waiting counts from the due time, not the enqueue


def test_claim_reports_when_the_next_delayed_job_is_due(proto: Protocol) -> None:
    enqueue(proto, job("later", delay_s=60))
    result = proto.run(ops.claim("w", 1, 30))
    assert result.jobs == []
    assert result.next_due is not None
    assert 59 < result.next_due - result.now <= 60


def _bucket(seconds: float) -> float:
    """The upper bound of the histogram bucket a wait of ``seconds`` falls in."""
    return next(bound for bound in BUCKETS if seconds <= bound)


def test_claim_records_wait_time(proto: Protocol) -> None:
    started = time.monotonic()
    enqueue(proto, job("a"), job("b"))
    time.sleep(0.03)
    proto.claim("w", 2, 30)
    longest = time.monotonic() - started  # a busy machine may stretch the sleep
    wait = proto.stats().wait_time
    assert wait.count == 2
    assert 0.06 <= wait.total <= 2 * longest + 0.002  # Redis time: millisecond steps
    # 30 ms falls in the (0.025, 0.05] bucket; later only if the sleep overran.
    assert _bucket(0.03) <= wait.quantile(0.5) <= _bucket(longest + 0.001)


def test_enqueue_beyond_max_length_is_refused_whole(
    proto: Protocol, redis_client: redis.Redis
) -> None:
    redis_client.hset(proto.keys.config, "max_length", 3)
    enqueue(proto, job("a"), job("b"))
    from sluice.errors import QueueFull

    with pytest.raises(QueueFull) as err:
        enqueue(proto, job("c"), job("d"))
    assert (err.value.waiting, err.value.limit) == (2, 3)
    assert proto.stats().backlog == 2  # nothing of the refused batch was added
    assert enqueue(proto, job("a")) == 0  # a duplicate adds nothing, so it is not refused
    assert enqueue(proto, job("c")) == 1


async def test_wait_for_work_wakes_on_enqueue(redis_url: str) -> None:
    import asyncio

    from sluice.connection import connect
    from sluice.protocol import AsyncProtocol

    worker_client = connect(redis_url, async_=True)
    producer_client = connect(redis_url, async_=True)
    worker = AsyncProtocol(worker_client, "jobs")
    producer = AsyncProtocol(producer_client, "jobs")
    try:
        assert await worker.wait_for_work(0.05) is False  # nothing there: times out
        waiter = asyncio.create_task(worker.wait_for_work(3))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await producer.run(ops.enqueue("jobs", [job("a")]))
        assert await waiter is True
        assert time.monotonic() - started < 0.5  # woken, not timed out
        assert [j.id for j in await worker.claim("w", 5, 30)] == ["a"]
        assert await worker.wait_for_work(0.05) is False  # the claim took the token
    finally:
        await worker_client.aclose()
        await producer_client.aclose()


async def test_idle_worker_wakes_for_a_delayed_job_when_due(redis_url: str) -> None:
    import asyncio

    from sluice.connection import connect
    from sluice.protocol import AsyncProtocol

    worker_client = connect(redis_url, async_=True)
    producer_client = connect(redis_url, async_=True)
    worker = AsyncProtocol(worker_client, "jobs")
    try:
        waiter = asyncio.create_task(worker.wait_for_work(3))
        await asyncio.sleep(0.05)
        await AsyncProtocol(producer_client, "jobs").run(
            ops.enqueue("jobs", [job("soon", delay_s=0.2)])
        )
        assert await waiter is True  # woken to learn the due time
        started = time.monotonic()
        assert await worker.claim("w", 5, 30) == []
        assert await worker.wait_for_work(3) is False  # sleeps until the job is due ...
        assert 0.1 < time.monotonic() - started < 1.0  # ... not for the full timeout
        assert [j.id for j in await worker.claim("w", 5, 30)] == ["soon"]
    finally:
        await worker_client.aclose()
        await producer_client.aclose()


def test_settings_are_cached_briefly(proto: Protocol, redis_client: redis.Redis) -> None:
    assert proto.settings().max_attempts == 5
    redis_client.hset(proto.keys.config, "max_attempts", 9)
    assert proto.settings().max_attempts == 5  # cached
    assert proto.settings(max_age_s=0).max_attempts == 9


def test_wait_for_work_stays_under_the_socket_timeout(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=0.2)
    started = time.monotonic()
    assert Protocol(client, "jobs").wait_for_work(5) is False  # no TimeoutError
    assert time.monotonic() - started < 0.5
    client.close()


def test_a_job_due_within_a_millisecond_does_not_park_the_worker(redis_url: str) -> None:
    # Redis < 7 truncates a BLPOP timeout to whole ms, and 0 blocks forever: the wait
    # for a job due in 0.3 ms must round up, not last until the socket timeout.
    client = redis.Redis.from_url(redis_url, socket_timeout=3)
    waiter = Protocol(client, "jobs")
    try:
        enqueue(waiter, job("later", delay_s=60))
        assert waiter.claim("w", 1, 30) == []  # learns the due time ...
        waiter._next_due_mono = time.monotonic() + 0.0003  # ... now due in 0.3 ms
        started = time.monotonic()
        assert waiter.wait_for_work(5) is False
        assert time.monotonic() - started < 0.5
    finally:
        client.close()
