"""Concurrent AsyncQueue.enqueue calls share script calls, and each still gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.exceptions

from sluice import AsyncQueue, JobSettings, QueueFull
from sluice.errors import RedisUnavailable
from sluice_local.redis_server import free_port


@pytest.fixture
async def aqueue(redis_url: str) -> AsyncIterator[AsyncQueue]:
    async with AsyncQueue("coalesced", redis_url) as q:
        yield q


async def test_concurrent_enqueues_share_calls_and_keep_their_order(aqueue: AsyncQueue) -> None:
    ids = await asyncio.gather(*(aqueue.enqueue("t", {"n": n}) for n in range(200)))
    assert aqueue._batcher.calls <= 10  # one alone, then whatever piled up meanwhile
    assert (await aqueue.stats()).backlog == 200
    claimed = [j.id for j in await aqueue.protocol.claim("w", 200, 30)]
    assert claimed == ids  # first called, first served


async def test_an_idle_queue_sends_each_job_at_once(aqueue: AsyncQueue) -> None:
    for n in range(3):
        await aqueue.enqueue("t", n)
    assert aqueue._batcher.calls == 3


async def test_a_full_queue_refuses_only_the_jobs_that_do_not_fit(aqueue: AsyncQueue) -> None:
    await aqueue.configure(JobSettings(max_length=5))
    results = await asyncio.gather(
        *(aqueue.enqueue("t", n) for n in range(8)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, QueueFull)]
    assert len(refused) == 3  # alone, 5 of the 8 calls would have succeeded: they still do
    assert all(isinstance(r, str) for r in results[:5])
    assert (await aqueue.stats()).backlog == 5


async def test_a_redis_error_reaches_every_caller_of_the_batch() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    async with AsyncQueue("coalesced", url, retry_for=0) as q:
        results = await asyncio.gather(*(q.enqueue("t") for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, RedisUnavailable) for r in results), results
    assert all(isinstance(r.__cause__, redis.exceptions.ConnectionError) for r in results)
