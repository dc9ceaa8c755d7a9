"""Shared by the worker tests: run a Worker in the test's loop, wait for job states."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sluice import AsyncQueue, JobInfo, JobSettings
from sluice.tasks import Tasks
from sluice.worker import Worker, WorkerSettings

QUEUE = "wq"
FINAL = ("completed", "dead", "cancelled")


def worker(redis_url: str, tasks: Tasks | None = None, **settings: Any) -> Worker:
    values: dict[str, Any] = {"queue": QUEUE, "redis_url": redis_url, "worker_id": "w-test",
                              "shutdown_grace_seconds": 1.0}  # fmt: skip
    values.update(settings)
    return Worker(WorkerSettings(**values), tasks)


@asynccontextmanager
async def configured_queue(redis_url: str, settings: JobSettings) -> AsyncIterator[AsyncQueue]:
    """The tests' queue with ``settings``, closed after (a test module's ``queue`` fixture)."""
    q = AsyncQueue(QUEUE, redis_url)
    await q.configure(settings)
    try:
        yield q
    finally:
        await q.close()


@asynccontextmanager
async def running(w: Worker) -> AsyncIterator[Worker]:
    task = asyncio.create_task(w.run())
    try:
        yield w
    finally:
        w.request_stop()
        await asyncio.wait_for(task, 15)


async def settled(queue: AsyncQueue, job_id: str, states: tuple[str, ...] = FINAL,
                  within: float = 10.0) -> JobInfo:  # fmt: skip
    deadline = time.monotonic() + within
    while True:
        info = await queue.get(job_id)
        if info is not None and info.state in states:
            return info
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} not in {states} after {within}s: {info}")
        await asyncio.sleep(0.02)


async def until(predicate: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
