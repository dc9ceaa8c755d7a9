"""taskiq: asyncio; taskiq-redis RedisStreamBroker (the one its README shows first)."""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any, NoReturn

import _common as c
from taskiq_redis import RedisStreamBroker

broker = RedisStreamBroker(url=c.REDIS_URL, queue_name=c.QUEUE)


@broker.task(task_name="noop")
async def noop(p: c.Payload) -> None:
    await c.acomplete(p)


class Taskiq(c.AsyncPeer):
    def info(self) -> dict[str, Any]:
        return {
            "version": f"taskiq {version('taskiq')}, taskiq-redis {version('taskiq-redis')}",
            "settings": {
                "worker class": "taskiq worker --workers 1 per instance (asyncio)",
                "concurrency": "--max-async-tasks 100 (default)",
                "prefetch": "XREADGROUP count=100 (default)",
                "poll delay": "XREADGROUP block 2 s",
                "delivery": "acks when saved; unacked messages reclaimed after "
                "idle_timeout (600 s)",
            },
            "concurrency_default": 100,
            "concurrency_options": [10],
        }

    async def connect(self) -> None:
        await broker.startup()

    async def close(self) -> None:
        await broker.shutdown()

    async def enqueue_one(self, p: c.Payload) -> None:
        await noop.kicker().with_task_id(p["id"]).kiq(p)

    def worker(self, concurrency: int | None) -> NoReturn:
        cli = str(Path(sys.executable).parent / "taskiq")
        conc = ["--max-async-tasks", str(concurrency)] if concurrency else []
        c.exec_argv(
            [cli, "worker", "taskiq_adapter:broker", "--workers", "1", "--log-level", "WARNING",
             *conc]
        )  # fmt: skip


if __name__ == "__main__":
    c.run(Taskiq())
