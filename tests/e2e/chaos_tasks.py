"""The chaos test's handler: count every run in a ledger hash, then take a little time."""

from __future__ import annotations

import asyncio
import os
from functools import cache

import redis.asyncio

from sluice.tasks import JobContext, Tasks

tasks = Tasks()
WORK_S = 0.1


@cache
def client() -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(os.environ["SLUICE_REDIS_URL"])


@tasks.task("ledger")
async def ledger(ctx: JobContext) -> None:
    await client().hincrby("ledger", ctx.id, 1)
    await asyncio.sleep(WORK_S)


@tasks.task("killer")
async def killer(ctx: JobContext) -> None:
    """A poison job: takes its worker process down on every run."""
    await client().hincrby("killer", ctx.id, 1)
    os._exit(3)
