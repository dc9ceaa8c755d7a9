"""Sluice: asyncio worker claiming batches under leases, one Lua call per enqueue batch."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any, NoReturn

import _common as c

import sluice
from sluice.job_settings import JobSettings
from sluice.tasks import Tasks


class Sluice(c.SyncPeer):
    tasks_ref = "sluice_adapter:tasks"  # the worker's SLUICE_TASKS
    bulk = "Queue.enqueue_many (one script call per 500)"

    def info(self) -> dict[str, Any]:
        return {
            "version": version("sluice-queue"),
            "settings": {
                "worker class": "sluice worker (asyncio), async handler",
                "concurrency": f"--concurrency {_default_concurrency()} (default)",
                "prefetch": "about 50 ms of work ahead (at most 100 jobs), claimed when half used",
                "poll delay": "blocking wake-up list, no polling",
                "delivery": f"at-least-once: leases of {JobSettings().lease_s:g} s (default) "
                "with fencing tokens",
            },
            "concurrency_default": _default_concurrency(),
            "concurrency_options": [10],
        }

    def connect(self) -> None:
        self.queue = sluice.Queue(c.QUEUE, redis=c.REDIS_URL)
        self.queue.stats()

    def enqueue_one(self, p: c.Payload) -> None:
        self.queue.enqueue("noop", p, id=p["id"])

    def enqueue_bulk(self, ps: Sequence[c.Payload]) -> None:
        self.queue.enqueue_many([{"task": "noop", "payload": p, "id": p["id"]} for p in ps])

    def worker(self, concurrency: int | None) -> NoReturn:
        # The worker's documented environment, so no flag placement is assumed.
        os.environ |= {
            "SLUICE_REDIS_URL": c.REDIS_URL,
            "SLUICE_QUEUE": c.QUEUE,
            "SLUICE_TASKS": self.tasks_ref,
            "SLUICE_LOG_LEVEL": "WARNING",
        }
        if concurrency:
            os.environ["SLUICE_CONCURRENCY"] = str(concurrency)
        c.exec_argv([str(Path(sys.executable).parent / "sluice"), "worker"])


def _default_concurrency() -> int:
    from sluice.worker.settings import WorkerSettings

    return WorkerSettings().concurrency


tasks = Tasks()


@tasks.task("noop")
async def noop(ctx: Any) -> None:
    await c.acomplete(ctx.payload)


if __name__ == "__main__":
    c.run(Sluice())
