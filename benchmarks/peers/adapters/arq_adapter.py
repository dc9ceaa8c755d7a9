"""arq: asyncio; jobs polled from a sorted set, max_jobs concurrent per worker."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, NoReturn

import _common as c
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker


async def noop(ctx: dict[str, Any], p: c.Payload) -> None:
    await c.acomplete(p)


class Arq(c.AsyncPeer):
    def info(self) -> dict[str, Any]:
        return {
            "version": version("arq"),
            "settings": {
                "worker class": "arq.worker.Worker (asyncio)",
                "concurrency": "max_jobs=10 (default)",
                "prefetch": "up to max_jobs job ids per poll",
                "poll delay": "poll_delay=0.5 s (default)",
                "delivery": "in-progress key expires after job_timeout (300 s) + 10 s, then re-run",
            },
            "concurrency_default": 10,
            "concurrency_options": [10],
        }

    async def connect(self) -> None:
        self.pool: ArqRedis = await create_pool(RedisSettings.from_dsn(c.REDIS_URL))

    async def close(self) -> None:
        await self.pool.aclose()

    async def enqueue_one(self, p: c.Payload) -> None:
        await self.pool.enqueue_job("noop", p, _job_id=p["id"], _queue_name=c.QUEUE)

    def worker(self, concurrency: int | None) -> NoReturn:
        kwargs = {"max_jobs": concurrency} if concurrency else {}
        Worker(
            functions=[noop],
            redis_settings=RedisSettings.from_dsn(c.REDIS_URL),
            queue_name=c.QUEUE,
            handle_signals=True,
            **kwargs,
        ).run()
        raise SystemExit(0)


if __name__ == "__main__":
    c.run(Arq())
