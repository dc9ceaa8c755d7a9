"""Task handlers that worker subprocesses of the integration tests load.

Each handler leaves a trace in Redis (the URL the worker was given), so a
test can tell what ran, how often and in which process.
"""

from __future__ import annotations

import asyncio
import os
import time
from functools import cache

import redis

from sluice.tasks import JobContext, Tasks

tasks = Tasks()


@cache
def client() -> redis.Redis:
    return redis.Redis.from_url(os.environ["SLUICE_REDIS_URL"])


@tasks.task("record")
async def record(ctx: JobContext) -> int:
    """Count the run in the ``ledger`` hash, then take ``payload["sleep"]`` seconds."""
    client().hincrby("ledger", ctx.id, 1)
    await asyncio.sleep(float((ctx.payload or {}).get("sleep", 0)))
    client().hincrby("finished", ctx.id, 1)
    return os.getpid()


@tasks.task("crash")
def crash(ctx: JobContext) -> None:
    """A poison job: takes its worker process down with it."""
    client().hincrby("ledger", ctx.id, 1)
    os._exit(3)


@tasks.task("crash_beside")
def crash_beside(ctx: JobContext) -> None:
    """A poison job that, on its first run, waits until ``payload["others"]`` other jobs
    have started (as the ledger shows, for at most 5 s) before it kills its worker."""
    client().hincrby("ledger", ctx.id, 1)
    deadline = time.monotonic() + 5
    others = int((ctx.payload or {}).get("others", 0))
    while ctx.attempt == 1 and client().hlen("ledger") <= others and time.monotonic() < deadline:
        time.sleep(0.01)
    os._exit(3)


@tasks.task("hang")
def hang(ctx: JobContext) -> None:
    """A sync job that never returns by itself (process isolation must kill it)."""
    client().set(f"pid:{ctx.id}", os.getpid())
    time.sleep(60)


@tasks.task("echo")
def echo(ctx: JobContext) -> object:
    return {"payload": ctx.payload, "attempt": ctx.attempt, "pid": os.getpid()}


@tasks.task("steps")
def steps(ctx: JobContext) -> str:
    """Reports progress from wherever it runs (a thread or a child process)."""
    ctx.progress(50, "half way")
    time.sleep(float((ctx.payload or {}).get("sleep", 0.5)))
    return "done"


_ballast: list[bytes] = []


@tasks.task("grow")
def grow(ctx: JobContext) -> int:
    """Keeps ``payload["mb"]`` MB alive in its process (a leak), then reports its pid."""
    mb = int((ctx.payload or {}).get("mb", 0))
    if mb:
        _ballast.append(os.urandom(mb * 1024 * 1024))
    return os.getpid()
