"""RQ: synchronous; the default worker forks a work horse for every job."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any, NoReturn

import _common as c
import redis
from rq import Queue

TASK = "rq_adapter.noop"  # by name: the adapter runs as __main__


def noop(p: c.Payload) -> None:
    c.complete(p)


class RQ(c.SyncPeer):
    bulk = "Queue.enqueue_many (one pipeline per 1000)"

    def info(self) -> dict[str, Any]:
        return {
            "version": version("rq"),
            "settings": {
                "worker class": "rq.Worker (fork per job)",
                "concurrency": "1 job per worker process (no in-process concurrency)",
                "prefetch": "none (BLPOP one job)",
                "poll delay": "blocking BLPOP",
                "delivery": "at-most-once: a killed job goes to FailedJobRegistry",
            },
            "concurrency_default": 1,
            "concurrency_options": [],
        }

    def connect(self) -> None:
        self.queue = Queue(c.QUEUE, connection=redis.Redis.from_url(c.REDIS_URL))
        self.queue.connection.ping()

    def enqueue_one(self, p: c.Payload) -> None:
        self.queue.enqueue(TASK, p, job_id=p["id"])

    def enqueue_bulk(self, ps: Sequence[c.Payload]) -> None:
        self.queue.enqueue_many([Queue.prepare_data(TASK, args=(p,), job_id=p["id"]) for p in ps])

    def worker(self, concurrency: int | None) -> NoReturn:
        rq = str(Path(sys.executable).parent / "rq")
        c.exec_argv([rq, "worker", "--url", c.REDIS_URL, "--quiet", c.QUEUE])


if __name__ == "__main__":
    c.run(RQ())
