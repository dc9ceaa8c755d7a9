"""Celery: prefork pool by default; Redis transport via kombu; acks early."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any, NoReturn

import _common as c
from celery import Celery, group

app = Celery("bench", broker=c.REDIS_URL)
app.conf.task_default_queue = c.QUEUE
app.conf.task_ignore_result = True


@app.task(name="noop")
def noop(p: c.Payload) -> None:
    c.complete(p)


class CeleryPeer(c.SyncPeer):
    bulk = "group(...).apply_async() per 1000"

    def info(self) -> dict[str, Any]:
        return {
            "version": version("celery"),
            "settings": {
                "worker class": "celery worker, prefork pool (default)",
                "concurrency": f"number of CPUs = {os.cpu_count()} (default)",
                "prefetch": "worker_prefetch_multiplier=4 (default)",
                "poll delay": "BRPOP (kombu Redis transport)",
                "delivery": "acks_late=False (default): at-most-once",
            },
            "concurrency_default": os.cpu_count() or 1,
            "concurrency_options": [10],
        }

    def connect(self) -> None:
        with app.connection_for_write() as conn:
            conn.ensure_connection()

    def enqueue_one(self, p: c.Payload) -> None:
        noop.apply_async((p,), task_id=p["id"])

    def enqueue_bulk(self, ps: Sequence[c.Payload]) -> None:
        group(noop.s(p).set(task_id=p["id"]) for p in ps).apply_async()

    def worker(self, concurrency: int | None) -> NoReturn:
        cli = str(Path(sys.executable).parent / "celery")
        conc = ["--concurrency", str(concurrency)] if concurrency else []
        name = f"bench{c.WORKER_INDEX}-{os.getpid()}@%h"
        c.exec_argv(
            [cli, "-A", "celery_adapter", "worker", "-Q", c.QUEUE, "-n", name,
             "--loglevel", "WARNING", *conc]
        )  # fmt: skip


if __name__ == "__main__":
    c.run(CeleryPeer())
