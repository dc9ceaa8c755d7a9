"""Demo tasks shipped with Sluice, so ``make demo`` and ``sluice load`` need no user code.

``SLUICE_TASKS=sluice.demo_tasks:tasks``; each job says how long it takes and how
often it fails, so one task module can stand in for any workload:

- ``sleep``: payload ``{"seconds": 0.2, "fail": 0.05}`` sleeps (without
  holding a thread) and then raises for that fraction of attempts, which the
  queue retries with backoff and dead-letters once attempts run out.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any

from sluice.tasks import JobContext, Tasks

DEFAULT_SECONDS = 0.1
MAX_SECONDS = 3600.0

tasks = Tasks()


class DemoFailure(RuntimeError):
    """The failure a demo job was asked to have."""


def _number(payload: Any, key: str, default: float, top: float) -> float:
    value = payload.get(key, default) if isinstance(payload, Mapping) else default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"payload {key!r} must be a number, got {value!r}")
    return min(top, max(0.0, float(value)))


@tasks.task("sleep")
async def sleep(ctx: JobContext) -> dict[str, float]:
    """Sleep ``seconds``, then fail with probability ``fail``."""
    seconds = _number(ctx.payload, "seconds", DEFAULT_SECONDS, MAX_SECONDS)
    fail = _number(ctx.payload, "fail", 0.0, 1.0)
    await asyncio.sleep(seconds)
    if random.random() < fail:
        raise DemoFailure(f"demo failure (fail={fail:g}, attempt {ctx.attempt})")
    return {"slept": seconds}
