"""saq: asyncio; BLMOVE from the queued list into an active list, sweeps stuck jobs."""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from typing import Any, NoReturn

import _common as c
from saq import Queue, Worker


async def noop(ctx: dict[str, Any], *, p: c.Payload) -> None:
    await c.acomplete(p)


class Saq(c.AsyncPeer):
    def info(self) -> dict[str, Any]:
        return {
            "version": version("saq"),
            "settings": {
                "worker class": "saq.Worker (asyncio)",
                "concurrency": "concurrency=10 (default)",
                "prefetch": "none (one BLMOVE per free slot)",
                "poll delay": "blocking dequeue",
                "delivery": "a sweep (every 60 s) fails jobs stuck past their timeout (10 s); "
                "retries=1 (default) allows no second attempt",
                "install note": "saq[redis] 0.26 imports typing_extensions without requiring it",
            },
            "concurrency_default": 10,
            "concurrency_options": [10],
        }

    async def connect(self) -> None:
        self.queue = Queue.from_url(c.REDIS_URL, name=c.QUEUE)
        await self.queue.connect()

    async def close(self) -> None:
        await self.queue.disconnect()

    async def enqueue_one(self, p: c.Payload) -> None:
        await self.queue.enqueue("noop", key=p["id"], p=p)

    def worker(self, concurrency: int | None) -> NoReturn:
        asyncio.run(_work(concurrency))
        raise SystemExit(0)


async def _work(concurrency: int | None) -> None:
    queue = Queue.from_url(c.REDIS_URL, name=c.QUEUE)
    kwargs = {"concurrency": concurrency} if concurrency else {}
    worker = Worker(queue, functions=[noop], **kwargs)
    await queue.connect()
    await worker.start()


if __name__ == "__main__":
    c.run(Saq())
