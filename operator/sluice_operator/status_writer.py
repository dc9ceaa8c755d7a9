"""When a JobQueue's status is written: at once on a change that matters, else on a slow beat.

A queue with a standing backlog changes its figures every poll (the oldest
job's age grows by the interval), so "patch when anything changed" still
meant one PATCH per poll per busy queue, and one watch event back to every
watcher. Here a patch goes out at once when something a person or a tool
acts on changes (replicas, readiness, the decision's count, a condition's
status or reason, the generation, a schedule's fire), and figures that only
drift (backlog, ages, rates, reasons with numbers, the policy's memory) ride
along with it or wait for :data:`REFRESH_S`. Live figures are on ``/metrics`` every poll.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from . import jobqueue_status as status_mod

REFRESH_S = 30.0  # drifting figures are at most this old in the status
# A schedule's fire is an event of its own (and rarely more than one a minute).
PROMPT_FIELDS = ("observedGeneration", "replicas", "readyReplicas", "desiredReplicas",
                 "lastScaleTime", "lastScaleReason", "schedules")  # fmt: skip

Patch = Callable[[dict[str, Any]], Awaitable[None]]


def _condition_keys(status: Mapping[str, Any]) -> set[tuple[Any, Any, Any]]:
    conditions = status.get("conditions") or []
    return {(c.get("type"), c.get("status"), c.get("reason")) for c in conditions}


def prompt(previous: Mapping[str, Any], diff: Mapping[str, Any]) -> bool:
    """Whether ``diff`` holds a change worth a write of its own."""
    if any(k in diff for k in PROMPT_FIELDS):
        return True
    return "conditions" in diff and _condition_keys(previous) != _condition_keys(diff)


class StatusWriter:
    """The status as last written, and the rule for the next write."""

    def __init__(
        self,
        status: Mapping[str, Any],
        patch: Patch,
        clock: Callable[[], float] = time.monotonic,
        refresh_s: float = REFRESH_S,
    ) -> None:
        self.status: dict[str, Any] = dict(status)  # as last written (or found)
        self._patch, self._clock, self.refresh_s = patch, clock, refresh_s
        self._written = clock()

    async def write(self, new: Mapping[str, Any], *, force: bool = False) -> bool:
        """Patch what differs, if it matters now or the refresh is due; True if sent."""
        diff = status_mod.changes(self.status, new)
        if diff is None:
            return False
        due = self._clock() - self._written >= self.refresh_s
        if not (force or due or prompt(self.status, diff)):
            return False
        await self._patch(diff)
        self.status.update(diff)
        self._written = self._clock()
        return True
