"""The producer API (Queue and AsyncQueue) against a real redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from sluice import AsyncQueue, JobSettings, Priority, Queue, QueueFull
from sluice.protocol import Outcome


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    with Queue("api", redis_url) as q:
        yield q


@pytest.fixture
async def aqueue(redis_url: str) -> AsyncIterator[AsyncQueue]:
    async with AsyncQueue("api", redis_url) as q:
        yield q


def test_enqueue_returns_an_id_and_get_shows_the_job(queue: Queue) -> None:
    job_id = queue.enqueue("resize", {"w": 640}, priority="high", max_attempts=3, timeout=9)
    info = queue.get(job_id)
    assert info is not None
    assert (info.state, info.task, info.priority, info.payload) == (
        "waiting",
        "resize",
        Priority.HIGH,
        {"w": 640},
    )
    assert (info.attempts, info.max_attempts, info.started_at) == (0, 3, None)
    assert queue.get("missing") is None


def test_same_id_twice_is_one_job(queue: Queue) -> None:
    assert queue.enqueue("t", 1, id="order-7") == "order-7"
    assert queue.enqueue("t", 2, id="order-7") == "order-7"
    assert queue.stats().backlog == 1
    info = queue.get("order-7")
    assert info is not None
    assert info.payload == 1


def test_enqueue_many_accepts_mappings_and_pairs(queue: Queue) -> None:
    ids = queue.enqueue_many(
        [("t", {"i": 0}), {"task": "t", "payload": 1, "id": "x", "delay": 60}] * 1
        + [("t", i) for i in range(1200)]  # more than one script batch
    )
    assert len(ids) == 1202
    assert ids[1] == "x"
    stats = queue.stats()
    assert (stats.ready[Priority.NORMAL], stats.delayed_total) == (1201, 1)


def test_invalid_jobs_are_refused_before_redis(queue: Queue) -> None:
    with pytest.raises(ValueError, match="priority"):
        queue.enqueue("t", priority="urgent")
    with pytest.raises(ValueError, match="job id"):
        queue.enqueue("t", id="has space")
    with pytest.raises(TypeError):
        queue.enqueue("t", {1, 2})  # not JSON
    with pytest.raises(ValueError, match="queue name"):
        Queue("{bad}", redis.Redis())
    assert queue.stats().counters.enqueued == 0


def test_configure_round_trips_and_scripts_obey(queue: Queue) -> None:
    assert queue.settings() == JobSettings()
    settings = JobSettings(max_attempts=2, lease_s=5, max_length=2, result_ttl_s=60)
    queue.configure(settings)
    assert queue.settings() == settings
    queue.enqueue_many([("t", 1), ("t", 2)])
    with pytest.raises(QueueFull, match="'api' is full"):
        queue.enqueue("t", 3)
    queue.configure(JobSettings(max_attempts=2))  # max_length back to unbounded
    assert queue.settings().max_length is None
    queue.enqueue("t", 3)
    (job,) = queue.protocol.claim("w", 1, 30)
    assert job.max_attempts == 2


def test_result_and_finished_job_expire(queue: Queue) -> None:
    queue.configure(JobSettings(result_ttl_s=60))
    job_id = queue.enqueue("t", {"big": "x" * 500})
    (job,) = queue.protocol.claim("w", 1, 30)
    queue.protocol.finish([Outcome(job_id, job.token, "done", result=b'{"ok":true}')])
    info = queue.get(job_id)
    assert info is not None
    assert (info.state, info.result, info.payload) == ("completed", {"ok": True}, None)
    assert info.finished_at is not None
    assert 0 < queue.client.ttl(queue.keys.job(job_id)) <= 60
    assert queue.client.exists(queue.keys.payload(job_id)) == 0
    assert 0 < queue.client.ttl(queue.keys.result(job_id)) <= 60


def test_cancel(queue: Queue) -> None:
    waiting = queue.enqueue("t")
    running = queue.enqueue("t")
    queue.protocol.claim("w", 1, 30)  # takes `waiting`, the first
    assert queue.cancel(running) is True
    assert queue.cancel(waiting) is True  # running: cancel requested
    assert queue.cancel("missing") is False
    info = queue.get(waiting)
    assert info is not None
    assert (info.state, info.cancel_requested) == ("active", True)
    cancelled = queue.get(running)
    assert cancelled is not None
    assert cancelled.state == "cancelled"


def fail_all(queue: Queue, n: int) -> list[str]:
    ids = queue.enqueue_many([("t", i) for i in range(n)])
    jobs = queue.protocol.claim("w", n, 30)
    outcomes = [Outcome(j.id, j.token, "fail", error="Traceback: boom", reason="bad") for j in jobs]
    queue.protocol.finish(outcomes)
    return ids


def test_dead_letters_list_requeue_and_purge(queue: Queue) -> None:
    ids = fail_all(queue, 3)
    dead = queue.dead_letters()
    assert {d.id for d in dead} == set(ids)
    assert {(d.state, d.dead_reason, d.error) for d in dead} == {("dead", "bad", "Traceback: boom")}
    assert len(queue.dead_letters(limit=2, offset=2)) == 1

    assert queue.requeue_dead(ids[0]) == 1
    requeued = queue.get(ids[0])
    assert requeued is not None
    assert (requeued.state, requeued.attempts, requeued.dead_reason) == ("waiting", 0, None)
    assert queue.requeue_dead("not-dead") == 0
    assert queue.purge_dead() == 2
    assert queue.get(ids[1]) is None
    assert queue.stats().dead == 0


def test_requeue_all_dead(queue: Queue) -> None:
    fail_all(queue, 5)
    assert queue.requeue_dead() == 5
    stats = queue.stats()
    assert (stats.dead, stats.backlog) == (0, 5)


def test_purge_deletes_every_key_of_the_queue_only(queue: Queue, redis_url: str) -> None:
    queue.configure(JobSettings(max_attempts=3))
    fail_all(queue, 2)
    queue.enqueue("t", delay=60)
    queue.protocol.heartbeat("w", 0, 1, 30)
    with Queue("other", redis_url) as other:
        other.enqueue("t")
        assert queue.purge() > 0
        assert queue.client.keys("q:{api}:*") == []
        assert other.stats().backlog == 1


async def test_async_twin(aqueue: AsyncQueue) -> None:
    await aqueue.configure(JobSettings(dead_max=5))
    job_id = await aqueue.enqueue("t", [1], priority=Priority.CRITICAL)
    ids = await aqueue.enqueue_many([("t", 2), ("t", 3)])
    assert (await aqueue.settings()).dead_max == 5
    info = await aqueue.get(job_id)
    assert info is not None
    assert (info.payload, info.priority) == ([1], Priority.CRITICAL)
    jobs = await aqueue.protocol.claim("w", 3, 30)
    assert [j.id for j in jobs] == [job_id, *ids]
    await aqueue.protocol.finish([Outcome(j.id, j.token, "fail", reason="r") for j in jobs[:2]])
    assert await aqueue.cancel(ids[1]) is True
    assert len(await aqueue.dead_letters()) == 2
    assert await aqueue.requeue_dead(job_id) == 1
    assert await aqueue.purge_dead() == 1
    stats = await aqueue.stats()
    assert (stats.backlog, stats.in_flight, stats.dead) == (1, 1, 0)
    assert await aqueue.purge() > 0
    assert (await aqueue.stats()).backlog == 0
