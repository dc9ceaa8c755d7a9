"""The producer's own connection (sluice.protocol.lane) against a real redis-server:
what redis-py's pool did for every call must still hold when the lane takes it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time

import redis
import redis.asyncio

from sluice import Queue
from sluice.protocol import AsyncProtocol
from sluice.protocol.lane import Lane


def _ids(client: redis.Redis) -> set[str]:
    """Every connection's id, as CLIENT LIST shows them."""
    return {c["id"] for c in client.client_list()}


def _left_open(client: redis.Redis, before: set[str], timeout_s: float = 10.0) -> set[str]:
    """Connections not in ``before`` that are still open once the server has seen the
    closes (it drops a closed connection when it reads the close, a moment later)."""
    deadline = time.monotonic() + timeout_s
    while (new := _ids(client) - before) and time.monotonic() < deadline:
        time.sleep(0.01)
    return new


def test_queues_on_one_client_share_one_connection_that_the_client_closes(
    redis_url: str, redis_client: redis.Redis
) -> None:
    before = _ids(redis_client)
    producer = redis.Redis.from_url(redis_url)
    with Queue("lane", producer) as a, Queue("other", producer) as b:
        for i in range(20):
            a.enqueue("t", {"i": i})
            b.enqueue("t", {"i": i})
        assert a.stats().counters.enqueued == b.stats().counters.enqueued == 20
        # Every call went over the lane: one connection, taken from the pool and kept.
        assert len(_ids(redis_client) - before) == 1
        pool = producer.connection_pool
        assert pool._created_connections == 1  # type: ignore[attr-defined]
        assert len(pool._in_use_connections) == 1  # type: ignore[attr-defined]
    producer.close()  # the client's owner closes it, the lane's connection with the rest
    assert _left_open(redis_client, before) == set()


def test_a_queue_given_a_url_closes_its_connections(
    redis_url: str, redis_client: redis.Redis
) -> None:
    before = _ids(redis_client)
    with Queue("lane", redis_url) as queue:
        queue.enqueue("t", 1)
        assert len(_ids(redis_client) - before) == 1
    assert _left_open(redis_client, before) == set()


def test_a_script_the_server_forgot_is_sent_again_on_the_lane(
    redis_url: str, redis_client: redis.Redis
) -> None:
    with Queue("lane", redis_url) as queue:
        queue.enqueue("t", 1)
        redis_client.script_flush()
        queue.enqueue("t", 2)
        assert queue.stats().counters.enqueued == 2


def test_a_killed_connection_costs_no_enqueue(redis_url: str, redis_client: redis.Redis) -> None:
    with Queue("lane", redis_url, retry_for=0) as queue:
        before = _ids(redis_client)
        queue.enqueue("t", 1)
        [lane] = _ids(redis_client) - before
        redis_client.client_kill_filter(_id=lane)
        # The stale socket fails; the call goes through the client (retry_for=0: no
        # backoff of ours would hide a failure) and the lane reconnects next time.
        queue.enqueue("t", 2)
        queue.enqueue("t", 3)
        assert queue.stats().counters.enqueued == 3


def test_threads_sharing_a_queue_lose_nothing(redis_url: str) -> None:
    with Queue("lane", redis_url) as queue:

        def produce(base: int) -> None:
            for i in range(200):
                queue.enqueue("t", i, id=f"j{base}-{i}")

        threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert queue.stats().counters.enqueued == 800
        assert all(queue.get(f"j{n}-{i}") is not None for n in range(4) for i in range(200))


def test_a_forked_child_gets_a_connection_of_its_own(redis_url: str) -> None:
    with Queue("lane", redis_url) as queue:
        queue.enqueue("t", "parent-1")
        pid = os.fork()
        if pid == 0:  # the child: enqueue, then leave at once without cleanup
            code = 0
            try:
                queue.enqueue("t", "child")
            except BaseException:
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # The parent's socket was neither used nor closed by the child.
        queue.enqueue("t", "parent-2")
        assert queue.stats().counters.enqueued == 3


def test_a_client_the_lane_does_not_know_is_used_as_it_is(
    redis_url: str, redis_client: redis.Redis
) -> None:
    class Instrumented(redis.Redis):  # a subclass may change how commands are sent
        pass

    client = Instrumented.from_url(redis_url)
    with Queue("lane", client) as queue:
        queue.enqueue("t", 1)
        assert queue.stats().counters.enqueued == 1
    assert not Lane(client).usable
    assert client.connection_pool._created_connections == 1  # type: ignore[attr-defined]
    client.close()


# --- the asyncio lane: the worker's and the operator's script calls ----------------


async def test_async_calls_share_one_connection_and_overlapping_ones_pass_by(
    redis_url: str, redis_client: redis.Redis
) -> None:
    before = _ids(redis_client)
    client = redis.asyncio.Redis.from_url(redis_url)
    proto = AsyncProtocol(client, "alane")
    await proto.stats()
    assert len(_ids(redis_client) - before) == 1  # the lane's connection
    # Checked out of the pool for good, not released after the call.
    pool = client.connection_pool
    assert (len(pool._in_use_connections), len(pool._available_connections)) == (1, 0)  # type: ignore[attr-defined]
    # Overlapping calls: one takes the lane, the others go through the client's pool.
    results = await asyncio.gather(*(proto.stats() for _ in range(8)))
    assert all(r.backlog == 0 for r in results)
    assert len(_ids(redis_client) - before) > 1
    await client.aclose()
    assert _left_open(redis_client, before) == set()  # aclose() closed the lane's too


async def test_an_async_call_cancelled_mid_flight_leaves_the_lane_usable(
    redis_url: str, redis_client: redis.Redis
) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    proto = AsyncProtocol(client, "alane")
    await proto.stats()
    # Cancelled while its reply is on the way: the reply must not be read by the next call.
    for delay in (0, 0.0001, 0.001):
        task = asyncio.create_task(proto.stats())
        await asyncio.sleep(delay)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert (await proto.stats()).backlog == 0
    await proto.heartbeat("w", 2, 4, 30)
    assert (await proto.stats()).total_slots == 4
    await client.aclose()


async def test_a_killed_async_lane_costs_no_call(redis_url: str, redis_client: redis.Redis) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    proto = AsyncProtocol(client, "alane")
    before = _ids(redis_client)
    await proto.stats()
    [lane] = _ids(redis_client) - before
    redis_client.client_kill_filter(_id=lane)
    await proto.heartbeat("w", 1, 2, 30)  # fails on the lane, goes through the client
    assert (await proto.stats()).total_slots == 2
    await client.aclose()
