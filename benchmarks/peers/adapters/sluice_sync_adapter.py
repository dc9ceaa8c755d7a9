"""Sluice with a sync handler: the sync libraries' job body, run in the worker's threads.

The same worker as ``sluice_adapter``; only the handler differs. The job body is
one quick Redis call, which redis-py's blocking client makes for about a third
of the CPU of its asyncio client (see the worker docs: sync or async?).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import _common as c
from sluice_adapter import Sluice

from sluice.tasks import Tasks


class SluiceSync(Sluice):
    def info(self) -> dict[str, Any]:
        described = super().info()
        described["settings"]["worker class"] = "sluice worker (asyncio), sync handler in threads"
        return described

    def worker(self, concurrency: int | None) -> NoReturn:
        os.environ |= {
            "SLUICE_REDIS_URL": c.REDIS_URL,
            "SLUICE_QUEUE": c.QUEUE,
            "SLUICE_TASKS": "sluice_sync_adapter:tasks",
            "SLUICE_LOG_LEVEL": "WARNING",
        }
        if concurrency:
            os.environ["SLUICE_CONCURRENCY"] = str(concurrency)
        c.exec_argv([str(Path(sys.executable).parent / "sluice"), "worker"])


tasks = Tasks()


@tasks.task("noop")
def noop(ctx: Any) -> None:
    c.complete(ctx.payload)


if __name__ == "__main__":
    c.run(SluiceSync())
