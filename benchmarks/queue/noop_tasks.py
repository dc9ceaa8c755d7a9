"""The task registry the drain benchmark's worker processes load: one async no-op."""

from __future__ import annotations

from sluice.tasks import JobContext, Tasks

tasks = Tasks()


@tasks.task("noop")
async def noop(ctx: JobContext) -> None:
    return None
