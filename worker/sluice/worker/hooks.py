"""A task's ``on_success`` / ``on_failure`` hooks, run once Redis has recorded the outcome.

A hook runs only after the finish call that recorded its outcome returned, so
it sees what every reader sees (the job completed, or dead-lettered), and
never for an outcome Redis refused: the lease was lost and another attempt
owns the job. ``on_failure`` is for a job that failed for good (dead-lettered),
not for an attempt that will be retried. A hook's own failure is logged and
changes nothing. Async hooks run as tasks, sync ones in a thread; shutdown
waits a bounded time for those still running.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

from sluice.protocol import Outcome

log = logging.getLogger("sluice.worker")

Call = tuple[Callable[..., Any], tuple[Any, ...]]


class Hooks:
    """Hooks waiting for their outcome to be recorded, and those running."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], Call] = {}
        self._running: set[asyncio.Task[None]] = set()

    def expect(self, outcome: Outcome, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` once ``outcome`` is recorded (and not if it is refused)."""
        self._pending[(outcome.id, outcome.token)] = (fn, args)

    def recorded(self, outcome: Outcome, accepted: bool) -> None:
        call = self._pending.pop((outcome.id, outcome.token), None)
        if call is not None and accepted:
            task = asyncio.create_task(_run(outcome.id, *call))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def __len__(self) -> int:
        return len(self._running)

    async def drain(self, timeout_s: float) -> bool:
        """Wait for running hooks (True), at most ``timeout_s`` (False: some still run)."""
        if not self._running:
            return True
        _, pending = await asyncio.wait(set(self._running), timeout=timeout_s)
        return not pending


async def _run(job_id: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    name = getattr(fn, "__qualname__", repr(fn))
    try:
        if inspect.iscoroutinefunction(fn):
            await fn(*args)
        else:
            await asyncio.to_thread(fn, *args)
    except Exception:  # a hook must not take the worker down: say so and go on
        log.exception("job %s: hook %s failed", job_id, name)
