"""How late each JobQueue's polls are: the achieved interval against the configured one.

Each tick's start is compared with the previous one. The loop sleeps for the
interval less the tick's own time, so on an operator that keeps up the two
agree to within scheduling noise; when the event loop, Redis or the API
server cannot keep up, the achieved interval stretches and this says so (a
gauge per queue, a condition, an event) instead of every queue silently
polling slower. A queue is *behind* after :data:`CONFIRM` late ticks in a row
and *on time* again after as many punctual ones, so one slow tick (a GC
pause, a slow API call) is not a flapping condition.
"""

from __future__ import annotations

from dataclasses import dataclass

CONFIRM = 3  # consecutive ticks before the verdict changes
TOLERANCE_S = 1.0  # late means more than this behind ...
TOLERANCE_RATIO = 0.25  # ... and more than this fraction of the interval


@dataclass(frozen=True)
class Lag:
    achieved_s: float  # seconds since the previous tick started
    lag_s: float  # achieved minus configured, never negative
    behind: str | None  # why the queue is behind, while it is
    flipped: bool  # the verdict changed on this tick (an event's worth)


def late(lag_s: float, interval_s: float) -> bool:
    return lag_s > max(TOLERANCE_S, TOLERANCE_RATIO * interval_s)


class LagTracker:
    """One queue's polling schedule as achieved."""

    def __init__(self) -> None:
        self._last_start: float | None = None
        self._streak = 0  # consecutive ticks that disagree with the current verdict
        self.behind: str | None = None

    def observe(self, started: float, interval_s: float) -> Lag | None:
        """Record a tick that started at ``started`` (monotonic); None for the first one."""
        last, self._last_start = self._last_start, started
        if last is None:
            return None
        achieved = started - last
        lag = max(0.0, achieved - interval_s)
        is_late = late(lag, interval_s)
        self._streak = self._streak + 1 if is_late != (self.behind is not None) else 0
        flipped = self._streak >= CONFIRM
        if flipped:
            self._streak = 0
            self.behind = None if not is_late else ""
        if self.behind is not None:
            self.behind = (
                f"polled every {achieved:.1f} s, configured {interval_s:g} s: "
                "the operator cannot keep up (see sluice_operator_poll_lag_seconds)"
            )
        return Lag(achieved, lag, self.behind, flipped)
