"""Huey: synchronous; consumer with worker threads, blocking BRPOP on a Redis list."""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any, NoReturn

import _common as c
from huey import RedisHuey

huey = RedisHuey(c.QUEUE, url=c.REDIS_URL, results=False)


@huey.task(name="noop")
def noop(p: c.Payload) -> None:
    c.complete(p)


class Huey(c.SyncPeer):
    def info(self) -> dict[str, Any]:
        return {
            "version": version("huey"),
            "settings": {
                "worker class": "huey_consumer, thread workers",
                "concurrency": "-w 1 (default)",
                "prefetch": "none (one BRPOP per free worker)",
                "poll delay": "blocking BRPOP, read_timeout 1 s",
                "delivery": "at-most-once: a dequeued task dies with its consumer",
            },
            "concurrency_default": 1,
            "concurrency_options": [10],
        }

    def enqueue_one(self, p: c.Payload) -> None:
        noop(p)

    def worker(self, concurrency: int | None) -> NoReturn:
        cli = str(Path(sys.executable).parent / "huey_consumer")
        conc = ["--workers", str(concurrency)] if concurrency else []
        c.exec_argv([cli, "huey_adapter.huey", "--worker-type", "thread", "--quiet", *conc])


if __name__ == "__main__":
    # Enqueue through the importable module: huey names a task after its module,
    # and the consumer cannot find "__main__.noop".
    import huey_adapter

    c.run(huey_adapter.Huey())
