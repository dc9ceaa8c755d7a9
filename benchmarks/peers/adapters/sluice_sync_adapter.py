"""Sluice with a sync handler: the sync libraries' job body, run in the worker's threads.

The same worker as ``sluice_adapter``; only the handler differs. The job body is
one quick Redis call, which redis-py's blocking client makes for about a third
of the CPU of its asyncio client (see the worker docs: sync or async?).
"""

from __future__ import annotations

from typing import Any

import _common as c
from sluice_adapter import Sluice

from sluice.tasks import Tasks


class SluiceSync(Sluice):
    tasks_ref = "sluice_sync_adapter:tasks"

    def info(self) -> dict[str, Any]:
        described = super().info()
        described["settings"]["worker class"] = "sluice worker (asyncio), sync handler in threads"
        return described


tasks = Tasks()


@tasks.task("noop")
def noop(ctx: Any) -> None:
    c.complete(ctx.payload)


if __name__ == "__main__":
    c.run(SluiceSync())
