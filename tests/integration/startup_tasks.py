"""The task registry of the start-up test: one task that reports what the worker imported.

It runs right after the worker's first claim, so what it sees in ``sys.modules``
is what the worker's start-up path loaded (plus this module, which imports
nothing but :mod:`sluice.tasks`).
"""

from __future__ import annotations

import sys

from sluice.tasks import JobContext, Tasks

tasks = Tasks()


@tasks.task("loaded")
async def loaded(ctx: JobContext) -> list[str]:
    """The top-level names of every module loaded in this worker process so far."""
    return sorted({name.partition(".")[0] for name in sys.modules})
