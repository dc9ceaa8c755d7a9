"""Redis goes away mid-run: the worker keeps running, reconnects, and loses nothing.

Uses a private redis-server (append-only file) that the test stops and starts
again on the same port while jobs are in flight.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable

from worker_helpers import QUEUE, running, until, worker

from sluice import AsyncQueue, JobSettings
from sluice.tasks import JobContext, Tasks
from sluice_local.redis_server import RedisServer, free_port

JOBS = 300
Check = Callable[[], Awaitable[bool]]


async def test_worker_survives_a_redis_restart_and_loses_nothing(
    private_redis: RedisServer,
) -> None:
    tasks = Tasks()
    ledger: Counter[str] = Counter()

    @tasks.task
    async def work(ctx: JobContext) -> None:
        ledger[ctx.id] += 1
        await asyncio.sleep(0.005)

    queue = AsyncQueue(QUEUE, private_redis.url)
    # A lease longer than the outage: jobs in flight keep theirs, so nothing runs twice.
    await queue.configure(JobSettings(lease_s=10))
    ids = await queue.enqueue_many(("work", i) for i in range(JOBS))
    w = worker(private_redis.url, tasks, concurrency=5)
    run = asyncio.create_task(w.run())
    try:
        await until(_more_than(ledger, 50))
        private_redis.stop()  # SIGTERM: the AOF is flushed, as in an orderly restart
        started = len(ledger)
        await asyncio.sleep(1.0)
        assert not run.done()  # the worker is still there
        private_redis.start()
        await until(_completed(queue, JOBS), within=30)
    finally:
        w.request_stop()
        await asyncio.wait_for(run, 15)
        stats = await queue.stats()
        await queue.close()
    assert started < JOBS  # the outage happened mid-run
    assert set(ledger) == set(ids)  # every job ran
    assert (stats.counters.completed, stats.backlog, stats.in_flight) == (JOBS, 0, 0)
    errors = w.metrics.registry.get_sample_value("sluice_redis_errors_total", {"queue": QUEUE})
    assert errors is not None
    assert errors > 0


def _more_than(ledger: Counter[str], n: int) -> Check:
    async def check() -> bool:
        return len(ledger) > n

    return check


def _completed(queue: AsyncQueue, n: int) -> Check:
    async def check() -> bool:
        try:
            return (await queue.stats()).counters.completed >= n
        except OSError:
            return False

    return check


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310  (http on loopback)
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def test_health_endpoints(private_redis: RedisServer) -> None:
    tasks = Tasks()

    @tasks.task
    async def ping(ctx: JobContext) -> str:
        return "pong"

    queue = AsyncQueue(QUEUE, private_redis.url)
    w = worker(private_redis.url, tasks, metrics_port=free_port())
    try:
        async with running(w):
            await queue.enqueue("ping")
            await until(_completed(queue, 1))
            base = f"http://127.0.0.1:{w.health_port}"
            assert await asyncio.to_thread(_get, base + "/healthz") == (200, "ok\n")
            assert await asyncio.to_thread(_get, base + "/readyz") == (200, "ok\n")
            code, metrics = await asyncio.to_thread(_get, base + "/metrics")
            assert code == 200
            assert 'sluice_jobs_total{outcome="completed",queue="wq"} 1.0' in metrics
            assert "sluice_job_duration_seconds_bucket" in metrics
            assert "sluice_claim_latency_seconds_count" in metrics
            assert 'sluice_jobs_in_flight{queue="wq"} 0.0' in metrics
            private_redis.stop()
            code, text = await asyncio.to_thread(_get, base + "/readyz")
            assert (code, text.startswith("redis unreachable")) == (503, True)
            assert (await asyncio.to_thread(_get, base + "/healthz"))[0] == 200  # alive
            private_redis.start()
            await until(_ready(base))
            assert (await asyncio.to_thread(_get, base + "/nope"))[0] == 404
    finally:
        await queue.close()


def _ready(base: str) -> Check:
    async def check() -> bool:
        return (await asyncio.to_thread(_get, base + "/readyz"))[0] == 200

    return check
