"""Dramatiq: threads in forked worker processes; Redis broker with heartbeats."""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any, NoReturn

import _common as c
import dramatiq
from dramatiq.brokers.redis import RedisBroker

broker = RedisBroker(url=c.REDIS_URL)
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=c.QUEUE, actor_name="noop")
def noop(p: c.Payload) -> None:
    c.complete(p)


class Dramatiq(c.SyncPeer):
    def info(self) -> dict[str, Any]:
        return {
            "version": version("dramatiq"),
            "settings": {
                "worker class": "dramatiq CLI: --processes 1 per instance, worker threads",
                "concurrency": "--threads 8 (default)",
                "prefetch": "threads x 2 per process (Redis broker default)",
                "poll delay": "dequeue_timeout 1 s when idle",
                "delivery": "at-least-once: a dead worker's messages are requeued after "
                "heartbeat_timeout (60 s), by a maintenance pass run on ~1 in 1000 broker calls",
            },
            "concurrency_default": 8,
            "concurrency_options": [10],
        }

    def enqueue_one(self, p: c.Payload) -> None:
        noop.send(p)

    def worker(self, concurrency: int | None) -> NoReturn:
        cli = str(Path(sys.executable).parent / "dramatiq")
        threads = ["--threads", str(concurrency)] if concurrency else []
        c.exec_argv([cli, "--processes", "1", *threads, "dramatiq_adapter"])


if __name__ == "__main__":
    c.run(Dramatiq())
