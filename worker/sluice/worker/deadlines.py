"""Running jobs' time limits, all kept by one event-loop timer.

A timer per job (``call_later`` at its start, ``cancel`` at its end, as nearly
every job ends in time) cost a few µs of a no-op job's ~30 µs of worker CPU,
and each cancelled timer stays in the loop's heap until it is swept. Jobs
almost always end long before their deadline, so one timer at the earliest
deadline does the same work: starting a job is a dict insert and a comparison,
and the timer fires about once per timeout, not once per job. When it fires it
expires the jobs that are due and re-arms at the next deadline.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)


class Deadlines(Generic[T]):
    """Calls ``expire(item)`` once an item added with a timeout is still here at its
    deadline (the loop's monotonic clock)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, expire: Callable[[T], None]) -> None:
        self._loop = loop
        self._expire = expire
        self._due: dict[T, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at = math.inf

    def __len__(self) -> int:
        return len(self._due)

    def add(self, item: T, timeout_s: float) -> None:
        at = self._loop.time() + timeout_s
        self._due[item] = at
        if at < self._armed_at:
            self._arm(at)

    def remove(self, item: T) -> None:
        """The item ended in time. The timer stays: it finds nothing due and re-arms."""
        self._due.pop(item, None)
        if not self._due and self._timer is not None:
            self._timer.cancel()
            self._timer, self._armed_at = None, math.inf

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._due.clear()
        self._timer, self._armed_at = None, math.inf

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed_at = at
        self._timer = self._loop.call_at(at, self._fire)

    def _fire(self) -> None:
        self._timer, self._armed_at = None, math.inf
        now = self._loop.time()
        expired = [item for item, at in self._due.items() if at <= now]
        for item in expired:
            del self._due[item]
        if self._due:
            self._arm(min(self._due.values()))
        for item in expired:
            self._expire(item)
